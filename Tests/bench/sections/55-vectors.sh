# shellcheck shell=bash disable=SC2154 # tmp, ats, repo_root, current_section, results ... come from bench.sh
# Sourced by Tests/bench/bench.sh: the vector index (`ats vector-bench`: exact and HNSW on
# generated clustered vectors) beside hnswlib, usearch and numpy on the very same files
# (Tests/bench/python/vector_bench.py), same M / efConstruction / efSearch, single-threaded.
# Rows: queries/s in the req/s column, mean ms per query in the p50 column, recall@10 in the
# label. Notes: build seconds, memory, exact GB/s against numpy, save/load seconds, the aims.
#
# Environment: BENCH_VECTORS (default 100000), BENCH_VECTOR_DIMENSIONS (384),
# BENCH_VECTOR_QUERIES (1000), BENCH_VECTOR_M (16), BENCH_VECTOR_EF_CONSTRUCTION (200),
# BENCH_VECTOR_EF_SEARCH (64), BENCH_VECTOR_SWEEP (more efSearch values, default 16,32,128),
# BENCH_PYTHON (default .build-py/bench/bin/python).

vector_count="${BENCH_VECTORS:-100000}"
vector_dimensions="${BENCH_VECTOR_DIMENSIONS:-384}"
vector_queries="${BENCH_VECTOR_QUERIES:-1000}"
vector_m="${BENCH_VECTOR_M:-16}"
vector_efc="${BENCH_VECTOR_EF_CONSTRUCTION:-200}"
vector_efs="${BENCH_VECTOR_EF_SEARCH:-64}"
vector_sweep="${BENCH_VECTOR_SWEEP:-16,32,128}"
vector_python="${BENCH_PYTHON:-$repo_root/.build-py/bench/bin/python}"
vector_dir="$tmp/vectors"
vector_out="$tmp/vector-bench.out"
mkdir -p "$vector_dir"
: >"$vector_out"

# vector_metric NAME METRIC: a figure from either side's output ("" when missing).
vector_metric() {
    awk -v n="$1" -v m="$2" '$1 == "vector-bench" && $2 == n && $3 == m { v = $4 } END { if (v != "") print v }' "$vector_out"
}

# vector_row LABEL NAME: a table row for one index at one setting.
vector_row() {
    local qps recall_value
    qps="$(vector_metric "$2" qps)"
    recall_value="$(vector_metric "$2" recall@10)"
    if [ -z "$qps" ]; then
        printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "$1" >>"$results"
        return 0
    fi
    printf '%s\t%s\t%s\t%s\t-\t-\n' "$current_section" "$1: recall@10 ${recall_value:-?}" \
        "$(awk -v q="$qps" 'BEGIN { printf "%.0f", q }')" "$(awk -v q="$qps" 'BEGIN { printf "%.4f", 1000 / q }')" \
        >>"$results"
}

params="M $vector_m, efC $vector_efc"
log "vectors: ats vector-bench, $vector_count x $vector_dimensions, $vector_queries queries ($params, ef $vector_efs)"
"$ats" vector-bench --count "$vector_count" --dimensions "$vector_dimensions" --queries "$vector_queries" \
    --m "$vector_m" --ef-construction "$vector_efc" --ef-search "$vector_efs" --sweep "$vector_sweep" \
    --out "$vector_dir" >>"$vector_out" 2>"$tmp/vector-bench.log" || true
if ! grep -q '^vector-bench hnsw qps ' "$vector_out"; then
    log "ats vector-bench gave no result:"; tail -n 20 "$tmp/vector-bench.log" >&2
fi

if [ -x "$vector_python" ] && "$vector_python" -c 'import numpy, hnswlib' 2>/dev/null \
    && [ -s "$vector_dir/truth.i32" ]; then
    log "vectors: hnswlib / usearch / numpy on the same files"
    "$vector_python" "$repo_root/Tests/bench/python/vector_bench.py" "$vector_dir" "$vector_dimensions" \
        --m "$vector_m" --ef-construction "$vector_efc" --ef-search "$vector_efs" --sweep "$vector_sweep" \
        >>"$vector_out" 2>>"$tmp/vector-bench.log" || log "vector_bench.py failed (see $tmp/vector-bench.log)"
else
    bench_note "hnswlib/usearch/numpy anchors skipped: install numpy, hnswlib (and usearch) into $vector_python"
fi

vector_row "ats exact (SIMD scan, single thread)" exact
vector_row "numpy mat-vec + argpartition" numpy
vector_row "ats HNSW ($params, ef $vector_efs)" hnsw
vector_row "hnswlib ($params, ef $vector_efs)" hnswlib
vector_row "usearch ($params, ef $vector_efs)" usearch
IFS=',' read -r -a vector_efs_list <<<"$vector_sweep"
for ef in "${vector_efs_list[@]}"; do
    [ "$ef" = "$vector_efs" ] && continue
    vector_row "ats HNSW ($params, ef $ef)" "hnsw-ef$ef"
    vector_row "hnswlib ($params, ef $ef)" "hnswlib-ef$ef"
done
vector_row "ats HNSW, 10% of ids allowed (ef $vector_efs)" hnsw-filter10pct

bench_note "$vector_count clustered vectors x $vector_dimensions float32, $vector_queries queries; req/s column = single-thread queries/s, p50 column = mean ms per query"
bench_note "build (single thread): ats HNSW $(vector_metric hnsw build_seconds) s, hnswlib $(vector_metric hnswlib build_seconds) s, usearch $(vector_metric usearch build_seconds) s"
bench_note "memory: ats HNSW $(vector_metric hnsw memory_bytes) B, ats exact $(vector_metric exact memory_bytes) B"
bench_note "exact scan: ats $(vector_metric exact gbps) GB/s single thread; numpy mat-vec $(vector_metric numpy gbps) GB/s (BLAS may use every core)"
bench_note "persistence: save $(vector_metric hnsw save_seconds) s, load $(vector_metric hnsw load_seconds) s, file $(vector_metric hnsw file_bytes) B"
ats_qps="$(vector_metric hnsw qps)"
ats_recall="$(vector_metric hnsw recall@10)"
for anchor in hnswlib usearch; do
    anchor_qps="$(vector_metric "$anchor" qps)"
    if [ -n "$ats_qps" ] && [ -n "$anchor_qps" ]; then
        bench_note "$(awk -v a="$ats_qps" -v b="$anchor_qps" -v r="$ats_recall" -v n="$anchor" \
            'BEGIN { printf "aim: HNSW recall@10 >= 0.95 at >= 0.5x %s queries/s: recall %.3f, %.0f vs %.0f q/s = %.2fx: %s", n, r, a, b, a / b, (r >= 0.95 && a >= 0.5 * b ? "met" : "NOT met") }')"
    fi
done
