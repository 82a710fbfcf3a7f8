# shellcheck shell=bash disable=SC2154 # tmp, base, key, server_pid ... come from bench.sh
# Sourced by Tests/bench/bench.sh: a soak. BENCH_SOAK_SECONDS (default 600) of mixed load on
# the main server - candidate reads, hybrid searches, creates and updates, all at once - with
# the server's resident memory (VmRSS from /proc/PID/status) and the cache's accounted bytes
# printed every BENCH_SOAK_INTERVAL seconds (default 10). The aim is a flat line after warm-up:
# the cache is capped (ATS_CACHE_MAX_MB), everything else must be bounded too. Creates run at a
# bounded rate (4 connections, BENCH_SOAK_CREATE_DELAY_MS between requests, default 20 ms), so
# the agency grows by a known number of candidates, whose vectors and index entries legitimately
# take memory; reads, searches and updates run as fast as they can.

soak_seconds="${BENCH_SOAK_SECONDS:-600}"
soak_interval="${BENCH_SOAK_INTERVAL:-10}"
soak_create_delay="${BENCH_SOAK_CREATE_DELAY_MS:-20}"
soak_ids="$tmp/soak-candidate-ids.txt"
: >"$soak_ids"
soak_cursor=""
for _ in 1 2 3; do
    soak_page="$(ats_get "/api/v1/candidates?limit=200${soak_cursor:+&cursor=$soak_cursor}")"
    jq -r '.items[].id' <<<"$soak_page" >>"$soak_ids"
    soak_cursor="$(jq -r '.nextCursor // empty' <<<"$soak_page")"
    [ -n "$soak_cursor" ] || break
done
soak_queries="$tmp/soak-queries.enc"
printf '%s\n' python pyhton%20django kubernets%20terraform java%20AND%20kafka react%20typescript %22machine%20learning%22 \
    data%20engineer%20london devops%20-java golang%20OR%20rust site%20reliability >"$soak_queries"

rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$server_pid/status" 2>/dev/null || echo "?"; }
cache_mib() {
    curl -fsS --max-time 2 "$base/metrics" 2>/dev/null | awk '/^ats_cache_bytes / { printf "%.0f", $2 / 1048576; found = 1 } END { if (!found) printf "?" }'
}
count_candidates() { ats_get "/api/v1/search/candidates?limit=1&semantic=0" 2>/dev/null | jq -r '.total // "?"' 2>/dev/null || echo "?"; }

soak_start_candidates="$(count_candidates)"
soak_samples="$tmp/soak-rss.tsv"
printf '0\t%s\t%s\n' "$(rss_mib)" "$(cache_mib)" >"$soak_samples"
log "soak: ${soak_seconds}s of mixed load, RSS every ${soak_interval}s (start: $(rss_mib) MiB)"
bench_wrk_start soak-reads "$soak_seconds" 16 get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$soak_ids" BENCH_PREFIX="/api/v1/candidates/"
bench_wrk_start soak-searches "$soak_seconds" 4 get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$soak_queries" \
    BENCH_PREFIX="/api/v1/search/candidates?limit=20&semantic=0.3&q="
bench_wrk_start soak-creates "$soak_seconds" 4 post_candidate.lua BENCH_KEY="$key" BENCH_RUN="soak$$" BENCH_DELAY_MS="$soak_create_delay"
bench_wrk_start soak-updates "$soak_seconds" 8 patch_rotating.lua BENCH_KEY="$key" BENCH_IDS="$soak_ids"
soak_began=$SECONDS
while [ $((SECONDS - soak_began)) -lt "$soak_seconds" ]; do
    sleep "$soak_interval"
    elapsed=$((SECONDS - soak_began))
    rss="$(rss_mib)"
    cached="$(cache_mib)"
    printf '%s\t%s\t%s\n' "$elapsed" "$rss" "$cached" >>"$soak_samples"
    log "soak t=${elapsed}s RSS ${rss} MiB (cache ${cached} MiB)"
done
bench_wrk_wait soak-reads "GET /api/v1/candidates/{id}, 16 connections (soak)"
bench_wrk_wait soak-searches "hybrid search, 4 connections (soak)"
bench_wrk_wait soak-creates "POST /api/v1/candidates, 4 connections, ${soak_create_delay} ms apart (soak)"
bench_wrk_wait soak-updates "PATCH /api/v1/candidates/{id}, 8 connections (soak)"
sleep "$soak_interval"
printf '%s\t%s\t%s\n' "$((SECONDS - soak_began))" "$(rss_mib)" "$(cache_mib)" >>"$soak_samples"
soak_end_candidates="$(count_candidates)"

bench_note "RSS (MiB) every ${soak_interval} s, the cache's accounted MiB in brackets; the last sample is ${soak_interval} s after the load stopped:"
bench_note "$(awk -F'\t' '{ printf "%s%ss %s (%s)", (NR > 1 ? ", " : ""), $1, $2, $3 }' "$soak_samples")"
# Warm-up: the first fifth of the run (at least a minute when the run is long enough).
bench_note "$(awk -F'\t' -v d="$soak_seconds" '
    BEGIN { warm = d / 5; if (warm < 60 && d >= 180) warm = 60 }
    $1 >= warm && w == "" && $2 != "?" { w = $2; wt = $1 }
    $2 != "?" { last = $2; lt = $1; if ($2 > peak) peak = $2 }
    END {
        if (w == "" || lt <= wt) { print "soak: too short to tell"; exit }
        slope = (last - w) / ((lt - wt) / 60)
        printf "after warm-up (t=%ss, %s MiB) to the end (t=%ss, %s MiB): %+d MiB, %+.1f MiB/min; peak %s MiB; aim: flat (within 10%%): %s",
            wt, w, lt, last, last - w, slope, peak, ((last - w) <= w / 10 ? "met" : "NOT met")
    }' "$soak_samples")"
bench_note "candidates indexed: ${soak_start_candidates} before, ${soak_end_candidates} after (each new one keeps a vector and index entries in memory)"
