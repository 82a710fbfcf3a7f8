# shellcheck shell=bash disable=SC2154 # tmp, ats, current_section, results ... come from bench.sh
# Sourced by Tests/bench/bench.sh: the embedded cache (`ats cache-bench`: MemoryCache SET then
# GET, 50 concurrent tasks in-process) beside Redis measured by redis-benchmark with the same
# value sizes, clients and key range, over loopback TCP. The point of the comparison: what a
# shared cache's network round trip costs against an in-process one.
#
# Environment: BENCH_CACHE_SIZES (default 100,1024,10240), BENCH_CACHE_REQUESTS (in-process
# operations per phase, default 1000000), BENCH_CACHE_REDIS_REQUESTS (default 200000),
# BENCH_CACHE_CLIENTS (default 50), BENCH_CACHE_KEYS (default 100000).

cache_sizes="${BENCH_CACHE_SIZES:-100,1024,10240}"
cache_requests="${BENCH_CACHE_REQUESTS:-1000000}"
cache_redis_requests="${BENCH_CACHE_REDIS_REQUESTS:-200000}"
cache_clients="${BENCH_CACHE_CLIENTS:-50}"
cache_keys="${BENCH_CACHE_KEYS:-100000}"

# record_cache LABEL OPS_PER_SEC P50_MS P99_MS COUNT: a row of this section's table.
record_cache() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$current_section" "$1" "$2" "$3" "$4" "0/$5" >>"$results"
}

# us_to_ms MICROSECONDS: the table's unit.
us_to_ms() { awk -v v="$1" 'BEGIN { printf "%.5f", v / 1000 }'; }

# 1. In-process: one `cache-bench` run measures every size.
log "cache: ats cache-bench, $cache_requests operations per phase and size, $cache_clients tasks"
"$ats" cache-bench --sizes "$cache_sizes" --requests "$cache_requests" --clients "$cache_clients" \
    --keys "$cache_keys" >"$tmp/cache-bench.out" 2>"$tmp/cache-bench.log" || true
if ! grep -q '^cache-bench ' "$tmp/cache-bench.out"; then
    log "ats cache-bench gave no result:"; cat "$tmp/cache-bench.log" >&2
fi

# 2. Redis on a free loopback port, no persistence.
redis_csv="$tmp/redis-benchmark.csv"
: >"$redis_csv"
redis_label="redis"
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        >"$tmp/redis.log" 2>&1 </dev/null &
    redis_pid=$!
    extra_pids+=("$redis_pid")
    redis_label="redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"
    redis_up=0
    for _ in $(seq 1 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then redis_up=1; break; fi
        sleep 0.1
    done
    if [ "$redis_up" = 1 ]; then
        IFS=',' read -r -a redis_sizes <<<"$cache_sizes"
        for size in "${redis_sizes[@]}"; do
            log "cache: redis-benchmark -t set,get -n $cache_redis_requests -d $size -c $cache_clients -r $cache_keys"
            redis-benchmark -h 127.0.0.1 -p "$redis_port" -t set,get -n "$cache_redis_requests" -d "$size" \
                -c "$cache_clients" -r "$cache_keys" --csv 2>>"$tmp/redis.log" \
                | tr -d '"' | awk -F, -v size="$size" '$1 == "SET" || $1 == "GET" { print $1, size, $2, $5, $7 }' \
                >>"$redis_csv" || true
        done
    else
        log "redis-server did not start:"; cat "$tmp/redis.log" >&2
    fi
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
else
    bench_note "redis anchor skipped: run Appliance/install-deps.sh --bench (redis-server, redis-benchmark)"
fi

# 3. The table: per size and operation, in-process then Redis.
IFS=',' read -r -a table_sizes <<<"$cache_sizes"
for size in "${table_sizes[@]}"; do
    for op in SET GET; do
        line="$(awk -v op="$op" -v size="$size" '$1 == "cache-bench" && $2 == op && $3 == size' "$tmp/cache-bench.out" | tail -n 1)"
        if [ -n "$line" ]; then
            read -r _ _ _ ats_ops ats_p50 ats_p99 <<<"$line"
            record_cache "in-process MemoryCache: $op $size B" "$ats_ops" "$(us_to_ms "$ats_p50")" "$(us_to_ms "$ats_p99")" "$cache_requests"
        else
            ats_ops=""
            record_cache "in-process MemoryCache: $op $size B" - - - "$cache_requests"
        fi
        line="$(awk -v op="$op" -v size="$size" '$1 == op && $2 == size' "$redis_csv" | tail -n 1)"
        if [ -n "$line" ]; then
            read -r _ _ redis_ops redis_p50 redis_p99 <<<"$line"
            record_cache "$redis_label over loopback: $op $size B" "$redis_ops" "$redis_p50" "$redis_p99" "$cache_redis_requests"
            if [ -n "$ats_ops" ]; then
                bench_note "$(awk -v a="$ats_ops" -v r="$redis_ops" -v t="$op $size B" \
                    'BEGIN { printf "%s: in-process %.1fx the ops/s of redis over loopback", t, a / r }')"
            fi
        fi
    done
done
bench_note "ops/s instead of req/s; both sides: $cache_clients concurrent clients, keys drawn at random among $cache_keys"
bench_note "in-process: $cache_clients tasks calling MemoryCache directly (no serialization, no copy), $cache_requests ops per phase; latency per call"
bench_note "redis: redis-benchmark over loopback TCP ($cache_redis_requests requests per phase, no persistence); latency per request round trip, sharing the 2 cores with the benchmark client"
