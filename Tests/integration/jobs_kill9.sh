#!/usr/bin/env bash
# The kill -9 proof of the job tier, on the real binary:
#   a job runs in `ats worker`; the worker is killed with SIGKILL mid-run; a new worker picks the
#   job up once its lease has expired (lease recovery) and runs it to completion exactly once.
# Needs a slow, countable job type in the worker: `test.sleep` (payload {"seconds": N, "marker": PATH};
# appends "start" then, after N seconds, "done" to PATH), registered when ATS_JOBS_TEST_HANDLERS=1.
# Without it the script says SKIP and exits 77.
# Usage: Tests/integration/jobs_kill9.sh   (ATS_BIN=path/to/ats to skip the build)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${ATS_BIN:-}"
if [[ -z "$BIN" ]]; then
  swift build --product ats >&2
  BIN="$(swift build --show-bin-path)/ats"
fi
DATA="$(mktemp -d /tmp/ats-kill9.XXXXXX)"
DB="$DATA/ats.sqlite"
MARK="$DATA/runs.log"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT
# A 3 s lease on the maintenance queue, so recovery does not wait out the default minute.
export ATS_DATA="$DATA" ATS_JOBS_TEST_HANDLERS=1 ATS_QUEUES="maintenance=1@3"

sql() { python3 - "$DB" "$@" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
rows = db.execute(sys.argv[2], sys.argv[3:]).fetchall()
db.commit()
for r in rows: print("|".join("" if v is None else str(v) for v in r))
PY
}
wait_for() { # seconds, description, shell condition
  local until=$((SECONDS + $1))
  while ! eval "$3"; do
    if (( SECONDS > until )); then echo "FAIL: timed out waiting for $2" >&2; exit 1; fi
    sleep 0.2
  done
}
start_worker() { "$BIN" worker >>"$DATA/worker.log" 2>&1 & PIDS+=($!); WORKER=$!; }

start_worker
wait_for 60 "the job table" '[[ -f "$DB" ]] && [[ "$(sql "SELECT count(*) FROM sqlite_master WHERE name = ?" job_queue 2>/dev/null)" == 1 ]]'

ID="$(python3 -c 'import time,random; a="0123456789ABCDEFGHJKMNPQRSTVWXYZ"; t=int(time.time()*1000); print("".join(a[(t>>(5*i))&31] for i in range(9,-1,-1))+"".join(random.choice(a) for _ in range(16)))')"
NOW="$(python3 -c 'import time; print(time.time())')"
sql "INSERT INTO job_queue (id, queue, type, payload, state, priority, attempts, max_attempts, run_at, created_at)
     VALUES (?, 'maintenance', 'test.sleep', ?, 'queued', 0, 0, 3, ?, ?)" \
    "$ID" "{\"seconds\":4,\"marker\":\"$MARK\"}" "$NOW" "$NOW" >/dev/null

wait_for 30 "the job to run" '[[ "$(sql "SELECT state FROM job_queue WHERE id = ?" "$ID")" != queued ]]'
STATE="$(sql "SELECT state || '|' || COALESCE(last_error, '') FROM job_queue WHERE id = ?" "$ID")"
if [[ "$STATE" == *"no handler for type test.sleep"* ]]; then
  echo "SKIP: this worker has no test.sleep handler (ATS_JOBS_TEST_HANDLERS=1)"; exit 77
fi
wait_for 10 "the handler to start" '[[ -f "$MARK" ]] && grep -q start "$MARK"'
kill -9 "$WORKER"
echo "killed worker $WORKER mid-run: $(sql "SELECT state, attempts, worker FROM job_queue WHERE id = ?" "$ID")"
[[ "$(sql "SELECT state FROM job_queue WHERE id = ?" "$ID")" == running ]] || { echo "FAIL: the job should still look running" >&2; exit 1; }

start_worker
wait_for 180 "recovery and completion" '[[ "$(sql "SELECT state FROM job_queue WHERE id = ?" "$ID")" == completed ]]'
ROW="$(sql "SELECT attempts, COALESCE(last_error, '') FROM job_queue WHERE id = ?" "$ID")"
STARTS="$(grep -c start "$MARK")"; DONES="$(grep -c done "$MARK")"
echo "job $ID: attempts|last_error = $ROW; handler starts=$STARTS dones=$DONES"
[[ "${ROW%%|*}" == 2 ]] || { echo "FAIL: expected 2 attempts" >&2; exit 1; }
[[ "$ROW" == *"lease expired"* ]] || { echo "FAIL: expected the lease-expiry note" >&2; exit 1; }
[[ "$STARTS" == 2 && "$DONES" == 1 ]] || { echo "FAIL: expected 2 starts and exactly 1 completion" >&2; exit 1; }
kill "$WORKER"; wait "$WORKER" 2>/dev/null || true
echo "PASS: killed mid-run, recovered after its lease, completed exactly once"
