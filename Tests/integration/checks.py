"""What the integration scripts share: the ok/FAIL lines and their failure count, and a
small JSON HTTP client."""

import json
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
