#!/usr/bin/env bash
# `make bench`: the release build on a 100,000-candidate agency, driven by wrk on loopback,
# side by side with nginx serving the same bytes. Prints figures; asserts nothing.
#
# Environment:
#   ATS_BIN            the release binary (default: $(swift build -c release --show-bin-path)/ats)
#   BENCH_SECONDS      duration of each wrk run (default 10)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_CANDIDATES   size of the demo agency (default 100000)
#   BENCH_SECTIONS     space-separated section names to run (default: all in sections/)
#   BENCH_SOAK_SECONDS how long the soak section runs its mixed load (default 600)
#   KEEP_TMP=1         keep the temporary folder
#
# Sections: each Tests/bench/sections/NN-name.sh is sourced in order with the server up.
# It adds rows with `bench_wrk`, static-file baselines with `bench_nginx`, and remarks with
# `bench_note`, and runs concurrent loads with `bench_wrk_start`/`bench_wrk_wait`; the tables
# are printed at the end, one per section. Available to sections:
#   $ats $base $key $data $tmp $lua_dir $bench_seconds, ats_get PATH (curl with the key),
#   nginx_start WORKERS / nginx_stop, and the functions below. A section that starts a server
#   of its own appends its pid to extra_pids, so it is stopped even when the run fails.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_dir="$repo_root/Tests/bench"
lua_dir="$bench_dir/lua"
cd "$repo_root"

ats="${ATS_BIN:-$(swift build -c release --show-bin-path)/ats}"
bench_seconds="${BENCH_SECONDS:-10}"
bench_threads="${BENCH_THREADS:-2}"
bench_connections="${BENCH_CONNECTIONS:-64}"
bench_candidates="${BENCH_CANDIDATES:-100000}"

for tool in wrk nginx curl jq; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run Appliance/install-deps.sh --bench" >&2; exit 2; }
done
[ -x "$ats" ] || { echo "bench: no binary at $ats; run 'swift build -c release --product ats'" >&2; exit 2; }

load_at_start="$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ats-bench.XXXXXX")"
results="$tmp/results.tsv"
notes="$tmp/notes.txt"
: >"$results"
: >"$notes"
server_pid=""
nginx_pid=""
current_section=""
# Other servers a section starts (a second ats, redis ...): stopped on exit whatever happens.
extra_pids=()

cleanup() {
    local pid
    for pid in "${extra_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    if [ -n "$nginx_pid" ]; then kill -TERM "$nginx_pid" 2>/dev/null || true; fi
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; fi
    sleep 0.2
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bench: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

log() { echo "bench: $*" >&2; }

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    done
    return 1
}

wait_http() {
    local url="$1" pid="$2" deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

ats_get() { curl -fsS -H "Authorization: Bearer $key" "$base$1"; }

# bench_wrk LABEL URL SCRIPT [VAR=value ...]: one wrk run; records req/s, p50, p99, errors.
bench_wrk() {
    local label="$1" url="$2" script="$3" out line
    shift 3
    log "wrk ${bench_seconds}s: $label"
    out="$(env BENCH_LUA_DIR="$lua_dir" "$@" wrk -t"$bench_threads" -c"$bench_connections" -d"${bench_seconds}s" \
        --timeout 10s -s "$lua_dir/$script" "$url" 2>&1)" || true
    line="$(grep '^BENCH_RESULT ' <<<"$out" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        log "wrk gave no result for $label:"
        echo "$out" >&2
        printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "$label" >>"$results"
        return 0
    fi
    # BENCH_RESULT rps p50 p99 requests non2xx socket_errors
    read -r _ rps p50 p99 requests non2xx sockerr <<<"$line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$current_section" "$label" "$rps" "$p50" "$p99" \
        "$((non2xx + sockerr))/$requests" >>"$results"
}

# nginx_start WORKERS: nginx on a free port serving $tmp/static; sets $nginx_base.
nginx_start() {
    local workers="$1" port conf="$tmp/nginx/nginx.conf" user_line=""
    port="$(free_port)"
    mkdir -p "$tmp/nginx/temp"
    if [ "$(id -u)" -eq 0 ]; then user_line="user $(id -un) $(id -gn);"; fi
    cat >"$conf" <<EOF
$user_line
worker_processes $workers;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    sendfile on;
    tcp_nopush on;
    types { application/json json; }
    default_type application/json;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $tmp/static;
    }
}
EOF
    nginx -p "$tmp/nginx" -c "$conf" >"$tmp/nginx/stdout.log" 2>&1 &
    nginx_pid=$!
    nginx_base="http://127.0.0.1:$port"
    local deadline=$((SECONDS + 10))
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "$nginx_base/" 2>/dev/null || true)" != 000 ]; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$nginx_pid" 2>/dev/null; then
            log "nginx did not start:"; cat "$tmp/nginx/stdout.log" "$tmp/nginx/error.log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
}

nginx_stop() {
    [ -n "$nginx_pid" ] || return 0
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
}

# bench_nginx LABEL FILE: the bytes of FILE served by nginx with 1 and then 2 workers.
bench_nginx() {
    local label="$1" file="$2" name workers
    name="$(basename "$file")"
    mkdir -p "$tmp/static"
    cp "$file" "$tmp/static/$name"
    for workers in 1 2; do
        nginx_start "$workers" || { printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "nginx $workers worker(s): $label" >>"$results"; continue; }
        local suffix="s"; [ "$workers" -eq 1 ] && suffix=""
        bench_wrk "nginx $workers worker$suffix: $label ($(wc -c <"$file") B)" "$nginx_base/$name" get.lua
        nginx_stop
    done
}

bench_note() { printf '%s\t%s\n' "$current_section" "$*" >>"$notes"; }

# A concurrent load: bench_wrk_start NAME SECONDS CONNECTIONS SCRIPT [VAR=value ...] runs one
# wrk (one thread) against $base in the background; bench_wrk_wait NAME LABEL waits for it and
# records its row (req/s, p50, p99, errors) under LABEL.
declare -A bench_bg_pids=()
bench_wrk_start() {
    local name="$1" seconds="$2" connections="$3" script="$4"
    shift 4
    env BENCH_LUA_DIR="$lua_dir" "$@" wrk -t1 -c"$connections" -d"${seconds}s" --timeout 10s \
        -s "$lua_dir/$script" "$base" >"$tmp/wrk-bg-$name.out" 2>&1 &
    bench_bg_pids[$name]=$!
    extra_pids+=("$!")
}

bench_wrk_wait() {
    local name="$1" label="$2" line
    wait "${bench_bg_pids[$name]}" 2>/dev/null || true
    line="$(grep '^BENCH_RESULT ' "$tmp/wrk-bg-$name.out" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        log "wrk gave no result for $label:"; cat "$tmp/wrk-bg-$name.out" >&2
        printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "$label" >>"$results"
        return 0
    fi
    read -r _ rps p50 p99 requests non2xx sockerr <<<"$line"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$current_section" "$label" "$rps" "$p50" "$p99" \
        "$((non2xx + sockerr))/$requests" >>"$results"
}

# rps_of LABEL: the req/s recorded for a row of the current section ("" when none).
rps_of() {
    awk -F'\t' -v s="$current_section" -v l="$1" '$1 == s && index($2, l) == 1 && $3 != "-" { print $3; exit }' "$results"
}

# aim LABEL_OF_SUBJECT LABEL_OF_BASE RATIO TEXT: notes whether subject >= RATIO x base.
aim_ratio() {
    local subject base
    subject="$(rps_of "$1")"
    base="$(rps_of "$2")"
    if [ -z "$subject" ] || [ -z "$base" ]; then bench_note "aim: $4: no figures"; return 0; fi
    bench_note "$(awk -v a="$subject" -v b="$base" -v r="$3" -v t="$4" \
        'BEGIN { printf "aim: %s: %.0f vs %.0f req/s = %.2f (aim >= %.2f): %s", t, a, b, a / b, r, (a >= r * b ? "met" : "NOT met") }')"
}

aim_min() {
    local subject
    subject="$(rps_of "$1")"
    if [ -z "$subject" ]; then bench_note "aim: $3: no figures"; return 0; fi
    bench_note "$(awk -v a="$subject" -v m="$2" -v t="$3" \
        'BEGIN { printf "aim: %s: %.0f req/s (aim >= %d): %s", t, a, m, (a >= m ? "met" : "NOT met") }')"
}

# ---------------------------------------------------------------------------------------
# The agency: `ats demo` once per binary, copied for each run (creates change it).
binary_hash="$(sha256sum "$ats" | cut -c1-16)"
cache="$repo_root/.build-bench/data-$bench_candidates-$binary_hash"
if [ ! -d "$cache" ]; then
    rm -rf "$repo_root/.build-bench"
    mkdir -p "$cache.partial"
    log "generating the demo agency with $bench_candidates candidates (once per binary)"
    start=$SECONDS
    "$ats" demo --data "$cache.partial" --candidates "$bench_candidates" >"$tmp/demo.log" 2>&1 \
        || { cat "$tmp/demo.log" >&2; exit 1; }
    log "generated in $((SECONDS - start)) s"
    mv "$cache.partial" "$cache"
fi
data="$tmp/data"
cp -a "$cache" "$data"
key="$("$ats" token create --data "$data" --org demo --role admin --name bench)"

port="$(free_port)"
base="http://127.0.0.1:$port"
ATS_RATE_LIMIT_RPS=1000000 ATS_RATE_LIMIT_BURST=1000000 ATS_MATCH_RATE_LIMIT_RPS=0 \
    "$ats" serve --data "$data" --host 127.0.0.1 --port "$port" >"$tmp/serve.log" 2>&1 </dev/null &
server_pid=$!
wait_http "$base/healthz" "$server_pid" 60 || { log "server did not start"; tail -n 40 "$tmp/serve.log" >&2; exit 1; }
log "ats serving $bench_candidates candidates on $base (pid $server_pid)"

sections=()
for file in "$bench_dir"/sections/*.sh; do
    name="$(basename "$file" .sh)"
    name="${name#[0-9][0-9]-}"
    if [ -n "${BENCH_SECTIONS:-}" ] && [[ " $BENCH_SECTIONS " != *" $name "* ]]; then continue; fi
    sections+=("$name")
    current_section="$name"
    log "section $name"
    # shellcheck source=/dev/null
    source "$file"
done

# ---------------------------------------------------------------------------------------
echo
echo "ats bench: $bench_candidates candidates, wrk -t$bench_threads -c$bench_connections -d${bench_seconds}s on loopback," \
    "$(nproc) cores shared by wrk and the server, $(uname -m); load average at start $load_at_start" \
    "(other work on the machine lowers every figure)"
for section in "${sections[@]}"; do
    echo
    echo "## $section"
    awk -F'\t' -v s="$section" '
        BEGIN { printf "%-62s | %10s | %8s | %8s | %s\n", "endpoint", "req/s", "p50 ms", "p99 ms", "errors/requests"
                printf "%s\n", "---------------------------------------------------------------|------------|----------|----------|----------------" }
        $1 == s { printf "%-62s | %10s | %8s | %8s | %s\n", $2, $3, $4, $5, $6 }' "$results"
    awk -F'\t' -v s="$section" '$1 == s { print "  " $2 }' "$notes"
done
stop_status=0
kill -TERM "$server_pid" 2>/dev/null || true
wait "$server_pid" || stop_status=$?
server_pid=""
echo
echo "server stopped with status $stop_status (figures are printed, never asserted)"
