import ATSApp
import ATSBlob
import ATSDocuments
import ATSDomain
import ATSHTTP
import ATSStore
import ATSWork
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// A multipart/form-data body with one file part and some fields.
func multipart(file: [UInt8], filename: String, type: String?, fields: [String: String] = [:]) -> (ByteBuffer, String) {
    let boundary = "ats-test-\(UUID().uuidString)"
    var body: [UInt8] = []
    func line(_ text: String) { body += Array((text + "\r\n").utf8) }
    for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
        line("--\(boundary)")
        line("Content-Disposition: form-data; name=\"\(name)\"")
        line("")
        line(value)
    }
    line("--\(boundary)")
    line("Content-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"")
    if let type { line("Content-Type: \(type)") }
    line("")
    body += file
    line("")
    line("--\(boundary)--")
    return (ByteBuffer(bytes: body), "multipart/form-data; boundary=\(boundary)")
}

extension TestClientProtocol {
    func upload(_ uri: String, key: String, file: [UInt8], filename: String, type: String?, fields: [String: String] = [:]) async throws -> Reply {
        let (body, contentType) = multipart(file: file, filename: filename, type: type, fields: fields)
        return try await execute(
            uri: uri, method: .post, headers: [.authorization: "Bearer \(key)", .contentType: contentType], body: body
        ) { Reply(status: $0.status, headers: $0.headers, text: String(buffer: $0.body)) }
    }

    /// Fetches a presigned link (its path and query) with no credentials.
    func fetch(_ url: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:], body: [UInt8]? = nil) async throws -> (Reply, [UInt8]) {
        let components = URLComponents(string: url)!
        let uri = components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) {
            (Reply(status: $0.status, headers: $0.headers, text: String(buffer: $0.body)), Array($0.body.readableBytesView))
        }
    }
}

let sampleCVLines = [
    "Grace Hopper",
    "Senior Backend Engineer",
    "grace.hopper@example.org | +41 44 555 12 34 | Zurich, Switzerland",
    "",
    "Profile",
    "Backend engineer building distributed systems in Swift, Go and PostgreSQL.",
    "",
    "Experience",
    "2016 - present  Senior Backend Engineer, Example AG, Zurich",
    "2012 - 2016  Software Engineer, Initech, Geneva",
    "",
    "Skills",
    "Swift, Go, PostgreSQL, Kubernetes, Docker, Scrum",
    "",
    "Languages",
    "English, German, French",
    "",
    "Education",
    "MSc Computer Science, ETH Zurich, 2012",
]

@Suite("Documents: uploads, CV parsing, presigned links, zips")
struct DocumentRouteTests {
    @Test("A DOCX CV uploaded to a candidate is stored, parsed by the job, and fills only empty fields")
    func uploadAndParse() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let candidate = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "Grace", "lastName": "H."])
            #expect(candidate.status == .created)
            let docx = SampleDocuments.docx(paragraphs: sampleCVLines)
            let reply = try await client.upload(
                "/api/v1/candidates/\(candidate.id)/documents", key: key, file: docx, filename: "grace.docx", type: nil)
            #expect(reply.status == .created, "\(reply.text)")
            #expect(reply.json["parseStatus"] == "pending")
            #expect(reply.json["contentType"]?.stringValue?.contains("wordprocessingml") == true)
            #expect(reply.json["sha256"]?.stringValue?.count == 64)
            #expect(reply.json["sizeBytes"]?.intValue == Int64(docx.count))

            // What the job does:
            _ = try await agency.files.ingest.process(organizationID: try await agency.orgID("acme"), documentID: reply.id)
            let document = try await client.call(.get, "/api/v1/documents/\(reply.id)", key: key)
            #expect(document.json["parseStatus"] == "parsed", "\(document.text)")
            #expect(document.json["extractedText"]?.stringValue?.contains("Kubernetes") == true)
            let parsed = document.json["parsed"]?.objectValue ?? [:]
            #expect((parsed["overall"]?.doubleValue ?? 0) > 0.3, "\(parsed)")
            let person = try await client.call(.get, "/api/v1/candidates/\(candidate.id)", key: key)
            #expect(person.json["lastName"] == "H.", "a typed value is never overwritten")
            #expect(person.json["email"] == "grace.hopper@example.org")
            #expect(person.json["currentTitle"]?.stringValue?.contains("Backend Engineer") == true)
            #expect(person.json["spokenLanguages"]?.arrayValue?.count ?? 0 >= 2)
        }
    }

    @Test("A candidate is created from a PDF CV; a second upload of the same person is a duplicate")
    func fromCV() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let pdf = SampleDocuments.pdf(lines: sampleCVLines)
            let reply = try await client.upload("/api/v1/candidates/from-cv", key: key, file: pdf, filename: "cv.pdf", type: "application/pdf")
            #expect(reply.status == .created, "\(reply.text)")
            let candidate = reply.json["candidate"]?.objectValue ?? [:]
            #expect(candidate["firstName"] == "Grace")
            #expect(candidate["lastName"] == "Hopper")
            #expect(candidate["email"] == "grace.hopper@example.org")
            #expect(reply.json["document"]?.objectValue?["parseStatus"] == "parsed")
            let again = try await client.upload("/api/v1/candidates/from-cv", key: key, file: pdf, filename: "cv.pdf", type: "application/pdf")
            #expect(again.status == .conflict, "\(again.text)")
            #expect(again.json["existingId"]?.stringValue == candidate["id"]?.stringValue)
        }
    }

    @Test("Presigned links: download, range, ETag, and 403 for a changed, expired or wrong-method link")
    func presignedLinks() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let bytes = Array("plain text CV of Ada Lovelace\n".utf8) + Array(repeating: UInt8(ascii: "x"), count: 5000)
            let uploaded = try await client.upload(
                "/api/v1/candidates/\(ids.candidate)/documents", key: key, file: bytes, filename: "Ada Lovelace – CV.txt", type: "text/plain",
                fields: ["kind": "attachment"])
            #expect(uploaded.status == .created, "\(uploaded.text)")
            let link = try await client.call(.get, "/api/v1/documents/\(uploaded.id)/download-url", key: key)
            #expect(link.status == .ok, "\(link.text)")
            let url = link.json["url"]?.stringValue ?? ""
            #expect(url.contains("X-Amz-Signature="))
            #expect(url.contains("X-Amz-Expires=900"))

            let (whole, body) = try await client.fetch(url)
            #expect(whole.status == .ok, "\(whole.text)")
            #expect(body == bytes)
            #expect(whole.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(
                whole.headers[.contentDisposition]
                    == "attachment; filename=\"Ada Lovelace _ CV.txt\"; filename*=UTF-8''Ada%20Lovelace%20%E2%80%93%20CV.txt")
            let etag = whole.headers[.eTag] ?? ""

            let (part, partBody) = try await client.fetch(url, headers: [.range: "bytes=0-9"])
            #expect(part.status == .partialContent)
            #expect(partBody == Array(bytes[0...9]))
            #expect(part.headers[.contentRange] == "bytes 0-9/\(bytes.count)")
            let (tail, tailBody) = try await client.fetch(url, headers: [.range: "bytes=-5"])
            #expect(tail.status == .partialContent)
            #expect(tailBody == Array(bytes.suffix(5)))
            let (outside, _) = try await client.fetch(url, headers: [.range: "bytes=999999-"])
            #expect(outside.status == .rangeNotSatisfiable)

            let (cached, _) = try await client.fetch(url, headers: [.ifNoneMatch: etag])
            #expect(cached.status == .notModified)

            let tampered = url.replacingOccurrences(of: "X-Amz-Expires=900", with: "X-Amz-Expires=901")
            #expect(try await client.fetch(tampered).0.status == .forbidden)
            let otherFile = url.replacingOccurrences(of: "/files/", with: "/files/0")
            #expect(try await client.fetch(otherFile).0.status != .ok)
            let wrongMethod = try await client.fetch(url, method: .put, body: [1, 2, 3]).0.status
            #expect(wrongMethod == .forbidden, "\(wrongMethod)")

            let expired = try await agency.files.presign(
                method: "GET", path: URLComponents(string: url)!.percentEncodedPath, organizationID: try await agency.orgID("acme"),
                request: .init(head: .init(method: .get, scheme: "http", authority: "localhost", path: "/"), body: .init(buffer: .init())),
                seconds: 1, now: Date().addingTimeInterval(-60))
            let (late, _) = try await client.fetch(expired.url)
            #expect(late.status == .forbidden)
            #expect(late.text.contains("expired"))
        }
    }

    @Test("A presigned PUT makes a document once; a second PUT of the same link is refused")
    func presignedUpload() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let link = try await client.call(
                .post, "/api/v1/candidates/\(ids.candidate)/documents/upload-url", key: key, json: ["filename": "cv.docx"])
            #expect(link.status == .created, "\(link.text)")
            let url = link.json["url"]?.stringValue ?? ""
            let docx = SampleDocuments.docx(paragraphs: sampleCVLines)
            let (put, _) = try await client.fetch(url, method: .put, body: docx)
            #expect(put.status == .created, "\(put.text)")
            #expect(put.json["candidateId"]?.stringValue == ids.candidate)
            #expect(put.json["filename"] == "cv.docx")
            let (again, _) = try await client.fetch(url, method: .put, body: docx)
            #expect(again.status == .conflict)
            // The GET of a PUT link is another method: refused.
            let asGet = try await client.fetch(url).0
            #expect(asGet.status == .forbidden, "\(asGet.status) \(asGet.text.prefix(300))")
        }
    }

    @Test("Bad uploads: wrong content for the declared type, not multipart, no file, too large, a CV that is an image")
    func badUploads() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let path = "/api/v1/candidates/\(ids.candidate)/documents"
            let fake = try await client.upload(path, key: key, file: Array("MZ\u{90}\u{0}binary".utf8) + [0, 0, 1, 2], filename: "cv.pdf", type: "application/pdf")
            #expect(fake.status == .unsupportedMediaType, "\(fake.text)")
            #expect(fake.problemType == "/problems/content-mismatch")
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 100)
            let image = try await client.upload(path, key: key, file: png, filename: "me.png", type: "image/png")
            #expect(image.status == .unsupportedMediaType, "\(image.text)")
            let asAttachment = try await client.upload(path, key: key, file: png, filename: "me.png", type: "image/png", fields: ["kind": "attachment"])
            #expect(asAttachment.status == .created, "\(asAttachment.text)")
            #expect(asAttachment.json["parseStatus"] == "none")
            let notMultipart = try await client.call(.post, path, key: key, json: ["file": "x"])
            #expect(notMultipart.status == .unsupportedMediaType)
            let (emptyBody, type) = multipart(file: [], filename: "x.txt", type: nil)
            _ = emptyBody
            let empty = try await client.execute(
                uri: path, method: .post, headers: [.authorization: "Bearer \(key)", .contentType: type],
                body: ByteBuffer(string: "--\(type.split(separator: "=").last!)--\r\n")
            ) { Reply(status: $0.status, headers: $0.headers, text: String(buffer: $0.body)) }
            #expect(empty.status == .badRequest, "\(empty.text)")
            let traversal = try await client.upload(path, key: key, file: Array("hello".utf8), filename: "../../etc/passwd", type: nil, fields: ["kind": "other"])
            #expect(traversal.status == .created)
            #expect(traversal.json["filename"] == "passwd")
            let big = [UInt8](repeating: 65, count: (8 << 20) + 1)
            let tooLarge = try await client.upload(path, key: key, file: big, filename: "big.txt", type: "text/plain")
            #expect(tooLarge.status == .contentTooLarge, "\(tooLarge.text)")
            let list = try await client.call(.get, "/api/v1/documents?candidate=\(ids.candidate)", key: key)
            #expect(list.items.count == 2, "only the accepted uploads made documents")
        }
    }

    @Test("A candidate's files come as one zip behind a presigned link")
    func zipOfDocuments() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let path = "/api/v1/candidates/\(ids.candidate)/documents"
            let docx = SampleDocuments.docx(paragraphs: sampleCVLines)
            #expect(try await client.upload(path, key: key, file: docx, filename: "cv.docx", type: nil).status == .created)
            #expect(try await client.upload(path, key: key, file: Array("note".utf8), filename: "cv.docx.txt", type: nil, fields: ["kind": "other"]).status == .created)
            let link = try await client.call(.post, "/api/v1/candidates/\(ids.candidate)/documents/zip", key: key)
            #expect(link.status == .ok, "\(link.text)")
            #expect(link.json["files"]?.intValue == 2)
            let (reply, bytes) = try await client.fetch(link.json["url"]?.stringValue ?? "")
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType] == "application/zip")
            let zip = try ZipReader(bytes: bytes, limits: ExtractionLimits())
            #expect(Set(zip.entryNames) == ["cv.docx", "cv.docx.txt"])
            #expect(try zip.read("cv.docx") == docx)
        }
    }

    @Test("A corrupted file is never served; garbage collection keeps referenced files and removes old orphans")
    func corruptionAndGarbage() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let ids = try await seedPipeline(client, key: key)
            let uploaded = try await client.upload(
                "/api/v1/candidates/\(ids.candidate)/documents", key: key, file: Array(repeating: 7, count: 4096) + [1],
                filename: "a.bin", type: nil, fields: ["kind": "attachment"])
            #expect(uploaded.status == .created, "\(uploaded.text)")
            let orphan = try await agency.files.blobs.put(bytes: Array("nobody refers to me".utf8))
            let dependencies = FileDependencies(blobs: agency.files.blobs, catalog: agency.store, maxBytes: 1 << 20, graceSeconds: 3600, taxonomy: nil)
            let early = try await FileWork.collectGarbage(dependencies)
            #expect(early.removed == 0, "everything is younger than the grace period")
            let late = try await FileWork.collectGarbage(dependencies, now: Date().addingTimeInterval(7200))
            #expect(late.removed == 1)
            #expect(try await agency.files.blobs.info(orphan.id) == nil)

            let hex = uploaded.json["sha256"]?.stringValue ?? ""
            let stored = agency.directory.appendingPathComponent("blobs/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)").path
            let handle = try #require(FileHandle(forUpdatingAtPath: stored))
            try handle.seek(toOffset: 10)
            try handle.write(contentsOf: Data([0xFF]))
            try handle.close()
            let link = try await client.call(.get, "/api/v1/documents/\(uploaded.id)/download-url", key: key)
            let (reply, body) = try await client.fetch(link.json["url"]?.stringValue ?? "")
            #expect(reply.status == .internalServerError)
            #expect(reply.json["type"] == "/problems/corrupted-file")
            #expect(!body.contains(0xFF) || body.count < 4096)
        }
    }
}

extension TestAgency {
    func orgID(_ slug: String) async throws -> String {
        try #require(try await store.organization(slug: slug)).id
    }
}
