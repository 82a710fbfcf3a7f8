import Foundation
import GRDB
import Testing

@testable import ATSReplica

@Suite("WAL reader on WAL files written by SQLite")
struct WALReaderTests {
    @Test("reads every committed transaction with valid salts and checksums")
    func readsCommittedTransactions() throws {
        let live = try LiveDatabase()
        try live.pool.write { try Workload.createSchema($0) }
        var workload = Workload(seed: 1)
        for _ in 0..<25 { try live.pool.write { try workload.transaction($0) } }

        guard let wal = try WALFile(path: live.walPath) else {
            Issue.record("no WAL")
            return
        }
        let header = try #require(try wal.header())
        #expect(header.pageSize == 4096)
        #expect(!header.bigEndianChecksum)  // x86 writes the little-endian magic
        var cursor = WALCursor(header: header)
        let transactions = try wal.readTransactions(after: &cursor, now: Date())
        // The schema transaction plus 25 workload transactions (GRDB's pool setup may add one).
        #expect(transactions.count >= 26)
        #expect(cursor.frame == transactions.reduce(0) { $0 + $1.frameCount })
        #expect(Int64(cursor.frame) == (try wal.size() - 32) / 4120)
        for transaction in transactions {
            #expect(transaction.records.count == transaction.frameCount * (8 + 4096))
            #expect(transaction.databasePages > 0)
        }
        // Nothing more to read past the end.
        var again = cursor
        #expect(try wal.readTransactions(after: &again, now: Date()).isEmpty)
        #expect(again == cursor)
    }

    @Test("database file + frames equals what SQLite reads")
    func imageEqualsLiveDatabase() throws {
        let live = try LiveDatabase()
        try live.pool.write { try Workload.createSchema($0) }
        var workload = Workload(seed: 2)
        for _ in 0..<60 { try live.pool.write { try workload.transaction($0) } }
        let cursor = try #require(try WALTailer.seekToEnd(walPath: live.walPath))
        let image = live.folder.path + "/image.db"
        _ = try LiveImage.build(pool: live.pool, walPath: live.walPath, cursor: cursor, imagePath: image)
        #expect(try dump(path: image) == (try dump(live.pool)))
    }

    @Test("a frame with a flipped byte ends the readable WAL at the previous commit")
    func corruptFrameStopsReading() throws {
        let live = try LiveDatabase()
        try live.pool.write { try Workload.createSchema($0) }
        var workload = Workload(seed: 3)
        for _ in 0..<10 { try live.pool.write { try workload.transaction($0) } }
        let copy = live.folder.path + "/copy-wal"
        try FileManager.default.copyItem(atPath: live.walPath, toPath: copy)
        guard let wal = try WALFile(path: copy) else {
            Issue.record("no WAL")
            return
        }
        var cursor = WALCursor(header: try #require(try wal.header()))
        let all = try wal.readTransactions(after: &cursor, now: Date())
        // Flip a byte inside the page of the first frame of the 5th transaction.
        let framesBefore = all.prefix(4).reduce(0) { $0 + $1.frameCount }
        let offset = Int(WALCursor.frameOffset(framesBefore + 1, pageSize: 4096)) + 24 + 100
        try flipByte(copy, at: offset)
        guard let corrupt = try WALFile(path: copy) else {
            Issue.record("no WAL")
            return
        }
        var partial = WALCursor(header: try #require(try corrupt.header()))
        let read = try corrupt.readTransactions(after: &partial, now: Date())
        #expect(read.count == 4)
        #expect(partial.frame == framesBefore)
    }

    @Test("the checksum matches SQLite's in both byte orders (SQLite replays a rewritten big-endian WAL)")
    func bigEndianChecksumsAcceptedBySQLite() throws {
        let live = try LiveDatabase()
        try live.pool.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        }
        try live.pool.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        for i in 0..<20 {
            try live.pool.write { try $0.execute(sql: "INSERT INTO t (v) VALUES (?)", arguments: ["row \(i)"]) }
        }
        let expected = try live.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") }
        // Copy the database and its WAL while the pool is open (the copy is not the live file).
        let other = TemporaryFolder("bigendian")
        // Through SQLite's own handle: an fd of our own on the live file would drop the pool's locks when closed.
        _ = try live.pool.unsafeRead { try SQLiteFileHandle($0).copy(to: other.path + "/db.sqlite") }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: live.walPath)))
        // Rewrite the header magic and every checksum in big-endian word order.
        bytes[3] = 0x83
        var sum = (UInt32(0), UInt32(0))
        bytes.withUnsafeBytes {
            WALChecksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<24]), bigEndian: true, &sum)
        }
        put(&bytes, sum.0, at: 24)
        put(&bytes, sum.1, at: 28)
        let frameSize = 24 + 4096
        var offset = 32
        while offset + frameSize <= bytes.count {
            bytes.withUnsafeBytes { raw in
                WALChecksum.update(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 8)]), bigEndian: true, &sum)
                WALChecksum.update(
                    UnsafeRawBufferPointer(rebasing: raw[(offset + 24)..<(offset + frameSize)]), bigEndian: true, &sum)
            }
            put(&bytes, sum.0, at: offset + 16)
            put(&bytes, sum.1, at: offset + 20)
            offset += frameSize
        }
        try Data(bytes).write(to: URL(fileURLWithPath: other.path + "/db.sqlite-wal"))
        // Our reader accepts it...
        guard let wal = try WALFile(path: other.path + "/db.sqlite-wal") else {
            Issue.record("no WAL")
            return
        }
        let header = try #require(try wal.header())
        #expect(header.bigEndianChecksum)
        var cursor = WALCursor(header: header)
        #expect(try wal.readTransactions(after: &cursor, now: Date()).count == 20)
        // ...and so does SQLite, which recovers the WAL only if every checksum is right.
        let queue = try DatabaseQueue(path: other.path + "/db.sqlite")
        let count = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") }
        try queue.close()
        #expect(count == expected)
    }

    func put(_ bytes: inout [UInt8], _ value: UInt32, at offset: Int) {
        bytes[offset] = UInt8(value >> 24)
        bytes[offset + 1] = UInt8((value >> 16) & 0xFF)
        bytes[offset + 2] = UInt8((value >> 8) & 0xFF)
        bytes[offset + 3] = UInt8(value & 0xFF)
    }

    @Test("a restart by a writer after a complete checkpoint increments salt-1 by one")
    func restartIncrementsSalt() throws {
        let live = try LiveDatabase()
        try live.pool.write { try $0.execute(sql: "CREATE TABLE t (v)") }
        let before = try #require(try WALFile(path: live.walPath)?.header())
        let result = try live.pool.writeWithoutTransaction { db in
            try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
        }
        #expect((result?[0] as Int?) == 0)
        #expect((result?[1] as Int?) == (result?[2] as Int?))
        try live.pool.write { try $0.execute(sql: "INSERT INTO t VALUES (1)") }
        let after = try #require(try WALFile(path: live.walPath)?.header())
        #expect(after.salt1 == before.salt1 &+ 1)
        #expect(after.salt2 != before.salt2)
    }
}
