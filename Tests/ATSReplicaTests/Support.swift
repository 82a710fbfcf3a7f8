import Foundation
import GRDB
import Logging
import Testing

@testable import ATSReplica

/// A temporary folder removed at deinit.
final class TemporaryFolder: @unchecked Sendable {
    let path: String

    init(_ label: String = "replica") {
        path = NSTemporaryDirectory() + "ats-\(label)-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A data folder like the appliance's (`ats.sqlite`, `blobs/`, `replica/`), with the pool
/// opened the way `SQLiteStore` opens it: WAL, synchronous NORMAL, no automatic checkpoints.
final class LiveDatabase: @unchecked Sendable {
    let folder: TemporaryFolder
    let pool: DatabasePool
    var data: String { folder.path }
    var path: String { folder.path + "/ats.sqlite" }
    var walPath: String { path + "-wal" }
    var blobs: String { folder.path + "/blobs" }

    init(label: String = "live") throws {
        folder = TemporaryFolder(label)
        pool = try Self.open(folder.path + "/ats.sqlite")
    }

    static func open(_ path: String, readers: Int = 4) throws -> DatabasePool {
        var config = Configuration()
        config.maximumReaderCount = readers
        config.journalMode = .wal
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        return try DatabasePool(path: path, configuration: config)
    }

    /// Puts a blob file the way FileBlobStore does (file, then a journal line).
    func addBlob(_ content: [UInt8]) throws -> String {
        let hex = SHA256Hasher.hash(content).hexString
        let folder = blobs + "/" + hex.prefix(2) + "/" + hex.dropFirst(2).prefix(2)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(content).write(to: URL(fileURLWithPath: folder + "/" + hex))
        let journal = blobs + "/journal"
        if !FileManager.default.fileExists(atPath: journal) {
            _ = FileManager.default.createFile(atPath: journal, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: journal))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((hex + "\n").utf8))
        try handle.close()
        return hex
    }
}

/// A logical dump: the schema and every table's rows in rowid order, as text.
func dump(_ db: Database) throws -> [String] {
    var out: [String] = []
    let objects = try Row.fetchAll(
        db,
        sql: "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
    for object in objects {
        out.append(
            "schema \(object["type"] as String) \(object["name"] as String): \((object["sql"] as String?) ?? "")")
    }
    for table in try String.fetchAll(
        db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    {
        for row in try Row.fetchAll(db, sql: "SELECT rowid AS _rowid_, * FROM \"\(table)\" ORDER BY rowid") {
            out.append("\(table): \(row.description)")
        }
    }
    return out
}

func dump(path: String) throws -> [String] {
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    return try queue.read { try dump($0) }
}

func dump(_ pool: DatabasePool) throws -> [String] {
    try pool.read { try dump($0) }
}

/// Deterministic random numbers for reproducible workloads.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random inserts, updates and deletes on a small schema that changes over time.
struct Workload {
    var random: SeededGenerator
    var step = 0

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    static func createSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS candidate (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, score REAL, cv BLOB);
                CREATE INDEX IF NOT EXISTS candidate_email ON candidate(email);
                """)
    }

    /// One transaction of a few random changes; every 40th step a schema migration.
    mutating func transaction(_ db: Database) throws {
        step += 1
        if step % 40 == 0 {
            try migrate(db, stage: step / 40)
            return
        }
        let changes = Int.random(in: 1...5, using: &random)
        for _ in 0..<changes {
            let roll = Int.random(in: 0..<10, using: &random)
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM candidate") ?? 0
            if roll < 6 || count < 5 {
                let size = Int.random(in: 0...3000, using: &random)
                let cv = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
                try db.execute(
                    sql: "INSERT INTO candidate (name, email, score, cv) VALUES (?, ?, ?, ?)",
                    arguments: [
                        "name \(step)-\(Int.random(in: 0...999_999, using: &random))",
                        "c\(Int.random(in: 0...99_999, using: &random))@example.com",
                        Double.random(in: 0...100, using: &random), Data(cv),
                    ])
            } else if roll < 8 {
                try db.execute(
                    sql:
                        "UPDATE candidate SET score = ?, name = name || '!' WHERE id IN (SELECT id FROM candidate ORDER BY random() LIMIT 3)",
                    arguments: [Double.random(in: 0...100, using: &random)])
            } else {
                try db.execute(
                    sql: "DELETE FROM candidate WHERE id IN (SELECT id FROM candidate ORDER BY random() LIMIT 2)")
            }
        }
    }

    func migrate(_ db: Database, stage: Int) throws {
        switch stage % 4 {
        case 1:
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS note_\(stage) (id INTEGER PRIMARY KEY, body TEXT)")
            try db.execute(sql: "INSERT INTO note_\(stage) (body) SELECT name FROM candidate LIMIT 20")
        case 2:
            try db.execute(sql: "ALTER TABLE candidate ADD COLUMN extra_\(stage) TEXT DEFAULT 'x'")
        case 3:
            try db.execute(sql: "CREATE INDEX IF NOT EXISTS candidate_score_\(stage) ON candidate(score)")
        default:
            let old = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'note_%'")
            for table in old { try db.execute(sql: "DROP TABLE \(table)") }
        }
    }
}

/// A folder target made unwritable without permissions (tests run as root): a regular file
/// stands where the top folders must be, so every put fails with ENOTDIR until it is removed.
struct Outage {
    let root: String

    func begin() throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for name in ["generations", "blobs"] {
            let path = root + "/" + name
            if FileManager.default.fileExists(atPath: path) {
                try FileManager.default.moveItem(atPath: path, toPath: root + "/.saved-" + name)
            }
            _ = FileManager.default.createFile(atPath: path, contents: Data("not a folder".utf8))
        }
    }

    func end() throws {
        for name in ["generations", "blobs"] {
            try FileManager.default.removeItem(atPath: root + "/" + name)
            if FileManager.default.fileExists(atPath: root + "/.saved-" + name) {
                try FileManager.default.moveItem(atPath: root + "/.saved-" + name, toPath: root + "/" + name)
            }
        }
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "ats.replica.test")
    logger.logLevel = .critical
    return logger
}()

/// Flips one byte of a file in place.
func flipByte(_ path: String, at offset: Int) throws {
    var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    bytes[offset] ^= 0x5A
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Synchronous GRDB access from async tests (the async overloads would be picked otherwise).
func syncWrite(_ pool: DatabasePool, _ body: (Database) throws -> Void) throws { try pool.write(body) }
func syncWriteWithoutTransaction(_ pool: DatabasePool, _ body: (Database) throws -> Void) throws {
    try pool.writeWithoutTransaction(body)
}
func syncRead<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T { try pool.read(body) }
