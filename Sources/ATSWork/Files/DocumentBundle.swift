import ATSBlob
import ATSDocuments
import ATSDomain
import Foundation

/// Several documents as one zip in the blob store (a candidate's files, downloaded together).
public enum DocumentBundle {
    /// Zips the documents' files (names made unique, dates from the documents) into a blob.
    /// The same files give the same zip, so asking twice stores it once.
    public static func zip(_ documents: [JSONObject], blobs: any BlobStore, limit: Int64) async throws -> BlobInfo {
        let path = NSTemporaryDirectory() + "/ats-zip-\(UUID().uuidString).zip"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Sizes first: a bundle over the limit is refused before anything is read.
        var entries: [(id: BlobID, document: JSONObject)] = []
        var total: Int64 = 0
        for document in documents {
            guard let hex = document["sha256"]?.stringValue, let id = BlobID(hex: hex) else { continue }
            guard let info = try await blobs.info(id) else { throw BlobError(.notFound, "a document's file is missing") }
            total += info.size
            if total > limit { throw BlobError(.tooLarge, "the documents together are larger than \(limit) bytes", limit: limit) }
            entries.append((id, document))
        }
        var writer = try ZipWriter(path: path)
        var used: Set<String> = []
        for (id, document) in entries {
            let name = unique(document["filename"]?.stringValue ?? "document", used: &used)
            let modified = (document["createdAt"]?.stringValue).flatMap(Timestamp.parse) ?? Date(timeIntervalSince1970: 0)
            // Streamed: each file is read (and verified) in chunks, never whole.
            try await writer.add(name: name, modified: modified, chunks: try await blobs.read(id))
        }
        try writer.finish()
        return try await blobs.put(FileChunks(path: path), limit: .max)
    }

    /// `cv.pdf`, `cv (2).pdf` ...: zip entries with the same name would hide each other.
    static func unique(_ raw: String, used: inout Set<String>) -> String {
        let base = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? "document"
        let clean = base.isEmpty || base == "." || base == ".." ? "document" : base
        var name = clean
        var counter = 2
        while used.contains(name.lowercased()) {
            let ext = (clean as NSString).pathExtension
            let stem = (clean as NSString).deletingPathExtension
            name = ext.isEmpty ? "\(stem) (\(counter))" : "\(stem) (\(counter)).\(ext)"
            counter += 1
        }
        used.insert(name.lowercased())
        return name
    }
}

/// A file read in 256 KiB chunks, as the async sequence the blob store takes.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let path: String

    public init(path: String) { self.path = path }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        var failed = false

        public mutating func next() async throws -> [UInt8]? {
            guard let handle else { throw CocoaError(.fileReadNoSuchFile) }
            guard let data = try handle.read(upToCount: 256 * 1024), !data.isEmpty else {
                try? handle.close()
                return nil
            }
            return [UInt8](data)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path)) }
}
