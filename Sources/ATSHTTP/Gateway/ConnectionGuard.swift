import Hummingbird
import HummingbirdCore
import NIOCore
import Prometheus
import Synchronization

/// Connection limits of the HTTP/1 edge, shared by every connection: how many may be open in
/// all and per client address, and how long a client may take to send a request head, to keep
/// sending a body, or to sit idle between requests. Slow or idle clients otherwise hold a file
/// descriptor each until the process has none left.
///
/// One `ConnectionGuardHandler` per connection does the work on the connection's event loop;
/// this object holds only what connections share: an atomic open count (no lock per request)
/// and, for non-loopback peers, a per-address count touched once per connection.
public final class ConnectionGuard: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// From the connection's start (or the first byte of a later request) to a complete head.
        public var headerTimeout: Duration
        /// A kept-alive connection with no request started.
        public var idleTimeout: Duration
        /// A request body that stops arriving for this long.
        public var bodyTimeout: Duration
        /// Connections open at once in all; the ones beyond get 503 and are closed.
        public var maxConnections: Int
        /// Connections open at once from one client address (not loopback, not `exemptAddresses`).
        public var maxConnectionsPerAddress: Int
        /// Peers the per-address cap never applies to: reverse proxies (`ATS_TRUSTED_PROXIES`).
        public var exemptAddresses: Set<String>
        /// Largest request head (request line and headers); 431 above.
        public var maxHeadBytes: Int
        /// Seconds a refused client is told to wait (`Retry-After`).
        public var retryAfterSeconds: Int
        /// After a response that closes the connection while the client may still be sending
        /// (413), how long its further bytes are read and dropped before the socket is closed:
        /// closing with unread bytes makes the kernel send a reset, which can destroy the
        /// response before the client has read it.
        public var linger: Duration

        public init(
            headerTimeout: Duration = .seconds(30), idleTimeout: Duration = .seconds(60), bodyTimeout: Duration = .seconds(60),
            maxConnections: Int = 10_000, maxConnectionsPerAddress: Int = 256, exemptAddresses: Set<String> = [],
            maxHeadBytes: Int = 16 * 1024, retryAfterSeconds: Int = 5, linger: Duration = .seconds(2)
        ) {
            self.headerTimeout = headerTimeout
            self.idleTimeout = idleTimeout
            self.bodyTimeout = bodyTimeout
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.exemptAddresses = exemptAddresses
            self.maxHeadBytes = maxHeadBytes
            self.retryAfterSeconds = retryAfterSeconds
            self.linger = linger
        }
    }

    /// Why a connection was turned away (a metrics label).
    enum Refusal: String {
        case total = "max_connections"
        case perAddress = "max_connections_per_ip"
    }

    /// The phase a connection timed out in (a metrics label).
    enum Phase: String {
        case header, body, idle
    }

    public let configuration: Configuration
    /// The timers' resolution: a tenth of the shortest timeout, between 100 ms and 1 s.
    let tick: TimeAmount
    let headerTicks: Int
    let idleTicks: Int
    let bodyTicks: Int
    let lingerTicks: Int
    /// Beyond this many open connections a new one is closed at once, without an answer: the
    /// refusals themselves must not use up the file descriptors.
    let hardLimit: Int

    private let openCount = Atomic<Int>(0)
    private let perAddress = Mutex<[String: Int]>([:])
    private let openGauge: Gauge
    private let refusedCounters: [Refusal: Counter]
    private let timeoutCounters: [Phase: Counter]

    public init(configuration: Configuration = .init(), registry: PrometheusCollectorRegistry) {
        self.configuration = configuration
        let shortest = min(configuration.headerTimeout, configuration.idleTimeout, configuration.bodyTimeout)
        let tenth = shortest / 10
        let tick = min(max(tenth, .milliseconds(100)), .seconds(1))
        let tickNanos = Int64(tick.components.seconds) * 1_000_000_000 + tick.components.attoseconds / 1_000_000_000
        self.tick = .nanoseconds(tickNanos)
        func ticks(_ duration: Duration) -> Int { Int((duration / tick).rounded(.up)) }
        self.headerTicks = ticks(configuration.headerTimeout)
        self.idleTicks = ticks(configuration.idleTimeout)
        self.bodyTicks = ticks(configuration.bodyTimeout)
        self.lingerTicks = max(1, ticks(configuration.linger))
        self.hardLimit = configuration.maxConnections + max(64, configuration.maxConnections / 10)
        self.openGauge = registry.makeGauge(name: "ats_http_connections_open", help: "HTTP connections open now.")
        var refused: [Refusal: Counter] = [:]
        for reason in [Refusal.total, .perAddress] {
            refused[reason] = registry.makeCounter(
                name: "ats_http_connections_refused_total", labels: [("reason", reason.rawValue)],
                help: "Connections answered 503 and closed because a connection cap was reached.")
        }
        self.refusedCounters = refused
        var timeouts: [Phase: Counter] = [:]
        for phase in [Phase.header, .body, .idle] {
            timeouts[phase] = registry.makeCounter(
                name: "ats_http_connections_timed_out_total", labels: [("phase", phase.rawValue)],
                help: "Connections closed by a timeout: a request head or body too slow, or idle too long.")
        }
        self.timeoutCounters = timeouts
    }

    /// Connections open now.
    public var open: Int { openCount.load(ordering: .relaxed) }

    /// Copies the open count into its gauge (a scrape hook).
    public func refreshMetrics() {
        openGauge.set(Double(open))
    }

    /// The handler of one connection; the HTTP/1 pipeline's first additional handler.
    public func makeHandler() -> ConnectionGuardHandler {
        ConnectionGuardHandler(guard: self)
    }

    /// The decoder limits that make an oversized head a parse error (answered 431).
    public var decoderConfiguration: HTTP1Channel.Configuration.DecoderConfiguration {
        .init(maxHeaderFieldSize: configuration.maxHeadBytes, maxHeaderListSize: configuration.maxHeadBytes, maxHeaderFieldCount: 200)
    }

    // MARK: Admission

    enum Admission {
        case admitted
        case refused(Refusal)
        /// Over the hard limit: close without an answer.
        case dropped
    }

    /// Counts a new connection from `address` (nil: unknown) and says whether it may be served.
    /// Every call must be balanced by `release(address:)` with the same address.
    func admit(address: String?) -> Admission {
        let open = openCount.wrappingAdd(1, ordering: .relaxed).newValue
        var perAddressCount = 0
        if let address = countedAddress(address) {
            perAddressCount = perAddress.withLock { counts in
                let count = counts[address, default: 0] + 1
                counts[address] = count
                return count
            }
        }
        if open > hardLimit { return .dropped }
        if open > configuration.maxConnections {
            refusedCounters[.total]?.increment()
            return .refused(.total)
        }
        if perAddressCount > configuration.maxConnectionsPerAddress {
            refusedCounters[.perAddress]?.increment()
            return .refused(.perAddress)
        }
        return .admitted
    }

    func release(address: String?) {
        openCount.wrappingSubtract(1, ordering: .relaxed)
        guard let address = countedAddress(address) else { return }
        perAddress.withLock { counts in
            let count = counts[address, default: 1] - 1
            if count <= 0 { counts[address] = nil } else { counts[address] = count }
        }
    }

    func timedOut(_ phase: Phase) {
        timeoutCounters[phase]?.increment()
    }

    /// The address the per-address cap counts, nil for peers it does not apply to.
    private func countedAddress(_ address: String?) -> String? {
        guard let address, !Self.isLoopback(address), !configuration.exemptAddresses.contains(address) else { return nil }
        return address
    }

    /// 127.0.0.0/8, ::1 and their IPv4-mapped form.
    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }
}
