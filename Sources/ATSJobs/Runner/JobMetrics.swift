import Foundation
import Prometheus

/// The runner's figures in `/metrics` (`ats_jobs_*`). Labels are queue, job type and outcome:
/// names from code, never personal data.
struct JobMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
        .seconds(15), .seconds(60), .seconds(300), .seconds(1800),
    ]
    static let waitBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(2),
        .seconds(10), .seconds(60), .seconds(600),
    ]

    init(_ registry: PrometheusCollectorRegistry) { self.registry = registry }

    func finished(_ job: Job, outcome: String, seconds: Double) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "ats", subsystem: "jobs", metricName: "finished", unitName: "total",
                helpText: "Job attempts ended, by queue, type and outcome"),
            labels: [("queue", job.queue), ("type", job.type), ("outcome", outcome)]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "ats", subsystem: "jobs", metricName: "duration", unitName: "seconds",
                helpText: "Job attempt durations"),
            labels: [("queue", job.queue), ("type", job.type)], buckets: Self.durationBuckets
        ).record(.milliseconds(Int64(seconds * 1000)))
    }

    func failed(_ job: Job, reason: String) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "ats", subsystem: "jobs", metricName: "failures", unitName: "total",
                helpText: "Failed job attempts, by queue, type and reason"),
            labels: [("queue", job.queue), ("type", job.type), ("reason", reason)]
        ).increment()
    }

    func waited(_ queue: String, seconds: Double) {
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "ats", subsystem: "jobs", metricName: "wait", unitName: "seconds",
                helpText: "Time from a job's due time to its start"),
            labels: [("queue", queue)], buckets: Self.waitBuckets
        ).record(.milliseconds(Int64(max(0, seconds) * 1000)))
    }

    func running(_ queue: String, by delta: Double) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "ats", subsystem: "jobs", metricName: "running", unitName: "",
                helpText: "Jobs running in this process"),
            labels: [("queue", queue)]
        ).increment(by: delta)
    }

    func recovered(_ count: Int) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "ats", subsystem: "jobs", metricName: "recovered", unitName: "total",
                helpText: "Jobs put back in their queue after their worker's lease expired")
        ).increment(by: Int64(count))
    }
}
