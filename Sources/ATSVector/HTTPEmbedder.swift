import ATSHTTPClient
import Foundation
import NIOCore
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

    // MARK: HTTP/1.1

    private func exchange(_ body: [UInt8], endpoint: Endpoint) async throws -> HTTPPostResponse {
        let limit = TimeAmount.nanoseconds(
            Int64(timeout.components.seconds) * 1_000_000_000 + Int64(timeout.components.attoseconds / 1_000_000_000))
        var headers = [("Accept", "application/json"), ("User-Agent", "ats-embedder")]
        if let apiKey, !apiKey.isEmpty { headers.append(("Authorization", "Bearer \(apiKey)")) }
        do {
            return try await HTTPPost.send(
                body, to: HTTPEndpoint(host: endpoint.host, port: endpoint.port, basePath: ""), path: endpoint.path,
                headers: headers, timeout: limit, group: group)
        } catch let error as HTTPPostError {
            switch error {
            case .timeout: throw EmbedderError(.unavailable, "timed out")
            case .closedEarly: throw EmbedderError(.unavailable, "the connection closed before the answer ended")
            case .bodyTooLarge(let limit): throw EmbedderError(.malformedResponse, "the answer exceeds \(limit) bytes")
            }
        }
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
            guard let parsed = HTTPEndpoint(url: url) else {
                return .failure(EmbedderError(.invalidConfiguration, "cannot parse the base URL \(url)"))
            }
            var base = parsed.basePath
            if base.hasSuffix("/v1") { base.removeLast(3) }
            return .success(Endpoint(host: parsed.host, port: parsed.port, path: base + "/v1/embeddings"))
        }
    }
}
