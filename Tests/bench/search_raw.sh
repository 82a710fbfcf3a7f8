#!/usr/bin/env bash
# The keyword queries of sections/50-search.sh, raw, with the sqlite3 command-line tool on
# the appliance's own FTS5 table: the same bm25 column weights, 20 rows, one process, each
# query repeated. Prints "queries_per_second p50_ms p99_ms count" (p50 and p99 over the
# queries' mean times).
# Usage: Tests/bench/search_raw.sh DATABASE [ROUNDS]
set -euo pipefail
db="$1"
rounds="${2:-40}"
# The candidate table of the organization holding the most candidates (one table per organization).
table="$(sqlite3 "$db" "SELECT 'search_fts_candidate_' || o.n FROM search_orgs o JOIN search_docs d ON d.org_id = o.org_id AND d.kind = 'candidate' GROUP BY o.n ORDER BY count(*) DESC LIMIT 1")"
# Weights by column name, in the table's column order (unknown columns, such as the tenant's
# scope column, weigh nothing).
weights="$(sqlite3 "$db" "SELECT name FROM pragma_table_info('$table') ORDER BY cid" | awk '
    BEGIN { w["name"] = 10; w["title"] = 10; w["skills"] = 6; w["headline"] = 4; w["summary"] = 2; w["cv"] = 1 }
    { printf "%s%s", (NR > 1 ? ", " : ""), ($1 in w ? w[$1] : 0) }')"
# The FTS5 form of each query of the section (typos already resolved, as the API would).
matches=(
    'python*'
    '(pyhton OR python) AND django*'
    '(kubernets OR kubernetes) AND terraform*'
    'java AND kafka*'
    'react AND typescript*'
    '"machine learning"'
    'data AND engineer AND london*'
    'devops NOT java'
    'javscript OR javascript*'
    'golang OR rust*'
    'site AND reliability*'
    'product AND manager AND fintech*'
    'swift AND ios*'
    'sql AND analytics*'
    'spring AND boot AND microservices*'
)
# Each query is run `rounds` times by one sqlite3 process; the process's wall time, less that
# of a process that opens the database and runs nothing, over `rounds` is the query's time.
# (`.timer on` reports whole milliseconds: too coarse for one query.)
sqlfile="$(mktemp)"
trap 'rm -f "$sqlfile"' EXIT
now_ns() { date +%s%N; }
run_file() { local t0 t1; t0=$(now_ns); sqlite3 "$db" <"$sqlfile" >/dev/null; t1=$(now_ns); echo $((t1 - t0)); }
echo "SELECT 1;" >"$sqlfile"
base=0
for _ in 1 2 3; do b=$(run_file); if [ "$base" -eq 0 ] || [ "$b" -lt "$base" ]; then base=$b; fi; done
times=()
for m in "${matches[@]}"; do
    : >"$sqlfile"
    for _ in $(seq 1 "$rounds"); do
        printf "SELECT rowid, bm25(%s, %s) AS score FROM %s WHERE %s MATCH '%s' ORDER BY score LIMIT 20;\n" \
            "$table" "$weights" "$table" "$table" "${m//\'/\'\'}" >>"$sqlfile"
    done
    total=$(run_file)
    times+=("$(awk -v t="$total" -v b="$base" -v r="$rounds" 'BEGIN { v = (t - b) / r / 1e6; printf "%.4f", (v > 0 ? v : 0.0001) }')")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="${#matches[@]}" -v r="$rounds" '
    { t[NR] = $1; sum += $1 }
    END {
        p50 = t[int((NR + 1) / 2)]; p99 = t[NR]
        printf "%.1f %.3f %.3f %d\n", NR / (sum / 1000), p50, p99, NR * r
    }'
