"""The cache and observability tiers on the real binary, as an operator sees them.

Usage: observability_check.py ATS_BIN TMP_DIR

1. A server with every request traced (ATS_TRACE_SAMPLE=1), JSON logs at trace level and the
   default file exporter. A client sends a traceparent; the server continues that trace and
   returns its own span in `traceparent`. Reads are cached and a write is visible at once
   (through the real server, not only in unit tests). An export is enqueued, so its job's
   consumer span links back to the request. `/metrics` is parsed with prometheus_client's
   parser; the admin traces API lists the slow requests and returns one trace's tree. After
   SIGTERM the JSON-lines files are checked with the official OpenTelemetry protobuf
   definitions (otlp_check.py). Personal data sent in requests (a name, an email, a phone
   number, CV text) appears nowhere in logs, metrics or traces.
2. The same server exporting to an OTLP/HTTP collector (otlp_collector.py) that answers 503
   to its first request: the batch is retried and arrives, and nothing is dropped.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

from prometheus_client.parser import text_string_to_metric_families

import checks
from checks import Client, report, call, free_port, prepare, run, start, stop, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))

# Personal data that must never reach logs, metrics or traces.
FIRST, LAST = "Zebulonius", "Quaxworthy"
EMAIL = "zebulonius.quaxworthy@pii-example.test"
PHONE = "+44 7700 900123"
CV_TEXT = "cvmarker-xyzzy-plugh"
PII = [FIRST, LAST, EMAIL, "7700 900123", "7700900123", CV_TEXT, "pii-example"]


def metric_families(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample_total(family, **labels):
    return sum(
        s.value for s in family.samples
        if all(s.labels.get(k) == v for k, v in labels.items()) and not s.name.endswith("_created"))


def otlp_check(files, *options):
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "otlp_check.py"), *options, *files], capture_output=True, text=True, timeout=120)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def files_phase(ats, tmp):
    data = os.path.join(tmp, "obs-files")
    key = prepare(ats, data)
    report(bool(key), "observability: an admin key for a fresh agency")
    log_path = os.path.join(tmp, "obs-files.log")
    started = int(time.time()) - 5
    proc, base = start(ats, data, log_path, {})

    # A caller's trace is continued and the server's span is returned.
    remote_trace, remote_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    created = call(
        base, "POST", "/api/v1/candidates", key,
        {"firstName": FIRST, "lastName": LAST, "email": EMAIL, "phone": PHONE, "summary": f"CV text {CV_TEXT}",
         "professionalHeadline": "Engineer"},
        headers={"traceparent": f"00-{remote_trace}-{remote_span}-01"})
    report(created.status == 201, "POST /api/v1/candidates with a traceparent answers 201", created)
    returned = created.headers.get("traceparent", "")
    parts = returned.split("-")
    report(
        len(parts) == 4 and parts[1] == remote_trace and parts[2] != remote_span and parts[3] == "01",
        "the response's traceparent continues the caller's trace with the server's own span", returned)
    candidate = (created.json or {}).get("id", "")

    first = call(base, "GET", f"/api/v1/candidates/{candidate}", key)
    second = call(base, "GET", f"/api/v1/candidates/{candidate}", key)
    report(first.status == 200 and first.raw == second.raw, "GET of a candidate twice answers the same document")
    patched = call(base, "PATCH", f"/api/v1/candidates/{candidate}", key, {"professionalHeadline": "Staff engineer"})
    after = call(base, "GET", f"/api/v1/candidates/{candidate}", key)
    report(
        patched.status == 200 and (after.json or {}).get("professionalHeadline") == "Staff engineer",
        "a write is visible in the next read through the cache", after)
    listed = call(base, "GET", "/api/v1/candidates?limit=5", key)
    again = call(base, "GET", "/api/v1/candidates?limit=5", key)
    second_candidate = call(base, "POST", "/api/v1/candidates", key, {"firstName": "Second", "lastName": "Person"})
    relisted = call(base, "GET", "/api/v1/candidates?limit=5", key)
    ids = [item["id"] for item in (relisted.json or {}).get("items", [])]
    report(
        listed.raw == again.raw and (second_candidate.json or {}).get("id") in ids,
        "a cached list page shows a candidate created after it was cached", relisted)
    # Bad input with personal data in it: a duplicate (409) and a filter value.
    dup = call(base, "POST", "/api/v1/candidates", key, {"firstName": FIRST, "lastName": LAST, "email": EMAIL})
    report(dup.status == 409, "a duplicate candidate answers 409", dup)
    call(base, "GET", f"/api/v1/candidates?source={FIRST}", key)

    export = call(base, "POST", "/api/v1/exports", key, {"kind": "candidates", "format": "csv"})
    report(export.status == 202, "POST /api/v1/exports is accepted (a job)", export)
    export_id = (export.json or {}).get("id", "")
    done = wait_until(
        lambda: (call(base, "GET", f"/api/v1/exports/{export_id}", key).json or {}).get("status") == "completed", 30)
    report(done, "the export job completes")

    # Metrics, parsed by the Prometheus client library.
    text = call(base, "GET", "/metrics").raw.decode()
    try:
        families = metric_families(text)
        parsed = True
    except Exception as error:  # noqa: BLE001 - the parser's error is the finding
        families, parsed = {}, False
        report(False, "prometheus_client parses /metrics", error)
    if parsed:
        report(True, f"prometheus_client parses /metrics ({len(families)} families)")
        wanted = {
            "ats_http_requests": "counter", "ats_http_request_duration_seconds": "histogram",
            "ats_cache_hits": "counter", "ats_cache_misses": "counter", "ats_cache_evictions": "counter",
            "ats_cache_bytes": "gauge", "ats_trace_spans_exported": "counter", "ats_trace_spans_dropped": "counter",
            "ats_store_read_wait_seconds": "gauge", "ats_jobs_finished": "counter",
        }
        missing = [f"{name} ({kind})" for name, kind in wanted.items() if families.get(name) is None or families[name].type != kind]
        report(not missing, "/metrics has HTTP, store, cache, jobs and exporter families of the right types", missing)
        hits = sample_total(families["ats_cache_hits"]) if "ats_cache_hits" in families else 0
        report(hits >= 1, f"the cache counted hits ({hits:.0f})")
        routes = {s.labels.get("route") for s in families.get("ats_http_requests", type("", (), {"samples": []})).samples}
        report(
            "/api/v1/candidates/{id}" in routes and not any(candidate in (r or "") for r in routes),
            "HTTP metrics are labelled by route template, never by id", sorted(r for r in routes if r))

    # The admin view of traces.
    listing = call(base, "GET", "/api/v1/admin/traces?min_ms=0&route=/api/v1/candidates/{id}&limit=50", key)
    items = (listing.json or {}).get("items", [])
    report(
        listing.status == 200 and items and all(i["route"] == "/api/v1/candidates/{id}" for i in items),
        "GET /api/v1/admin/traces?route= lists recent traces of that route", listing)
    slow = call(base, "GET", "/api/v1/admin/traces?min_ms=60000", key)
    report(slow.status == 200 and (slow.json or {}).get("items") == [], "min_ms filters out faster traces", slow)
    tree = call(base, "GET", f"/api/v1/admin/traces/{remote_trace}", key)
    spans = (tree.json or {}).get("spans", [])

    def names(nodes):
        for node in nodes:
            yield node["name"]
            yield from names(node["children"])

    report(
        tree.status == 200 and spans and spans[0]["kind"] == "server" and spans[0]["parentSpanId"] == remote_span
        and any(n.startswith("db.") for n in names(spans)),
        "GET /api/v1/admin/traces/{traceId} returns the span tree (server span under the caller's, store spans below)",
        tree)
    bad = call(base, "GET", "/api/v1/admin/traces/not-a-trace", key)
    report(bad.status == 400 and "problem+json" in bad.headers.get("content-type", ""), "a malformed trace id answers 400 problem+json", bad)
    unknown = call(base, "GET", "/api/v1/admin/traces/" + "ab" * 16, key)
    report(unknown.status == 404, "an unknown trace id answers 404", unknown)
    negative = call(base, "GET", "/api/v1/admin/traces?min_ms=-1", key)
    report(negative.status == 400, "min_ms=-1 answers 400", negative)

    status = stop(proc)
    report(status == 0, f"SIGTERM: the server flushes its traces and exits 0 (status {status})")

    files = sorted(glob.glob(os.path.join(data, "traces", "*.jsonl")))
    report(bool(files), f"trace files in DATA/traces ({len(files)})")
    if files:
        good, output = otlp_check(
            files, "--since", str(started), "--expect-route", "/api/v1/candidates/{id}", "--expect-link",
            "--allow-remote-parent", remote_span)
        summary = output.splitlines()[-1] if output else ""
        report(good, f"the exported JSON parses as ExportTraceServiceRequest (opentelemetry-proto); ids, parents, times sound ({summary})", output)

    # Personal data appears nowhere.
    log_text = open(log_path, errors="replace").read() + open(log_path + ".out", errors="replace").read()
    trace_text = "".join(open(f, errors="replace").read() for f in files)
    leaks = [(where, p) for where, blob in (("logs", log_text), ("metrics", text), ("traces", trace_text)) for p in PII if p in blob]
    report(not leaks, "no name, email, phone number or CV text in logs, metrics or traces", leaks)
    lines = [line for line in open(log_path, errors="replace").read().splitlines() if line.strip()]
    parsed_lines = []
    for line in lines:
        try:
            parsed_lines.append(json.loads(line))
        except ValueError:
            pass
    report(lines and len(parsed_lines) == len(lines), f"every log line is one JSON object ({len(lines)} lines)",
           [line for line in lines if not line.startswith("{")][:5])
    with_ids = [entry for entry in parsed_lines if entry.get("trace_id") and entry.get("request_id")]
    report(
        any(entry.get("trace_id") == remote_trace for entry in with_ids),
        "request log lines carry the request id and the trace id", with_ids[:3] or parsed_lines[:3])


def collector_phase(ats, tmp):
    data = os.path.join(tmp, "obs-otlp")
    key = prepare(ats, data)
    out = os.path.join(tmp, "collector.jsonl")
    port = free_port()
    collector = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "otlp_collector.py"), "--port", str(port), "--out", out, "--fail-first", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        proc, base = start(ats, data, os.path.join(tmp, "obs-otlp.log"), {"ATS_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"})
        for _ in range(5):
            call(base, "GET", "/api/v1/candidates?limit=1", key)
        arrived = wait_until(lambda: os.path.exists(out) and os.path.getsize(out) > 0, 15)
        report(arrived, "spans reach the OTLP/HTTP collector after its first answer was 503 (retried)")
        text = call(base, "GET", "/metrics").raw.decode()
        families = metric_families(text)
        exported = sample_total(families["ats_trace_spans_exported"]) if "ats_trace_spans_exported" in families else 0
        dropped = sample_total(families["ats_trace_spans_dropped"]) if "ats_trace_spans_dropped" in families else -1
        report(exported >= 1 and dropped == 0, f"the retried batch counts as exported, nothing dropped ({exported:.0f} exported, {dropped:.0f} dropped)")
        stop(proc)
        if arrived:
            good, output = otlp_check([out], "--expect-route", "/api/v1/candidates")
            report(good, "the collector's requests parse as ExportTraceServiceRequest", output)
        report(not os.listdir(os.path.join(data, "traces")) if os.path.isdir(os.path.join(data, "traces")) else True,
               "with a collector configured no trace files are written")
    finally:
        collector.terminate()
        collector.wait(timeout=10)


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    files_phase(ats, tmp)
    collector_phase(ats, tmp)
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
