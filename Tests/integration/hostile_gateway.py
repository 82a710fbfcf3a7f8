"""The HTTP edge against hostile and broken clients, on the real binary.

Usage: hostile_gateway.py ATS_BIN TMP_DIR

Checks: a chunked body over ATS_MAX_BODY_BYTES answers 413 problem+json (sign-in without a key,
an authenticated JSON route, a document upload) with no error-level log line; a body announced
over the limit by a client that keeps sending (urllib) gets its 413 and the end of the stream,
not a hang; a garbage request line, an oversized head and invalid UTF-8 in the path or the
query answer problem+json; 4,000 half-sent requests held at once leave /healthz answering
within a second and are closed within the header timeout; beyond ATS_MAX_CONNECTIONS a client
gets 503 with Retry-After, while the per-address cap leaves loopback alone; /metrics refuses a
loopback peer that forwards someone else (X-Forwarded-For), and with ATS_METRICS_TOKEN set
needs the token.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import json
import os
import resource
import selectors
import socket
import sys
import time
import urllib.error
import urllib.request

import checks
from checks import Client, prepare, report, start, stop, wait_until

LIMIT = 65536
HEADER_TIMEOUT = 5
HELD = 4000


def raw(port, data, timeout=8.0, keep_sending=b"", rounds=0):
    """Sends `data` (then `keep_sending` `rounds` times, ignoring errors) on a new connection and
    reads until the server closes it or `timeout` passes. Returns (bytes, closed_by_server)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        for _ in range(rounds):
            try:
                s.sendall(keep_sending)
            except OSError:
                break
        received = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return received, False
            except OSError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False
    finally:
        s.close()


def head_and_body(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines and lines[0].startswith("HTTP/1.1 ") else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def problem(answer, status, slug=None):
    """True when `answer` is a problem+json response with `status` (and the type's slug)."""
    code, headers, body = head_and_body(answer)
    if code != status or "application/problem+json" not in headers.get("content-type", ""):
        return False
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return doc.get("status") == status and (slug is None or doc.get("type") == f"/problems/{slug}")


def chunked_post(port, path, token=None, content_type="application/json", chunks=6, size=16384, prefix=b""):
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    first = f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n" if prefix else b""
    chunk = f"{size:x}\r\n".encode() + b"a" * size + b"\r\n"
    return raw(port, head.encode() + b"\r\n" + first, keep_sending=chunk, rounds=chunks)


def error_lines(log_path):
    bad = []
    with open(log_path, errors="replace") as log:
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if str(entry.get("level", "")).lower() in ("error", "critical"):
                bad.append(line.strip()[:300])
    return bad


def server_port(base):
    return int(base.rsplit(":", 1)[1])


def timed_health(base):
    start_time = time.time()
    try:
        status = Client(base).call("GET", "/healthz").status
    except OSError as error:
        status = str(error)
    return status, time.time() - start_time


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    data = os.path.join(tmp, "hostile-gateway")
    token = prepare(ats, data)
    log_path = os.path.join(tmp, "hostile-gateway.log")
    proc, base = start(ats, data, log_path, {
        "ATS_MAX_BODY_BYTES": str(LIMIT), "ATS_BLOB_MAX_MB": "1", "ATS_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)})
    port = server_port(base)
    client = Client(base, token)
    try:
        # The server raised its own open-file limit to the hard limit.
        limits = open(f"/proc/{proc.pid}/limits").read()
        line = next((l for l in limits.splitlines() if l.startswith("Max open files")), "")
        fields = line.split()
        report(len(fields) >= 5 and fields[3] == fields[4], "the server raises its open-file soft limit to the hard limit", line)

        # 1. Oversized bodies.
        answer, closed = chunked_post(port, "/api/v1/auth/login")
        report(problem(answer, 413, "body-too-large") and closed,
               "a chunked body over the limit on /auth/login (no key): 413 problem+json, then closed", answer[:300])
        answer, closed = chunked_post(port, "/api/v1/candidates", token=token)
        report(problem(answer, 413, "body-too-large") and closed,
               "a chunked body over the limit on an authenticated JSON route: 413 problem+json, then closed", answer[:300])
        candidate = client.call("POST", "/api/v1/candidates", {"firstName": "Edge", "lastName": "Case"}).json or {}
        cid = candidate.get("id", "none")
        boundary = "edgeboundary"
        answer, closed = chunked_post(
            port, f"/api/v1/candidates/{cid}/documents", token=token,
            content_type=f"multipart/form-data; boundary={boundary}", chunks=90,
            prefix=(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
                    "Content-Type: text/plain\r\n\r\n").encode())
        report(problem(answer, 413) and closed, "a chunked upload over the file limit: 413 problem+json, then closed", answer[:300])
        time.sleep(0.3)
        errors = error_lines(log_path)
        report(not errors, "no error-level log line for any of them", "\n".join(errors[:5]))

        # A client that sends its whole announced body before reading (urllib does).
        started = time.time()
        request = urllib.request.Request(
            base + "/api/v1/auth/login", method="POST", data=b"x" * (4 << 20), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                outcome = (response.status, response.headers.get("Content-Type"), response.headers.get("Connection"))
        except urllib.error.HTTPError as error:
            outcome = (error.code, error.headers.get("Content-Type"), error.headers.get("Connection"))
        except OSError as error:
            outcome = (repr(error), None, None)
        elapsed = time.time() - started
        report(outcome[0] == 413 and "problem+json" in (outcome[1] or "") and (outcome[2] or "").lower() == "close"
               and elapsed < 5,
               f"an announced body over the limit, sent whole by urllib: 413 problem+json, Connection: close, in {elapsed:.2f} s",
               outcome)
        answer, closed = raw(port, b"POST /api/v1/candidates HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n"
                             + f"Authorization: Bearer {token}\r\n\r\n".encode(), keep_sending=b"y" * 65536, rounds=40)
        report(problem(answer, 413, "body-too-large") and closed,
               "a raw client that keeps sending its announced body gets the 413, then the end of the stream", answer[:300])

        # 2. Requests the parser rejects.
        answer, closed = raw(port, b"HELLO THERE FRIEND\r\n\r\n")
        report(problem(answer, 400) and closed, "a garbage request line: 400 problem+json, then closed", answer[:300])
        answer, closed = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        report(problem(answer, 431, "header-too-large") and closed, "a 20 KB header: 431 problem+json, then closed", answer[:300])
        answer, _ = raw(port, b"GET /api/v1/candidates/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        + f"Authorization: Bearer {token}\r\n\r\n".encode())
        report(head_and_body(answer)[0] in (400, 404) and problem(answer, head_and_body(answer)[0]),
               "invalid UTF-8 in the path: problem+json", answer[:300])
        answer, _ = raw(port, b"GET /api/v1/candidates?q=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        + f"Authorization: Bearer {token}\r\n\r\n".encode())
        code = head_and_body(answer)[0]
        report((code == 200 and b"items" in answer) or problem(answer, 400),
               "invalid UTF-8 in the query: a problem+json 400 or an answer, never a bare 400", answer[:300])
        answer, _ = raw(port, b"GET /api/v1/candidates/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                        + f"Authorization: Bearer {token}\r\n\r\n".encode())
        report(problem(answer, head_and_body(answer)[0]), "percent-encoded invalid UTF-8 in the path: problem+json", answer[:300])

        # 3. /metrics from loopback: plain scrape yes, a forwarded caller no.
        plain = Client(base).call("GET", "/metrics")
        report(plain.status == 200 and b"ats_http_connections_open" in plain.raw,
               "/metrics answers a loopback scrape without a token, with ats_http_connections_open", plain.status)
        forwarded = Client(base).call("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        report(forwarded.status == 403 and "problem+json" in forwarded.content_type,
               "/metrics refuses a loopback peer forwarding someone else (403 problem+json)", forwarded)

        # 4. 4,000 half-sent request heads held at once.
        held = []
        hold_started = time.time()
        try:
            for _ in range(HELD):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
        except OSError as error:
            report(False, f"open {HELD} half-sent requests", f"{len(held)} opened: {error} (soft limit {soft})")
        opened = time.time() - hold_started
        if len(held) == HELD:
            report(True, f"{HELD} half-sent requests held (opened in {opened:.1f} s)")
            timings = [timed_health(base) for _ in range(5)]
            report(all(status == 200 and took < 1.0 for status, took in timings),
                   "/healthz answers within 1 s while they are held",
                   ", ".join(f"{status} {took * 1000:.0f} ms" for status, took in timings))
            # Every held socket becomes readable once the server answers (408) and closes it.
            selector = selectors.DefaultSelector()
            for s in held:
                s.setblocking(False)
                selector.register(s, selectors.EVENT_READ)
            closed_count = 0
            deadline = hold_started + opened + HEADER_TIMEOUT + 4
            pending = set(held)
            while pending and time.time() < deadline:
                for key, _ in selector.select(timeout=0.5):
                    s = key.fileobj
                    try:
                        chunk = s.recv(4096)
                        while chunk:
                            chunk = s.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    selector.unregister(s)
                    pending.discard(s)
                    closed_count += 1
            waited = time.time() - hold_started - opened
            report(closed_count == HELD and waited <= HEADER_TIMEOUT + 3,
                   f"the server closed all {HELD} within the {HEADER_TIMEOUT} s header timeout: {closed_count} closed,"
                   f" the last {waited:.1f} s after the last was opened")
            selector.close()
        for s in held:
            s.close()
        text = wait_until(lambda: (lambda r: r.raw.decode() if r.status == 200 else None)(Client(base).call("GET", "/metrics")), 10) or ""
        timed_out = sum(float(l.split()[-1]) for l in text.splitlines()
                        if l.startswith('ats_http_connections_timed_out_total{phase="header"}'))
        report(timed_out >= HELD, "ats_http_connections_timed_out_total{phase=\"header\"} counts them", timed_out)
        open_now = wait_until(lambda: (lambda v: v if v is not None and v < 10 else None)(
            next((float(l.split()[-1]) for l in Client(base).call("GET", "/metrics").raw.decode().splitlines()
                  if l.startswith("ats_http_connections_open ")), None)), 10)
        report(open_now is not None, "ats_http_connections_open falls back once they are gone", open_now)
        errors = error_lines(log_path)
        report(not errors, "still no error-level log line", "\n".join(errors[:5]))
    finally:
        stop(proc)

    # 5. Connection caps, and /metrics with a token.
    capped_log = os.path.join(tmp, "hostile-gateway-capped.log")
    proc, base = start(ats, data, capped_log, {
        "ATS_MAX_CONNECTIONS": "50", "ATS_MAX_CONNECTIONS_PER_IP": "5", "ATS_METRICS_TOKEN": "metrics-secret"})
    port = server_port(base)
    try:
        time.sleep(0.5)  # the start-up probe's connection is closed
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]
        time.sleep(0.5)
        # Loopback is not capped per address: the tenth loopback connection is served.
        held[9].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = held[9].recv(4096)
        report(first.startswith(b"HTTP/1.1 200"), "the per-address cap (5) does not apply to loopback: connection 10 is served",
               first[:200])
        answer, closed = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = head_and_body(answer)
        report(problem(answer, 503, "too-many-connections") and headers.get("retry-after", "").isdigit() and closed,
               "the 51st connection gets 503 problem+json with Retry-After, then is closed", answer[:300])
        for s in held:
            s.close()
        back = wait_until(lambda: Client(base).call("GET", "/healthz").status == 200, 5)
        report(back, "once they close, connections are served again")
        report(Client(base).call("GET", "/metrics").status == 401, "with ATS_METRICS_TOKEN set, /metrics without it answers 401")
        forwarded = Client(base).call("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        report(forwarded.status == 401 and "problem+json" in forwarded.content_type,
               "... and a forwarded caller without it is refused (401 problem+json)", forwarded)
        allowed = Client(base).call("GET", "/metrics", headers={"Authorization": "Bearer metrics-secret"})
        report(allowed.status == 200 and b'ats_http_connections_refused_total{reason="max_connections"} 1' in allowed.raw,
               "with the token it answers, and counts the refused connection", allowed.raw[:200] if allowed.status != 200 else "")
    finally:
        stop(proc)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
