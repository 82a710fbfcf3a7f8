import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// OpenAI-compatible: POST {baseURL}/v1/embeddings {"model":..., "input":[...]} with
/// `Authorization: Bearer key`, batches of `batchSize`, timeouts, retries on 429/5xx with
/// backoff; answers' vectors normalized; errors typed (EmbedderError with a reason).
///
/// Plain `http://` only (the package graph has no TLS for NIO): point it at a local model
/// server (Ollama, llama.cpp, vLLM, text-embeddings-inference) or a TLS-terminating proxy.
/// One connection per batch, batches in order; the embeddings queue bounds the concurrency.
/// A base URL that already ends in `/v1` is not doubled.
public struct HTTPEmbedder: Embedder {
    public let identifier: String
    public let dimensions: Int
    public let model: String
    public let batchSize: Int
    public let timeout: Duration
    /// Retries after the first attempt, on 429, 500, 502, 503, 504 and transport errors.
    public let maxRetries: Int
    /// The first retry waits this long (or the server's Retry-After, up to 30 s), each later
    /// one twice as long, with jitter.
    public let backoff: Duration
    let endpoint: Result<Endpoint, EmbedderError>
    private let apiKey: String?
    private let group: any EventLoopGroup

    public init(
        baseURL: String, model: String, apiKey: String?, dimensions: Int, batchSize: Int = 64,
        timeout: Duration = .seconds(30), maxRetries: Int = 4, backoff: Duration = .milliseconds(500)
    ) {
        self.model = model
        self.apiKey = apiKey
        self.dimensions = dimensions
        self.batchSize = max(1, batchSize)
        self.timeout = timeout
        self.maxRetries = max(0, maxRetries)
        self.backoff = backoff
        self.group = MultiThreadedEventLoopGroup.singleton
        let parsed = Endpoint.parse(baseURL)
        endpoint = parsed
        let place = (try? parsed.get()).map { "\($0.host):\($0.port)\($0.path)" } ?? baseURL
        identifier = "http-v1:\(place)#\(model)@\(dimensions)"
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        guard dimensions > 0 else { throw EmbedderError(.invalidConfiguration, "dimensions must be positive") }
        let endpoint = try self.endpoint.get()
        guard !texts.isEmpty else { return [] }
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let batch = Array(texts[start..<min(start + batchSize, texts.count)])
            vectors += try await embedBatch(batch, endpoint: endpoint)
            start += batch.count
        }
        return vectors
    }

    // MARK: One batch

    private func embedBatch(_ batch: [String], endpoint: Endpoint) async throws -> [[Float]] {
        let body = try JSONSerialization.data(withJSONObject: ["model": model, "input": batch])
        var attempt = 0
        while true {
            var wait: Duration?
            var failure: EmbedderError
            do {
                let response = try await exchange(Array(body), endpoint: endpoint)
                switch response.status {
                case 200..<300:
                    return try decode(response.body, expected: batch.count)
                case 429, 500, 502, 503, 504:
                    failure = EmbedderError(.unavailable, "the embeddings server answered \(response.status)", status: response.status)
                    wait = response.retryAfter
                default:
                    throw EmbedderError(.rejected, Self.excerpt(response.body), status: response.status)
                }
            } catch let error as EmbedderError where error.reason != .unavailable {
                throw error
            } catch let error as EmbedderError {
                failure = error
            } catch {
                failure = EmbedderError(.unavailable, "cannot reach the embeddings server: \(error)")
            }
            guard attempt < maxRetries else { throw failure }
            attempt += 1
            let factor = Double(1 << min(attempt - 1, 16)) * Double.random(in: 0.8...1.2)
            let delay = min(max(backoff * factor, wait ?? .zero), .seconds(30))
            try await Task.sleep(for: delay)
        }
    }

    /// Reads `{"data": [{"embedding": [...], "index": i}, ...]}` in `index` order, normalized.
    func decode(_ body: [UInt8], expected: Int) throws -> [[Float]] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let data = object["data"] as? [Any]
        else { throw EmbedderError(.malformedResponse, "the answer has no \"data\" array") }
        guard data.count == expected else {
            throw EmbedderError(.malformedResponse, "\(data.count) embeddings for \(expected) inputs")
        }
        var vectors = [[Float]?](repeating: nil, count: expected)
        for (position, item) in data.enumerated() {
            guard let entry = item as? [String: Any], let values = entry["embedding"] as? [Any] else {
                throw EmbedderError(.malformedResponse, "an item has no \"embedding\" array")
            }
            let index = (entry["index"] as? NSNumber)?.intValue ?? position
            guard (0..<expected).contains(index), vectors[index] == nil else {
                throw EmbedderError(.malformedResponse, "embedding index \(index) out of range or repeated")
            }
            var vector: [Float] = []
            vector.reserveCapacity(values.count)
            for value in values {
                guard let number = value as? NSNumber else {
                    throw EmbedderError(.malformedResponse, "an embedding holds a non-number")
                }
                let float = Float(number.doubleValue)
                guard float.isFinite else { throw EmbedderError(.malformedResponse, "an embedding holds a non-finite number") }
                vector.append(float)
            }
            guard vector.count == dimensions else {
                throw EmbedderError(
                    .dimensionMismatch, "the server returned \(vector.count) dimensions, \(dimensions) are configured")
            }
            vectors[index] = VectorMath.normalized(vector)
        }
        return vectors.compactMap { $0 }
    }

    private static func excerpt(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return text.isEmpty ? "the embeddings server refused the request" : "the embeddings server refused the request: \(text)"
    }

    // MARK: HTTP/1.1 on NIO

    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
        var retryAfter: Duration?
    }

    private func exchange(_ body: [UInt8], endpoint: Endpoint) async throws -> Response {
        let loop = group.next()
        let limit = TimeAmount.nanoseconds(
            Int64(timeout.components.seconds) * 1_000_000_000 + Int64(timeout.components.attoseconds / 1_000_000_000))
        let promise = loop.makePromise(of: Response.self)
        let deadline = loop.scheduleTask(in: limit) { promise.fail(EmbedderError(.unavailable, "timed out")) }
        defer { deadline.cancel() }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(limit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
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
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "User-Agent", value: "ats-embedder")
        if let apiKey, !apiKey.isEmpty { headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }

    /// A parsed `http://host[:port][/base]`, with the embeddings path appended.
    struct Endpoint: Sendable, Equatable {
        var host: String
        var port: Int
        var path: String

        static func parse(_ url: String) -> Result<Endpoint, EmbedderError> {
            if url.lowercased().hasPrefix("https://") {
                return .failure(EmbedderError(
                    .invalidConfiguration, "https base URLs are not supported; use http:// (a local server or a TLS proxy)"))
            }
            guard url.lowercased().hasPrefix("http://") else {
                return .failure(EmbedderError(.invalidConfiguration, "the base URL must start with http://"))
            }
            var rest = Substring(url.dropFirst("http://".count))
            var base = ""
            if let slash = rest.firstIndex(of: "/") {
                base = String(rest[slash...])
                rest = rest[..<slash]
            }
            while base.hasSuffix("/") { base.removeLast() }
            if base.hasSuffix("/v1") { base.removeLast(3) }
            var host = String(rest)
            var port = 80
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { return .failure(invalid(url)) }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let parsed = Int(after.dropFirst()) else { return .failure(invalid(url)) }
                    port = parsed
                } else if !after.isEmpty {
                    return .failure(invalid(url))
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let parsed = Int(host[host.index(after: colon)...]) else { return .failure(invalid(url)) }
                port = parsed
                host = String(host[..<colon])
            }
            guard !host.isEmpty, (1...65535).contains(port) else { return .failure(invalid(url)) }
            return .success(Endpoint(host: host, port: port, path: base + "/v1/embeddings"))
        }

        private static func invalid(_ url: String) -> EmbedderError {
            EmbedderError(.invalidConfiguration, "cannot parse the base URL \(url)")
        }
    }
}

/// Collects one response (status, Retry-After, body) and completes the promise at its end.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPEmbedder.Response>
    private var response: HTTPEmbedder.Response?
    /// Bodies above this are refused (an embeddings answer of 64 x 4096 floats is ~6 MB).
    private let maxBody = 64 << 20

    init(promise: EventLoopPromise<HTTPEmbedder.Response>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let retryAfter = head.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
            response = HTTPEmbedder.Response(status: Int(head.status.code), body: [], retryAfter: retryAfter)
        case .body(let buffer):
            guard response != nil else { return }
            response?.body += buffer.readableBytesView
            if let size = response?.body.count, size > maxBody {
                promise.fail(EmbedderError(.malformedResponse, "the answer exceeds \(maxBody) bytes"))
                context.close(promise: nil)
            }
        case .end:
            if let response {
                promise.succeed(response)
            } else {
                promise.fail(EmbedderError(.malformedResponse, "the connection ended before a response"))
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(EmbedderError(.unavailable, "the connection closed before the answer ended"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
