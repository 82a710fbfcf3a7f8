import ATSVector
import Foundation
import Testing

@Suite struct HashingEmbedderTests {
    static let synonyms = [
        "k8s": "kubernetes", "kube": "kubernetes", "js": "javascript", "ecmascript": "javascript",
        "ml": "machine learning", "aws": "amazon web services", "golang": "go",
    ]

    private func cosine(_ embedder: HashingEmbedder, _ a: String, _ b: String) async throws -> Float {
        let vectors = try await embedder.embed([a, b])
        return VectorMath.dot(vectors[0], vectors[1])
    }

    @Test func vectorsAreNormalizedDeterministicAndSized() async throws {
        let embedder = HashingEmbedder(dimensions: 128)
        let texts = ["Senior Python developer in Zurich", "Pastry chef", "C++ and C# on .NET, node.js", "a"]
        let first = try await embedder.embed(texts)
        let again = try await HashingEmbedder(dimensions: 128).embed(texts)
        #expect(first == again)
        #expect(first.allSatisfy { $0.count == 128 && abs(VectorMath.dot($0, $0) - 1) < 1e-4 })
        #expect(embedder.dimensions == 128)
        #expect(HashingEmbedder().dimensions == 384)
        // Nothing to hash: the zero vector, cosine 0 with everything.
        let empty = try await embedder.embed(["", "  ,;  "])
        #expect(empty.allSatisfy { $0.allSatisfy { $0 == 0 } })
    }

    @Test func synonymsLandOnTheirCanonicalName() async throws {
        let embedder = HashingEmbedder(synonyms: Self.synonyms)
        #expect(embedder.tokens("K8s and JS, ML on AWS") == ["kubernetes", "and", "javascript", "machine", "learning", "on", "amazon", "web", "services"])
        #expect(try await cosine(embedder, "Senior k8s engineer", "Senior Kubernetes engineer") > 0.99)
        #expect(try await cosine(embedder, "JS developer", "JavaScript developer") > 0.99)
        #expect(try await cosine(embedder, "ML researcher", "machine learning researcher") > 0.99)
        // Without the table the short forms share little with the long ones.
        let plain = HashingEmbedder()
        #expect(try await cosine(plain, "k8s", "Kubernetes") < 0.3)
    }

    @Test func relatedTextsAreCloseAndUnrelatedOnesFar() async throws {
        let embedder = HashingEmbedder(synonyms: Self.synonyms)
        let related = try await cosine(
            embedder, "Backend engineer: Kubernetes, Docker, Go microservices",
            "DevOps engineer with k8s, docker and golang")
        let unrelated = try await cosine(
            embedder, "Backend engineer: Kubernetes, Docker, Go microservices",
            "Pastry chef baking sourdough bread and croissants")
        #expect(related > 0.45)
        #expect(unrelated < 0.15)
        #expect(related > unrelated + 0.3)
        // Character trigrams make typos close.
        #expect(try await cosine(embedder, "kubernets", "kubernetes") > 0.25)
        #expect(try await cosine(embedder, "kubernets", "pastry") < 0.2)
    }

    @Test func identifierCarriesDimensionsAndSynonyms() {
        #expect(HashingEmbedder().identifier == HashingEmbedder().identifier)
        #expect(HashingEmbedder(dimensions: 256).identifier != HashingEmbedder().identifier)
        #expect(HashingEmbedder(synonyms: Self.synonyms).identifier != HashingEmbedder().identifier)
        #expect(HashingEmbedder().identifier.hasPrefix("hashing-v1-d384"))
    }

    @Test func observedFrequenciesDownweightCommonWords() async throws {
        let embedder = HashingEmbedder()
        let query = "engineer rust"
        let before = try await cosine(embedder, query, "engineer java")
        embedder.observe((0..<200).map { "engineer number \($0) " + ($0 % 50 == 0 ? "rust" : "java") })
        #expect(embedder.observedDocuments == 200)
        let after = try await cosine(embedder, query, "engineer java")
        // "engineer" is everywhere now, so it counts for less than the rare "rust".
        #expect(after < before)
        #expect(try await cosine(embedder, query, "rust developer") > after)
    }

    @Test func theSkillsTaxonomyLoads() async throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Data/reference/skills.json")
        guard let data = try? Data(contentsOf: url) else { return }  // the reference data is optional here
        let table = try HashingEmbedder.synonyms(fromTaxonomyJSON: data)
        #expect(table["k8s"] == "kubernetes")
        #expect(table["js"] == "javascript")
        let embedder = HashingEmbedder(synonyms: table)
        #expect(try await cosine(embedder, "k8s", "Kubernetes") > 0.99)
        #expect(try await cosine(embedder, "JS", "JavaScript") > 0.99)
    }
}
