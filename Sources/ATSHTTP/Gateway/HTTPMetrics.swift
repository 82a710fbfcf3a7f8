import ATSStore
import Prometheus
import Synchronization

/// Request counters and latency histograms by route template (never by raw path: ids and
/// names stay out of labels), plus the store's pool figures, read at scrape time.
public final class HTTPMetrics: Sendable {
    struct Key: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    let registry: PrometheusCollectorRegistry
    let counters = Mutex<[Key: Counter]>([:])
    let histograms = Mutex<[String: DurationHistogram]>([:])
    static let buckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]

    /// Run before each scrape: the other tiers refresh their figures in the registry.
    let scrapeHooks: [@Sendable () -> Void]

    public init(registry: PrometheusCollectorRegistry, scrapeHooks: [@Sendable () -> Void] = []) {
        self.registry = registry
        self.scrapeHooks = scrapeHooks
    }

    func record(route: String, method: String, status: Int, duration: Duration) {
        let key = Key(route: route, method: method, status: status)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                name: "ats_http_requests_total",
                labels: [("route", route), ("method", method), ("status", String(status))],
                help: "HTTP requests by route template, method and status.")
            counters[key] = counter
            return counter
        }
        counter.increment()
        let histogramKey = method + " " + route
        let histogram = histograms.withLock { histograms in
            if let histogram = histograms[histogramKey] { return histogram }
            let histogram = registry.makeDurationHistogram(
                name: "ats_http_request_duration_seconds", labels: [("route", route), ("method", method)],
                buckets: Self.buckets, help: "HTTP request latency by route template.")
            histograms[histogramKey] = histogram
            return histogram
        }
        histogram.record(duration)
    }

    /// The Prometheus text exposition, with the store's figures refreshed first.
    func render(store: StoreFigures) -> [UInt8] {
        let gauges: [(String, String, Double)] = [
            ("ats_store_readers", "Reader connections in the pool.", Double(store.readers)),
            ("ats_store_reads_in_flight", "Reads running now.", Double(store.readsInFlight)),
            ("ats_store_writes_in_flight", "Writes running or waiting now.", Double(store.writesInFlight)),
        ]
        for (name, help, value) in gauges {
            registry.makeGauge(name: name, help: help).set(value)
        }
        let counters: [(String, String, Double)] = [
            ("ats_store_reads_total", "Read transactions.", Double(store.reads)),
            ("ats_store_writes_total", "Write transactions.", Double(store.writes)),
            ("ats_store_read_wait_seconds_total", "Time spent waiting for a reader.", store.readWaitSeconds),
            ("ats_store_write_wait_seconds_total", "Time spent waiting for the writer.", store.writeWaitSeconds),
        ]
        for (name, help, value) in counters {
            // Counters mirror the store's own monotonic totals: set as gauges-with-total-names
            // would break the type, so they are exposed as gauges named without `_total`.
            registry.makeGauge(name: String(name.dropLast(6)), help: help).set(value)
        }
        for hook in scrapeHooks { hook() }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
