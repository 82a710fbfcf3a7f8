"""Search against a hostile tenant and against the release build's optimizer, on the real binary.

Usage: hostile_search.py ATS_BIN TMP_DIR

Two organizations made with `ats org create` / `ats token create` on one server (its result
cache off, so every answer comes from the index). Checks:
- Typo tolerance end to end: `pyhton`, `dokcer`, `djnago` and `recruter` each find the one
  candidate holding the real word, and `corrections` names it. (The release binary once
  corrected nothing: its distance rows aliased under -O.)
- Tenancy of everything derived from the text: organization B's full JSON answers on every
  search surface (candidate and job search with explain and facets, filters, suggestions, a
  job's matches) are the same before A plants distinctive words (`zyphorine`, `alphafirst1..4`,
  a confidential summary word), after they are indexed, and after A deletes them. A shared
  vocabulary or shared ranking statistics show up as moved corrections, a `*` in
  `query.parsed`, other scores or totals.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import json
import os
import sys
import time
import urllib.parse

import checks
from checks import Client, report, run, start, stop, wait_until

# Answer fields that measure time, not content.
TIMING_FIELDS = {"took", "tookMs", "elapsed", "durationMs"}


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def search(client, path, q, extra=""):
    return client.call("GET", f"{path}?q={urllib.parse.quote(q)}{extra}")


def create(client, path, body):
    reply = client.call("POST", path, body)
    if reply.status != 201:
        report(False, f"POST {path}", str(reply))
        return None
    return reply.json["id"]


def hit_names(reply):
    return sorted((h.get("document") or {}).get("lastName", "?") for h in (reply.json or {}).get("hits", []))


def typo_checks(client):
    people = [
        ("Pythonova", "Backend Developer", {"programmingLanguages": ["Python"]}),
        ("Dockerman", "Platform Specialist", {"toolsAndPlatforms": ["Docker"]}),
        ("Djangovic", "Web Consultant", {"frameworks": ["Django"]}),
        ("Hirewell", "Senior Recruiter", {}),
    ]
    for last, title, skills in people:
        create(client, "/api/v1/candidates", {"firstName": "Typo", "lastName": last, "currentTitle": title, **skills})
    indexed = wait_until(
        lambda: (search(client, "/api/v1/search/candidates", "recruiter", "&semantic=0").json or {}).get("total") == 1, 45)
    report(bool(indexed), "the typo check's candidates are indexed")
    for typo, word, last in [("pyhton", "python", "Pythonova"), ("dokcer", "docker", "Dockerman"),
                             ("djnago", "django", "Djangovic"), ("recruter", "recruiter", "Hirewell")]:
        reply = search(client, "/api/v1/search/candidates", typo, "&semantic=0")
        body = reply.json or {}
        corrections = body.get("corrections", {}).get(typo, [])
        report(reply.status == 200 and hit_names(reply) == [last] and word in corrections,
               f"`{typo}` finds the {word} candidate and `corrections` names `{word}`",
               f"{reply.status} hits {hit_names(reply)} corrections {body.get('corrections')}")


SEARCH_TEXTS = ["zyph", "zyphorine", "zyphorinx", "alphafirst9", "alphafirs", "quixotrelis", "engineer",
                "pyhton engineer", "enginer", ""]
SUGGEST_TEXTS = ["zyph", "zyphorinx", "alphafirst9", "alphafirs", "quixotrelis", "eng", "pyth"]


def observe(client, job_id):
    """Everything B can call, as parsed JSON with timing fields left out."""
    seen = {}
    for q in SEARCH_TEXTS:
        for path in ("/api/v1/search/candidates", "/api/v1/search/jobs"):
            for extra in ("&semantic=0&facets=true", "&explain=true&facets=true", "&facets=true&status=active&semantic=0.5"):
                reply = search(client, path, q, extra)
                seen[f"{path}?q={q}{extra}"] = (reply.status, without_timing(reply.json))
    for q in SUGGEST_TEXTS:
        reply = client.call("GET", f"/api/v1/search/suggest?q={urllib.parse.quote(q)}&limit=50")
        seen[f"suggest {q}"] = (reply.status, without_timing(reply.json))
    reply = client.call("GET", f"/api/v1/jobs/{job_id}/matches?limit=100")
    seen["matches"] = (reply.status, without_timing(reply.json))
    return seen


def differences(before, after):
    lines = []
    for key in before:
        if before[key] != after.get(key):
            lines.append(f"{key}:\n  before {json.dumps(before[key])[:400]}\n  after  {json.dumps(after.get(key))[:400]}")
    return "\n".join(lines)


def stable_observation(client, job_id, seconds=30):
    """B's answers once its own indexing and embedding have settled: two equal observations."""
    deadline = time.time() + seconds
    last = observe(client, job_id)
    while time.time() < deadline:
        time.sleep(0.5)
        now = observe(client, job_id)
        if now == last:
            return now
        last = now
    return last


def tenancy_checks(a, b):
    # B: a small agency of its own, sharing common words with A.
    for first, last, title, langs, summary in [
        ("Bea", "Keller", "Python Engineer", ["Python", "Django"], "Data engineer building pipelines."),
        ("Ben", "Huber", "Java Engineer", ["Java"], "Backend engineer; some python."),
        ("Bo", "Zypher", "Engineering Manager", ["Go"], "Leads engineers."),
    ]:
        create(b, "/api/v1/candidates", {"firstName": first, "lastName": last, "currentTitle": title,
                                         "programmingLanguages": langs, "summary": summary, "status": "active"})
    company = create(b, "/api/v1/clients", {"name": "Globex Engineering"})
    job = create(b, "/api/v1/jobs", {"clientId": company, "title": "Python Engineer", "status": "active",
                                     "requiredSkills": ["Python"], "description": "An engineer for data pipelines."})
    indexed = wait_until(
        lambda: (search(b, "/api/v1/search/candidates", "engineer", "&semantic=0").json or {}).get("total") == 3, 45)
    report(bool(indexed), "organization B's documents are indexed")
    before = stable_observation(b, job)
    report(all(status == 200 for status, _ in before.values()), "every surface B calls answers 200",
           "\n".join(f"{k}: {v[0]}" for k, v in before.items() if v[0] != 200))

    # A plants distinctive words, and words both use.
    planted = []
    for n in range(1, 9):
        planted.append(create(a, "/api/v1/candidates", {
            "firstName": "Zyphorine", "lastName": f"Alphafirst{n % 4 + 1}", "currentTitle": "Python Engineer",
            "programmingLanguages": ["Python"], "summary": "Confidential: quixotrellis engineer engineer.",
            "status": "active"}))
    planted.append(create(a, "/api/v1/candidates", {"firstName": "Alphafirst1", "lastName": "Zyphorinexus",
                                                    "currentTitle": "Engineer", "status": "active"}))
    theirs = create(a, "/api/v1/clients", {"name": "Alphafirst2 Zyphorine Holdings"})
    their_job = create(a, "/api/v1/jobs", {"clientId": theirs, "title": "Zyphorine Engineer", "status": "active",
                                           "requiredSkills": ["Python"], "description": "quixotrellis engineer"})
    found = wait_until(lambda: search(a, "/api/v1/search/candidates", "zyphorine", "&semantic=0").json.get("total") == 9
                       and search(a, "/api/v1/search/jobs", "zyphorine", "&semantic=0").json.get("total") == 1, 45)
    report(bool(found), "organization A's planted words are indexed (A finds them)")
    own = search(a, "/api/v1/search/candidates", "alphafirst9", "&semantic=0").json or {}
    report("alphafirst1" in own.get("corrections", {}).get("alphafirst9", []),
           "A's own search corrects alphafirst9 to its alphafirst1 (the words are there to leak)", own.get("corrections"))
    time.sleep(1)  # let A's embedding jobs run too: they must not move B either
    after_plant = observe(b, job)
    diff = differences(before, after_plant)
    report(not diff, "B's every answer (search, explain, facets, filters, suggest, matches) is unchanged after A's writes", diff)

    for id in planted:
        reply = a.call("DELETE", f"/api/v1/candidates/{id}")
        if reply.status not in (200, 204):
            report(False, "A deletes its planted candidate", str(reply))
    a.call("DELETE", f"/api/v1/jobs/{their_job}")
    gone = wait_until(lambda: search(a, "/api/v1/search/candidates", "zyphorine", "&semantic=0").json.get("total") == 0, 45)
    report(bool(gone), "A's deletions are indexed (A no longer finds them)")
    time.sleep(1)
    after_delete = observe(b, job)
    diff = differences(before, after_delete)
    report(not diff, "B's every answer is unchanged after A deletes its words", diff)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    ats, tmp = sys.argv[1], sys.argv[2]
    data = os.path.join(tmp, "hostile-search")
    os.makedirs(data, exist_ok=True)
    env = dict(os.environ, ATS_DATA=data, ATS_LOG_FORMAT="json")
    run(ats, "migrate", env=env)
    keys = {}
    for slug in ("acme", "globex"):
        out = run(ats, "org", "create", "--slug", slug, "--name", slug.capitalize(), env=env)
        report(out.returncode == 0, f"ats org create {slug}", out.stderr[-500:])
        out = run(ats, "token", "create", "--org", slug, "--role", "admin", "--name", "hostile", env=env)
        report(out.returncode == 0 and out.stdout.strip() != "", f"ats token create --org {slug}", out.stderr[-500:])
        keys[slug] = out.stdout.strip()
    # No result cache: every answer below comes from the index itself.
    proc, base = start(ats, data, os.path.join(tmp, "hostile-search.log"),
                       {"ATS_CACHE_MAX_MB": "0"})
    try:
        a, b = Client(base, keys["acme"]), Client(base, keys["globex"])
        typo_checks(a)
        tenancy_checks(a, b)
    finally:
        stop(proc)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
