import ATSDomain
import ATSStore
import Foundation
import Testing

/// Rough throughput figures, printed for the record. Sizes are small by default so `make test`
/// stays quick; `ATS_STORE_BENCH=1` runs the full sizes (100,000 imported candidates).
@Suite("Store throughput")
struct StoreThroughputTests {
    static let full = ProcessInfo.processInfo.environment["ATS_STORE_BENCH"] == "1"

    @Test(arguments: StoreFactory.all)
    func createsAndImports(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let creates = Self.full ? 20_000 : 2_000
            let fields = try EntitySchema.of(.candidate).validateCreate([
                "firstName": .string("Ada"), "lastName": .string("Lovelace"), "currentTitle": .string("Engineer"),
                "technicalSkills": .array([.string("Swift"), .string("SQL")]), "tags": .array([.string("bench")]),
            ])
            let start = ContinuousClock.now
            for _ in 0..<creates {
                _ = try await store.create(
                    .candidate, organizationID: acme.org, fields: fields, actor: acme.actor, options: WriteOptions())
            }
            let createSeconds = start.duration(to: .now).seconds
            print("[store] \(factory.name): \(creates) sequential creates in \(String(format: "%.2f", createSeconds)) s = \(Int(Double(creates) / createSeconds))/s")

            let concurrent = creates
            let concurrentStart = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for _ in stride(from: worker, to: concurrent, by: 16) {
                            _ = try await store.create(
                                .candidate, organizationID: acme.org, fields: fields, actor: acme.actor,
                                options: WriteOptions())
                        }
                    }
                }
                try await group.waitForAll()
            }
            let concurrentSeconds = concurrentStart.duration(to: .now).seconds
            print("[store] \(factory.name): \(concurrent) creates from 16 tasks = \(Int(Double(concurrent) / concurrentSeconds))/s")

            let reads = 5_000
            let readStart = ContinuousClock.now
            let sample = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(page: PageRequest(limit: 1)))
            let id = try #require(sample.items.first?.id)
            for _ in 0..<reads { _ = try await store.document(.candidate, organizationID: acme.org, id: id) }
            let readSeconds = readStart.duration(to: .now).seconds
            print("[store] \(factory.name): \(reads) document reads = \(Int(Double(reads) / readSeconds))/s")

            let imports = Self.full ? 100_000 : 10_000
            let at = Timestamp.format(Date())
            let records = (0..<imports).map { index in
                var doc = fields
                doc["email"] = .string("c\(index)@example.com")
                return Record(kind: .candidate, id: Identifier.make(), createdAt: at, updatedAt: at, fields: doc)
            }
            let importStart = ContinuousClock.now
            try await store.importRecords(organizationID: acme.org, records: records, stageEvents: [])
            let importSeconds = importStart.duration(to: .now).seconds
            print("[store] \(factory.name): imported \(imports) candidates in \(String(format: "%.2f", importSeconds)) s")
            let tagged = try await store.list(
                .candidate, organizationID: acme.org, query: ListQuery(tag: "bench", page: PageRequest(limit: 200)))
            #expect(tagged.items.count == 200 && tagged.nextCursor != nil)
        }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
