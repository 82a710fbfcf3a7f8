import Foundation
import Hummingbird
import NIOCore

/// A streaming reader of `multipart/form-data` (RFC 7578): parts come one at a time and a file
/// part's bytes are handed on in chunks, so a 200 MB upload never sits whole in memory.
/// One consumer reads it from one task.
final class MultipartReader: @unchecked Sendable {
    /// The headers of one part.
    struct Part: Sendable {
        var name: String
        var filename: String?
        var contentType: String?
    }

    /// Why a body is not the multipart the route asked for.
    struct Malformed: Error, Sendable {
        let detail: String
    }

    private var source: RequestBody.AsyncIterator
    private var buffer: [UInt8] = []
    private var finished = false
    /// `\r\n--boundary`: what ends a part.
    private let delimiter: [UInt8]
    private var inPart = false
    private var done = false
    /// Bytes before `head` are consumed; no delimiter starts before `scanned`.
    private var head = 0
    private var scanned = 0
    static let maxHeaderBytes = 16 * 1024

    /// The boundary of a `multipart/form-data; boundary=...` content type; nil for anything else.
    static func boundary(contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    init(boundary: String, body: RequestBody) {
        self.source = body.makeAsyncIterator()
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        // The body starts with `--boundary` (no CRLF before it): pretend one came first.
        self.buffer = [13, 10]
    }

    /// Pulls more bytes; false at the end of the body.
    private func fill() async throws -> Bool {
        guard !finished else { return false }
        guard let chunk = try await source.next() else {
            finished = true
            return false
        }
        // Drop what was consumed before growing, so the buffer stays near one network read.
        if head > 0 {
            buffer.removeFirst(head)
            scanned = max(0, scanned - head)
            head = 0
        }
        buffer.append(contentsOf: chunk.readableBytesView)
        return true
    }

    /// The first index at or after `start` where `needle` begins in the unconsumed bytes.
    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, buffer.count - needle.count >= start else { return nil }
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
            var index = start
            let last = bytes.count - needle.count
            while index <= last {
                guard let base = bytes.baseAddress,
                    let hit = memchr(base + index, Int32(first), last - index + 1)
                else { return nil }
                let position = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(base + position, needle, needle.count) == 0 { return position }
                index = position + 1
            }
            return nil
        }
    }

    /// Marks `count` bytes from `head` as consumed.
    private func consume(_ count: Int) {
        head += count
        scanned = max(head, scanned)
    }

    /// The next part's headers, after skipping what is left of the current one; nil after the last.
    func nextPart() async throws -> Part? {
        while inPart {
            _ = try await chunk()
        }
        guard !done else { return nil }
        // Find the delimiter, then `--` (the end) or CRLF and the headers.
        while true {
            if let index = find(delimiter, from: max(head, scanned)) {
                consume(index + delimiter.count - head)
                break
            }
            scanned = max(head, buffer.count - delimiter.count + 1)
            // A preamble (or a body with another boundary) is dropped as it is scanned, so it
            // never piles up in memory.
            consume(scanned - head)
            guard try await fill() else { throw Malformed(detail: "The multipart body has no part with the declared boundary.") }
        }
        while buffer.count - head < 2 {
            guard try await fill() else { throw Malformed(detail: "The multipart body ends inside a boundary.") }
        }
        if buffer[head] == 45, buffer[head + 1] == 45 {
            done = true
            return nil
        }
        let end: Int
        while true {
            if let index = find([13, 10, 13, 10], from: head) {
                end = index
                break
            }
            guard buffer.count - head < Self.maxHeaderBytes else { throw Malformed(detail: "A part's headers are longer than 16 KiB.") }
            guard try await fill() else { throw Malformed(detail: "The multipart body ends inside a part's headers.") }
        }
        let headerText = String(decoding: buffer[head..<end], as: UTF8.self)
        consume(end + 4 - head)
        scanned = head
        var part = Part(name: "", filename: nil, contentType: nil)
        for line in headerText.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            if name == "content-type" {
                part.contentType = value
            } else if name == "content-disposition" {
                for parameter in Self.parameters(value) {
                    if parameter.0 == "name" { part.name = parameter.1 }
                    if parameter.0 == "filename" { part.filename = parameter.1 }
                }
            }
        }
        inPart = true
        return part
    }

    /// The next bytes of the current part (at most 256 KiB); nil at its end.
    func chunk() async throws -> [UInt8]? {
        guard inPart else { return nil }
        let most = 256 * 1024
        while true {
            if let index = find(delimiter, from: max(head, scanned)) {
                if index == head {
                    inPart = false
                    return nil
                }
                let end = min(index, head + most)
                let bytes = Array(buffer[head..<end])
                consume(end - head)
                return bytes
            }
            // No delimiter starts before here; everything but a possible start of one can go.
            scanned = max(head, buffer.count - delimiter.count + 1)
            let safe = scanned - head
            if safe >= 64 * 1024 || (finished && safe > 0) {
                let end = head + min(safe, most)
                let bytes = Array(buffer[head..<end])
                consume(end - head)
                return bytes
            }
            guard try await fill() else {
                if safe > 0 {
                    let bytes = Array(buffer[head..<(head + safe)])
                    consume(safe)
                    return bytes
                }
                throw Malformed(detail: "The multipart body ends inside a part (no closing boundary).")
            }
        }
    }

    /// A small part's whole value (a form field), at most `limit` bytes.
    func value(limit: Int = 4096) async throws -> String {
        var bytes: [UInt8] = []
        while let chunk = try await chunk() {
            bytes += chunk
            if bytes.count > limit { throw Malformed(detail: "A form field is longer than \(limit) bytes.") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The current part's bytes as an async sequence, for the blob store.
    func partBody() -> PartBody { PartBody(reader: self) }

    struct PartBody: AsyncSequence, Sendable {
        typealias Element = [UInt8]
        let reader: MultipartReader
        struct AsyncIterator: AsyncIteratorProtocol {
            let reader: MultipartReader
            mutating func next() async throws -> [UInt8]? { try await reader.chunk() }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }
    }

    /// `form-data; name="file"; filename="cv.pdf"` -> [(name, file), (filename, cv.pdf)];
    /// `filename*=UTF-8''...` (RFC 5987) wins over `filename`.
    static func parameters(_ value: String) -> [(String, String)] {
        var result: [(String, String)] = []
        var extended: String?
        var rest = Substring(value)
        while let semicolon = rest.firstIndex(of: ";") {
            rest = rest[rest.index(after: semicolon)...].drop(while: { $0 == " " })
            guard let equals = rest.firstIndex(of: "=") else { break }
            let name = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var parsed = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        parsed.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        parsed.append(character)
                    }
                }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parsed = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if name == "filename*" {
                let pieces = parsed.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if pieces.count == 3 { extended = String(pieces[2]).removingPercentEncoding }
            } else {
                result.append((name, parsed))
            }
        }
        if let extended {
            result.removeAll { $0.0 == "filename" }
            result.append(("filename", extended))
        }
        return result
    }
}
