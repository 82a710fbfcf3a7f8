import ATSDemo
import ATSDomain
import ATSSearch
import ATSStore
import ATSWork
import Foundation
import Testing

/// Relevance on a fixed generated agency (seeded, 1,500 candidates) with a few planted people
/// whose profiles the queries aim at: names (with typos), skills with typos and synonyms,
/// boolean queries, skills plus location, and job matching. recall@10 (is the target in the
/// first ten) and nDCG@10 (how high) are printed and held above a floor.
@Suite("Search relevance", .serialized)
struct SearchRelevanceTests {
    struct Planted {
        let key: String
        let fields: JSONObject
    }

    static let planted: [Planted] = [
        Planted(key: "sre", fields: [
            "firstName": "Priyanka", "lastName": "Raghunathan", "currentTitle": "Site Reliability Engineer",
            "professionalHeadline": "SRE running k8s clusters on Terraform", "currentLocation": "Zürich, Switzerland",
            "technicalSkills": ["Kubernetes", "Terraform", "Observability"], "programmingLanguages": ["Go"],
            "summary": "Runs production Kubernetes platforms with Terraform and Prometheus.", "experienceYears": 9,
            "spokenLanguages": ["English", "German"], "status": "active",
        ]),
        Planted(key: "ml", fields: [
            "firstName": "Olusegun", "lastName": "Adebayo-Smith", "currentTitle": "Data Scientist",
            "professionalHeadline": "Machine learning with Python and PyTorch", "currentLocation": "London, United Kingdom",
            "technicalSkills": ["Machine Learning", "Deep Learning"], "programmingLanguages": ["Python"], "frameworks": ["PyTorch"],
            "summary": "Builds forecasting and NLP models in Python.", "experienceYears": 6, "status": "active",
        ]),
        Planted(key: "frontend", fields: [
            "firstName": "Maëlle", "lastName": "Fontaine", "currentTitle": "Frontend Engineer",
            "professionalHeadline": "JavaScript and React interfaces", "currentLocation": "Lyon, France",
            "programmingLanguages": ["JavaScript", "TypeScript"], "frameworks": ["React"],
            "summary": "Accessible React front ends for retail.", "experienceYears": 4, "spokenLanguages": ["French", "English"],
            "status": "active",
        ]),
        Planted(key: "java", fields: [
            "firstName": "Henrik", "lastName": "Vestergaard", "currentTitle": "Java Backend Engineer",
            "professionalHeadline": "Java, Spring Boot and Kafka", "currentLocation": "Copenhagen, Denmark",
            "programmingLanguages": ["Java"], "frameworks": ["Spring Boot"], "toolsAndPlatforms": ["Apache Kafka"],
            "summary": "Event-driven payment systems on Kafka.", "experienceYears": 11, "status": "active",
        ]),
        Planted(key: "ios", fields: [
            "firstName": "Ximena", "lastName": "Quispe", "currentTitle": "iOS Developer",
            "professionalHeadline": "Swift and SwiftUI apps", "currentLocation": "Madrid, Spain",
            "programmingLanguages": ["Swift"], "frameworks": ["SwiftUI"],
            "summary": "Ships banking apps in SwiftUI.", "experienceYears": 5, "status": "active",
        ]),
    ]

    /// Query, planted target, semantic weight.
    static let queries: [(String, String, Double)] = [
        ("Priyanka Raghunathan", "sre", 0.3),
        ("Priyanka Ragunathan", "sre", 0.3),
        ("Olusegun", "ml", 0),
        ("adebayo smith", "ml", 0.3),
        ("kubernets terraform zurich", "sre", 0.3),
        ("k8s terraform", "sre", 0.3),
        ("site reliability k8s", "sre", 0.5),
        ("pyhton pytorch \"machine learning\"", "ml", 0.3),
        ("javscript react lyon", "frontend", 0.3),
        ("Fontaine", "frontend", 0),
        ("java AND kafka -python copenhagen", "java", 0),
        ("(spring OR quarkus) kafka vestergard", "java", 0.3),
        ("swiftui madrid", "ios", 0.3),
        ("(swiftui OR \"jetpack compose\") madrid", "ios", 0),
        ("ios developer swift spain", "ios", 0.6),
    ]

    @Test func plantedProfilesComeFirst() async throws {
        let fixture = try await SearchFixture.make()
        defer { fixture.cleanup() }
        let reference = try ReferenceData.load(from: try #require(ReferenceData.locate()))
        var configuration = DemoConfiguration()
        configuration.candidates = 1_500
        configuration.seed = 11
        _ = try await DemoAgency.load(into: fixture.store, reference: reference, configuration: configuration)
        let organization = try #require(try await fixture.store.organization(slug: DemoAgency.slug))
        var ids: [String: String] = [:]
        for person in Self.planted {
            ids[person.key] = try await fixture.create(.candidate, organizationID: organization.id, person.fields).id
        }
        try await fixture.search.reindex { _, _ in }

        var recall = 0.0
        var ndcg = 0.0
        var lines: [String] = []
        for (text, key, semantic) in Self.queries {
            let results = try await fixture.search.search(
                HybridQuery(kind: .candidate, organizationID: organization.id, text: text, limit: 10, semantic: semantic))
            let rank = results.hits.firstIndex { $0.id == ids[key] }.map { $0 + 1 }
            if let rank {
                recall += 1
                ndcg += 1 / log2(Double(rank) + 1)
            }
            lines.append("  \(rank.map { "#\($0)" } ?? "miss")  \(text)  (semantic \(semantic))")
        }
        recall /= Double(Self.queries.count)
        ndcg /= Double(Self.queries.count)

        // Job matching: a job written for the SRE finds her.
        let client = try await fixture.create(.client, organizationID: organization.id, ["name": "Helvetia Cloud"])
        let job = try await fixture.create(
            .job, organizationID: organization.id,
            [
                "clientId": .string(client.id), "title": "Senior Site Reliability Engineer", "status": "active",
                "location": "Zürich, Switzerland", "requiredSkills": ["Kubernetes", "Terraform", "Go"],
                "requirements": "Kubernetes in production, Terraform, Go. English and German.",
            ])
        try await fixture.drainSearchJobs()
        let matches = try #require(try await fixture.search.matches(forJob: job.id, organizationID: organization.id, limit: 10))
        let matchRank = matches.firstIndex { $0.id == ids["sre"] }.map { $0 + 1 }
        let top = try #require(matches.first { $0.id == ids["sre"] })
        lines.append("  \(matchRank.map { "#\($0)" } ?? "miss")  matches for the SRE job (score \(top.score), met \(top.skillsMet), missing \(top.skillsMissing))")

        print("search relevance on \(configuration.candidates) generated candidates + \(Self.planted.count) planted:")
        print(lines.joined(separator: "\n"))
        print(String(format: "  recall@10 = %.3f, nDCG@10 = %.3f over %d queries", recall, ndcg, Self.queries.count))
        #expect(recall >= 0.9, "recall@10 \(recall)")
        #expect(ndcg >= 0.75, "nDCG@10 \(ndcg)")
        #expect(matchRank.map { $0 <= 3 } == true, "the SRE is among the first three matches")
        #expect(Set(top.skillsMet) == ["Kubernetes", "Terraform", "Go"])
        #expect(top.score >= 70)
    }
}
