# shellcheck shell=bash disable=SC2154 # tmp, ats, repo_root ... come from bench.sh
# Sourced by Tests/bench/bench.sh: durable no-op jobs through the appliance's queue and
# runner (`ats jobs bench`, in a fresh data folder) beside the same work on RQ + Redis
# (Tests/bench/python/rq_bench.py starts its own redis-server with an fsync-every-second AOF).

jobs_count="${BENCH_JOBS:-20000}"
rq_count="${BENCH_RQ_JOBS:-5000}"
latency_count="${BENCH_JOBS_LATENCY:-500}"

# record_jobs LABEL "RATE P50 P99 COUNT": a row of this section's table (rate in jobs/s).
record_jobs() {
    local label="$1" rate p50 p99 count
    read -r rate p50 p99 count <<<"$2"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$current_section" "$label" "$rate" "$p50" "$p99" "0/$count" >>"$results"
}

log "jobs: $jobs_count durable no-op jobs through the appliance's queue"
line="$("$ats" jobs bench --data "$tmp/jobs-bench" --count "$jobs_count" --latency-count "$latency_count" 2>"$tmp/jobs-bench.log" | grep '^JOBS_RESULT' || true)"
if [ -n "$line" ]; then
    read -r _ ats_rate ats_batched ats_enqueue ats_p50 ats_p99 _ <<<"$line"
    record_jobs "ats: enqueue + run + complete, jobs/s (latency = enqueue to start)" "$ats_rate $ats_p50 $ats_p99 $jobs_count"
    record_jobs "ats: the same, enqueued 100 per call, jobs/s" "$ats_batched - - $jobs_count"
    bench_note "ats enqueue alone: $ats_enqueue jobs/s (one transaction per job, 8 enqueuers)"
else
    log "ats jobs bench gave no result:"; cat "$tmp/jobs-bench.log" >&2
fi

rq_python="$repo_root/.build-py/bench/bin/python"
if [ -x "$rq_python" ] && command -v redis-server >/dev/null; then
    log "jobs: $rq_count no-op jobs through RQ + Redis"
    line="$("$rq_python" "$repo_root/Tests/bench/python/rq_bench.py" "$rq_count" "$latency_count" 2>"$tmp/rq-bench.log" | grep '^RQ_RESULT' || true)"
    if [ -n "$line" ]; then
        read -r _ rq_rate rq_enqueue rq_p50 rq_p99 _ <<<"$line"
        record_jobs "RQ 3 + Redis 7 (AOF everysec), SimpleWorker: jobs/s" "$rq_rate $rq_p50 $rq_p99 $rq_count"
        bench_note "RQ enqueue alone: $rq_enqueue jobs/s (one client, one job per call)"
    else
        log "rq bench gave no result:"; cat "$tmp/rq-bench.log" >&2
    fi
else
    bench_note "RQ anchor skipped: run Appliance/install-deps.sh --bench (redis-server and the .build-py/bench virtualenv)"
fi
aim_min "ats: enqueue + run" 20000 "durable jobs/s, one enqueue per job"
aim_min "ats: the same, enqueued 100" 20000 "durable jobs/s, enqueued 100 per call"
bench_note "aims (issue 3): at least 20,000 durable jobs/s, ahead of Redis-backed RQ; p50/p99 columns are enqueue-to-start latency in ms"
