"""A stdlib-only OTLP/HTTP (JSON) trace collector for the integration tests.

    python otlp_collector.py --port P --out FILE [--fail-first N]

Accepts `POST /v1/traces` with `Content-Type: application/json`, appends each body as one
line to FILE (re-serialised compactly, so a body always takes exactly one line) and answers
200 `{}`; the first N requests get 503 instead (and are not recorded), to exercise the
exporter's retries. Anything else: 404, 415 or 400. Prints nothing; exits 0 on SIGTERM.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True, help="JSON-lines file the accepted bodies are appended to")
    parser.add_argument("--fail-first", type=int, default=0, help="answer 503 to this many first requests")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    lock = threading.Lock()
    state = {"failures_left": max(0, args.fail_first)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *arguments):  # noqa: A002 - silence the default access log
            pass

        def answer(self, status: int, body: bytes = b"{}") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if self.path.split("?", 1)[0] != "/v1/traces":
                self.answer(404)
                return
            content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if content_type != "application/json":
                self.answer(415)
                return
            with lock:
                if state["failures_left"] > 0:
                    state["failures_left"] -= 1
                    self.answer(503)
                    return
            try:
                line = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False)
            except ValueError:
                self.answer(400)
                return
            with lock:
                with open(args.out, "a", encoding="utf-8") as out:
                    out.write(line + "\n")
            self.answer(200)

        def do_GET(self) -> None:  # noqa: N802
            self.answer(404)

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True

    def stop(_signum, _frame):
        # shutdown() waits for serve_forever to return: call it off the main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
