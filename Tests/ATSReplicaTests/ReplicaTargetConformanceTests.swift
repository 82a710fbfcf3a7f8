import Foundation
import Testing

@testable import ATSReplica

/// Makes a fresh, empty target of each kind; a later S3 target adds itself here.
struct ReplicaTargetFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () throws -> (any ReplicaTarget, TemporaryFolder)

    var testDescription: String { name }

    static let all: [ReplicaTargetFactory] = [
        ReplicaTargetFactory(name: "FileReplicaTarget") {
            let folder = TemporaryFolder("target")
            return (FileReplicaTarget(root: folder.path + "/replica"), folder)
        }
    ]
}

@Suite("ReplicaTarget conformance")
struct ReplicaTargetConformanceTests {
    @Test("put, get, ranged get, list, delete", arguments: ReplicaTargetFactory.all)
    func roundTrip(factory: ReplicaTargetFactory) async throws {
        let (target, folder) = try factory.make()
        _ = folder
        let bytes = (0..<10_000).map { UInt8($0 % 251) }
        try await target.put("generations/g1/wal/a.segment.zst", bytes: bytes)
        try await target.put("generations/g1/snapshots/b.snapshot.zst", bytes: [1, 2, 3])
        try await target.put("blobs/ab/cd/abcd", bytes: [])
        #expect(try await target.get("generations/g1/wal/a.segment.zst") == bytes)
        #expect(try await target.get("blobs/ab/cd/abcd") == [])
        #expect(try await target.get("generations/g1/wal/a.segment.zst", range: 10..<20) == Array(bytes[10..<20]))
        #expect(
            try await target.get("generations/g1/wal/a.segment.zst", range: 9_990..<20_000) == Array(bytes[9_990...]))
        #expect(try await target.get("generations/g1/wal/a.segment.zst", range: 20_000..<20_010) == [])

        let all = try await target.list(prefix: "")
        #expect(
            all.map(\.key) == [
                "blobs/ab/cd/abcd", "generations/g1/snapshots/b.snapshot.zst", "generations/g1/wal/a.segment.zst",
            ])
        #expect(all.first { $0.key.hasSuffix("a.segment.zst") }?.size == 10_000)
        #expect(try await target.list(prefix: "generations/").count == 2)
        #expect(try await target.list(prefix: "generations/g1/wal/").map(\.key) == ["generations/g1/wal/a.segment.zst"])
        #expect(try await target.list(prefix: "generations/g").count == 2)
        #expect(try await target.list(prefix: "generations/g2").isEmpty)
        #expect(try await target.list(prefix: "nothing/").isEmpty)

        try await target.delete("generations/g1/wal/a.segment.zst")
        try await target.delete("generations/g1/wal/a.segment.zst")  // absent: fine
        #expect(try await target.list(prefix: "generations/").map(\.key) == ["generations/g1/snapshots/b.snapshot.zst"])
    }

    @Test("a put of an existing key replaces it whole (idempotent)", arguments: ReplicaTargetFactory.all)
    func idempotentPut(factory: ReplicaTargetFactory) async throws {
        let (target, folder) = try factory.make()
        _ = folder
        try await target.put("k/one", bytes: [1, 2, 3])
        try await target.put("k/one", bytes: [1, 2, 3])
        #expect(try await target.get("k/one") == [1, 2, 3])
        #expect(try await target.list(prefix: "k/").count == 1)
    }

    @Test("files stream in and out", arguments: ReplicaTargetFactory.all)
    func files(factory: ReplicaTargetFactory) async throws {
        let (target, folder) = try factory.make()
        let source = folder.path + "/source"
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        try await target.put("big/object", contentsOf: source)
        let destination = folder.path + "/out/copy"
        try await target.get("big/object", toFile: destination)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: destination))) == bytes)
    }

    @Test("absent keys answer notFound", arguments: ReplicaTargetFactory.all)
    func notFound(factory: ReplicaTargetFactory) async throws {
        let (target, folder) = try factory.make()
        await #expect { try await target.get("no/such") } throws: { ($0 as? ReplicaError)?.code == .notFound }
        await #expect { try await target.get("no/such", range: 0..<10) } throws: {
            ($0 as? ReplicaError)?.code == .notFound
        }
        await #expect { try await target.get("no/such", toFile: folder.path + "/x") } throws: {
            ($0 as? ReplicaError)?.code == .notFound
        }
        #expect(try await target.list(prefix: "").isEmpty)
    }

    @Test("keys that could escape or hide are refused", arguments: ReplicaTargetFactory.all)
    func invalidKeys(factory: ReplicaTargetFactory) async throws {
        let (target, folder) = try factory.make()
        _ = folder
        for key in [
            "", "/abs", "a/../b", "..", "a//b", "a/./b", ".hidden", "a/.tmp", "a b", "a/b/", "é", "a\\b", "a\0b",
        ] {
            await #expect("key \(key.debugDescription)") { try await target.put(key, bytes: [1]) } throws: {
                ($0 as? ReplicaError)?.code == .invalid
            }
        }
        await #expect { try await target.list(prefix: "../") } throws: { ($0 as? ReplicaError)?.code == .invalid }
    }

    @Test("an unwritable target answers unavailable and works again once fixed", arguments: ReplicaTargetFactory.all)
    func unavailable(factory: ReplicaTargetFactory) async throws {
        let (target, folder) = try factory.make()
        _ = folder
        guard let fileTarget = target as? FileReplicaTarget else { return }
        let outage = Outage(root: fileTarget.root)
        try outage.begin()
        await #expect { try await target.put("generations/x/y", bytes: [1]) } throws: {
            ($0 as? ReplicaError)?.code == .unavailable
        }
        try outage.end()
        try await target.put("generations/x/y", bytes: [1])
        #expect(try await target.get("generations/x/y") == [1])
    }
}
