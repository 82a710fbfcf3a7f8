#!/usr/bin/env python3
"""The hnswlib / usearch / numpy anchors of the vector table in `make bench`.

Reads the files `ats vector-bench --out DIR` wrote: DIR/vectors.f32 and DIR/queries.f32 (raw
little-endian float32, row-major, normalized) and DIR/truth.i32 (the exact top-10 row indices
per query). Builds hnswlib (and usearch when it is installed) with the same M, efConstruction
and efSearch, single-threaded like the appliance's build and search, and prints lines of the
form `vector-bench <name> <metric> <value>` (build_seconds, qps, recall@10), plus numpy's
matrix-vector product on the same matrix (`vector-bench numpy gbps ...`).

Usage: vector_bench.py DIR DIMENSIONS [--m 16] [--ef-construction 200] [--ef-search 64]
"""
import argparse
import sys
import time

import numpy as np


def report(name, metric, value):
    print(f"vector-bench {name} {metric} {value:.4f}", flush=True)


def recall_at_10(found, truth):
    hits = 0
    for got, expected in zip(found, truth):
        hits += len(set(int(x) for x in got[:10]) & set(int(x) for x in expected[:10]))
    return hits / float(truth.shape[0] * truth.shape[1])


def measure_queries(name, search_one, queries, truth):
    """Single-thread queries/s, one query per call (as the appliance answers requests)."""
    found = []
    start = time.perf_counter()
    for query in queries:
        found.append(search_one(query))
    elapsed = time.perf_counter() - start
    report(name, "qps", len(queries) / elapsed)
    report(name, "recall@10", recall_at_10(found, truth))


def bench_numpy(vectors, queries):
    sample = queries[: min(len(queries), 200)]
    vectors = np.ascontiguousarray(vectors)
    start = time.perf_counter()
    for query in sample:
        scores = vectors @ query
        np.argpartition(scores, -10)[-10:]
    elapsed = time.perf_counter() - start
    report("numpy", "qps", len(sample) / elapsed)
    report("numpy", "gbps", len(sample) * vectors.nbytes / elapsed / 1e9)


def bench_hnswlib(vectors, queries, truth, args):
    try:
        import hnswlib
    except ImportError:
        print("vector_bench: hnswlib is not installed", file=sys.stderr)
        return
    index = hnswlib.Index(space="ip", dim=vectors.shape[1])
    index.init_index(max_elements=len(vectors), M=args.m, ef_construction=args.ef_construction, random_seed=42)
    index.set_num_threads(1)
    start = time.perf_counter()
    index.add_items(vectors, np.arange(len(vectors)), num_threads=1)
    report("hnswlib", "build_seconds", time.perf_counter() - start)
    for ef in [args.ef_search] + [e for e in args.sweep if e != args.ef_search]:
        index.set_ef(ef)
        name = "hnswlib" if ef == args.ef_search else f"hnswlib-ef{ef}"
        measure_queries(name, lambda q: index.knn_query(q, k=10, num_threads=1)[0][0], queries, truth)


def bench_usearch(vectors, queries, truth, args):
    try:
        from usearch.index import Index
    except ImportError:
        print("vector_bench: usearch is not installed (skipped)", file=sys.stderr)
        return
    index = Index(ndim=vectors.shape[1], metric="ip", dtype="f32", connectivity=args.m,
                  expansion_add=args.ef_construction, expansion_search=args.ef_search)
    start = time.perf_counter()
    index.add(np.arange(len(vectors)), vectors, threads=1)
    report("usearch", "build_seconds", time.perf_counter() - start)
    measure_queries("usearch", lambda q: index.search(q, 10, threads=1).keys, queries, truth)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("dimensions", type=int)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef-search", type=int, default=64)
    parser.add_argument("--sweep", default="16,32,128", help="more efSearch values for hnswlib")
    parser.add_argument("--skip", default="", help="comma-separated: numpy,hnswlib,usearch")
    args = parser.parse_args()
    args.sweep = [int(x) for x in args.sweep.split(",") if x.strip()]
    skip = set(x.strip() for x in args.skip.split(",") if x.strip())

    vectors = np.fromfile(f"{args.folder}/vectors.f32", dtype="<f4").reshape(-1, args.dimensions)
    queries = np.fromfile(f"{args.folder}/queries.f32", dtype="<f4").reshape(-1, args.dimensions)
    truth = np.fromfile(f"{args.folder}/truth.i32", dtype="<i4").reshape(len(queries), -1)
    print(f"vector_bench: {len(vectors)} vectors, {len(queries)} queries, {args.dimensions} dimensions",
          file=sys.stderr)
    if "numpy" not in skip:
        bench_numpy(vectors, queries)
    if "hnswlib" not in skip:
        bench_hnswlib(vectors, queries, truth, args)
    if "usearch" not in skip:
        bench_usearch(vectors, queries, truth, args)


if __name__ == "__main__":
    main()
