#!/usr/bin/env bash
# Integration tests: the `ats` binary as a user runs it, over real sockets.
#
# Builds nothing: run `swift build` first (`make test` does). Needs the virtualenv made by
# `Appliance/install-deps.sh --test`. Every server runs on a free loopback port with a
# temporary data folder and is stopped by pid on exit.
#
# Environment:
#   ATS_BIN                  the binary (default: $(swift build --show-bin-path)/ats)
#   SCHEMATHESIS_EXAMPLES    generated cases per operation (default 30)
#   SCHEMATHESIS_SEED        seed of the generated cases (default 2; "random" for a new one)
#   KEEP_TMP=1               keep the temporary folder (logs, data) for inspection
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$repo_root/Tests/integration"
cd "$repo_root"

ats="${ATS_BIN:-$(swift build --show-bin-path)/ats}"
venv="$repo_root/.build-py/venv"
python="$venv/bin/python"
examples="${SCHEMATHESIS_EXAMPLES:-30}"
seed="${SCHEMATHESIS_SEED:-2}"
max_body=65536

if [ ! -x "$ats" ]; then
    echo "integration: no binary at $ats; run 'swift build' first" >&2
    exit 2
fi
if [ ! -x "$python" ] || [ ! -x "$venv/bin/schemathesis" ]; then
    echo "integration: no $venv; run 'Appliance/install-deps.sh --test' first" >&2
    exit 2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ats-integration.XXXXXX")"
passed=0
failed=0
server_pids=()

cleanup() {
    local pid
    for pid in "${server_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [ "${KEEP_TMP:-0}" = 1 ] || [ "$failed" -gt 0 ]; then
        echo "integration: logs and data kept in $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL - $1"
    if [ -n "${2-}" ]; then head -c 3000 <<<"$2" | sed 's/^/    /'; echo; fi
}
section() { echo; echo "== $*"; }

# Tallies the ok/FAIL lines of a helper's output into the counts; echoes the output.
tally() {
    local output="$1" n
    echo "$output"
    n="$(grep -c '^ok   - ' <<<"$output" || true)"
    passed=$((passed + n))
    n="$(grep -c '^FAIL - ' <<<"$output" || true)"
    failed=$((failed + n))
}

# check_script SCRIPT ARG...: runs a Python check and tallies its lines; a script that exits
# non-zero without a FAIL line (it crashed) counts as one failure.
check_script() {
    local script="$1" output status=0
    shift
    output="$("$python" "$script" "$@" 2>&1)" || status=$?
    tally "$output"
    if [ "$status" -ne 0 ] && ! grep -q '^FAIL - ' <<<"$output"; then
        fail "$(basename "$script") exited $status without a FAIL line"
    fi
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL PID SECONDS: until URL answers 200, the process dies, or time runs out.
wait_http() {
    local url="$1" pid="$2" deadline=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    return 1
}

# stop_server PID SECONDS [SIGNAL]: SIGTERM (or SIGNAL), then the exit status (124 when it
# did not exit in time).
stop_server() {
    local pid="$1" deadline=$((SECONDS + $2)) signal="${3:-TERM}" status=0
    kill -"$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 124
    fi
    wait "$pid" || status=$?
    return "$status"
}

# ---------------------------------------------------------------------------------------
section "CLI: migrate, org, token, user, config"
data="$tmp/data"
mkdir -p "$data"

if out="$("$ats" migrate --data "$data" 2>&1)"; then ok "ats migrate"; else fail "ats migrate" "$out"; fi
if out="$("$ats" migrate --data "$data" 2>&1)"; then ok "ats migrate again (idempotent)"; else fail "ats migrate again" "$out"; fi
if out="$("$ats" org create --data "$data" --slug acme --name Acme 2>&1)"; then
    ok "ats org create --slug acme"
else
    fail "ats org create --slug acme" "$out"
fi
if out="$("$ats" org create --data "$data" --slug acme --name Acme 2>&1)"; then
    fail "ats org create of an existing slug fails" "$out"
else
    ok "ats org create of an existing slug fails"
fi

# token create: stdout is exactly one line holding the key (messages go to stderr).
admin_key=""
if "$ats" token create --data "$data" --org acme --role admin --name integration >"$tmp/token.out" 2>"$tmp/token.err"; then
    lines="$(wc -l <"$tmp/token.out")"
    admin_key="$(head -n1 "$tmp/token.out")"
    if [ "$lines" -eq 1 ] && [[ "$admin_key" =~ ^[A-Za-z0-9_.~-]{20,200}$ ]]; then
        ok "ats token create prints exactly one line, a key"
    else
        fail "ats token create prints exactly one line, a key" "stdout ($lines lines): $(cat "$tmp/token.out")"
    fi
else
    fail "ats token create" "$(cat "$tmp/token.out" "$tmp/token.err")"
fi
viewer_key="$("$ats" token create --data "$data" --org acme --role viewer 2>/dev/null || true)"
if [ -n "$viewer_key" ]; then ok "ats token create --role viewer"; else fail "ats token create --role viewer"; fi
if out="$("$ats" token create --data "$data" --org no-such-org --role admin 2>&1)"; then
    fail "ats token create for a missing org fails" "$out"
else
    ok "ats token create for a missing org fails"
fi

"$ats" org create --data "$data" --slug globex --name Globex >/dev/null 2>&1 || true
other_key="$("$ats" token create --data "$data" --org globex --role admin 2>/dev/null || true)"
if [ -n "$other_key" ]; then ok "a second organization and its admin key"; else fail "a second organization and its admin key"; fi

user_email="rita@acme.example"
user_password="correct-horse-battery-staple"
if out="$(printf '%s\n' "$user_password" | "$ats" user create --data "$data" --org acme --email "$user_email" \
    --role recruiter --name "Rita Recruiter" 2>&1)"; then
    ok "ats user create with the password on stdin"
    if grep -qF "$user_password" <<<"$out"; then fail "ats user create does not echo the password" "$out"; fi
else
    fail "ats user create with the password on stdin" "$out"
fi
if out="$(printf 'short\n' | "$ats" user create --data "$data" --org acme --email weak@acme.example --role viewer 2>&1)"; then
    fail "ats user create rejects a too-short password" "$out"
else
    ok "ats user create rejects a too-short password"
fi

# config: precedence env > file > defaults, and secrets masked. Every ATS_* key of the
# example config whose name looks secret gets a sentinel value that must not be printed.
conf="$tmp/ats.conf"
secret_sentinel="s3cr3t-sentinel-$$"
{
    echo "# written by Tests/integration/run.sh"
    echo "ATS_PORT=18081"
    echo "ATS_HOST=127.0.0.2"
    grep -oE '^#? *ATS_[A-Z0-9_]*(SECRET|PASSWORD|TOKEN|KEY)[A-Z0-9_]*' Appliance/ats.conf.example 2>/dev/null \
        | sed -E 's/^#? *//' | sort -u | sed "s/\$/=$secret_sentinel/" || true
} >"$conf"
if out="$(ATS_CONFIG="$conf" ATS_PORT=18082 "$ats" config --data "$data" 2>&1)"; then
    ok "ats config"
    if grep -q 18082 <<<"$out" && ! grep -q 18081 <<<"$out"; then
        ok "ats config: ATS_PORT from the environment beats the config file"
    else
        fail "ats config: ATS_PORT from the environment beats the config file" "$out"
    fi
    if grep -q '127\.0\.0\.2' <<<"$out"; then
        ok "ats config: ATS_HOST from the config file beats the default"
    else
        fail "ats config: ATS_HOST from the config file beats the default" "$out"
    fi
    if grep -q "$secret_sentinel" <<<"$out"; then
        fail "ats config masks secrets" "$out"
    elif grep -q "=$secret_sentinel" "$conf"; then
        ok "ats config masks secrets ($(grep -c "=$secret_sentinel" "$conf") secret keys set)"
    else
        # TODO: no secret ATS_* key exists yet; assert masking once one does.
        ok "ats config prints no secret (no secret ATS_* key documented yet)"
    fi
    undocumented="$(grep -oE '^ATS_[A-Z0-9_]+' <<<"$out" | while read -r name; do
        grep -qE "^#? *$name=" Appliance/ats.conf.example || echo "$name"; done)"
    if [ -z "$undocumented" ]; then
        ok "every setting ats config prints is in Appliance/ats.conf.example"
    else
        fail "every setting ats config prints is in Appliance/ats.conf.example" "missing: $undocumented"
    fi
else
    fail "ats config" "$out"
fi

# ---------------------------------------------------------------------------------------
section "serve: operational endpoints, OpenAPI, API smoke, schemathesis"
port="$(free_port)"
base="http://127.0.0.1:$port"
ATS_RATE_LIMIT_RPS=100000 ATS_RATE_LIMIT_BURST=100000 ATS_MAX_BODY_BYTES=$max_body \
    "$ats" serve --data "$data" --host 127.0.0.1 --port "$port" >"$tmp/serve.log" 2>&1 </dev/null &
server=$!
server_pids+=("$server")
if wait_http "$base/healthz" "$server" 60; then
    ok "ats serve answers GET /healthz"
else
    fail "ats serve answers GET /healthz" "$(tail -n 40 "$tmp/serve.log")"
    echo "$passed passed, $failed failed"
    exit 1
fi

code="$(curl -s -o "$tmp/readyz" -w '%{http_code}' "$base/readyz")"
if [ "$code" = 200 ]; then ok "GET /readyz answers 200"; else fail "GET /readyz answers 200 (got $code)" "$(cat "$tmp/readyz")"; fi
curl -s -o "$tmp/metrics" -D "$tmp/metrics.h" "$base/metrics" || true
if grep -qi '^content-type: text/plain' "$tmp/metrics.h" && grep -q '^# TYPE ' "$tmp/metrics"; then
    ok "GET /metrics is Prometheus text"
else
    fail "GET /metrics is Prometheus text" "$(cat "$tmp/metrics.h"; head -n 20 "$tmp/metrics")"
fi
code="$(curl -s -o "$tmp/unauth" -D "$tmp/unauth.h" -w '%{http_code}' "$base/api/v1/candidates")"
if [ "$code" = 401 ] && grep -qi '^content-type: application/problem+json' "$tmp/unauth.h"; then
    ok "GET /api/v1/candidates without a key answers 401 problem+json"
else
    fail "GET /api/v1/candidates without a key answers 401 problem+json (got $code)" "$(cat "$tmp/unauth.h" "$tmp/unauth")"
fi
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin_key" "$base/api/v1/candidates")"
if [ "$code" = 200 ]; then ok "the CLI-made admin key works with curl"; else fail "the CLI-made admin key works with curl (got $code)"; fi

tally "$("$python" "$here/openapi_check.py" "$base" "$admin_key" 2>&1 || true)"
tally "$("$python" "$here/api_smoke.py" "$base" "$admin_key" "$viewer_key" acme "$user_email" "$user_password" \
    "$max_body" "$other_key" 2>&1 || true)"

# schemathesis: generated requests for every operation; no 5xx, responses match the schema.
seed_args=(--seed "$seed")
[ "$seed" = random ] && seed_args=()
# shellcheck disable=SC2054 # the commas are one argument, the list of checks
st_args=(run "$base/openapi.json"
    --header "Authorization: Bearer $admin_key"
    --checks not_a_server_error,response_schema_conformance
    --max-examples "$examples"
    "${seed_args[@]}"
    --phases examples,coverage,fuzzing,stateful
    --workers 2
    --request-timeout 20
    --generation-database none
    --no-color
    --report junit --report-dir "$tmp/schemathesis")
echo "schemathesis $("$venv/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}'): ${st_args[*]/$admin_key/<key>}"
st_status=0
(cd "$tmp" && "$venv/bin/schemathesis" "${st_args[@]}") >"$tmp/schemathesis.log" 2>&1 || st_status=$?
tail -n 150 "$tmp/schemathesis.log"
if [ "$st_status" -eq 0 ]; then
    ok "schemathesis: no server errors, responses conform ($examples examples per operation)"
else
    fail "schemathesis: no server errors, responses conform (exit $st_status; full log $tmp/schemathesis.log)"
fi

if kill -0 "$server" 2>/dev/null; then
    status=0
    stop_server "$server" 10 || status=$?
    if [ "$status" -eq 0 ]; then
        ok "SIGTERM: ats serve exits 0 within 10 s"
    else
        fail "SIGTERM: ats serve exits 0 within 10 s (status $status)" "$(tail -n 20 "$tmp/serve.log")"
    fi
else
    fail "ats serve still running after the API tests" "$(tail -n 40 "$tmp/serve.log")"
fi

# ---------------------------------------------------------------------------------------
section "serve from environment + config file; rate limit"
port="$(free_port)"
base="http://127.0.0.1:$port"
printf 'ATS_RATE_LIMIT_RPS=1\nATS_RATE_LIMIT_BURST=5\n' >"$tmp/limits.conf"
ATS_DATA="$data" ATS_HOST=127.0.0.1 ATS_PORT="$port" ATS_CONFIG="$tmp/limits.conf" \
    "$ats" serve >"$tmp/serve-env.log" 2>&1 </dev/null &
server=$!
server_pids+=("$server")
# Not wait_http: its polling would spend the address's small burst.
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$server" 2>/dev/null \
    && ! "$python" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do
    sleep 0.2
done
codes=""
for _ in $(seq 1 12); do
    codes+="$(curl -s -o /dev/null -D "$tmp/limit.h" -w '%{http_code}' -H "Authorization: Bearer $admin_key" \
        "$base/api/v1/candidates?limit=1") "
done
if [[ "$codes" == 200* ]]; then
    ok "ats serve takes --data/--host/--port from ATS_DATA/ATS_HOST/ATS_PORT"
else
    fail "ats serve takes --data/--host/--port from ATS_DATA/ATS_HOST/ATS_PORT (codes: $codes)" "$(tail -n 20 "$tmp/serve-env.log")"
fi
if [[ "$codes" == *429* ]] && grep -qi '^retry-after: ' "$tmp/limit.h"; then
    ok "the rate limit from the config file answers 429 with Retry-After (codes: $codes)"
else
    fail "the rate limit from the config file answers 429 with Retry-After (codes: $codes)" "$(cat "$tmp/limit.h")"
fi
status=0
stop_server "$server" 10 || status=$?
if [ "$status" -eq 0 ]; then ok "SIGTERM: exit 0"; else fail "SIGTERM: exit 0 (status $status)"; fi

# ---------------------------------------------------------------------------------------
section "serve --demo on a fresh data folder"
demo_data="$tmp/demo"
port="$(free_port)"
base="http://127.0.0.1:$port"
"$ats" serve --data "$demo_data" --host 127.0.0.1 --port "$port" --demo >"$tmp/demo.log" 2>&1 </dev/null &
server=$!
server_pids+=("$server")
if wait_http "$base/healthz" "$server" 300; then
    ok "ats serve --demo starts on a fresh data folder"
else
    fail "ats serve --demo starts on a fresh data folder" "$(tail -n 40 "$tmp/demo.log")"
fi
demo_key="$(grep -oE 'ats_key_[A-Za-z0-9_-]+' "$tmp/demo.log" | tail -n 1 || true)"
if grep -qF "$base" "$tmp/demo.log" && grep -q 'admin@demo.example' "$tmp/demo.log" && [ -n "$demo_key" ]; then
    ok "ats serve --demo prints the URL, the demo login and an API key"
else
    fail "ats serve --demo prints the URL, the demo login and an API key" "$(head -n 40 "$tmp/demo.log")"
fi
if [ -n "$demo_key" ]; then
    code="$(curl -s -o "$tmp/demo-candidates.json" -w '%{http_code}' -H "Authorization: Bearer $demo_key" \
        "$base/api/v1/candidates?limit=5")"
    count="$(jq '.items | length' "$tmp/demo-candidates.json" 2>/dev/null || echo 0)"
    if [ "$code" = 200 ] && [ "$count" -gt 0 ]; then
        ok "the printed key lists demo candidates with curl"
    else
        fail "the printed key lists demo candidates with curl (got $code, $count items)" "$(head -c 600 "$tmp/demo-candidates.json")"
    fi
fi
code="$(curl -s -o "$tmp/demo-login.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"organization":"demo","email":"admin@demo.example","password":"demo-password"}' "$base/api/v1/auth/login")"
if [ "$code" = 200 ]; then ok "the demo login signs in"; else fail "the demo login signs in (got $code)" "$(cat "$tmp/demo-login.json")"; fi
status=0
stop_server "$server" 10 || status=$?
if [ "$status" -eq 0 ]; then ok "SIGTERM: exit 0"; else fail "SIGTERM: exit 0 (status $status)"; fi

# A second start finds the demo agency and does not load it again.
port="$(free_port)"
base="http://127.0.0.1:$port"
"$ats" serve --data "$demo_data" --host 127.0.0.1 --port "$port" --demo >"$tmp/demo2.log" 2>&1 </dev/null &
server=$!
server_pids+=("$server")
if wait_http "$base/healthz" "$server" 60; then
    demo_key="$(grep -oE 'ats_key_[A-Za-z0-9_-]+' "$tmp/demo2.log" | tail -n 1 || true)"
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $demo_key" "$base/api/v1/candidates?limit=1")"
    if [ "$code" = 200 ]; then ok "ats serve --demo restarts on its data folder with a working key"; else fail "ats serve --demo restart: key answers $code" "$(head -n 20 "$tmp/demo2.log")"; fi
    if grep -qi 'loaded the demo agency' "$tmp/demo.log" && ! grep -qi 'loaded the demo agency' "$tmp/demo2.log"; then
        ok "the second start does not load the demo agency again"
    else
        fail "the second start does not load the demo agency again" "$(head -n 20 "$tmp/demo2.log")"
    fi
else
    fail "ats serve --demo restarts on its data folder" "$(tail -n 40 "$tmp/demo2.log")"
fi
# SIGINT (Ctrl-C in `make run`) stops as gracefully as SIGTERM.
status=0
stop_server "$server" 10 INT || status=$?
if [ "$status" -eq 0 ]; then ok "SIGINT: exit 0"; else fail "SIGINT: exit 0 (status $status)" "$(tail -n 20 "$tmp/demo2.log")"; fi

section "cache and observability: traces, metrics, logs, no personal data"
tally "$("$python" "$here/observability_check.py" "$ats" "$tmp" 2>&1 || true)"

section "files: CV uploads and parsing, presigned links, zips, exports, hostile files"
tally "$("$python" "$here/files_check.py" "$ats" "$tmp" 2>&1 || true)"

section "S3-compatible endpoint with boto3: keys, objects, listings, presigned URLs, refusals"
tally "$("$python" "$here/s3_check.py" "$ats" "$tmp" 2>&1 || true)"

section "jobs: kill -9 of a worker mid-run"
status=0
ATS_BIN="$ats" "$(dirname "$0")/jobs_kill9.sh" >"$tmp/kill9.log" 2>&1 || status=$?
if [ "$status" -eq 0 ]; then
    ok "a job whose worker is killed with SIGKILL mid-run is recovered after its lease and completes exactly once"
else
    fail "jobs kill -9 proof (status $status)" "$(tail -n 30 "$tmp/kill9.log")"
fi

section "replica: WAL shipping, restores, flipped bytes, unwritable target, kill -9, standby"
tally "$("$python" "$here/replica_check.py" "$ats" "$tmp" 2>&1 || true)"

# Each hostile_*.py is one area of the hostile-client suite (tenancy oracles, oversized and
# slow requests, a full disk, roles and small gaps, matching under load): each starts and
# stops its own servers.
for script in "$here"/hostile_*.py; do
    [ -e "$script" ] || continue
    name="$(basename "$script" .py)"
    section "hostile clients: ${name#hostile_}"
    check_script "$script" "$ats" "$tmp"
done

section "search relevance on the binary: planted profiles among 1,500 generated candidates"
check_script "$here/relevance_check.py" "$ats" "$tmp"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
