import Foundation

/// One immutable object stored on a replica target.
public struct ReplicaObject: Sendable, Hashable {
    /// The object's key: a relative path of safe characters (`ReplicaKey.isValid`).
    public let key: String
    /// Stored bytes.
    public let size: Int64
    /// When the target stored it (file mtime, S3 LastModified).
    public let modified: Date

    public init(key: String, size: Int64, modified: Date) {
        self.key = key
        self.size = size
        self.modified = modified
    }
}

/// The replica tier's one error: targets map their native errors into it, so the replicator,
/// the restorer and the CLI handle every backend the same way.
public struct ReplicaError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No object under that key.
        case notFound
        /// The target cannot be written or read for now (full or unwritable disk, network).
        case unavailable
        /// An object failed its checksum or does not parse; `key` names it.
        case corrupted
        /// A bad key, a broken chain, a request that cannot be satisfied.
        case invalid
    }

    public let code: Code
    public let message: String
    /// The object concerned, when there is one (a flipped byte names its object).
    public let key: String?

    public init(_ code: Code, _ message: String, key: String? = nil) {
        self.code = code
        self.message = message
        self.key = key
    }

    public var description: String {
        if let key { return "ReplicaError.\(code.rawValue): \(message) [\(key)]" }
        return "ReplicaError.\(code.rawValue): \(message)"
    }
}

/// Where replicas live: a store of immutable objects under relative keys. Objects are written
/// once (a second put of the same key is allowed and replaces it with identical content) and
/// deleted only by retention. Every method throws `ReplicaError`.
///
/// Backends pass `ReplicaTargetConformanceTests`; a later S3 target runs the same suite.
public protocol ReplicaTarget: Sendable, CustomStringConvertible {
    /// Stores `bytes` under `key` durably before returning (never visible half-written).
    func put(_ key: String, bytes: [UInt8]) async throws
    /// Stores the file at `path` under `key`, streaming, so a large snapshot never sits in memory.
    func put(_ key: String, contentsOf path: String) async throws
    /// The whole object; `.notFound` when absent.
    func get(_ key: String) async throws -> [UInt8]
    /// Bytes `range` of the object (clamped to its end): object headers are read without the body.
    func get(_ key: String, range: Range<Int64>) async throws -> [UInt8]
    /// Writes the object into the file at `path` (replacing it), streaming.
    func get(_ key: String, toFile path: String) async throws
    /// Every object whose key starts with `prefix`, sorted by key.
    func list(prefix: String) async throws -> [ReplicaObject]
    /// Removes the object; removing an absent key succeeds.
    func delete(_ key: String) async throws
}

extension ReplicaTarget {
    /// Reads the file and puts it whole; backends that can stream override this.
    public func put(_ key: String, contentsOf path: String) async throws {
        let bytes: [UInt8]
        do {
            bytes = try LocalFile.readAll(path)
        } catch {
            throw ReplicaError(.invalid, "cannot read \(path): \(error)")
        }
        try await put(key, bytes: bytes)
    }

    /// Gets the whole object and slices it; backends with ranged reads override this.
    public func get(_ key: String, range: Range<Int64>) async throws -> [UInt8] {
        let bytes = try await get(key)
        let lower = Int(clamping: max(0, min(range.lowerBound, Int64(bytes.count))))
        let upper = Int(clamping: max(Int64(lower), min(range.upperBound, Int64(bytes.count))))
        return Array(bytes[lower..<upper])
    }

    /// Gets the whole object and writes it; backends that can stream override this.
    public func get(_ key: String, toFile path: String) async throws {
        let bytes = try await get(key)
        do {
            try LocalFile.writeAtomically(path, bytes: bytes)
        } catch {
            throw ReplicaError(.unavailable, "cannot write \(path): \(error)")
        }
    }
}

/// Keys on a target: relative paths of `[A-Za-z0-9._-]` components joined by `/`, none empty
/// or starting with `.`, at most 1024 bytes. The same rule holds for every backend, so a
/// key can never escape a folder target's root.
public enum ReplicaKey {
    /// True when `key` is a valid object key.
    public static func isValid(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 1024 else { return false }
        for component in key.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = component.first, first != "." else { return false }
            for byte in component.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    continue
                default:
                    return false
                }
            }
        }
        return true
    }

    /// True when `prefix` is a valid list prefix: empty, or a key prefix (it may end with `/`).
    public static func isValidPrefix(_ prefix: String) -> Bool {
        if prefix.isEmpty { return true }
        let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        return isValid(trimmed) || trimmed.isEmpty
    }

    static func check(_ key: String) throws {
        guard isValid(key) else { throw ReplicaError(.invalid, "invalid object key", key: String(key.prefix(200))) }
    }
}
