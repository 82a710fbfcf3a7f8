import ATSVector
import Testing

@Suite struct HTTPEmbedderTests {
    private func embedder(_ server: LoopbackEmbeddingsServer, base: String? = nil, batchSize: Int = 64, retries: Int = 3)
        -> HTTPEmbedder
    {
        HTTPEmbedder(
            baseURL: base ?? server.baseURL, model: "test-embed", apiKey: "sk-test", dimensions: server.dimensions,
            batchSize: batchSize, timeout: .seconds(30), maxRetries: retries, backoff: .milliseconds(5))
    }

    @Test func batchesSendTheModelAndTheKeyAndKeepTheOrder() async throws {
        let server = try await LoopbackEmbeddingsServer(dimensions: 4)
        defer { Task { await server.stop() } }
        let texts = ["a", "bb", "ccc", "dddd", "eeeee"]
        let vectors = try await embedder(server, batchSize: 2).embed(texts)
        let requests = server.requests.withLock { $0 }
        #expect(requests.map(\.inputs) == [["a", "bb"], ["ccc", "dddd"], ["eeeee"]])
        #expect(requests.allSatisfy { $0.method == "POST" && $0.uri == "/v1/embeddings" })
        #expect(requests.allSatisfy { $0.headers["authorization"] == "Bearer sk-test" })
        #expect(requests.allSatisfy { $0.headers["content-type"] == "application/json" })
        #expect(requests.allSatisfy { $0.body["model"] as? String == "test-embed" })
        #expect(vectors.count == 5)
        for (text, vector) in zip(texts, vectors) {
            let expected = VectorMath.normalized([Float(text.count), 1, 2, 3])
            #expect(zip(vector, expected).allSatisfy { abs($0 - $1) < 1e-6 })
            #expect(abs(VectorMath.dot(vector, vector) - 1) < 1e-5)
        }
    }

    @Test func aBaseURLEndingInV1IsNotDoubled() async throws {
        let server = try await LoopbackEmbeddingsServer(dimensions: 3)
        defer { Task { await server.stop() } }
        _ = try await embedder(server, base: server.baseURL + "/v1/").embed(["x"])
        #expect(server.requests.withLock { $0.map(\.uri) } == ["/v1/embeddings"])
    }

    @Test func retriesAfter503And429ThenSucceeds() async throws {
        let server = try await LoopbackEmbeddingsServer(dimensions: 3, script: [.status(503), .status(429)])
        defer { Task { await server.stop() } }
        let vectors = try await embedder(server).embed(["hello"])
        #expect(vectors.count == 1)
        #expect(server.requests.withLock { $0.count } == 3)
    }

    @Test func givesUpAfterTheRetriesAsUnavailable() async throws {
        let server = try await LoopbackEmbeddingsServer(dimensions: 3, script: Array(repeating: .status(503), count: 5))
        defer { Task { await server.stop() } }
        let error = await #expect(throws: EmbedderError.self) { try await embedder(server, retries: 2).embed(["x"]) }
        #expect(error?.reason == .unavailable)
        #expect(error?.status == 503)
        #expect(server.requests.withLock { $0.count } == 3)
    }

    @Test func aClientErrorIsRejectedWithoutRetry() async throws {
        let server = try await LoopbackEmbeddingsServer(dimensions: 3, script: [.status(401, body: "{\"error\":\"bad key\"}")])
        defer { Task { await server.stop() } }
        let error = await #expect(throws: EmbedderError.self) { try await embedder(server).embed(["x"]) }
        #expect(error?.reason == .rejected)
        #expect(error?.status == 401)
        #expect(server.requests.withLock { $0.count } == 1)
    }

    @Test(arguments: [
        ("not json", EmbedderError.Reason.malformedResponse),
        ("{\"data\": 3}", .malformedResponse),
        ("{\"data\": []}", .malformedResponse),
        ("{\"data\": [{\"index\": 0, \"embedding\": [1, \"x\", 3]}]}", .malformedResponse),
        ("{\"data\": [{\"index\": 5, \"embedding\": [1, 2, 3]}]}", .malformedResponse),
        ("{\"data\": [{\"index\": 0, \"embedding\": [1, 2]}]}", .dimensionMismatch),
    ])
    func malformedAnswersAreErrors(body: String, reason: EmbedderError.Reason) async throws {
        let server = try await LoopbackEmbeddingsServer(dimensions: 3, script: [.raw(body)])
        defer { Task { await server.stop() } }
        let error = await #expect(throws: EmbedderError.self) { try await embedder(server).embed(["x"]) }
        #expect(error?.reason == reason)
        #expect(server.requests.withLock { $0.count } == 1)
    }

    @Test func unreachableServerAndBadURLs() async throws {
        // Port 1: nothing listens there, and no test server can be handed it (a port freed by
        // a stopped server could be reused by a concurrent test's server).
        let unreachable = HTTPEmbedder(
            baseURL: "http://127.0.0.1:1", model: "m", apiKey: nil, dimensions: 3, timeout: .seconds(2), maxRetries: 1,
            backoff: .milliseconds(5))
        let error = await #expect(throws: EmbedderError.self) { try await unreachable.embed(["x"]) }
        #expect(error?.reason == .unavailable)
        for url in ["https://api.openai.com", "ftp://x", "http://", "http://host:notaport"] {
            let bad = HTTPEmbedder(baseURL: url, model: "m", apiKey: nil, dimensions: 3)
            let failure = await #expect(throws: EmbedderError.self) { try await bad.embed(["x"]) }
            #expect(failure?.reason == .invalidConfiguration)
        }
        #expect(try await unreachable.embed([]).isEmpty)
    }

    @Test func identifierNamesTheServerTheModelAndTheDimensions() {
        let a = HTTPEmbedder(baseURL: "http://127.0.0.1:8080", model: "nomic-embed-text", apiKey: nil, dimensions: 768)
        let b = HTTPEmbedder(baseURL: "http://127.0.0.1:8080/v1", model: "nomic-embed-text", apiKey: "k", dimensions: 768)
        let c = HTTPEmbedder(baseURL: "http://127.0.0.1:8080", model: "other", apiKey: nil, dimensions: 768)
        #expect(a.identifier == b.identifier)
        #expect(a.identifier != c.identifier)
        #expect(a.dimensions == 768)
    }
}
