# shellcheck shell=bash disable=SC2154 # tmp, base, key, ... come from bench.sh
# Sourced by Tests/bench/bench.sh: the cost of tracing on the cached candidate read.
# Three fresh servers on the bench's data folder, alike but for ATS_TRACE_SAMPLE: tracing off
# (0), the default (0.1) and every request (1). Only one of them is under load at a time; the
# runs alternate, and the better of two runs of each server is kept, so a slow moment of the
# machine does not count against one side.

ids_file="$tmp/candidate-ids.txt"
if [ ! -s "$ids_file" ]; then
    ats_get "/api/v1/candidates?limit=200" | jq -r '.items[].id' >"$ids_file"
fi
# A hot set that the cache holds entirely: the first 1,000 ids.
hot_ids="$tmp/hot-ids.txt"
head -n 1000 "$ids_file" >"$hot_ids"

# start_variant NAME SAMPLE: another server on the same data; sets variant_base and variant_pid.
start_variant() {
    local port
    port="$(free_port)"
    ATS_TRACE_SAMPLE="$2" ATS_RATE_LIMIT_RPS=1000000 ATS_RATE_LIMIT_BURST=1000000 \
        "$ats" serve --data "$data" --host 127.0.0.1 --port "$port" >"$tmp/serve-$1.log" 2>&1 </dev/null &
    variant_pid=$!
    extra_pids+=("$variant_pid")
    variant_base="http://127.0.0.1:$port"
    wait_http "$variant_base/healthz" "$variant_pid" 60 || { log "the $1 server did not start"; tail -n 20 "$tmp/serve-$1.log" >&2; return 1; }
}

start_variant off 0 && off_pid=$variant_pid && off_base=$variant_base
start_variant default 0.1 && default_pid=$variant_pid && default_base=$variant_base
start_variant all 1 && all_pid=$variant_pid && all_base=$variant_base

# Warm each server's cache with the hot set.
for target in "$off_base" "$default_base" "$all_base"; do
    while read -r id; do curl -fsS -o /dev/null -H "Authorization: Bearer $key" "$target/api/v1/candidates/$id"; done <"$hot_ids"
done

label_off="GET /api/v1/candidates/{id} cached, tracing off (ATS_TRACE_SAMPLE=0)"
label_default="GET /api/v1/candidates/{id} cached, default sampling (0.1)"
label_all="GET /api/v1/candidates/{id} cached, every request traced (1)"
saved_section="$current_section"
for round in 1 2; do
    current_section="tracing-round$round"
    bench_wrk "$label_off" "$off_base" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$hot_ids" BENCH_PREFIX="/api/v1/candidates/"
    bench_wrk "$label_default" "$default_base" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$hot_ids" BENCH_PREFIX="/api/v1/candidates/"
    bench_wrk "$label_all" "$all_base" get_rotating.lua BENCH_KEY="$key" BENCH_IDS="$hot_ids" BENCH_PREFIX="/api/v1/candidates/"
done
current_section="$saved_section"
# Keep the better round of each label in this section's table.
for label in "$label_off" "$label_default" "$label_all"; do
    awk -F'\t' -v l="$label" -v s="$current_section" '
        ($1 == "tracing-round1" || $1 == "tracing-round2") && $2 == l && $3 != "-" {
            if (best == "" || $3 + 0 > best + 0) { best = $3; row = $0 }
        }
        END { if (row != "") { sub(/^[^\t]*/, s, row); print row } }' "$results" >>"$results.tmp"
done
grep -v -P '^tracing-round[12]\t' "$results" >"$results.keep" || true
cat "$results.keep" "$results.tmp" >"$results"
rm -f "$results.keep" "$results.tmp"

off="$(rps_of "$label_off")"
default="$(rps_of "$label_default")"
all="$(rps_of "$label_all")"
if [ -n "$off" ] && [ -n "$default" ]; then
    bench_note "$(awk -v a="$default" -v b="$off" 'BEGIN { o = (b - a) / b * 100; printf "aim: tracing at the default sampling costs %.1f%% of the cached read rate (aim < 5%%): %s", o, (o < 5 ? "met" : "NOT met") }')"
fi
if [ -n "$off" ] && [ -n "$all" ]; then
    bench_note "$(awk -v a="$all" -v b="$off" 'BEGIN { printf "every request traced and exported to files: %.1f%% slower than tracing off", (b - a) / b * 100 }')"
fi
bench_note "best of two alternating runs per server; the three servers share one data folder, one at a time under load"

for pid in "$off_pid" "$default_pid" "$all_pid"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
