"""Validates OTLP/JSON trace files against the real protobuf schema.

    python otlp_check.py FILE... [--since UNIXSECONDS] [--allow-remote-parent HEXSPANID]...
                                 [--expect-route ROUTE] [--expect-link]

Each non-empty line of each FILE is one ExportTraceServiceRequest in OTLP/JSON (hex ids).
The ids are turned into the base64 that protobuf's JSON mapping expects, and every line is
parsed with google.protobuf.json_format into
opentelemetry.proto.collector.trace.v1.trace_service_pb2.ExportTraceServiceRequest
(package opentelemetry-proto), which rejects unknown fields and wrongly typed values. Then:
trace ids are 16 bytes and span ids 8, none all zero; every parentSpanId is a span of the same
trace in the files or an allowed remote parent; start <= end; every timestamp lies within
[--since, now + 60 s]; some server span has `http.route`. Prints one summary line
`otlp: N spans in M traces, K files ok`, or exits 1 with a message naming the problem.
"""

import argparse
import base64
import json
import re
import sys
import time

HEX = re.compile(r"^[0-9a-f]+$")
SERVER = 2  # SPAN_KIND_SERVER


class CheckError(Exception):
    pass


def hex_to_base64(value, width, what, where):
    if not isinstance(value, str) or len(value) != width * 2 or not HEX.match(value):
        raise CheckError(f"{where}: {what} {value!r} is not {width * 2} lowercase hex digits")
    return base64.b64encode(bytes.fromhex(value)).decode("ascii")


def convert_ids(request, where):
    """Rewrites the hex ids of one decoded ExportTraceServiceRequest in place."""
    for resource in request.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for index, span in enumerate(scope.get("spans", [])):
                at = f"{where}: span {index}"
                span["traceId"] = hex_to_base64(span.get("traceId"), 16, "traceId", at)
                span["spanId"] = hex_to_base64(span.get("spanId"), 8, "spanId", at)
                if span.get("parentSpanId"):
                    span["parentSpanId"] = hex_to_base64(span["parentSpanId"], 8, "parentSpanId", at)
                for link in span.get("links", []):
                    link["traceId"] = hex_to_base64(link.get("traceId"), 16, "link traceId", at)
                    link["spanId"] = hex_to_base64(link.get("spanId"), 8, "link spanId", at)


def attribute(span, key):
    for kv in span.attributes:
        if kv.key == key:
            return kv.value
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--since", type=float, default=0.0, help="earliest allowed timestamp (unix seconds)")
    parser.add_argument("--allow-remote-parent", action="append", default=[], metavar="HEXSPANID")
    parser.add_argument("--expect-route", help="at least one server span with this http.route")
    parser.add_argument("--expect-link", action="store_true", help="at least one link to a span in the files")
    args = parser.parse_args()

    try:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    except ImportError as error:
        print(f"otlp: FAIL: opentelemetry-proto is not installed ({error})", file=sys.stderr)
        return 1

    try:
        remote_parents = {bytes.fromhex(value.lower()) for value in args.allow_remote_parent}
    except ValueError:
        print("otlp: FAIL: --allow-remote-parent takes 16 hex digits", file=sys.stderr)
        return 1

    spans = []  # (where, span)
    try:
        for path in args.files:
            try:
                with open(path, encoding="utf-8") as handle:
                    lines = handle.read().splitlines()
            except OSError as error:
                raise CheckError(f"{path}: cannot read ({error.strerror})")
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    request = json.loads(line)
                except ValueError as error:
                    raise CheckError(f"{where}: not JSON ({error})")
                if not isinstance(request, dict):
                    raise CheckError(f"{where}: not a JSON object")
                convert_ids(request, where)
                message = trace_service_pb2.ExportTraceServiceRequest()
                try:
                    json_format.Parse(json.dumps(request), message)
                except json_format.ParseError as error:
                    raise CheckError(f"{where}: not an ExportTraceServiceRequest ({error})")
                for resource_spans in message.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            spans.append((where, span))

        if not spans:
            raise CheckError("no spans in " + ", ".join(args.files))

        earliest = int(args.since * 1e9)
        latest = int((time.time() + 60) * 1e9)
        known = {(span.trace_id, span.span_id) for _, span in spans}
        for where, span in spans:
            name = f"{where}: span {span.name!r} ({span.span_id.hex()})"
            if len(span.trace_id) != 16 or not any(span.trace_id):
                raise CheckError(f"{name}: trace id must be 16 bytes, not all zero")
            if len(span.span_id) != 8 or not any(span.span_id):
                raise CheckError(f"{name}: span id must be 8 bytes, not all zero")
            if span.parent_span_id:
                if len(span.parent_span_id) != 8 or not any(span.parent_span_id):
                    raise CheckError(f"{name}: parent span id must be 8 bytes, not all zero")
                if (span.trace_id, span.parent_span_id) not in known and span.parent_span_id not in remote_parents:
                    raise CheckError(
                        f"{name}: parent {span.parent_span_id.hex()} is not a span of trace "
                        f"{span.trace_id.hex()} in the files (nor an allowed remote parent)")
            if span.start_time_unix_nano > span.end_time_unix_nano:
                raise CheckError(f"{name}: starts after it ends")
            for stamp in [span.start_time_unix_nano, span.end_time_unix_nano] + [e.time_unix_nano for e in span.events]:
                if not earliest <= stamp <= latest:
                    raise CheckError(f"{name}: timestamp {stamp} outside [{earliest}, {latest}]")
            for link in span.links:
                if len(link.trace_id) != 16 or len(link.span_id) != 8:
                    raise CheckError(f"{name}: link ids must be 16 and 8 bytes")

        routes = [
            attribute(span, "http.route").string_value
            for _, span in spans
            if span.kind == SERVER and attribute(span, "http.route") is not None
        ]
        if not routes:
            raise CheckError("no server span with an http.route attribute")
        if args.expect_route is not None and args.expect_route not in routes:
            raise CheckError(f"no server span with http.route {args.expect_route!r} (saw {sorted(set(routes))})")
        if args.expect_link and not any(
            (link.trace_id, link.span_id) in known for _, span in spans for link in span.links
        ):
            raise CheckError("no span links to a span in the files")
    except CheckError as error:
        print(f"otlp: FAIL: {error}", file=sys.stderr)
        return 1

    traces = {span.trace_id for _, span in spans}
    print(f"otlp: {len(spans)} spans in {len(traces)} traces, {len(args.files)} files ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
