# shellcheck shell=bash disable=SC2154 # tmp, base, key, data, ats ... come from bench.sh
# Sourced by Tests/bench/bench.sh: search on the 100,000-candidate agency through the HTTP API
# (keyword, vector and hybrid), beside the same keyword query run raw on the same FTS5 table
# with the sqlite3 command-line tool; and the time and memory of a full index build.
#
# The main server caches results; a second server on the same data folder runs with the cache
# off (ATS_CACHE_MAX_MB=0), so every request there searches.

queries="$tmp/search-queries.txt"
cat >"$queries" <<'EOF'
python
pyhton django
kubernets terraform
java AND kafka
react typescript
"machine learning"
data engineer london
devops -java
javscript
golang OR rust
site reliability
product manager fintech
swift ios
sql analytics
spring boot microservices
EOF
# URL-encoded, one per line (wrk's rotating script appends them to a prefix).
encoded="$tmp/search-queries.enc"
while IFS= read -r q; do jq -rn --arg q "$q" '$q|@uri'; done <"$queries" >"$encoded"

start_plain() {
    local port
    port="$(free_port)"
    ATS_CACHE_MAX_MB=0 ATS_RATE_LIMIT_RPS=1000000 ATS_RATE_LIMIT_BURST=1000000 \
        "$ats" serve --data "$data" --host 127.0.0.1 --port "$port" >"$tmp/serve-nocache.log" 2>&1 </dev/null &
    plain_pid=$!
    extra_pids+=("$plain_pid")
    plain_base="http://127.0.0.1:$port"
    wait_http "$plain_base/healthz" "$plain_pid" 120 || { log "the no-cache server did not start"; return 1; }
}
start_plain

for variant in "no cache:$plain_base" "cached results:$base"; do
    name="${variant%%:*}"
    target="${variant#*:}"
    bench_wrk "keyword (semantic=0), $name" "$target" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$encoded" \
        BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0&q="
    bench_wrk "vector (semantic=1), $name" "$target" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$encoded" \
        BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=1&q="
    bench_wrk "hybrid (semantic=0.3), $name" "$target" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$encoded" \
        BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0.3&q="
done

# Latency without queueing: one connection, the same keyword queries, for the comparison
# with the raw query below (which runs one query at a time too).
saved_threads="$bench_threads"
saved_connections="$bench_connections"
bench_threads=1
bench_connections=1
bench_wrk "keyword (semantic=0), no cache, 1 connection" "$plain_base" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$encoded" \
    BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0&q="
bench_wrk "hybrid (semantic=0.3), no cache, 1 connection" "$plain_base" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$encoded" \
    BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0.3&q="
bench_threads="$saved_threads"
bench_connections="$saved_connections"

# The same keyword query, raw, with the sqlite3 tool on the same table: one process, the
# query repeated, timed per query (no HTTP, no JSON, no documents).
if command -v sqlite3 >/dev/null && [ -x "$bench_dir/search_raw.sh" ]; then
    raw="$("$bench_dir/search_raw.sh" "$data/ats.sqlite" 2>"$tmp/search-raw.log" || true)"
    if [ -n "$raw" ]; then
        read -r raw_qps raw_p50 raw_p99 raw_n <<<"$raw"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$current_section" "sqlite3 CLI, the same FTS5 MATCH (bm25, limit 20), one process" \
            "$raw_qps" "$raw_p50" "$raw_p99" "0/$raw_n" >>"$results"
        api_p50="$(awk -F'\t' -v s="$current_section" '$1 == s && index($2, "keyword (semantic=0), no cache, 1 connection") == 1 { print $4; exit }' "$results")"
        if [ -n "$api_p50" ]; then
            bench_note "$(awk -v a="$api_p50" -v r="$raw_p50" 'BEGIN { printf "aim: the API keyword p50 (%.3f ms, one connection, HTTP and JSON included) within 3x of the raw query (%.3f ms): %.1fx: %s", a, r, a / r, (a <= 3 * r ? "met" : "NOT met") }')"
        fi
    else
        bench_note "sqlite3 raw query: no figures ($(head -c 300 "$tmp/search-raw.log"))"
    fi
fi

# A full index build (FTS5 and vectors) of a copy of the agency, and its peak memory.
cp -a "$data" "$tmp/reindex-data"
if /usr/bin/time -f '%e %M' -o "$tmp/reindex.time" "$ats" reindex --data "$tmp/reindex-data" >"$tmp/reindex.log" 2>&1; then
    read -r seconds kilobytes <"$tmp/reindex.time"
    bench_note "$(awk -v n="$bench_candidates" -v s="$seconds" -v k="$kilobytes" 'BEGIN { printf "index build (ats reindex, FTS5 + vectors) of %d candidates: %.1f s, peak RSS %.0f MB", n, s, k / 1024 }')"
else
    bench_note "ats reindex failed: $(tail -n 3 "$tmp/reindex.log")"
fi
rm -rf "$tmp/reindex-data"
bench_note "queries rotate through 15 texts (typos, phrases, AND/OR/-); 'cached results' repeats them, so it mostly measures the result cache"

kill -TERM "$plain_pid" 2>/dev/null || true
wait "$plain_pid" 2>/dev/null || true
