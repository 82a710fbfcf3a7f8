"""Search relevance on the binary users run: the cases of `relevance_cases.json` (shared with
the in-process `SearchRelevanceTests`) over HTTP, against the release build in `make test`.

Usage: relevance_check.py ATS_BIN TMP_DIR

`ats demo` generates the agency the cases name (1,500 candidates, seed 11); a server is
started on it, the planted profiles are created through the API, and once the index and the
vectors hold them every query is asked with its semantic weight. recall@10 and nDCG@10 must
reach the floors; each misspelt word must be corrected to the planted profile's word and find
her with keywords alone (the optimizer once turned typo tolerance off in release builds only);
a job written for one profile must rank her among its first matches.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import json
import math
import os
import sys
import time
import urllib.parse

import checks
from checks import Client, report, run, start, stop

here = os.path.dirname(os.path.abspath(__file__))


def search(api, text, semantic, explain=False):
    query = urllib.parse.urlencode(
        {"q": text, "semantic": semantic, "limit": 10, "explain": "true" if explain else "false"})
    return api.call("GET", f"/api/v1/search/candidates?{query}")


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    cases = json.load(open(os.path.join(here, "relevance_cases.json"), encoding="utf-8"))
    data = os.path.join(tmp, "relevance")
    env = dict(os.environ, ATS_DATA=data, ATS_LOG_FORMAT="json")
    agency = cases["agency"]
    started = time.time()
    made = run(ats, "demo", "--candidates", str(agency["candidates"]), "--seed", str(agency["seed"]), env=env)
    report(made.returncode == 0, f"ats demo --candidates {agency['candidates']} --seed {agency['seed']}",
           made.stderr[-2000:])
    if made.returncode != 0:
        return
    key = run(ats, "token", "create", "--org", "demo", "--role", "admin", "--name", "relevance", env=env).stdout.strip()
    # Matches are polled below: no per-key matching rate limit in this check.
    proc, base = start(ats, data, os.path.join(tmp, "relevance.log"), {"ATS_MATCH_RATE_LIMIT_RPS": "0"})
    try:
        api = Client(base, key)
        ids = {}
        for name, fields in sorted(cases["planted"].items()):
            created = api.call("POST", "/api/v1/candidates", fields)
            if created.status != 201:
                report(False, f"create planted profile {name}", created)
                return
            ids[name] = created.json["id"]

        # Indexing and embeddings are jobs fed by the change feed: wait until every queue is idle
        # and the keyword side finds each planted profile by name.
        def idle():
            stats = api.call("GET", "/api/v1/admin/jobs/stats")
            busy = sum(item["counts"].get(state, 0) for item in (stats.json or {}).get("items", [])
                       for state in ("queued", "running"))
            return stats.status == 200 and busy == 0

        def indexed(name):
            fields = cases["planted"][name]
            found = search(api, f"{fields['firstName']} {fields['lastName']}", 0)
            return any(h["id"] == ids[name] for h in (found.json or {}).get("hits", []))

        deadline = time.time() + 180
        pending = set(ids)
        while (pending or not idle()) and time.time() < deadline:
            pending = {name for name in pending if not indexed(name)}
            time.sleep(0.5)
        report(not pending and idle(), "the planted profiles are indexed and the job queues idle within 180 s",
               f"not found yet: {sorted(pending)}")

        recall = ndcg = 0.0
        lines = []
        for text, target, semantic in cases["queries"]:
            found = search(api, text, semantic)
            hits = [h["id"] for h in (found.json or {}).get("hits", [])]
            rank = hits.index(ids[target]) + 1 if ids[target] in hits else None
            if rank:
                recall += 1
                ndcg += 1 / math.log2(rank + 1)
            lines.append(f"{'#' + str(rank) if rank else 'miss'}  {text}  (semantic {semantic}, status {found.status})")
        recall /= len(cases["queries"])
        ndcg /= len(cases["queries"])
        floors = cases["floors"]
        summary = f"recall@10 {recall:.3f}, nDCG@10 {ndcg:.3f} over {len(cases['queries'])} queries"
        print("    " + "\n    ".join(lines))
        report(recall >= floors["recall@10"], f"{summary}: recall@10 >= {floors['recall@10']}", "\n".join(lines))
        report(ndcg >= floors["nDCG@10"], f"{summary}: nDCG@10 >= {floors['nDCG@10']}", "\n".join(lines))

        for word, target, correction in cases["typos"]:
            found = search(api, word, 0)
            body = found.json or {}
            hits = [h["id"] for h in body.get("hits", [])]
            corrections = body.get("corrections", {}).get(word, [])
            report(ids[target] in hits and correction in corrections,
                   f"typo '{word}' is corrected to '{correction}' and finds the planted profile with keywords alone",
                   f"status {found.status}, corrections {body.get('corrections')}, parsed {body.get('query', {}).get('parsed')}")

        # The words a new user mistypes first: corrected to the agency's own word, with results.
        for word, correction in cases["corrections"]:
            found = search(api, word, 0)
            body = found.json or {}
            report(correction in body.get("corrections", {}).get(word, []) and body.get("hits"),
                   f"typo '{word}' is corrected to '{correction}' and finds candidates",
                   f"status {found.status}, corrections {body.get('corrections')}, total {body.get('total')}")

        matching = cases["matching"]
        client = api.call("POST", "/api/v1/clients", matching["client"])
        job = api.call("POST", "/api/v1/jobs", dict(matching["job"], clientId=(client.json or {}).get("id")))
        if job.status != 201:
            report(False, "create the matching job", job)
            return
        target = ids[matching["target"]]

        def ranked():
            answer = api.call("GET", f"/api/v1/jobs/{job.json['id']}/matches?limit=10")
            items = (answer.json or {}).get("items", [])
            position = next((i for i, item in enumerate(items) if item["id"] == target), None)
            return (position, items) if position is not None and position < matching["maxRank"] else None

        got = checks.wait_until(ranked, 60)
        if got:
            position, items = got
            item = items[position]
            met = set(item["reasons"]["skillsMet"])
            report(met == set(matching["skillsMet"]) and item["score"] >= matching["minScore"],
                   f"the job's matches rank the planted profile #{position + 1} with the skills met and a score "
                   f">= {matching['minScore']}", json.dumps(item["reasons"]) + f" score {item['score']}")
        else:
            answer = api.call("GET", f"/api/v1/jobs/{job.json['id']}/matches?limit=10")
            report(False, f"the job's matches rank the planted profile among the first {matching['maxRank']}", answer)
    finally:
        stop(proc)
        print(f"    (relevance check took {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
    sys.exit(1 if checks.failures else 0)
