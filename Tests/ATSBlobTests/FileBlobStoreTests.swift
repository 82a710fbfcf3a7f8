@testable import ATSBlob
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What only the file store promises: its on-disk layout (the replica copies it), the
/// journal, the sidecar, the verification cache and the cross-process lock.
@Suite("FileBlobStore")
struct FileBlobStoreTests {
    func makeStore(minimumAge: TimeInterval = 0.02) throws -> (FileBlobStore, String) {
        let root = try temporaryDirectory("fileblobs")
        return (try FileBlobStore(configuration: .init(root: root, verifiedCacheMinimumAge: minimumAge)), root)
    }

    @Test("blobs live at root/ab/cd/<hex> or <hex>.zst (never both), with a JSON sidecar and a journal line")
    func layout() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let raw = try await store.put(bytes: randomBytes(5000))
        let text = try await store.put(bytes: sampleText(50_000))
        let files = FileManager.default
        let rawPath = "\(root)/\(raw.id.hex.prefix(2))/\(raw.id.hex.dropFirst(2).prefix(2))/\(raw.id.hex)"
        let textPath = "\(root)/\(text.id.hex.prefix(2))/\(text.id.hex.dropFirst(2).prefix(2))/\(text.id.hex)"
        #expect(files.fileExists(atPath: rawPath))
        #expect(!files.fileExists(atPath: rawPath + ".zst"))
        #expect(files.fileExists(atPath: textPath + ".zst"))
        #expect(!files.fileExists(atPath: textPath))
        #expect(store.storedPath(text.id) == textPath + ".zst")
        let frame = try Data(contentsOf: URL(fileURLWithPath: textPath + ".zst"))
        #expect(Array(frame.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        #expect(frame[4] & 0x04 != 0, "the frame carries a content checksum")
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: textPath + ".meta"))) as? [String: Any]
        #expect(meta?["md5"] as? String == text.md5Hex)
        #expect(meta?["size"] as? Int == 50_000)
        #expect(meta?["contentType"] as? String == "text/plain; charset=utf-8")
        let journal = try String(contentsOfFile: root + "/journal", encoding: .utf8)
        #expect(journal == raw.id.hex + "\n" + text.id.hex + "\n")
        // A deduplicated put adds no journal line.
        _ = try await store.put(bytes: sampleText(50_000))
        #expect(try String(contentsOfFile: root + "/journal", encoding: .utf8) == journal)
        #expect(try files.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
    }

    @Test("a hot file is hashed once; a changed one again")
    func verificationCache() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bytes = randomBytes(2_000_000, seed: 12)
        let info = try await store.put(bytes: bytes)
        try await Task.sleep(for: .milliseconds(40))
        let before = store.scans.load(ordering: .relaxed)
        for _ in 0..<5 { #expect(try await store.readAll(info.id) == bytes) }
        #expect(store.scans.load(ordering: .relaxed) - before == 1)
        // Touching the file (as a dedup does) changes its ctime: hashed again once.
        try POSIX.touch(store.storedPath(info.id)!)
        try await Task.sleep(for: .milliseconds(40))
        for _ in 0..<3 { _ = try await store.read(info.id, range: 0...10) }
        #expect(store.scans.load(ordering: .relaxed) - before == 2)
        // verify() always re-hashes.
        #expect(try await store.verify(info.id))
        #expect(store.scans.load(ordering: .relaxed) - before == 3)
    }

    @Test("a just-written file is not trusted from the cache")
    func racyFiles() async throws {
        let (store, root) = try makeStore(minimumAge: 3600)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let info = try await store.put(bytes: randomBytes(10_000))
        let before = store.scans.load(ordering: .relaxed)
        for _ in 0..<3 { _ = try await store.read(info.id, range: nil) }
        #expect(store.scans.load(ordering: .relaxed) - before == 3)
    }

    @Test("a missing or broken sidecar is rebuilt from the content")
    func sidecarRebuilt() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let pdf = Array("%PDF-1.7\n".utf8) + randomBytes(10_000)
        let info = try await store.put(bytes: pdf)
        let metaPath = store.metaPath(info.id)
        try FileManager.default.removeItem(atPath: metaPath)
        let rebuilt = try #require(try await store.info(info.id))
        #expect(rebuilt.md5Hex == md5Hex(pdf))
        #expect(rebuilt.contentType == "application/pdf")
        #expect(FileManager.default.fileExists(atPath: metaPath))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: metaPath))
        let reread = try await store.read(info.id, range: nil)
        #expect(reread.info.md5Hex == md5Hex(pdf) && reread.info.size == Int64(pdf.count))
    }

    @Test("delete removes every form and the sidecar; list ignores strangers")
    func deleteAndList() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let info = try await store.put(bytes: sampleText(10_000))
        try "junk".write(toFile: root + "/zz-not-a-blob", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/ab/cd", withIntermediateDirectories: true)
        try "junk".write(toFile: root + "/ab/cd/notes.txt", atomically: false, encoding: .utf8)
        #expect(try await store.list() == [info.id])
        try await store.delete(info.id)
        #expect(store.storedPath(info.id) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.metaPath(info.id)))
        #expect(try await store.list().isEmpty)
    }

    @Test("stale temporary files are swept, fresh ones kept")
    func sweep() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let stale = root + "/tmp/old.part"
        let fresh = root + "/tmp/new.part"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stale))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: fresh))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: stale)
        #expect(try await store.sweepTemporaries(olderThan: Date().addingTimeInterval(-3600)) == 1)
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: fresh))
    }

    @Test("the GC's delete waits for another process holding root/.lock")
    func crossProcessLock() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let info = try await store.put(bytes: randomBytes(1000))
        // flock locks belong to the open file description: a second open behaves like another process.
        let fd = open(root + "/.lock", O_RDWR)
        #expect(fd >= 0)
        #expect(flock(fd, LOCK_EX) == 0)
        let started = ContinuousClock.now
        let deletion = Task.detached { try await store.delete(info.id, ifUnmodifiedSince: Date().addingTimeInterval(60)) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(store.storedPath(info.id) != nil, "the delete must wait for the lock")
        flock(fd, LOCK_UN)
        close(fd)
        #expect(try await deletion.value == true)
        #expect(ContinuousClock.now - started >= .milliseconds(200))
        #expect(store.storedPath(info.id) == nil)
    }

    @Test("a stored file cut short or with bytes after its frame is corrupted")
    func truncatedFrame() async throws {
        let (store, root) = try makeStore()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let info = try await store.put(bytes: sampleText(100_000))
        let path = try #require(store.storedPath(info.id))
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        try original.prefix(original.count - 7).write(to: URL(fileURLWithPath: path))
        await expectBlobError(.corrupted) { _ = try await store.read(info.id, range: nil) }
        try (original + Data([0])).write(to: URL(fileURLWithPath: path))
        await expectBlobError(.corrupted) { _ = try await store.read(info.id, range: nil) }
    }
}
