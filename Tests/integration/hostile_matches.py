"""Matching on the real binary, as a hostile viewer would use it.

Usage: hostile_matches.py ATS_BIN TMP_DIR

A server whose matching limit is one call per five seconds per key (ATS_MATCH_RATE_LIMIT_RPS
=0.2, a burst of one), so a viewer's second call in a row is over the limit however slow the
machine is (no timing race: a call never takes five seconds on this tiny agency). Checks: the
best-qualified candidate comes first with the reasons in the documented shape; a viewer
hammering matches gets 429 problem+json with Retry-After while the same key still reads and
searches, another key still matches, and the viewer matches again after Retry-After; a job
edit and a new candidate both show in the next result (no stale cache); results are per
organization (another organization's job or candidate id answers 404 like a missing one, and
its candidates never appear).

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import os
import sys
import time
import uuid

import checks
from checks import Client, report, run, start, stop, wait_until

SRE_SKILLS = ["Kubernetes", "Terraform", "Go"]


def is_problem(resp, status):
    return resp.status == status and "application/problem+json" in resp.content_type


def matches(client, path):
    """GET matches; a 429 is waited out (Retry-After) so checks that are not about the limit
    never depend on how fast the previous call came back."""
    for _ in range(4):
        resp = client.call("GET", path)
        if resp.status != 429:
            return resp
        time.sleep(int(resp.headers.get("retry-after", "5")) + 0.2)
    return resp


def candidate(client, first, last, skills, **extra):
    body = {"firstName": first, "lastName": last, "currentTitle": "Site Reliability Engineer",
            "email": f"{last.lower()}.{uuid.uuid4().hex[:6]}@example.com", "experienceYears": 7, **extra}
    if skills:
        body["technicalSkills"] = skills
    resp = client.call("POST", "/api/v1/candidates", body)
    return (resp.json or {}).get("id", "")


def found(client, word, cid):
    resp = client.call("GET", f"/api/v1/search/candidates?q={word}&semantic=0")
    return any(hit.get("id") == cid for hit in (resp.json or {}).get("hits", []))


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    data = os.path.join(tmp, "matches-data")
    admin_key = checks.prepare(ats, data)
    env = dict(os.environ, ATS_DATA=data)

    def token(org, role):
        return run(ats, "token", "create", "--org", org, "--role", role, "--name", f"{role}-{uuid.uuid4().hex[:4]}", env=env).stdout.strip()

    run(ats, "org", "create", "--slug", "globex", "--name", "Globex", env=env)
    viewer_key, second_key, other_key = token("acme", "viewer"), token("acme", "admin"), token("globex", "admin")
    proc, base = start(ats, data, os.path.join(tmp, "matches-serve.log"), {"ATS_MATCH_RATE_LIMIT_RPS": "0.2"})
    admin, viewer, second, other = (Client(base, k) for k in (admin_key, viewer_key, second_key, other_key))
    try:
        company = admin.call("POST", "/api/v1/clients", {"name": "Helvetia Cloud"}).json or {}
        job = admin.call("POST", "/api/v1/jobs", {
            "clientId": company.get("id"), "title": "Site Reliability Engineer", "status": "active",
            "requiredSkills": SRE_SKILLS, "location": "Zürich, Switzerland"}).json or {}
        job_id = job.get("id", "")
        best = candidate(admin, "Priyanka", "Raghunathan", SRE_SKILLS, currentLocation="Zürich, Switzerland")
        none = candidate(admin, "Quentin", "Sansskills", [], currentLocation="Zürich, Switzerland")
        partial = candidate(admin, "Nadia", "Halfway", ["Kubernetes"])
        # Globex's perfect candidate: never in Acme's matches.
        outsider = candidate(other, "Olaf", "Outsider", SRE_SKILLS, currentLocation="Zürich, Switzerland")
        report(job_id and best and none and partial and outsider, "a job and candidates in two organizations")
        synced = wait_until(lambda: found(admin, "raghunathan", best) and found(admin, "halfway", partial)
                            and found(other, "outsider", outsider), 60)
        report(synced, "the search index caught up")

        # Ranking and shape.
        resp = matches(admin, f"/api/v1/jobs/{job_id}/matches?limit=50")
        items = (resp.json or {}).get("items", [])
        ids = [item.get("id") for item in items]
        report(resp.status == 200 and ids[:1] == [best], "the candidate with every required skill comes first", ids)
        ranked = partial in ids and (none not in ids or ids.index(partial) < ids.index(none))
        report(ranked, "one with a required skill outranks one with none", ids)
        first = items[0] if items else {}
        reasons = first.get("reasons") or {}
        report(set(first) == {"id", "score", "candidate", "reasons"}
               and set(reasons) == {"skillsMet", "skillsMissing", "seniority", "location", "languages", "similarity"}
               and sorted(reasons.get("skillsMet", [])) == sorted(SRE_SKILLS) and isinstance(first.get("score"), int)
               and (first.get("candidate") or {}).get("lastName") == "Raghunathan",
               "each item keeps its shape: id, score, the candidate, the reasons", first)
        report(outsider not in ids, "another organization's candidate never appears", ids)

        # The stricter limit: the viewer's second call in a row is over it.
        statuses, limited = [], None
        for _ in range(10):
            resp = viewer.call("GET", f"/api/v1/jobs/{job_id}/matches")
            statuses.append(resp.status)
            if resp.status == 429:
                limited = resp
                break
        report(statuses[:1] == [200] and limited is not None, "a viewer hammering matches gets 429 beyond the rate", statuses)
        retry = (limited.headers.get("retry-after", "") if limited else "")
        report(limited is not None and is_problem(limited, 429) and retry.isdigit() and 1 <= int(retry) <= 5
               and ((limited.json or {}).get("type") or "").endswith("rate-limited"),
               "the 429 is problem+json with Retry-After", limited)
        report(viewer.call("GET", f"/api/v1/jobs/{job_id}").status == 200
               and viewer.call("GET", "/api/v1/search/candidates?q=kubernetes").status == 200
               and viewer.call("GET", "/api/v1/candidates?limit=5").status == 200,
               "the same key still reads, searches and lists")
        report(second.call("GET", f"/api/v1/jobs/{job_id}/matches").status == 200, "another key of the organization still matches")
        if retry.isdigit():
            time.sleep(int(retry) + 0.3)
            again = viewer.call("GET", f"/api/v1/jobs/{job_id}/matches")
            report(again.status == 200, "after Retry-After the viewer matches again", again)

        # Fresh results: a job edit, then a new candidate once indexed.
        edit = admin.call("PATCH", f"/api/v1/jobs/{job_id}", {"requiredSkills": ["Kubernetes", "Ansible"]})
        resp = matches(admin, f"/api/v1/jobs/{job_id}/matches?limit=50")
        top = ((resp.json or {}).get("items") or [{}])[0]
        skills = set(top.get("reasons", {}).get("skillsMet", []) + top.get("reasons", {}).get("skillsMissing", []))
        report(edit.status == 200 and skills == {"Kubernetes", "Ansible"}, "a job edit shows in the next matches", skills)
        newcomer = candidate(admin, "Zelda", "Ansiblequeen", ["Kubernetes", "Ansible"], currentLocation="Zürich, Switzerland")
        report(wait_until(lambda: found(admin, "ansiblequeen", newcomer), 60), "the new candidate is indexed")
        resp = wait_until(lambda: (lambda r: r if [i.get("id") for i in (r.json or {}).get("items", [])][:1] == [newcomer] else None)(
            matches(admin, f"/api/v1/jobs/{job_id}/matches")), 30)
        report(resp is not None, "an index change shows in the next matches (the new best candidate first)")

        # Tenancy: another organization's ids answer as missing ones do.
        foreign = matches(other, f"/api/v1/jobs/{job_id}/matches")
        missing = matches(other, "/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV/matches")
        same = lambda r: ((r.json or {}).get("type"), (r.json or {}).get("title"), (r.json or {}).get("detail"))
        report(is_problem(foreign, 404) and is_problem(missing, 404) and same(foreign) == same(missing),
               "another organization's job id answers 404 like a missing one", f"{foreign} / {missing}")
        foreign = matches(other, f"/api/v1/candidates/{best}/matches")
        report(is_problem(foreign, 404), "another organization's candidate id answers 404", foreign)
    finally:
        stop(proc)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
