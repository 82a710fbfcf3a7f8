"""The rules a hostile tester probed (issue 12, item 6), on the real binary with two organizations.

Usage: hostile_rules.py ATS_BIN TMP_DIR

1. A hiring manager's note through `POST /api/v1/notes` naming one of their own jobs and a
   candidate who applied to none of them: 403, as on the candidate route.
2. `/api/v1/admin/jobs/stats` counts the caller's organization's jobs only.
3. A request whose `traceparent` names another organization's span never appears in that
   organization's trace view (nor does the owner's span appear in the intruder's).
4. The last active admin cannot be disabled, demoted or deleted (409 problem+json
   `last-admin`), by themselves or another admin; two admins demoting each other at once:
   exactly one succeeds.
5. The S3 endpoint answers unsigned requests, and a signed key on a foreign or missing
   bucket, with the same 403 AccessDenied: bucket names say nothing of which organizations exist.
6. An export's `downloadUrl` lives a week (not `ATS_PRESIGN_SECONDS`) and works without a key.
7. NUL in a name, `salaryMin > salaryMax` and a template with a broken `{{`: 422 with the field.
8. A viewer cannot create a zip of a candidate's documents (403); a recruiter can.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import io
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

import checks
from checks import Client, report, run, start, stop, wait_until

PRESIGN_SECONDS = 120


def fetch(url, method="GET", headers=None):
    """A plain request with no API key: what a browser or an S3 prober sends."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ValueError) as error:
        return 0, str(error).encode()


def create_user(ats, env, org, email, role, password):
    out = subprocess.run([ats, "user", "create", "--org", org, "--email", email, "--role", role],
                         env=env, input=password + "\n", capture_output=True, text=True, timeout=120)
    report(out.returncode == 0, f"ats user create {email} ({role})", out.stderr[-500:])


def sign_in(base, email, password):
    reply = Client(base).call("POST", "/api/v1/auth/login", {"organization": "acme", "email": email, "password": password})
    return (reply.json or {}).get("token")


def field_errors(reply):
    return {e.get("field"): e.get("message", "") for e in ((reply.json or {}).get("errors") or [])}


def is_problem(reply, status, slug=None):
    body = reply.json or {}
    return (reply.status == status and reply.content_type.startswith("application/problem+json")
            and (slug is None or body.get("type") == f"/problems/{slug}"))


def note_checks(base, recruiter, session):
    company = recruiter.call("POST", "/api/v1/clients", {"name": "Initech"}).json or {}
    own_job = (recruiter.call("POST", "/api/v1/jobs", {"clientId": company.get("id"), "title": "Own", "status": "active"}).json or {}).get("id")
    applied = (recruiter.call("POST", "/api/v1/candidates", {"firstName": "Ada", "lastName": "Applied"}).json or {}).get("id")
    stranger = (recruiter.call("POST", "/api/v1/candidates", {"firstName": "Sam", "lastName": "Stranger"}).json or {}).get("id")
    recruiter.call("POST", "/api/v1/applications", {"candidateId": applied, "jobId": own_job})
    users = (recruiter.call("GET", "/api/v1/users?role=hiring_manager").json or {}).get("items") or [{}]
    recruiter.call("PATCH", f"/api/v1/jobs/{own_job}", {"hiringManagerIds": [users[0].get("id")]})
    manager = Client(base, session)
    reply = manager.call("POST", f"/api/v1/candidates/{stranger}/notes", {"body": "x"})
    report(reply.status == 403, "a hiring manager's note on a stranger through the candidate route: 403", reply)
    reply = manager.call("POST", "/api/v1/notes", {"body": "x", "jobId": own_job, "candidateId": stranger})
    report(is_problem(reply, 403), "POST /notes naming their own job and a stranger: 403 problem+json", reply)
    notes = (recruiter.call("GET", f"/api/v1/candidates/{stranger}/notes").json or {}).get("items")
    report(notes == [], "no note was written about the stranger", notes)
    reply = manager.call("POST", "/api/v1/notes", {"body": "ok", "jobId": own_job, "candidateId": applied})
    report(reply.status == 201, "a note on their own job's applicant: 201", reply)
    return applied


def stats_checks(admin, other):
    for _ in range(3):
        other.call("POST", "/api/v1/exports", {"kind": "candidates", "format": "csv"})

    def exports_total(client):
        items = (client.call("GET", "/api/v1/admin/jobs/stats").json or {}).get("items") or []
        return sum(sum((item.get("counts") or {}).values()) for item in items if item.get("queue") == "exports")
    theirs = exports_total(other)
    ours = exports_total(admin)
    report(theirs >= 3 and ours == 0, f"job stats count the caller's jobs only (globex exports {theirs}, acme {ours})")


def spans_of(reply):
    found = []

    def walk(nodes):
        for node in nodes or []:
            found.append(node)
            walk(node.get("children"))
    walk((reply.json or {}).get("spans"))
    return found


def trace_checks(base, admin, other, candidate):
    acme_id = (admin.call("GET", "/api/v1/organization").json or {}).get("id")
    globex_id = (other.call("GET", "/api/v1/organization").json or {}).get("id")
    own = admin.call("GET", f"/api/v1/candidates/{candidate}")
    parts = own.headers.get("traceparent", "").split("-")
    if len(parts) != 4:
        report(False, "a request returns its traceparent", own.headers)
        return
    trace, span = parts[1], parts[2]
    wait_until(lambda: admin.call("GET", f"/api/v1/admin/traces/{trace}").status == 200, 10)
    reply = other.call("GET", "/api/v1/candidates", headers={"traceparent": f"00-{trace}-{span}-01"})
    report(reply.status == 200, "globex's request naming acme's span in traceparent is served", reply)
    theirs = wait_until(lambda: (lambda r: r if r.status == 200 else None)(other.call("GET", f"/api/v1/admin/traces/{trace}")), 10)
    their_spans = spans_of(theirs) if theirs else []
    report(theirs is not None and len((theirs.json or {}).get("spans") or []) == 1
           and not any((s.get("attributes") or {}).get("ats.org") == acme_id or s.get("spanId") == span for s in their_spans),
           "globex's view of the trace holds its own request only", theirs)
    ours = admin.call("GET", f"/api/v1/admin/traces/{trace}")
    our_spans = spans_of(ours)
    report(ours.status == 200 and our_spans and not any(
        (s.get("attributes") or {}).get("ats.org") == globex_id or s.get("name") == "GET /api/v1/candidates" for s in our_spans),
        "acme's view of its trace never shows globex's request, nested or not", [s.get("name") for s in our_spans])


def admin_checks(base, admin, admin_session):
    me = Client(base, admin_session)
    user_id = (me.call("GET", "/api/v1/auth/me").json or {}).get("userId")
    for client, body, who in [(me, {"disabled": True}, "themselves"), (admin, {"disabled": True}, "another admin"),
                              (admin, {"role": "viewer"}, "another admin")]:
        reply = client.call("PATCH", f"/api/v1/users/{user_id}", body)
        report(is_problem(reply, 409, "last-admin"), f"the last active admin cannot be {body} by {who}: 409 last-admin", reply)
    reply = admin.call("DELETE", f"/api/v1/users/{user_id}")
    report(is_problem(reply, 409, "last-admin"), "the last active admin cannot be deleted: 409 last-admin", reply)
    report(me.call("GET", "/api/v1/auth/me").status == 200, "the admin is still signed in")

    # Two admins demote each other at the same moment: exactly one of them wins.
    second = admin.call("POST", "/api/v1/users", {"email": "second@acme.example", "name": "Second", "role": "admin",
                                                  "password": "second-password"})
    second_id = (second.json or {}).get("id")
    statuses = {}
    barrier = threading.Barrier(2)

    def demote(name, client, target):
        barrier.wait()
        statuses[name] = client.call("PATCH", f"/api/v1/users/{target}", {"role": "recruiter"}).status
    second_session = sign_in(base, "second@acme.example", "second-password")
    threads = [threading.Thread(target=demote, args=("first", me, second_id)),
               threading.Thread(target=demote, args=("second", Client(base, second_session), user_id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    admins = [u for u in (admin.call("GET", "/api/v1/users?role=admin").json or {}).get("items") or [] if not u.get("disabled")]
    report(sorted(statuses.values()) in ([200, 409], [200, 403]) and len(admins) == 1,
           f"two admins demoting each other at once: one wins, one admin stays ({statuses}, {len(admins)} admin)")


def s3_checks(ats, env, base):
    shapes = {}
    for bucket in ("acme", "no-such-agency-" + uuid.uuid4().hex[:6]):
        for method, path in (("GET", f"/s3/{bucket}/cv.pdf"), ("GET", f"/s3/{bucket}?list-type=2"), ("HEAD", f"/s3/{bucket}")):
            status, body = fetch(base + path, method=method)
            text = body.decode(errors="replace")
            code = text.split("<Code>")[1].split("</Code>")[0] if "<Code>" in text else "-"
            message = text.split("<Message>")[1].split("</Message>")[0] if "<Message>" in text else "-"
            shapes.setdefault((method, path.replace(bucket, "B")), set()).add((status, code, message))
    same = all(len(v) == 1 for v in shapes.values())
    denied = all(next(iter(v))[0] == 403 and next(iter(v))[1] in ("AccessDenied", "-") for v in shapes.values())
    report(same and denied, "unsigned S3 requests: the same 403 AccessDenied for an organization's bucket and a missing one",
           shapes)
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError
    except ImportError:
        report(False, "boto3 is installed for the S3 checks")
        return
    out = run(ats, "s3-key", "create", "--org", "acme", env=env)
    key_id, secret = (out.stdout.split() + ["", ""])[:2]
    s3 = boto3.client("s3", endpoint_url=base + "/s3", aws_access_key_id=key_id, aws_secret_access_key=secret,
                      region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                    retries={"max_attempts": 1, "mode": "standard"}))
    answers = {}
    for bucket in ("globex", "no-such-agency"):
        try:
            s3.list_objects_v2(Bucket=bucket)
            answers[bucket] = (200, None)
        except ClientError as error:
            answers[bucket] = (error.response["ResponseMetadata"]["HTTPStatusCode"], error.response.get("Error", {}).get("Code"))
    report(answers.get("globex") == answers.get("no-such-agency") == (403, "AccessDenied"),
           "a signed key on another organization's bucket and on a missing one: the same 403 AccessDenied", answers)


def export_checks(admin):
    started = admin.call("POST", "/api/v1/exports", {"kind": "candidates", "format": "csv"}).json or {}
    done = wait_until(lambda: (lambda e: e if e.get("status") == "completed" else None)(
        admin.call("GET", f"/api/v1/exports/{started.get('id')}").json or {}), 60) or {}
    url = done.get("downloadUrl") or ""
    expires = urllib.parse.parse_qs(urllib.parse.urlparse(url).query).get("X-Amz-Expires", ["0"])[0]
    try:
        at = datetime.fromisoformat(done.get("downloadExpiresAt", "").replace("Z", "+00:00"))
        left = (at - datetime.now(timezone.utc)).total_seconds()
    except ValueError:
        left = 0
    report(int(expires) > 604_000 and abs(left - 7 * 86_400) < 300,
           f"an export's downloadUrl lives a week, not ATS_PRESIGN_SECONDS={PRESIGN_SECONDS} (X-Amz-Expires {expires})", done)
    status, body = fetch(url or "http://127.0.0.1:1/none")
    report(status == 200 and b"firstName" in body, "the export downloads through it without a key", status)


def validation_checks(admin):
    reply = admin.call("POST", "/api/v1/candidates", {"firstName": "Ada\u0000", "lastName": "L"})
    report(is_problem(reply, 422, "validation") and "firstName" in field_errors(reply), "a NUL in a name: 422 naming firstName", reply)
    reply = admin.call("POST", "/api/v1/candidates", {"firstName": "Ada", "lastName": "L", "summary": "One.\n\n\tTwo."})
    report(reply.status == 201, "a summary keeps its line breaks and tabs", reply)
    company = (admin.call("POST", "/api/v1/clients", {"name": "Band Co"}).json or {}).get("id")
    reply = admin.call("POST", "/api/v1/jobs", {"clientId": company, "title": "T", "salaryMin": 120000, "salaryMax": 90000})
    report(is_problem(reply, 422, "validation") and "salaryMin" in field_errors(reply), "salaryMin > salaryMax: 422 naming salaryMin", reply)
    job = (admin.call("POST", "/api/v1/jobs", {"clientId": company, "title": "T", "salaryMin": 90000, "salaryMax": 120000}).json or {}).get("id")
    reply = admin.call("PATCH", f"/api/v1/jobs/{job}", {"salaryMax": 80000})
    report(is_problem(reply, 422, "validation") and "salaryMin" in field_errors(reply),
           "a patch that turns the band upside down: 422", reply)
    reply = admin.call("POST", "/api/v1/email-templates", {"name": "T", "subject": "Hi", "body": "Dear\n{{candidate.firstName"})
    message = field_errors(reply).get("body", "")
    report(is_problem(reply, 422, "validation") and "line 2, column 1" in message,
           "an email template with an unclosed {{: 422 naming body and the place", reply)
    reply = admin.call("POST", "/api/v1/email-templates", {"name": "T", "subject": "Hi {{#candidate}}", "body": "x"})
    report(is_problem(reply, 422, "validation") and "subject" in field_errors(reply), "a template with a section: 422 naming subject", reply)


def zip_checks(base, admin, viewer, recruiter, candidate):
    boundary = "ats-rules-" + uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\n\r\n'
            f"a note\r\n--{boundary}--\r\n").encode()
    up = admin.call("POST", f"/api/v1/candidates/{candidate}/documents", raw=body,
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    report(up.status == 201, "a document to zip", up)
    reply = viewer.call("POST", f"/api/v1/candidates/{candidate}/documents/zip")
    report(is_problem(reply, 403), "a viewer cannot create a zip of documents: 403", reply)
    reply = recruiter.call("POST", f"/api/v1/candidates/{candidate}/documents/zip")
    report(reply.status == 200, "a recruiter can", reply)


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    began = time.monotonic()
    data = os.path.join(tmp, "rules-data")
    admin_key = checks.prepare(ats, data)
    env = dict(os.environ, ATS_DATA=data, ATS_LOG_FORMAT="json")
    run(ats, "org", "create", "--slug", "globex", "--name", "Globex", env=env)
    other_key = run(ats, "token", "create", "--org", "globex", "--role", "admin", env=env).stdout.strip()
    recruiter_key = run(ats, "token", "create", "--org", "acme", "--role", "recruiter", env=env).stdout.strip()
    viewer_key = run(ats, "token", "create", "--org", "acme", "--role", "viewer", env=env).stdout.strip()
    create_user(ats, env, "acme", "admin@acme.example", "admin", "admin-password")
    create_user(ats, env, "acme", "hm@acme.example", "hiring_manager", "manager-password")
    proc, base = start(ats, data, os.path.join(tmp, "rules-serve.log"), {"ATS_PRESIGN_SECONDS": str(PRESIGN_SECONDS)})
    admin, other = Client(base, admin_key), Client(base, other_key)
    recruiter, viewer = Client(base, recruiter_key), Client(base, viewer_key)
    try:
        admin_session = sign_in(base, "admin@acme.example", "admin-password")
        manager_session = sign_in(base, "hm@acme.example", "manager-password")
        report(bool(admin_session and manager_session), "the admin and the hiring manager sign in")
        candidate = note_checks(base, recruiter, manager_session)
        stats_checks(admin, other)
        trace_checks(base, admin, other, candidate)
        admin_checks(base, admin, admin_session)
        s3_checks(ats, env, base)
        export_checks(admin)
        validation_checks(admin)
        zip_checks(base, admin, viewer, recruiter, candidate)
    except Exception as err:  # noqa: BLE001 - an unexpected exception is a failed check, with its story
        import traceback
        report(False, f"unexpected {type(err).__name__}: {err}", traceback.format_exc())
    finally:
        code = stop(proc)
        report(code == 0, f"the server stops cleanly on SIGTERM (exit {code})")
    report(time.monotonic() - began < 110, f"the rules checks took {time.monotonic() - began:.1f} s")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
