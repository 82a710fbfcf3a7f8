import Foundation

/// The appliance's settings, resolved once at start-up: flags > `ATS_*` environment >
/// config file (`KEY=value` lines with the same names) > defaults.
public struct Configuration: Sendable {
    /// One setting: its environment name, default, whether it is a secret, and what it does.
    public struct Setting: Sendable {
        public let name: String
        public let defaultValue: String
        public let secret: Bool
        public let summary: String
    }

    public enum Source: String, Sendable { case flag, environment, file, `default` }

    public static let settings: [Setting] = [
        Setting(name: "ATS_DATA", defaultValue: "Data/runtime", secret: false, summary: "Data folder: database, runtime files."),
        Setting(name: "ATS_HOST", defaultValue: "127.0.0.1", secret: false, summary: "Address to listen on."),
        Setting(name: "ATS_PORT", defaultValue: "8080", secret: false, summary: "Port to listen on (0: any free port)."),
        Setting(name: "ATS_LOG_LEVEL", defaultValue: "info", secret: false, summary: "trace, debug, info, notice, warning, error, critical."),
        Setting(name: "ATS_RATE_LIMIT_RPS", defaultValue: "50", secret: false, summary: "Requests per second per API key/user and per client address (0: off)."),
        Setting(name: "ATS_RATE_LIMIT_BURST", defaultValue: "200", secret: false, summary: "Burst allowance of the rate limit."),
        Setting(name: "ATS_MAX_BODY_BYTES", defaultValue: "1048576", secret: false, summary: "Largest request body (413 above)."),
        Setting(name: "ATS_SESSION_TTL_HOURS", defaultValue: "12", secret: false, summary: "Lifetime of a sign-in session."),
        Setting(name: "ATS_STORE_READERS", defaultValue: "8", secret: false, summary: "Reader connections of the SQLite pool."),
        Setting(name: "ATS_METRICS_TOKEN", defaultValue: "", secret: true, summary: "When set, /metrics requires `Authorization: Bearer <token>`."),
        Setting(name: "ATS_SMTP_HOST", defaultValue: "", secret: false, summary: "SMTP server for outgoing mail; empty: messages are written as .eml files to DATA/outbox."),
        Setting(name: "ATS_SMTP_PORT", defaultValue: "587", secret: false, summary: "SMTP port."),
        Setting(name: "ATS_SMTP_STARTTLS", defaultValue: "true", secret: false, summary: "Upgrade the SMTP connection with STARTTLS (true/false)."),
        Setting(name: "ATS_SMTP_USERNAME", defaultValue: "", secret: false, summary: "SMTP login (AUTH PLAIN/LOGIN); empty: no login."),
        Setting(name: "ATS_SMTP_PASSWORD", defaultValue: "", secret: true, summary: "SMTP password."),
        Setting(name: "ATS_MAIL_FROM", defaultValue: "ats@localhost", secret: false, summary: "The From address of outgoing mail."),
        Setting(name: "ATS_QUEUES", defaultValue: "", secret: false, summary: "Queue concurrency and rate, name=concurrency[/per-minute],... (default embeddings=5/100, emails=4/300 ...)."),
        Setting(name: "ATS_TRUSTED_PROXIES", defaultValue: "", secret: false, summary: "Comma-separated proxy addresses whose X-Forwarded-For is believed (e.g. 127.0.0.1 behind a local Caddy/nginx)."),
        Setting(name: "ATS_LOG_FORMAT", defaultValue: "json", secret: false, summary: "Log lines as json (one object per line, with request and trace ids) or text."),
        Setting(name: "ATS_CACHE_MAX_MB", defaultValue: "256", secret: false, summary: "Memory budget of the in-process cache in MiB (0: no cache)."),
        Setting(name: "ATS_CACHE_TTL_SECONDS", defaultValue: "300", secret: false, summary: "How long a cached read lives (writes invalidate it before that)."),
        Setting(name: "ATS_TRACE_SAMPLE", defaultValue: "0.1", secret: false, summary: "Share of requests traced, 0 to 1 (an incoming sampled traceparent is always followed); 0: tracing off."),
        Setting(name: "ATS_OTLP_ENDPOINT", defaultValue: "", secret: false, summary: "OTLP/HTTP collector base URL (spans POSTed as JSON to {endpoint}/v1/traces); empty: JSON-lines files in DATA/traces."),
        Setting(name: "ATS_EMBEDDER", defaultValue: "builtin", secret: false, summary: "builtin (hashed n-grams and the skills taxonomy: no network, no model) or http (an OpenAI-compatible embeddings service)."),
        Setting(name: "ATS_EMBEDDINGS_URL", defaultValue: "", secret: false, summary: "Base URL of the OpenAI-compatible service (vectors from POST {url}/v1/embeddings)."),
        Setting(name: "ATS_EMBEDDINGS_MODEL", defaultValue: "text-embedding-3-small", secret: false, summary: "The model the service is asked for."),
        Setting(name: "ATS_EMBEDDINGS_KEY", defaultValue: "", secret: true, summary: "Bearer key of the embeddings service."),
        Setting(name: "ATS_EMBEDDINGS_DIMENSIONS", defaultValue: "1536", secret: false, summary: "Dimensions of the service's vectors."),
        Setting(name: "ATS_EMBEDDINGS_BATCH", defaultValue: "64", secret: false, summary: "Texts per request to the service."),
        Setting(name: "ATS_HNSW_THRESHOLD", defaultValue: "20000", secret: false, summary: "Vectors per organization and kind above which search uses HNSW instead of an exact scan."),
        Setting(name: "ATS_HNSW_M", defaultValue: "16", secret: false, summary: "HNSW links per node."),
        Setting(name: "ATS_HNSW_EF_CONSTRUCTION", defaultValue: "200", secret: false, summary: "HNSW candidate list while building."),
        Setting(name: "ATS_HNSW_EF_SEARCH", defaultValue: "64", secret: false, summary: "HNSW candidate list while searching (higher: better recall, slower)."),
        Setting(name: "ATS_BLOB_MAX_MB", defaultValue: "512", secret: false, summary: "Largest file (CV, attachment, S3 object) in MiB; 413 above, before anything is stored."),
        Setting(name: "ATS_BLOB_COMPRESS", defaultValue: "true", secret: false, summary: "Compress compressible files (text, RTF, CSV, JSON) with zstd at rest (true/false)."),
        Setting(name: "ATS_BLOB_GC_GRACE_HOURS", defaultValue: "24", secret: false, summary: "How long an unreferenced file is kept before the garbage collector removes it."),
        Setting(name: "ATS_PUBLIC_URL", defaultValue: "", secret: false, summary: "Base URL clients reach the server at (https://ats.example.com), for presigned links; empty: the request's Host."),
        Setting(name: "ATS_PRESIGN_SECONDS", defaultValue: "900", secret: false, summary: "Lifetime of the presigned links the API hands out (at most 604800, 7 days)."),
        Setting(name: "ATS_REFERENCE_DIR", defaultValue: "", secret: false, summary: "Reference data (names, skills taxonomy); found next to the binary when empty."),
        Setting(name: "ATS_REPLICA_DIR", defaultValue: "", secret: false, summary: "Replicate the database and files continuously to this folder (a mounted disk or network share); empty: off."),
        Setting(name: "ATS_REPLICA_SYNC_SECONDS", defaultValue: "1", secret: false, summary: "How often new transactions are shipped to the replica (the most work a lost VM can lose)."),
        Setting(name: "ATS_SNAPSHOT_INTERVAL_MINUTES", defaultValue: "60", secret: false, summary: "How often a full snapshot is written to the replica (restores replay segments from the last one)."),
        Setting(name: "ATS_REPLICA_SEGMENT_RETENTION_HOURS", defaultValue: "24", secret: false, summary: "How long shipped WAL segments are kept (the point-in-time window)."),
        Setting(name: "ATS_REPLICA_SNAPSHOT_RETENTION_DAYS", defaultValue: "7", secret: false, summary: "How long snapshots are kept (the newest restorable chain is always kept)."),
        Setting(name: "ATS_REPLICA_MAX_LAG_SECONDS", defaultValue: "10", secret: false, summary: "/readyz answers 503 when replication (or a standby) lags more than this."),
        Setting(name: "ATS_REPLICA_VERIFY_INTERVAL_MINUTES", defaultValue: "360", secret: false, summary: "How often the server restores the replica to a temporary folder and compares it with the live database (0: never)."),
        Setting(name: "ATS_STANDBY_FROM", defaultValue: "", secret: false, summary: "Serve read-only as a warm standby of this replica folder (`ats promote` makes it the primary); empty: not a standby."),
        Setting(name: "ATS_HEADER_TIMEOUT_SECONDS", defaultValue: "30", secret: false, summary: "Time a client has to send a complete request head, from the connection's start or a request's first byte (408, then closed)."),
        Setting(name: "ATS_IDLE_TIMEOUT_SECONDS", defaultValue: "60", secret: false, summary: "A kept-alive connection with no request started is closed after this long."),
        Setting(name: "ATS_BODY_TIMEOUT_SECONDS", defaultValue: "60", secret: false, summary: "A request body that stops arriving for this long fails (408, then closed)."),
        Setting(name: "ATS_MAX_CONNECTIONS", defaultValue: "10000", secret: false, summary: "Connections open at once; beyond: 503 with Retry-After, then closed."),
        Setting(name: "ATS_MAX_CONNECTIONS_PER_IP", defaultValue: "256", secret: false, summary: "Connections open at once from one client address (not loopback, not ATS_TRUSTED_PROXIES); beyond: 503."),
        Setting(name: "ATS_METRICS_PUBLIC", defaultValue: "false", secret: false, summary: "Without ATS_METRICS_TOKEN, /metrics answers only loopback peers that sent no X-Forwarded-For; true: anyone."),
        Setting(name: "ATS_LOW_DISK_PERCENT", defaultValue: "5", secret: false, summary: "Below this share of free space on the data volume (or after a write failed for lack of space), unreferenced files are collected at once with the short grace below (0: only after a failure)."),
        Setting(name: "ATS_LOW_DISK_GC_GRACE_SECONDS", defaultValue: "600", secret: false, summary: "The file collector's grace period while disk space is short (uploads in flight finish well within it)."),
        Setting(name: "ATS_MATCH_RATE_LIMIT_RPS", defaultValue: "2", secret: false, summary: "Matching requests (GET /jobs/{id}/matches, /candidates/{id}/matches) per second per API key/user, with a burst of 5x (0: off)."),
    ]

    /// Resolved values and where each came from.
    public private(set) var values: [String: (value: String, source: Source)]

    /// Resolves the configuration. `flags` are the command line's values by setting name.
    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var values: [String: (String, Source)] = [:]
        for setting in Self.settings { values[setting.name] = (setting.defaultValue, .default) }
        let configPath = flags["ATS_CONFIG"] ?? environment["ATS_CONFIG"]
        let dataForFile = flags["ATS_DATA"] ?? environment["ATS_DATA"] ?? "Data/runtime"
        let filePath = configPath ?? (dataForFile as NSString).appendingPathComponent("ats.conf")
        if FileManager.default.fileExists(atPath: filePath) || configPath != nil {
            for (name, value) in try Self.readFile(filePath) { values[name] = (value, .file) }
        }
        for setting in Self.settings {
            if let value = environment[setting.name] { values[setting.name] = (value, .environment) }
            if let value = flags[setting.name] { values[setting.name] = (value, .flag) }
        }
        self.values = values
        try validate()
    }

    public subscript(name: String) -> String { values[name]?.value ?? "" }

    public var dataDirectory: String { self["ATS_DATA"] }
    public var host: String { self["ATS_HOST"] }
    public var port: Int { Int(self["ATS_PORT"]) ?? 8080 }
    public var logLevel: String { self["ATS_LOG_LEVEL"] }
    public var rateLimitPerSecond: Double { Double(self["ATS_RATE_LIMIT_RPS"]) ?? 50 }
    public var rateLimitBurst: Double { Double(self["ATS_RATE_LIMIT_BURST"]) ?? 200 }
    /// Matching scores hundreds of candidates per call: its own, stricter limit.
    public var matchRateLimitPerSecond: Double { Double(self["ATS_MATCH_RATE_LIMIT_RPS"]) ?? 2 }
    public var maxBodyBytes: Int { Int(self["ATS_MAX_BODY_BYTES"]) ?? 1_048_576 }
    public var sessionTTLHours: Int { Int(self["ATS_SESSION_TTL_HOURS"]) ?? 12 }
    public var storeReaders: Int { Int(self["ATS_STORE_READERS"]) ?? 8 }
    public var metricsToken: String? { self["ATS_METRICS_TOKEN"].isEmpty ? nil : self["ATS_METRICS_TOKEN"] }
    public var blobMaxBytes: Int64 { (Int64(self["ATS_BLOB_MAX_MB"]) ?? 512) * 1_048_576 }
    public var blobCompress: Bool { self["ATS_BLOB_COMPRESS"].lowercased() != "false" }
    public var blobGraceSeconds: Int { (Int(self["ATS_BLOB_GC_GRACE_HOURS"]) ?? 24) * 3600 }
    public var publicURL: String? { self["ATS_PUBLIC_URL"].isEmpty ? nil : self["ATS_PUBLIC_URL"] }
    public var presignSeconds: Int { Int(self["ATS_PRESIGN_SECONDS"]) ?? 900 }
    public var blobsDirectory: String { (dataDirectory as NSString).appendingPathComponent("blobs") }
    public var referenceDirectory: String? { self["ATS_REFERENCE_DIR"].isEmpty ? nil : self["ATS_REFERENCE_DIR"] }
    public var trustedProxies: Set<String> {
        Set(self["ATS_TRUSTED_PROXIES"].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }
    public var logFormat: String { self["ATS_LOG_FORMAT"] }
    public var cacheMaxBytes: Int { (Int(self["ATS_CACHE_MAX_MB"]) ?? 256) << 20 }
    public var cacheTTL: Duration { .seconds(Int(self["ATS_CACHE_TTL_SECONDS"]) ?? 300) }
    public var traceSampleRatio: Double { Double(self["ATS_TRACE_SAMPLE"]) ?? 0.1 }
    public var otlpEndpoint: String? { self["ATS_OTLP_ENDPOINT"].isEmpty ? nil : self["ATS_OTLP_ENDPOINT"] }
    public var tracesDirectory: String { (dataDirectory as NSString).appendingPathComponent("traces") }
    public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("ats.sqlite") }

    func validate() throws {
        func integer(_ name: String, _ range: ClosedRange<Int>) throws {
            guard let value = Int(self[name]), range.contains(value) else {
                throw ConfigurationError("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(self[name])'")
            }
        }
        func number(_ name: String) throws {
            guard let value = Double(self[name]), value >= 0, value.isFinite else {
                throw ConfigurationError("\(name) must be a number >= 0, not '\(self[name])'")
            }
        }
        try integer("ATS_PORT", 0...65535)
        try integer("ATS_MAX_BODY_BYTES", 1024...1_073_741_824)
        try integer("ATS_BLOB_MAX_MB", 1...1_048_576)
        try integer("ATS_BLOB_GC_GRACE_HOURS", 0...8760)
        try integer("ATS_PRESIGN_SECONDS", 1...604_800)
        if !["true", "false"].contains(self["ATS_BLOB_COMPRESS"].lowercased()) {
            throw ConfigurationError("ATS_BLOB_COMPRESS must be true or false")
        }
        if let url = publicURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ConfigurationError("ATS_PUBLIC_URL must start with http:// or https://")
        }
        try integer("ATS_SESSION_TTL_HOURS", 1...8760)
        try integer("ATS_STORE_READERS", 1...64)
        try number("ATS_RATE_LIMIT_RPS")
        try number("ATS_RATE_LIMIT_BURST")
        try number("ATS_MATCH_RATE_LIMIT_RPS")
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(logLevel) else {
            throw ConfigurationError("ATS_LOG_LEVEL must be one of \(levels.joined(separator: ", ")), not '\(logLevel)'")
        }
        guard !dataDirectory.isEmpty else { throw ConfigurationError("ATS_DATA must not be empty") }
        try integer("ATS_SMTP_PORT", 1...65535)
        try integer("ATS_CACHE_MAX_MB", 0...1_048_576)
        guard ["builtin", "http"].contains(self["ATS_EMBEDDER"]) else {
            throw ConfigurationError("ATS_EMBEDDER must be builtin or http, not '\(self["ATS_EMBEDDER"])'")
        }
        if self["ATS_EMBEDDER"] == "http" {
            guard let url = embeddingsURL.flatMap(URL.init(string:)), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigurationError("ATS_EMBEDDER=http needs ATS_EMBEDDINGS_URL, an http(s):// URL")
            }
        }
        try integer("ATS_EMBEDDINGS_DIMENSIONS", 8...8192)
        try integer("ATS_EMBEDDINGS_BATCH", 1...2048)
        try integer("ATS_HNSW_THRESHOLD", 0...100_000_000)
        try integer("ATS_HNSW_M", 4...128)
        try integer("ATS_HNSW_EF_CONSTRUCTION", 8...4096)
        try integer("ATS_HNSW_EF_SEARCH", 8...4096)
        try integer("ATS_CACHE_TTL_SECONDS", 1...86_400)
        guard let ratio = Double(self["ATS_TRACE_SAMPLE"]), (0...1).contains(ratio) else {
            throw ConfigurationError("ATS_TRACE_SAMPLE must be a number from 0 to 1, not '\(self["ATS_TRACE_SAMPLE"])'")
        }
        guard ["json", "text"].contains(logFormat) else {
            throw ConfigurationError("ATS_LOG_FORMAT must be json or text, not '\(logFormat)'")
        }
        if let endpoint = otlpEndpoint {
            guard let url = URL(string: endpoint), url.scheme == "http", url.host != nil else {
                throw ConfigurationError("ATS_OTLP_ENDPOINT must be an http:// URL such as http://127.0.0.1:4318, not '\(endpoint)'")
            }
        }
        guard ["true", "false"].contains(self["ATS_SMTP_STARTTLS"].lowercased()) else {
            throw ConfigurationError("ATS_SMTP_STARTTLS must be true or false, not '\(self["ATS_SMTP_STARTTLS"])'")
        }
        try validateReplica()
        try validateEdge()
        try validateStorage()
    }

    /// `KEY=value` lines; `#` starts a comment; values may be quoted. Unknown keys are errors,
    /// so a typo does not silently leave a default in place.
    static func readFile(_ path: String) throws -> [(String, String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the configuration file \(path)")
        }
        let known = Set(settings.map(\.name))
        var result: [(String, String)] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigurationError("\(path):\(index + 1): expected KEY=value")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            guard known.contains(key) else {
                throw ConfigurationError("\(path):\(index + 1): unknown setting \(key)")
            }
            result.append((key, value))
        }
        return result
    }

    /// The effective configuration, one `NAME=value  # source` line each, secrets masked.
    public func describe() -> String {
        Self.settings.map { setting in
            let entry = values[setting.name] ?? (setting.defaultValue, .default)
            let shown = setting.secret && !entry.value.isEmpty ? "********" : entry.value
            return "\(setting.name)=\(shown)  # \(entry.source.rawValue): \(setting.summary)"
        }.joined(separator: "\n")
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
