import Logging
import NIOCore
import NIOHTTP1
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
            guard url.hasPrefix("http://") else { return nil }
            var rest = Substring(url.dropFirst("http://".count))
            var base = ""
            if let slash = rest.firstIndex(of: "/") {
                base = String(rest[slash...])
                rest = rest[..<slash]
            }
            while base.hasSuffix("/") { base.removeLast() }
            var host = String(rest)
            var port = 80
            if host.hasPrefix("[") {  // [::1]:4318
                guard let close = host.firstIndex(of: "]") else { return nil }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let parsed = Int(after.dropFirst()) else { return nil }
                    port = parsed
                } else if !after.isEmpty {
                    return nil
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let parsed = Int(host[host.index(after: colon)...]) else { return nil }
                port = parsed
                host = String(host[..<colon])
            }
            guard !host.isEmpty, (1...65535).contains(port) else { return nil }
            self.host = host
            self.port = port
            self.path = base + "/v1/traces"
        }
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
        let loop = group.next()
        let promise = loop.makePromise(of: Int.self)
        let deadline = loop.scheduleTask(in: timeout) { promise.fail(HTTPSinkError.timeout) }
        defer { deadline.cancel() }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseStatusHandler(promise: promise))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            promise.fail(error)
            throw error
        }
        defer { channel.close(promise: nil) }
        var headers = HTTPHeaders()
        let hostHeader = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
        headers.add(name: "Host", value: "\(hostHeader):\(endpoint.port)")
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "User-Agent", value: "ats-telemetry")
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }
}

/// Why an exchange failed before a full response arrived.
enum HTTPSinkError: Error {
    case timeout
    case closedEarly
}

/// Completes the promise with the response status once the response has fully arrived.
private final class ResponseStatusHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<Int>
    private var status: Int?

    init(promise: EventLoopPromise<Int>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body:
            break
        case .end:
            if let status {
                promise.succeed(status)
            } else {
                promise.fail(HTTPSinkError.closedEarly)
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HTTPSinkError.closedEarly)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
