import ATSBlob
import ATSCache
import ATSTelemetry
import ATSWork
import Foundation
import Logging
import Prometheus
import Synchronization

/// The cache and tracing tiers' figures in `/metrics`: read at scrape time from the tiers' own
/// exact totals, so a counter in Prometheus is always the tier's count, never an estimate.
enum ObservabilityMetrics {
    /// Cache hits, misses, evictions ... as counters and its size as gauges.
    static func cacheHook(_ cache: any Cache, registry: PrometheusCollectorRegistry) -> @Sendable () -> Void {
        let mirror = CounterMirror(registry: registry)
        return {
            let figures = cache.figures
            mirror.set("ats_cache_hits_total", "Cache reads that found a value.", figures.hits)
            mirror.set("ats_cache_misses_total", "Cache reads that found nothing usable.", figures.misses)
            mirror.set("ats_cache_evictions_total", "Entries removed to stay within the memory budget.", figures.evictions)
            mirror.set("ats_cache_expirations_total", "Entries removed because their time to live passed.", figures.expirations)
            mirror.set("ats_cache_loads_total", "Loader runs (store reads on a miss or a refresh).", figures.loads)
            mirror.set("ats_cache_load_failures_total", "Loader runs that failed.", figures.loadFailures)
            mirror.set("ats_cache_early_refreshes_total", "Refreshes started before expiry (stampede protection).", figures.earlyRefreshes)
            mirror.set("ats_cache_stale_served_total", "Values served just after expiry while one refresh ran.", figures.staleServed)
            mirror.set("ats_cache_coalesced_total", "Callers that waited for another caller's load of the same key.", figures.coalesced)
            registry.makeGauge(name: "ats_cache_entries", help: "Entries in the cache.").set(Double(figures.entries))
            registry.makeGauge(name: "ats_cache_bytes", help: "Bytes the cache holds (keys, values, overhead).").set(Double(figures.bytes))
            registry.makeGauge(name: "ats_cache_max_bytes", help: "The cache's memory budget.").set(Double(figures.maxBytes))
        }
    }

    /// Spans started, exported and dropped by the trace exporter.
    static func traceHook(_ tracer: ApplianceTracer, registry: PrometheusCollectorRegistry) -> @Sendable () -> Void {
        let mirror = CounterMirror(registry: registry)
        return {
            let figures = tracer.figures
            mirror.set("ats_trace_spans_started_total", "Spans started (sampled or not).", figures.spansStarted)
            mirror.set("ats_trace_spans_sampled_total", "Spans recorded for export.", figures.spansSampled)
            mirror.set("ats_trace_spans_exported_total", "Spans written to the collector or the trace files.", figures.spansExported)
            mirror.set("ats_trace_spans_dropped_total", "Spans dropped: the export queue was full or the export failed for good.", figures.spansDropped)
            mirror.set("ats_trace_export_failures_total", "Batches that failed for good (after every HTTP retry) or could not be written to a file.", figures.exportFailures)
            mirror.set("ats_trace_batches_exported_total", "Batches exported.", figures.batchesExported)
            registry.makeGauge(name: "ats_trace_queue_depth", help: "Finished spans waiting for export.").set(Double(figures.queueDepth))
        }
    }
}

extension ObservabilityMetrics {
    /// Searches (and how many were served from the cache or used vectors) and indexing work.
    static func searchHook(_ search: SearchService, registry: PrometheusCollectorRegistry) -> @Sendable () -> Void {
        let mirror = CounterMirror(registry: registry)
        return {
            let figures = search.figures
            mirror.set("ats_search_queries_total", "Searches computed (not served from the cache).", figures.queries)
            mirror.set("ats_search_cached_queries_total", "Searches served from the result cache.", figures.cachedQueries)
            mirror.set("ats_search_vector_queries_total", "Searches that used the vector index.", figures.vectorQueries)
            mirror.set("ats_search_embedding_failures_total", "Query embeddings that failed (keyword results only).", figures.embeddingFailures)
            mirror.set("ats_search_documents_indexed_total", "Documents written to the full-text index.", figures.documentsIndexed)
            mirror.set("ats_search_documents_removed_total", "Documents removed from the index.", figures.documentsRemoved)
            mirror.set("ats_search_documents_embedded_total", "Documents whose vector was computed.", figures.documentsEmbedded)
        }
    }
}

/// Mirrors monotonic totals kept elsewhere into Prometheus counters (which only increment).
final class CounterMirror: Sendable {
    let registry: PrometheusCollectorRegistry
    let last = Mutex<[String: Int]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func set(_ name: String, _ help: String, _ total: Int) {
        let delta = last.withLock { last -> Int in
            let delta = total - (last[name] ?? 0)
            if delta > 0 { last[name] = total }
            return delta
        }
        let counter = registry.makeCounter(name: name, help: help)
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }
}

extension ObservabilityMetrics {
    /// The blob store's files: stored, deduplicated, read (verified), corrupted, deleted.
    static func blobHook(_ blobs: any BlobStore, registry: PrometheusCollectorRegistry) -> @Sendable () -> Void {
        let mirror = CounterMirror(registry: registry)
        return {
            let figures = blobs.figures
            mirror.set("ats_blob_stored_total", "New files stored (content not seen before).", figures.stored)
            mirror.set("ats_blob_stored_bytes_total", "Bytes of the new files stored (before compression).", Int(figures.storedBytes))
            mirror.set("ats_blob_deduplicated_total", "Uploads whose content was already stored.", figures.deduplicated)
            mirror.set("ats_blob_reads_total", "Files opened for reading (each verified first).", figures.reads)
            mirror.set("ats_blob_verifications_total", "Full SHA-256 checks of stored files.", figures.verifications)
            mirror.set("ats_blob_corrupted_total", "Reads or checks that found a file not matching its checksum (never served).", figures.corrupted)
            mirror.set("ats_blob_deleted_total", "Files removed (unreferenced, after the grace period).", figures.deleted)
        }
    }
}
