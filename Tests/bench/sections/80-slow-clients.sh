# shellcheck shell=bash disable=SC2154 # tmp, base, bench_dir, current_section ... come from bench.sh
# Sourced by Tests/bench/bench.sh: slow clients (issue 12). `/healthz` latency with nothing else
# going on, then while 4,000 half-sent requests are held open (a slowloris: connections that sent
# `GET / HTTP/1.1\r\nHost: x\r\n` and nothing more). The server's connection guard costs them a
# counted file descriptor and a timer tick each; the header timeout (ATS_HEADER_TIMEOUT_SECONDS,
# default 30 s) closes them, so the run must be shorter than that for the load to last.
#
# Environment: BENCH_HALF_SENT (default 4000).

half_sent="${BENCH_HALF_SENT:-4000}"
bench_wrk "/healthz" "$base/healthz" get.lua

holder_ready="$tmp/half-sent.ready"
rm -f "$holder_ready"
python3 "$bench_dir/python/hold_half_sent.py" "${base##*:}" "$half_sent" "$holder_ready" 2>"$tmp/half-sent.log" &
holder_pid=$!
extra_pids+=("$holder_pid")
deadline=$((SECONDS + 60))
until [ -s "$holder_ready" ] || [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$holder_pid" 2>/dev/null; do sleep 0.2; done
held="$(cat "$holder_ready" 2>/dev/null || echo 0)"
open_now="$(curl -fsS "$base/metrics" 2>/dev/null | awk '$1 == "ats_http_connections_open" { print $2 }' || true)"
bench_wrk "/healthz, $held half-sent requests held" "$base/healthz" get.lua
kill -TERM "$holder_pid" 2>/dev/null || true
wait "$holder_pid" 2>/dev/null || true
bench_note "held $held half-sent requests (asked $half_sent); the server counted ${open_now:-?} open connections while they were held"
if [ "$bench_seconds" -ge 25 ]; then
    bench_note "BENCH_SECONDS=$bench_seconds: the header timeout (30 s by default) closes the held requests during the run"
fi
