"""What the integration scripts share: the ok/FAIL lines and their failure count, a small
JSON HTTP client, and starting/stopping a real `ats serve` on a free loopback port."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

failures = 0


def report(ok, name, detail=""):
    """Prints `ok   - name` or `FAIL - name` (with up to 20 lines of detail) and counts failures."""
    global failures
    if ok:
        print(f"ok   - {name}")
    else:
        failures += 1
        print(f"FAIL - {name}")
        if detail:
            for line in str(detail).splitlines()[:20]:
                print(f"    {line}")


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def __str__(self):
        return f"{self.status} {self.content_type} {self.raw[:600]!r}"


class Client:
    def __init__(self, base, token=None):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, raw=None, headers=None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, method=method, headers=headers, data=data)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, key=None, body=None, headers=None):
    return Client(base, key).call(method, path, body, headers=headers)


def run(ats, *args, env):
    return subprocess.run([ats, *args], env=env, capture_output=True, text=True, timeout=120)


def prepare(ats, data):
    env = dict(os.environ, ATS_DATA=data, ATS_LOG_FORMAT="json")
    os.makedirs(data, exist_ok=True)
    run(ats, "migrate", env=env)
    run(ats, "org", "create", "--slug", "acme", "--name", "Acme", env=env)
    return run(ats, "token", "create", "--org", "acme", "--role", "admin", "--name", "obs", env=env).stdout.strip()


def start(ats, data, log_path, extra):
    port = free_port()
    env = dict(
        os.environ, ATS_DATA=data, ATS_PORT=str(port), ATS_HOST="127.0.0.1", ATS_TRACE_SAMPLE="1",
        ATS_LOG_LEVEL="trace", ATS_LOG_FORMAT="json", ATS_RATE_LIMIT_RPS="100000", ATS_RATE_LIMIT_BURST="100000",
        **extra)
    # The banner goes to stdout (for people); logs to stderr, one JSON object per line.
    log = open(log_path, "w")
    banner = open(log_path + ".out", "w")
    proc = subprocess.Popen([ats, "serve"], env=env, stdout=banner, stderr=log, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            if call(base, "GET", "/healthz").status == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start; log:\n{open(log_path).read()[-3000:]}")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


def wait_until(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    return predicate()
