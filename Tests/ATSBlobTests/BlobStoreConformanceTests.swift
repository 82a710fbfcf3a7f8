@testable import ATSBlob
import Foundation
import Synchronization
import Testing

/// The contract of `BlobStore` (see its doc comment), run against every backend.
@Suite("BlobStore conformance")
struct BlobStoreConformanceTests {
    @Test("put then read returns the same bytes, addressed by SHA-256, with MD5 as ETag", arguments: BlobStoreFactory.all)
    func roundTrip(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let bytes = Array("hello world".utf8)
            let info = try await subject.store.put(bytes: bytes)
            #expect(info.id.hex == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
            #expect(info.md5Hex == "5eb63bbbe01eeed093cb22bb8f5acdc3")
            #expect(info.etag == "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"")
            #expect(info.size == 11)
            #expect(info.contentType == "text/plain; charset=utf-8")
            #expect(try await subject.store.readAll(info.id) == bytes)
            let again = try #require(try await subject.store.info(info.id))
            #expect(again.id == info.id && again.size == 11 && again.md5Hex == info.md5Hex)
            #expect(again.contentType == info.contentType)

            let big = randomBytes(1_000_003)
            let bigInfo = try await subject.store.put(ByteChunks(big, chunkSize: 10_007), limit: .max)
            #expect(bigInfo.id.hex == sha256Hex(big))
            #expect(bigInfo.md5Hex == md5Hex(big))
            #expect(bigInfo.contentType == "application/octet-stream")
            let reader = try await subject.store.read(bigInfo.id)
            #expect(reader.length == 1_000_003)
            var chunks = 0
            var collected = [UInt8]()
            for try await chunk in reader {
                #expect(chunk.count <= BlobReader.chunkSize)
                chunks += 1
                collected += chunk
            }
            #expect(collected == big)
            #expect(chunks == 4)
            #expect(Set(try await subject.store.list()) == [info.id, bigInfo.id])
        }
    }

    @Test("an empty blob is a blob", arguments: BlobStoreFactory.all)
    func empty(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let info = try await subject.store.put(bytes: [])
            #expect(info.id.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(info.size == 0)
            #expect(try await subject.store.readAll(info.id) == [])
            await expectBlobError(.invalidRange) { _ = try await subject.store.read(info.id, range: 0...0) }
        }
    }

    @Test("the same content is stored once and its grace period restarts", arguments: BlobStoreFactory.all)
    func dedup(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let bytes = randomBytes(300_000, seed: 3)
            let first = try await subject.store.put(bytes: bytes)
            try await Task.sleep(for: .milliseconds(30))
            let cutoff = Date()
            try await Task.sleep(for: .milliseconds(30))
            let second = try await subject.store.put(ByteChunks(bytes, chunkSize: 4096), limit: .max)
            #expect(first.id == second.id && first.md5Hex == second.md5Hex && first.size == second.size)
            #expect(second.modified > first.modified)
            #expect(try await subject.store.list() == [first.id])
            // Deduplicated after the cutoff: the GC must not take it.
            #expect(try await subject.store.delete(first.id, ifUnmodifiedSince: cutoff) == false)
            #expect(try await subject.store.readAll(first.id) == bytes)
            #expect(subject.leftovers().isEmpty)
        }
    }

    @Test("ranges are inclusive, clamped at the end, and refused past it", arguments: BlobStoreFactory.all)
    func ranges(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            for bytes in [randomBytes(700_000, seed: 5), sampleText(700_000)] {
                let info = try await subject.store.put(bytes: bytes)
                func read(_ range: ClosedRange<Int64>) async throws -> [UInt8] {
                    let reader = try await subject.store.read(info.id, range: range)
                    var out = [UInt8]()
                    for try await chunk in reader { out += chunk }
                    #expect(Int64(out.count) == reader.length)
                    return out
                }
                #expect(try await read(0...9) == Array(bytes[0...9]))
                #expect(try await read(200_000...500_000) == Array(bytes[200_000...500_000]))
                #expect(try await read(699_999...699_999) == [bytes[699_999]])
                #expect(try await read(600_000...10_000_000) == Array(bytes[600_000...]))
                let clamped = try await subject.store.read(info.id, range: 600_000...10_000_000)
                #expect(clamped.range == 600_000...699_999)
                await expectBlobError(.invalidRange) { _ = try await subject.store.read(info.id, range: 700_000...700_010) }
            }
        }
    }

    @Test("a body over the limit is refused and leaves nothing behind", arguments: BlobStoreFactory.all)
    func tooLarge(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let consumed = Atomic<Int>(0)
            do {
                _ = try await subject.store.put(
                    GeneratedBody(total: 10_000_000, chunkSize: 1000, onChunk: { _ in consumed.add(1, ordering: .relaxed) }),
                    limit: 100_500)
                Issue.record("expected tooLarge")
            } catch let error as BlobError {
                #expect(error.code == .tooLarge)
                #expect(error.limit == 100_500)
            }
            // It stopped reading as soon as the limit was passed.
            #expect(consumed.load(ordering: .relaxed) == 101)
            #expect(try await subject.store.list().isEmpty)
            #expect(subject.leftovers().isEmpty)
            // Exactly at the limit is fine.
            let exact = try await subject.store.put(bytes: randomBytes(100_500), limit: 100_500)
            #expect(exact.size == 100_500)
            // A body that fails midway stores nothing either.
            await #expect(throws: BodyFailure.self) {
                _ = try await subject.store.put(GeneratedBody(total: 1_000_000, failAfter: 300_000), limit: .max)
            }
            #expect(try await subject.store.list() == [exact.id])
            #expect(subject.leftovers().isEmpty)
        }
    }

    @Test("20 MB stream in and out without the memory growing", arguments: BlobStoreFactory.all)
    func streaming(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            // RSS is process-wide and other suites run alongside: a real leak of the body fails
            // every attempt, a neighbour's transient allocation only one.
            var growths: [Int] = []
            for attempt in 0..<3 {
                let growth = try await streamedGrowth(subject.store, seed: UInt64(11 + attempt))
                growths.append(growth)
                if growth < 16 << 20 { break }
            }
            #expect(growths.min()! < 16 << 20, "resident memory grew by \(growths.map { $0 >> 20 }) MB")
        }
    }

    /// Puts 20 MB generated on the fly, reads it back, and returns the peak RSS growth.
    func streamedGrowth(_ store: any BlobStore, seed: UInt64) async throws -> Int {
        let total = 20 << 20
        let baseline = residentBytes()
        let peak = Atomic<Int>(baseline)
        let body = GeneratedBody(total: total, chunkSize: 64 * 1024, seed: seed) { _ in
            let now = residentBytes()
            if now > peak.load(ordering: .relaxed) { peak.store(now, ordering: .relaxed) }
        }
        let info = try await store.put(body, limit: .max)
        #expect(info.size == Int64(total))
        // The same bytes, hashed independently while streaming back.
        let digest = Digest(.sha256)
        var expected = ByteGenerator(seed: seed)
        let reference = Digest(.sha256)
        var remaining = total
        while remaining > 0 {
            let count = min(64 * 1024, remaining)
            reference.update(expected.bytes(count))
            remaining -= count
        }
        for try await chunk in try await store.read(info.id) {
            digest.update(chunk)
            let now = residentBytes()
            if now > peak.load(ordering: .relaxed) { peak.store(now, ordering: .relaxed) }
        }
        #expect(Hex.encode(digest.finish()) == info.id.hex)
        #expect(Hex.encode(reference.finish()) == info.id.hex)
        return peak.load(ordering: .relaxed) - baseline
    }

    @Test("a corrupted blob is reported and never served", arguments: BlobStoreFactory.all)
    func corruption(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            for bytes in [randomBytes(600_000, seed: 9), sampleText(200_000)] {
                let info = try await subject.store.put(bytes: bytes)
                #expect(try await subject.store.readAll(info.id) == bytes)
                try await Task.sleep(for: .milliseconds(40))
                #expect(try await subject.store.readAll(info.id) == bytes)  // served from the verified cache
                try subject.corrupt(info.id)
                await expectBlobError(.corrupted) { _ = try await subject.store.read(info.id, range: nil) }
                await expectBlobError(.corrupted) { _ = try await subject.store.read(info.id, range: 0...0) }
                #expect(try await subject.store.verify(info.id) == false)
                // A fresh upload of the right content repairs it.
                _ = try await subject.store.put(bytes: bytes)
                #expect(try await subject.store.readAll(info.id) == bytes)
                #expect(try await subject.store.verify(info.id))
            }
        }
    }

    @Test("text is compressed at rest; PDF, random bytes and tiny text are not", arguments: BlobStoreFactory.all)
    func compression(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let text = sampleText(300_000)
            let textInfo = try await subject.store.put(bytes: text)
            #expect(textInfo.compressed == subject.compresses)
            if subject.compresses { #expect(textInfo.storedSize * 5 < textInfo.size) }
            #expect(textInfo.size == 300_000)
            #expect(try await subject.store.readAll(textInfo.id) == text)
            #expect(try await subject.store.info(textInfo.id)?.compressed == subject.compresses)

            let pdf = Array("%PDF-1.4\n".utf8) + sampleText(100_000)
            let pdfInfo = try await subject.store.put(bytes: pdf)
            #expect(pdfInfo.contentType == "application/pdf")
            #expect(pdfInfo.compressed == false)
            #expect(pdfInfo.storedSize == pdfInfo.size)

            let random = randomBytes(200_000, seed: 77)
            #expect(try await subject.store.put(bytes: random).compressed == false)

            // Compressible type, but zstd's frame would not save 10%: kept raw.
            let tiny = Array("hello".utf8)
            let tinyInfo = try await subject.store.put(bytes: tiny)
            #expect(tinyInfo.compressed == false)
            #expect(try await subject.store.readAll(tinyInfo.id) == tiny)
        }
    }

    @Test("delete(ifUnmodifiedSince:) deletes only untouched blobs", arguments: BlobStoreFactory.all)
    func conditionalDelete(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let before = Date().addingTimeInterval(-60)
            let info = try await subject.store.put(bytes: randomBytes(1000))
            #expect(try await subject.store.delete(info.id, ifUnmodifiedSince: before) == false)
            try await Task.sleep(for: .milliseconds(30))
            #expect(try await subject.store.delete(info.id, ifUnmodifiedSince: Date()) == true)
            #expect(try await subject.store.info(info.id) == nil)
            #expect(try await subject.store.delete(info.id, ifUnmodifiedSince: Date()) == false)
            await expectBlobError(.notFound) { _ = try await subject.store.read(info.id, range: nil) }
        }
    }

    @Test("a put racing the GC's delete always leaves its blob readable", arguments: BlobStoreFactory.all)
    func deleteRacingPut(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let store = subject.store
            for round in 0..<20 {
                let bytes = randomBytes(50_000 + round, seed: UInt64(round + 100))
                let id = try await store.put(bytes: bytes).id
                try await Task.sleep(for: .milliseconds(15))
                let cutoff = Date()
                try await Task.sleep(for: .milliseconds(15))
                async let deleted = store.delete(id, ifUnmodifiedSince: cutoff)
                async let put = store.put(ByteChunks(bytes, chunkSize: 8192), limit: .max)
                let (wasDeleted, info) = try await (deleted, put)
                #expect(info.id == id)
                // Whichever went first, the upload that returned is readable.
                #expect(try await store.readAll(id) == bytes, "round \(round), deleted: \(wasDeleted)")
            }
            #expect(subject.leftovers().isEmpty)
        }
    }

    @Test("ids are 64 lowercase hex digits, nothing else", arguments: BlobStoreFactory.all)
    func invalidIDs(_ factory: BlobStoreFactory) async throws {
        for bad in [
            "", "../../etc/passwd", String(repeating: "a", count: 63), String(repeating: "a", count: 65),
            String(repeating: "A", count: 64), String(repeating: "g", count: 64), "%2e%2e" + String(repeating: "a", count: 58),
            String(repeating: "a", count: 63) + "\0", "/" + String(repeating: "a", count: 63),
            String(repeating: "a", count: 62) + "/.",
        ] {
            #expect(BlobID(hex: bad) == nil, "\(bad.debugDescription)")
        }
        try await withStore(factory) { subject in
            let absent = try #require(BlobID(hex: String(repeating: "0", count: 64)))
            #expect(try await subject.store.info(absent) == nil)
            await expectBlobError(.notFound) { _ = try await subject.store.read(absent, range: nil) }
            await expectBlobError(.notFound) { _ = try await subject.store.verify(absent) }
            try await subject.store.delete(absent)
            #expect(try await subject.store.delete(absent, ifUnmodifiedSince: Date()) == false)
        }
    }

    @Test("concurrent puts of the same content store it once", arguments: BlobStoreFactory.all)
    func concurrentSamePut(_ factory: BlobStoreFactory) async throws {
        try await withStore(factory) { subject in
            let bytes = sampleText(400_000)
            let ids = try await withThrowingTaskGroup(of: BlobID.self) { group in
                for index in 0..<8 {
                    group.addTask { try await subject.store.put(ByteChunks(bytes, chunkSize: 1000 + index * 333), limit: .max).id }
                }
                return try await group.reduce(into: Set<BlobID>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(try await subject.store.list() == Array(ids))
            #expect(try await subject.store.readAll(ids.first!) == bytes)
            #expect(subject.leftovers().isEmpty)
        }
    }
}
