import NIOCore
import NIOHTTP1
import NIOPosix

/// A parsed `http://host[:port][/base]` (trailing slashes dropped; IPv6 hosts in brackets).
/// Plain HTTP only: the mirror's package graph has no TLS for NIO.
public struct HTTPEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// The base path, without a trailing slash ("" for none).
    public var basePath: String

    public init(host: String, port: Int, basePath: String) {
        self.host = host
        self.port = port
        self.basePath = basePath
    }

    /// Nil for anything that is not an `http://` URL with a host and a port in range.
    public init?(url: String) {
        guard url.lowercased().hasPrefix("http://") else { return nil }
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
        self.init(host: host, port: port, basePath: base)
    }
}

/// One HTTP/1.1 answer.
public struct HTTPPostResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// `Retry-After` in seconds, when the server sent one.
    public var retryAfter: Duration?
}

/// Why an exchange ended without a whole answer.
public enum HTTPPostError: Error, Sendable, Equatable {
    case timeout
    case closedEarly
    case bodyTooLarge(Int)
}

/// A minimal HTTP/1.1 POST on NIO, for the appliance's few outbound calls (the OTLP exporter,
/// the embeddings service): one connection per request (`Connection: close`), a limit on the
/// connect and on the whole exchange, the answer collected up to `maxBody` bytes. Retries are
/// the caller's: it knows which answers are worth another try.
public enum HTTPPost {
    public static func send(
        _ body: [UInt8], to endpoint: HTTPEndpoint, path: String, headers extra: [(String, String)] = [],
        timeout: TimeAmount, maxBody: Int = 64 << 20,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPPostResponse {
        let loop = group.next()
        let promise = loop.makePromise(of: HTTPPostResponse.self)
        let deadline = loop.scheduleTask(in: timeout) { promise.fail(HTTPPostError.timeout) }
        defer { deadline.cancel() }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, maxBody: maxBody))
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
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }
}

/// Collects one response (status, Retry-After, body) and completes the promise at its end.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPPostResponse>
    private let maxBody: Int
    private var response: HTTPPostResponse?

    init(promise: EventLoopPromise<HTTPPostResponse>, maxBody: Int) {
        self.promise = promise
        self.maxBody = maxBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let retryAfter = head.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
            response = HTTPPostResponse(status: Int(head.status.code), body: [], retryAfter: retryAfter)
        case .body(let buffer):
            guard response != nil else { return }
            response?.body += buffer.readableBytesView
            if let size = response?.body.count, size > maxBody {
                promise.fail(HTTPPostError.bodyTooLarge(maxBody))
                context.close(promise: nil)
            }
        case .end:
            if let response {
                promise.succeed(response)
            } else {
                promise.fail(HTTPPostError.closedEarly)
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(HTTPPostError.closedEarly)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
