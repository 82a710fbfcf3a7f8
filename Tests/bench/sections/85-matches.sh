# shellcheck shell=bash disable=SC2154 # tmp, base, key, ats ... come from bench.sh
# Sourced by Tests/bench/bench.sh: GET /api/v1/jobs/{id}/matches on the 100,000-candidate
# agency, alone and under a concurrent mixed load (reads, searches, creates, updates), beside
# a plain keyword search measured in the same run (the anchor: a machine busy with other work
# slows both). Matching is the job's skills and title as a search, then the top few hundred
# candidates scored; results are cached by the job's version and the index's generation, so
# a server with the cache off (ATS_CACHE_MAX_MB=0) shows the cost of computing every call.
# The main server runs with ATS_MATCH_RATE_LIMIT_RPS=0 (the limit would answer 429 here).

job_ids="$tmp/job-ids.txt"
ats_get "/api/v1/jobs?limit=100" | jq -r '.items[].id' >"$job_ids"
log "$(wc -l <"$job_ids") job ids"
match_candidate_ids="$tmp/match-candidate-ids.txt"
ats_get "/api/v1/candidates?limit=200" | jq -r '.items[].id' >"$match_candidate_ids"
match_queries="$tmp/match-queries.enc"
printf '%s\n' python kubernetes%20terraform react%20typescript data%20engineer%20london java%20AND%20kafka golang%20OR%20rust >"$match_queries"

match_port="$(free_port)"
ATS_CACHE_MAX_MB=0 ATS_RATE_LIMIT_RPS=0 ATS_MATCH_RATE_LIMIT_RPS=0 \
    "$ats" serve --data "$data" --host 127.0.0.1 --port "$match_port" >"$tmp/serve-matches-nocache.log" 2>&1 </dev/null &
match_plain_pid=$!
extra_pids+=("$match_plain_pid")
match_plain_base="http://127.0.0.1:$match_port"
wait_http "$match_plain_base/healthz" "$match_plain_pid" 120 || log "the no-cache server did not start"

saved_threads="$bench_threads"
saved_connections="$bench_connections"
bench_threads=1
bench_connections=1
# The anchor and the subject, one connection each: latency without queueing.
bench_wrk "anchor: keyword search (semantic=0), no cache, 1 connection" "$match_plain_base" get_rotating.lua \
    BENCH_KEY="$key" BENCH_IDS="$match_queries" BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0&q="
bench_wrk "GET /api/v1/jobs/{id}/matches, no cache, 1 connection" "$match_plain_base" get_rotating.lua \
    BENCH_KEY="$key" BENCH_IDS="$job_ids" BENCH_PREFIX="/api/v1/jobs/" BENCH_SUFFIX="/matches"
bench_wrk "GET /api/v1/jobs/{id}/matches, cached, 1 connection" "$base" get_rotating.lua \
    BENCH_KEY="$key" BENCH_IDS="$job_ids" BENCH_PREFIX="/api/v1/jobs/" BENCH_SUFFIX="/matches"
kill -TERM "$match_plain_pid" 2>/dev/null || true
wait "$match_plain_pid" 2>/dev/null || true

# Under load: the mixed load runs one second longer than the measured runs, on both sides.
bench_connections=4
for subject in "anchor: keyword search (semantic=0)" "GET /api/v1/jobs/{id}/matches"; do
    loaded=$((bench_seconds + 2))
    bench_wrk_start reads "$loaded" 16 get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$match_candidate_ids" BENCH_PREFIX="/api/v1/candidates/"
    bench_wrk_start searches "$loaded" 4 get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$match_queries" \
        BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0.3&q="
    bench_wrk_start creates "$loaded" 4 post_candidate.lua BENCH_KEY="$key" BENCH_RUN="m$$"
    bench_wrk_start updates "$loaded" 4 patch_rotating.lua BENCH_KEY="$key" BENCH_IDS="$match_candidate_ids"
    sleep 1
    if [ "${subject#anchor}" != "$subject" ]; then
        bench_wrk "$subject, under mixed load, 4 connections" "$base" get_rotating.lua \
            BENCH_KEY="$key" BENCH_IDS="$match_queries" BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0&q="
    else
        bench_wrk "$subject, under mixed load, 4 connections" "$base" get_rotating.lua \
            BENCH_KEY="$key" BENCH_IDS="$job_ids" BENCH_PREFIX="/api/v1/jobs/" BENCH_SUFFIX="/matches"
    fi
    short="${subject%%,*}"
    bench_wrk_wait reads "  (load beside ${short:0:24}) reads, 16 connections"
    bench_wrk_wait searches "  (load beside ${short:0:24}) hybrid searches, 4 connections"
    bench_wrk_wait creates "  (load beside ${short:0:24}) creates, 4 connections"
    bench_wrk_wait updates "  (load beside ${short:0:24}) updates, 4 connections"
done
bench_threads="$saved_threads"
bench_connections="$saved_connections"

matches_p50="$(awk -F'\t' -v s="$current_section" '$1 == s && index($2, "GET /api/v1/jobs/{id}/matches, under mixed load") == 1 { print $4; exit }' "$results")"
if [ -n "$matches_p50" ] && [ "$matches_p50" != "-" ]; then
    bench_note "$(awk -v a="$matches_p50" 'BEGIN { printf "aim: matches p50 under mixed load below 50 ms: %.1f ms: %s", a, (a < 50 ? "met" : "NOT met") }')"
fi
bench_note "matches rotate through up to 100 jobs; 'cached' repeats them until a write moves the index's generation"
bench_note "the mixed load: candidate reads, hybrid searches, creates and headline updates (the write side moves the search generation)"
