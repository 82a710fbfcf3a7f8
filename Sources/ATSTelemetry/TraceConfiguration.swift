/// How the appliance traces: sampling, where finished spans go, and the in-memory views.
///
/// Sampling is parent-based: a sampled incoming `traceparent` is honored (and an unsampled one
/// too); a trace that starts here is kept with probability `sampleRatio`, decided from its
/// trace id so every process that sees the id decides alike.
public struct TraceConfiguration: Sendable {
    /// `service.name` of the OTLP resource.
    public var serviceName: String
    /// `service.version` of the OTLP resource, when known.
    public var serviceVersion: String?
    /// Share of new traces that are recorded (0...1).
    public var sampleRatio: Double
    /// OTLP/HTTP base URL (`http://` only); batches are POSTed to `{endpoint}/v1/traces` as JSON.
    public var endpoint: String?
    /// When `endpoint` is nil: JSON-lines files here (the app passes `DATA/traces`).
    /// With neither, spans are only kept for the in-memory recent-traces view.
    public var directory: String?
    /// A trace file is rotated once it would grow past this size.
    public var maxFileBytes: Int
    /// Trace files kept, the one being written included (oldest deleted).
    public var maxFiles: Int
    /// Spans per exported batch at most; a full batch is exported without waiting for the interval.
    public var batchSize: Int
    /// Finished spans waiting for export; beyond this they are dropped and counted.
    public var queueCapacity: Int
    /// How often queued spans are exported.
    public var flushInterval: Duration
    /// HTTP: retries of 429/502/503/504 and connection errors, with backoff, before a batch is dropped.
    public var maxRetries: Int
    /// Sampled traces kept in memory for the admin view.
    public var recentTraces: Int
    /// false: every span is non-recording (propagation still passes incoming context through).
    public var enabled: Bool

    /// Every setting defaults to the appliance's production choice.
    public init(
        serviceName: String = "ats",
        serviceVersion: String? = nil,
        sampleRatio: Double = 0.1,
        endpoint: String? = nil,
        directory: String? = nil,
        maxFileBytes: Int = 16 << 20,
        maxFiles: Int = 8,
        batchSize: Int = 512,
        queueCapacity: Int = 8192,
        flushInterval: Duration = .seconds(1),
        maxRetries: Int = 3,
        recentTraces: Int = 1000,
        enabled: Bool = true
    ) {
        self.serviceName = serviceName
        self.serviceVersion = serviceVersion
        self.sampleRatio = sampleRatio
        self.endpoint = endpoint
        self.directory = directory
        self.maxFileBytes = maxFileBytes
        self.maxFiles = maxFiles
        self.batchSize = batchSize
        self.queueCapacity = queueCapacity
        self.flushInterval = flushInterval
        self.maxRetries = maxRetries
        self.recentTraces = recentTraces
        self.enabled = enabled
    }
}
