# shellcheck shell=bash disable=SC2154 # tmp, ats, data, key, current_section, results ... come from bench.sh
# Sourced by Tests/bench/bench.sh: the replica tier (issue 7) on the bench's agency, each figure
# beside its anchor measured in the same run, on the same database:
#   - creates with replication on against off: two fresh servers on two copies of the agency,
#     alike but for --replica; one under load at a time, alternating, best of two runs each;
#   - a snapshot (`ats snapshot`, through the replicating server) against `sqlite3 .backup`;
#   - a restore (`ats restore`: decompress, verify every checksum, replay the segments,
#     integrity_check, files) against `cp` of the raw database file;
#   - bytes written to the target per 1,000 API creates (the segments, with the background
#     work each create causes: index sync, embeddings).
# Rows: creates in req/s as usual. For snapshot/backup/restore/cp: MB/s of the database file in
# the req/s column and seconds in the p50 column.

replica_db="$data/ats.sqlite"
replica_on="$tmp/replica-on"
replica_off="$tmp/replica-off"
replica_target="$tmp/replica-target"
mkdir -p "$replica_on" "$replica_off" "$replica_target"

# now: seconds since the epoch with nanoseconds.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
file_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# record_seconds LABEL SECONDS MB: a row with MB/s in the rate column and seconds in p50.
record_seconds() {
    printf '%s\t%s\t%s\t%s\t-\t-\n' "$current_section" "$1" \
        "$(awk -v s="$2" -v m="$3" 'BEGIN { if (s > 0) printf "%.0f", m / s; else print "-" }')" "$2" >>"$results"
}

# target_bytes SUBFOLDER: bytes under the target's generations/*/SUBFOLDER.
target_bytes() {
    find "$replica_target/generations" -path "*/$1/*" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# replica_metric BASE NAME: a gauge from /metrics ("" when absent). awk reads to the end: an
# early exit would make curl fail on a closed pipe.
replica_metric() {
    { curl -fsS --max-time 10 "$1/metrics" 2>/dev/null || true; } | awk -v n="$2" '$1 == n { v = $2 } END { print v }'
}

# The anchor copy doubles as the two servers' data: sqlite3 .backup of the live database.
log "replica: sqlite3 .backup of the agency's database ($(file_mb "$replica_db") MB)"
start="$(now)"
sqlite3 "$replica_db" ".backup '$replica_off/ats.sqlite'"
backup_seconds="$(elapsed "$start")"
db_mb="$(file_mb "$replica_off/ats.sqlite")"
record_seconds "sqlite3 .backup of the database ($db_mb MB), anchor" "$backup_seconds" "$db_mb"
cp "$replica_off/ats.sqlite" "$replica_on/ats.sqlite"
for folder in search blobs; do
    if [ -d "$data/$folder" ]; then
        cp -a "$data/$folder" "$replica_off/$folder"
        cp -a "$data/$folder" "$replica_on/$folder"
    fi
done

# start_replica_variant NAME DATA [ARGS...]: a server; sets variant_base and variant_pid.
start_replica_variant() {
    local name="$1" folder="$2" port
    shift 2
    port="$(free_port)"
    ATS_RATE_LIMIT_RPS=1000000 ATS_RATE_LIMIT_BURST=1000000 \
        "$ats" serve --data "$folder" --host 127.0.0.1 --port "$port" "$@" >"$tmp/serve-replica-$name.log" 2>&1 </dev/null &
    variant_pid=$!
    extra_pids+=("$variant_pid")
    variant_base="http://127.0.0.1:$port"
    wait_http "$variant_base/healthz" "$variant_pid" 300 || { log "the $name server did not start"; tail -n 20 "$tmp/serve-replica-$name.log" >&2; return 1; }
}

start_replica_variant off "$replica_off" && off_pid=$variant_pid && off_base=$variant_base
start="$(now)"
start_replica_variant on "$replica_on" --replica "$replica_target" && on_pid=$variant_pid && on_base=$variant_base
# The first generation starts with a snapshot of the whole database.
deadline=$((SECONDS + 600))
until [ -n "$(find "$replica_target/generations" -path '*/snapshots/*' -name '*.snapshot.zst' 2>/dev/null | head -n 1)" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "no first snapshot after 600 s"; break; fi
    sleep 0.2
done
first_snapshot_seconds="$(elapsed "$start")"
bench_note "first start with --replica: a new generation and its snapshot in ${first_snapshot_seconds} s (server start included)"

label_off="POST /api/v1/candidates, replication off"
label_on="POST /api/v1/candidates, replication on (--replica DIR, sync 1 s)"
wal_before="$(target_bytes wal)"
requests_on=0
saved_section="$current_section"
for round in 1 2; do
    current_section="replica-round$round"
    bench_wrk "$label_off" "$off_base" post_candidate.lua BENCH_KEY="$key" BENCH_RUN="off$round$$"
    bench_wrk "$label_on" "$on_base" post_candidate.lua BENCH_KEY="$key" BENCH_RUN="on$round$$"
    requests_on=$((requests_on + $(awk -F'\t' -v s="$current_section" -v l="$label_on" '$1 == s && $2 == l { split($6, a, "/"); print a[2] + 0 }' "$results")))
done
current_section="$saved_section"
for label in "$label_off" "$label_on"; do
    awk -F'\t' -v l="$label" -v s="$current_section" '
        ($1 == "replica-round1" || $1 == "replica-round2") && $2 == l && $3 != "-" {
            if (best == "" || $3 + 0 > best + 0) { best = $3; row = $0 }
        }
        END { if (row != "") { sub(/^[^\t]*/, s, row); print row } }' "$results" >>"$results.tmp"
done
grep -v -P '^replica-round[12]\t' "$results" >"$results.keep" || true
cat "$results.keep" "$results.tmp" >"$results"
rm -f "$results.keep" "$results.tmp"

off="$(rps_of "$label_off")"
on="$(rps_of "$label_on")"
if [ -n "$off" ] && [ -n "$on" ]; then
    bench_note "$(awk -v a="$on" -v b="$off" 'BEGIN { o = (b - a) / b * 100; printf "aim: creates with replication on are %.1f%% slower than off (aim < 10%%): %s", o, (o < 10 ? "met" : "NOT met") }')"
fi

# Bytes on the target per 1,000 creates: once the replica has caught up.
deadline=$((SECONDS + 120))
while [ "$SECONDS" -lt "$deadline" ]; do
    lag="$(replica_metric "$on_base" ats_replica_lag_seconds)"
    if awk -v l="$lag" 'BEGIN { exit !(l != "" && l + 0 == 0) }'; then break; fi
    sleep 0.5
done
wal_after="$(target_bytes wal)"
if [ "$requests_on" -gt 0 ]; then
    bench_note "$(awk -v b="$((wal_after - wal_before))" -v n="$requests_on" 'BEGIN { printf "bytes on the target per 1,000 creates: %.0f KB (%d creates, %.1f MB of zstd segments, the background index/embedding writes included)", b / n * 1000 / 1024, n, b / 1048576 }')"
fi

# On-demand snapshot, through the running server (it owns the checkpoints).
start="$(now)"
if snapshot_out="$("$ats" snapshot --data "$replica_on" 2>&1)"; then
    snapshot_seconds="$(elapsed "$start")"
    record_seconds "ats snapshot (zstd + sha256, server running), $(file_mb "$replica_on/ats.sqlite") MB" "$snapshot_seconds" "$(file_mb "$replica_on/ats.sqlite")"
    newest="$(find "$replica_target/generations" -name '*.snapshot.zst' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)"
    [ -n "$newest" ] && bench_note "snapshot on the target: $(file_mb "$newest") MB for a $(file_mb "$replica_on/ats.sqlite") MB database"
else
    log "ats snapshot failed: $snapshot_out"
    printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "ats snapshot" >>"$results"
fi

# Stop both (the replicating one ships its last transactions), then restore against cp.
for pid in "$off_pid" "$on_pid"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
rm -rf "$replica_off"
start="$(now)"
cp "$replica_on/ats.sqlite" "$tmp/replica-copy.sqlite"
cp_seconds="$(elapsed "$start")"
record_seconds "cp of the raw database file ($(file_mb "$replica_on/ats.sqlite") MB), anchor" "$cp_seconds" "$(file_mb "$replica_on/ats.sqlite")"
rm -f "$tmp/replica-copy.sqlite"
start="$(now)"
if restore_out="$("$ats" restore --from "$replica_target" --to "$tmp/replica-restored" 2>"$tmp/replica-restore.log")"; then
    restore_seconds="$(elapsed "$start")"
    record_seconds "ats restore (snapshot + segments, checksums, integrity_check), $(file_mb "$tmp/replica-restored/ats.sqlite") MB" "$restore_seconds" "$(file_mb "$tmp/replica-restored/ats.sqlite")"
    bench_note "restore: $(grep -m1 '^Restored txn' <<<"$restore_out" || true)"
else
    log "ats restore failed: $restore_out $(cat "$tmp/replica-restore.log")"
    printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "ats restore" >>"$results"
fi
bench_note "snapshot/backup/restore/cp rows: MB/s of the database file in the req/s column, seconds in the p50 column"
rm -rf "$tmp/replica-restored" "$replica_on" "$replica_target"
