import ATSHTTPClient
import Logging
import NIOCore
import NIOPosix

/// POSTs batches to an OTLP/HTTP collector (`{endpoint}/v1/traces`, `application/json`) over a
/// minimal HTTP/1.1 client on NIO: one connection per batch (a batch a second at most, so
/// keep-alive would buy nothing), a 5 s limit on connect and on the whole exchange, retries with
/// exponential backoff on 429/502/503/504 and on connection errors, up to `maxRetries`.
final class HTTPSpanSink: SpanSink {
    /// A parsed `http://host[:port][/base]`.
    struct Endpoint: Sendable, Equatable {
        var host: String
        var port: Int
        var path: String

        init?(_ url: String) {
            guard let parsed = HTTPEndpoint(url: url) else { return nil }
            self.host = parsed.host
            self.port = parsed.port
            self.path = parsed.basePath + "/v1/traces"
        }

        var target: HTTPEndpoint { HTTPEndpoint(host: host, port: port, basePath: "") }
    }

    /// How one attempt ended.
    enum Outcome: Equatable {
        case accepted
        /// Worth another try: 429/502/503/504, a connection error, a timeout.
        case retryable
        /// Any other status: the collector will not take this batch.
        case rejected(Int)
    }

    let endpoint: Endpoint
    let maxRetries: Int
    let timeout: TimeAmount
    /// The first retry waits this long, each later one twice as long (with jitter), capped at 10 s.
    let backoff: Duration
    private let group: any EventLoopGroup
    private let logger: Logger

    init(
        endpoint: Endpoint, maxRetries: Int, logger: Logger, timeout: TimeAmount = .seconds(5),
        backoff: Duration = .milliseconds(250), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.endpoint = endpoint
        self.maxRetries = max(0, maxRetries)
        self.timeout = timeout
        self.backoff = backoff
        self.group = group
        self.logger = logger
    }

    func write(_ body: [UInt8], spanCount: Int) async -> Bool {
        var attempt = 0
        while true {
            switch await post(body) {
            case .accepted:
                return true
            case .rejected(let status):
                logger.warning("trace collector rejected a batch", metadata: ["status": "\(status)"])
                return false
            case .retryable:
                guard attempt < maxRetries else { return false }
                attempt += 1
                let factor = Double(1 << min(attempt - 1, 16)) * Double.random(in: 0.8...1.2)
                let delay = min(backoff * factor, .seconds(10))
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return false  // cancelled: the service is stopping
                }
            }
        }
    }

    func close() async {}

    /// One request on a fresh connection.
    func post(_ body: [UInt8]) async -> Outcome {
        do {
            let status = try await exchange(body)
            switch status {
            case 200..<300: return .accepted
            case 429, 502, 503, 504: return .retryable
            default: return .rejected(status)
            }
        } catch {
            return .retryable
        }
    }

    private func exchange(_ body: [UInt8]) async throws -> Int {
        try await HTTPPost.send(
            body, to: endpoint.target, path: endpoint.path, headers: [("User-Agent", "ats-telemetry")], timeout: timeout,
            group: group
        ).status
    }
}
