"""Checks /openapi.json of a running server against the server itself.

Usage: openapi_check.py BASE_URL ADMIN_KEY

1. The document is valid OpenAPI 3.1 (openapi-spec-validator).
2. Every documented path + method is routed: without credentials a secured operation
   answers 401 (problem+json) and a public one answers neither 401 nor 404/405 nor 5xx.
3. Conversely, on every documented path, the methods the document does not list are not
   served: with an admin key they answer 404 or 405, never 2xx or 5xx.
4. The routes the CLI/README contract names are all in the document.

Prints one `ok   - ...` or `FAIL - ...` line per check (run.sh tallies them) and exits
non-zero when any failed.
"""

import json
import re
import sys
import urllib.error
import urllib.request

from openapi_spec_validator import validate

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PROBED = ("GET", "POST", "PUT", "PATCH", "DELETE")
DUMMY_ID = "01JZZZZZZZZZZZZZZZZZZZZZZZ"

# Routes named by the contract (issue 2, README). Paths as OpenAPI templates; the name of
# a path parameter does not matter, so templates are compared with parameters blanked.
ENTITIES = (
    "candidates", "clients", "client-contacts", "projects", "jobs", "applications",
    "interviews", "notes", "documents", "email-templates", "messages", "saved-searches",
    "users", "api-keys",
)
REQUIRED = [("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/openapi.json"),
            ("post", "/api/v1/auth/login"), ("post", "/api/v1/applications/{id}/move")]
for entity in ENTITIES:
    REQUIRED += [("get", f"/api/v1/{entity}"), ("post", f"/api/v1/{entity}"),
                 ("get", f"/api/v1/{entity}/{{id}}"), ("delete", f"/api/v1/{entity}/{{id}}")]
    if entity != "api-keys":  # a key is immutable: create, read, list, revoke (DELETE)
        REQUIRED.append(("patch", f"/api/v1/{entity}/{{id}}"))

import checks  # noqa: E402  (beside this file)
from checks import report  # noqa: E402


def request(method, url, headers=None, body=None):
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def template_key(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def concrete(path):
    return re.sub(r"\{[^}]+\}", DUMMY_ID, path)


def main():
    base, key = sys.argv[1].rstrip("/"), sys.argv[2]
    status, _, raw = request("GET", base + "/openapi.json")
    report(status == 200, f"GET /openapi.json answers 200 (got {status})")
    try:
        spec = json.loads(raw)
    except ValueError as err:
        report(False, "/openapi.json is JSON", err)
        return 1
    report(str(spec.get("openapi", "")).startswith("3.1"), f"openapi version is 3.1.x (got {spec.get('openapi')!r})")
    try:
        validate(spec)
        report(True, "openapi-spec-validator accepts the document")
    except Exception as err:  # noqa: BLE001 - any validator error is a failure to report
        report(False, "openapi-spec-validator accepts the document", err)

    paths = spec.get("paths", {})
    global_security = spec.get("security", [])
    documented = {(m, template_key(p)) for p, item in paths.items() for m in item if m in METHODS}

    missing = [f"{m.upper()} {p}" for m, p in REQUIRED if (m, template_key(p)) not in documented]
    report(not missing, f"the document describes the {len(REQUIRED)} contract routes", "missing: " + ", ".join(missing))

    wrong_unauth, wrong_extra = [], []
    checked = 0
    for path, item in sorted(paths.items()):
        url = base + concrete(path)
        for method in [m for m in item if m in METHODS]:
            operation = item[method]
            security = operation.get("security", global_security)
            public = security == [] or any(req == {} for req in security)
            body = b"{}" if method in ("post", "put", "patch") else None
            headers = {"Content-Type": "application/json"} if body is not None else {}
            status, resp_headers, _ = request(method.upper(), url, headers, body)
            checked += 1
            ctype = {k.lower(): v for k, v in resp_headers.items()}.get("content-type", "")
            if public:
                if status in (401, 404, 405) or status >= 500:
                    wrong_unauth.append(f"{method.upper()} {path}: public, got {status}")
            elif status != 401:
                wrong_unauth.append(f"{method.upper()} {path}: secured, expected 401, got {status}")
            elif "application/problem+json" not in ctype:
                wrong_unauth.append(f"{method.upper()} {path}: 401 with content-type {ctype!r}")
        if not path.startswith("/api/"):
            continue
        for method in PROBED:
            if method.lower() in item:
                continue
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            headers = {"Authorization": f"Bearer {key}"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            status, _, _ = request(method, url, headers, body)
            if status not in (404, 405):
                wrong_extra.append(f"{method} {path}: undocumented, expected 404/405, got {status}")
    report(checked > 0 and not wrong_unauth,
           f"all {checked} documented operations are routed (401 without a key unless public)",
           "\n".join(wrong_unauth))
    report(not wrong_extra, "undocumented methods on documented /api paths answer 404/405", "\n".join(wrong_extra))

    status, resp_headers, raw = request("GET", base + "/api/v1/no-such-route", {"Authorization": f"Bearer {key}"})
    ctype = {k.lower(): v for k, v in resp_headers.items()}.get("content-type", "")
    report(status == 404 and "application/problem+json" in ctype,
           f"an unknown /api route answers 404 problem+json (got {status} {ctype})")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
