"""End-to-end checks of the JSON API on a running server, the way a client uses it.

Usage: api_smoke.py BASE_URL ADMIN_KEY VIEWER_KEY ORG EMAIL PASSWORD MAX_BODY_BYTES OTHER_ORG_ADMIN_KEY

Signs in, creates and finds candidates, moves an application through a job's pipeline and
sends the bad-input classes (malformed JSON, oversize body, unknown stage, duplicates,
missing rows, wrong role). Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when
any check failed.
"""

import sys
import uuid

import checks  # noqa: E402  (beside this file)
from checks import Client, report  # noqa: E402


def find_session_token(value):
    """The login answer's session token, wherever the server puts it."""
    if isinstance(value, str) and value.startswith("ats_ses_"):
        return value
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            found = find_session_token(item)
            if found:
                return found
    return None


def is_problem(resp, status):
    return resp.status == status and "application/problem+json" in resp.content_type


def main():
    base, admin_key, viewer_key, org, email, password, max_body, other_key = sys.argv[1:9]
    max_body = int(max_body)
    admin = Client(base, admin_key)
    viewer = Client(base, viewer_key)
    anonymous = Client(base)
    other = Client(base, other_key)
    run = uuid.uuid4().hex[:8]

    # Sign in with the password given to `ats user create` on stdin.
    resp = anonymous.call("POST", "/api/v1/auth/login", {"organization": org, "email": email, "password": password})
    token = find_session_token(resp.json)
    report(resp.status == 200 and token, "POST /api/v1/auth/login with the CLI-set password gives a session token", resp)
    if token:
        resp = Client(base, token).call("GET", "/api/v1/candidates?limit=5")
        report(resp.status == 200, "the session token reads GET /api/v1/candidates", resp)
    resp = anonymous.call("POST", "/api/v1/auth/login", {"organization": org, "email": email, "password": password + "x"})
    report(is_problem(resp, 401), "a wrong password answers 401 problem+json", resp)

    # Candidates: create, read, update, list, duplicate, delete.
    cand_email = f"ada.{run}@example.com"
    resp = admin.call("POST", "/api/v1/candidates", {"firstName": "Ada", "lastName": "Lovelace", "email": cand_email,
                                                     "technicalSkills": ["Analytical engines"], "tags": ["smoke"]})
    cand = resp.json if isinstance(resp.json, dict) else {}
    cand_id = cand.get("id")
    report(resp.status == 201 and cand_id, "POST /api/v1/candidates creates a candidate (201 with an id)", resp)
    report(bool(resp.headers.get("x-request-id")), "responses carry X-Request-Id", resp.headers)
    if cand_id:
        resp = admin.call("GET", f"/api/v1/candidates/{cand_id}")
        report(resp.status == 200 and (resp.json or {}).get("email") == cand_email,
               "GET /api/v1/candidates/{id} returns it", resp)
        resp = admin.call("PATCH", f"/api/v1/candidates/{cand_id}", {"currentTitle": "Mathematician"})
        report(resp.status == 200 and (resp.json or {}).get("currentTitle") == "Mathematician",
               "PATCH /api/v1/candidates/{id} updates a field", resp)
        resp = admin.call("GET", "/api/v1/candidates?limit=200&tag=smoke")
        items = (resp.json or {}).get("items") if isinstance(resp.json, dict) else None
        report(resp.status == 200 and isinstance(items, list) and any(i.get("id") == cand_id for i in items),
               "GET /api/v1/candidates?tag=smoke lists it", resp)
        # Another organization's admin sees nothing of this one: 404, exactly like a missing row.
        answers = [other.call("GET", f"/api/v1/candidates/{cand_id}").status,
                   other.call("PATCH", f"/api/v1/candidates/{cand_id}", {"currentTitle": "Spy"}).status,
                   other.call("DELETE", f"/api/v1/candidates/{cand_id}").status]
        report(answers == [404, 404, 404], f"another organization's key gets 404 on GET/PATCH/DELETE (got {answers})")
        resp = other.call("GET", "/api/v1/candidates?limit=200&tag=smoke")
        items = (resp.json or {}).get("items") if isinstance(resp.json, dict) else None
        report(resp.status == 200 and items == [], "another organization's list does not show it", resp)
        resp = admin.call("POST", "/api/v1/candidates", {"firstName": "Ada", "lastName": "Again", "email": cand_email.upper()})
        report(is_problem(resp, 409) and cand_id in resp.raw.decode(errors="replace"),
               "a duplicate email answers 409 naming the existing candidate", resp)

    # Bad input classes.
    resp = admin.call("POST", "/api/v1/candidates", raw=b'{"firstName": "Broken",')
    report(is_problem(resp, 400), "malformed JSON answers 400 problem+json", resp)
    resp = admin.call("POST", "/api/v1/candidates", {"firstName": 42, "lastName": "Wrong"})
    report(resp.status in (400, 422) and "problem+json" in resp.content_type, "a wrong type answers 400/422 problem+json", resp)
    resp = admin.call("POST", "/api/v1/candidates", raw=b'{"firstName":"' + b"x" * (max_body + 1024) + b'"}')
    report(is_problem(resp, 413), f"a body over ATS_MAX_BODY_BYTES={max_body} answers 413 problem+json", resp)
    resp = admin.call("GET", "/api/v1/candidates/01JZZZZZZZZZZZZZZZZZZZZZZZ")
    report(is_problem(resp, 404), "a missing id answers 404 problem+json", resp)
    resp = admin.call("GET", "/api/v1/candidates/not%20an%20id")
    report(resp.status in (400, 404) and "problem+json" in resp.content_type, "an invalid id answers 400/404 problem+json", resp)
    resp = admin.call("GET", "/api/v1/candidates?limit=201")
    report(resp.status == 400 and "problem+json" in resp.content_type, "limit above 200 answers 400", resp)

    # Roles: a viewer reads but does not write.
    resp = viewer.call("GET", "/api/v1/candidates?limit=1")
    report(resp.status == 200, "a viewer key reads candidates", resp)
    resp = viewer.call("POST", "/api/v1/candidates", {"firstName": "Vi", "lastName": "Ewer"})
    report(is_problem(resp, 403), "a viewer key cannot create a candidate (403)", resp)

    # Pipeline: client -> job with stages -> application -> move.
    resp = admin.call("POST", "/api/v1/clients", {"name": f"Smoke Client {run}"})
    client_id = (resp.json or {}).get("id") if isinstance(resp.json, dict) else None
    report(resp.status == 201 and client_id, "POST /api/v1/clients", resp)
    stages = ["sourced", "screening", "interview", "offer", "hired"]
    resp = admin.call("POST", "/api/v1/jobs", {"clientId": client_id, "title": "Engine Designer", "status": "active",
                                               "pipelineStages": stages})
    job_id = (resp.json or {}).get("id") if isinstance(resp.json, dict) else None
    report(resp.status == 201 and job_id, "POST /api/v1/jobs with pipeline stages", resp)
    if cand_id and job_id:
        resp = admin.call("POST", "/api/v1/applications", {"candidateId": cand_id, "jobId": job_id})
        app = resp.json if isinstance(resp.json, dict) else {}
        app_id = app.get("id")
        report(resp.status == 201 and app_id and app.get("stage") == stages[0],
               "POST /api/v1/applications starts in the first stage", resp)
        resp = admin.call("POST", "/api/v1/applications", {"candidateId": cand_id, "jobId": job_id})
        report(is_problem(resp, 409), "a second application for the same candidate and job answers 409", resp)
        if app_id:
            resp = admin.call("POST", f"/api/v1/applications/{app_id}/move", {"stage": "interview"})
            report(resp.status == 200 and (resp.json or {}).get("stage") == "interview",
                   "POST /api/v1/applications/{id}/move to a stage of the job", resp)
            resp = admin.call("POST", f"/api/v1/applications/{app_id}/move", {"stage": "no-such-stage"})
            report(resp.status in (400, 409, 422) and "problem+json" in resp.content_type,
                   "a move to a stage the job lacks answers 4xx problem+json", resp)
            resp = admin.call("GET", f"/api/v1/applications/{app_id}")
            report(resp.status == 200 and (resp.json or {}).get("stage") == "interview",
                   "the rejected move changed nothing", resp)
        resp = admin.call("POST", "/api/v1/applications", {"candidateId": cand_id, "jobId": "01JZZZZZZZZZZZZZZZZZZZZZZZ"})
        report(resp.status in (400, 404, 409, 422) and "problem+json" in resp.content_type,
               "an application to a missing job answers 4xx problem+json", resp)

    if cand_id:
        resp = admin.call("DELETE", f"/api/v1/candidates/{cand_id}")
        report(resp.status in (200, 204), "DELETE /api/v1/candidates/{id}", resp)
        resp = admin.call("GET", f"/api/v1/candidates/{cand_id}")
        report(is_problem(resp, 404), "a deleted candidate answers 404", resp)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
