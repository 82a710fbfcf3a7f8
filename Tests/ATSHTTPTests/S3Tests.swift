import ATSApp
import ATSBlob
import ATSDomain
import ATSHTTP
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two organizations (buckets `acme` and `globex`) with an S3 key each, a file tier in a
/// temporary folder with a 1 MiB object limit, and the appliance's router.
struct S3Agency {
    let store: SQLiteStore
    let directory: URL
    let files: FileServices
    var keys: [String: S3Key] = [:]
    static let limit = 1_048_576

    static func make() async throws -> (S3Agency, Router<ATSRequestContext>) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ats-s3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try SQLiteStore(path: directory.appendingPathComponent("ats.sqlite").path, logger: logger)
        try store.migrate()
        let configuration = try Configuration(flags: ["ATS_DATA": directory.path, "ATS_BLOB_MAX_MB": "1"])
        let files = try Appliance.makeFiles(configuration, store: store, served: store, logger: logger).gateway
        var agency = S3Agency(store: store, directory: directory, files: files)
        for slug in ["acme", "globex"] {
            let organization = try await Administration.createOrganization(store, slug: slug, name: slug.capitalized)
            agency.keys[slug] = try await store.createS3Key(organizationID: organization.id, isInternal: false, label: "test")
        }
        let router = APIRouter.build(
            store: store, configuration: GatewayConfiguration(rateLimit: .init(ratePerSecond: 0, burst: 0), maxBodyBytes: 64 * 1024),
            registry: PrometheusCollectorRegistry(), files: files)
        return (agency, router)
    }

    func signer(_ org: String = "acme", client: any TestClientProtocol, host: String = "localhost") -> S3Signer {
        S3Signer(client: client, key: keys[org]!, host: host)
    }
}

func withS3Agency(_ body: @Sendable (S3Agency, any TestClientProtocol) async throws -> Void) async throws {
    let (agency, router) = try await S3Agency.make()
    try await Application(router: router).test(.router) { client in
        try await body(agency, client)
    }
    try? FileManager.default.removeItem(at: agency.directory)
}

/// An S3 answer: status, headers, body bytes.
struct S3Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    /// The `<Code>` of an XML error document.
    var code: String? { xmlValues("Code").first }
    func xmlValues(_ element: String) -> [String] { S3Tests.elements(element, in: text) }
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

/// Signs requests as an S3 client does (SigV4 Authorization header, the payload's SHA-256).
struct S3Signer {
    let client: any TestClientProtocol
    let key: S3Key
    var host = "localhost"

    var credentials: SigV4Credentials { SigV4Credentials(accessKeyID: key.accessKeyID, secretKey: key.secret) }

    init(client: any TestClientProtocol, key: S3Key, host: String = "localhost") {
        self.client = client
        self.key = key
        self.host = host
    }

    /// `path` and `query` raw (percent-encoded); `payloadHash` overrides the body's SHA-256.
    func send(
        _ method: HTTPRequest.Method, _ path: String, query: String = "", body: [UInt8]? = nil, headers extra: [(String, String)] = [],
        payloadHash: String? = nil, signed: Bool = true, date: Date = Date(), secret: String? = nil
    ) async throws -> S3Reply {
        let hash = payloadHash ?? S3Tests.sha256Hex(body ?? [])
        var headers = [("host", host), ("x-amz-date", SigV4.formatAmzDate(date)), ("x-amz-content-sha256", hash)] + extra
        if signed {
            var credentials = self.credentials
            if let secret { credentials.secretKey = secret }
            let authorization = SigV4.authorization(
                for: SigV4Request(method: method.rawValue, path: path, query: query, headers: headers), credentials: credentials,
                date: date, payloadHash: hash)
            headers.append(("Authorization", authorization))
        }
        var fields = HTTPFields()
        for (name, value) in headers where name != "host" { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        let uri = query.isEmpty ? path : path + "?" + query
        return try await client.execute(uri: uri, method: method, headers: fields, body: body.map { ByteBuffer(bytes: $0) }) { response in
            S3Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }

    /// A presigned URL's path and query for `path` (decoded).
    func presign(_ method: String, _ path: String, expires: Int = 300, date: Date = Date(), query: [(String, String)] = []) -> String {
        SigV4.presign(method: method, host: host, path: path, query: query, credentials: credentials, date: date, expires: expires)
    }

    /// GET or PUT of a presigned URL with no credentials at all.
    func fetch(_ url: String, method: HTTPRequest.Method = .get, body: [UInt8]? = nil) async throws -> S3Reply {
        try await client.execute(uri: url, method: method, headers: [:], body: body.map { ByteBuffer(bytes: $0) }) { response in
            S3Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }
}

@Suite("S3-compatible endpoint")
struct S3Tests {
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let base64 = S3Checksum.base64(.sha256, of: bytes)
        return Data(base64Encoded: base64)!.map { String(format: "%02x", $0) }.joined()
    }

    static func elements(_ name: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = Substring(xml)
        while let open = rest.range(of: "<\(name)>") {
            guard let close = rest.range(of: "</\(name)>", range: open.upperBound..<rest.endIndex) else { break }
            out.append(String(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return out
    }

    static func bytes(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test("PutObject, GetObject, HeadObject round trip with ETag = MD5 and the x-amz-checksum-crc32 boto3 sends")
    func roundTrip() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let body = Self.bytes(200_000)
            let crc = S3Checksum.base64(.crc32, of: body)
            let put = try await s3.send(
                .put, "/s3/acme/cvs/ada%20lovelace.pdf", body: body,
                headers: [("content-type", "application/pdf"), ("x-amz-checksum-crc32", crc), ("x-amz-sdk-checksum-algorithm", "CRC32")])
            #expect(put.status == .ok, "\(put.text)")
            let md5 = S3Checksum.base64(.md5, of: body)
            let md5Hex = Data(base64Encoded: md5)!.map { String(format: "%02x", $0) }.joined()
            #expect(put.header("ETag") == "\"\(md5Hex)\"")
            #expect(put.header("x-amz-checksum-crc32") == crc)

            let get = try await s3.send(.get, "/s3/acme/cvs/ada%20lovelace.pdf")
            #expect(get.status == .ok)
            #expect(get.body == body)
            #expect(get.header("ETag") == "\"\(md5Hex)\"")
            #expect(get.header("Content-Type") == "application/pdf")
            #expect(get.header("Content-Length") == "200000")
            #expect(get.header("Last-Modified")?.hasSuffix(" GMT") == true)
            #expect(get.header("x-amz-request-id") != nil)

            let head = try await s3.send(.head, "/s3/acme/cvs/ada%20lovelace.pdf")
            #expect(head.status == .ok)
            #expect(head.body.isEmpty)
            #expect(head.header("Content-Length") == "200000")

            // Replacing the object serves the new bytes.
            let second = Array("second version".utf8)
            #expect(try await s3.send(.put, "/s3/acme/cvs/ada%20lovelace.pdf", body: second).status == .ok)
            let again = try await s3.send(.get, "/s3/acme/cvs/ada%20lovelace.pdf")
            #expect(again.body == second)
            #expect(again.header("Content-Type") == "binary/octet-stream")
        }
    }

    @Test("Range answers 206 with Content-Range; a range past the end 416 InvalidRange; conditional GETs 304 and 412")
    func rangesAndConditions() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let body = Self.bytes(1000)
            let put = try await s3.send(.put, "/s3/acme/file.bin", body: body)
            let etag = try #require(put.header("ETag"))

            let part = try await s3.send(.get, "/s3/acme/file.bin", headers: [("range", "bytes=10-19")])
            #expect(part.status == .partialContent)
            #expect(part.body == Array(body[10...19]))
            #expect(part.header("Content-Range") == "bytes 10-19/1000")
            let tail = try await s3.send(.get, "/s3/acme/file.bin", headers: [("range", "bytes=-5")])
            #expect(tail.body == Array(body[995...]))
            let open = try await s3.send(.get, "/s3/acme/file.bin", headers: [("range", "bytes=990-")])
            #expect(open.body == Array(body[990...]))
            let past = try await s3.send(.get, "/s3/acme/file.bin", headers: [("range", "bytes=5000-")])
            #expect(past.status == .rangeNotSatisfiable)
            #expect(past.code == "InvalidRange")
            #expect(past.header("Content-Range") == "bytes */1000")

            let cached = try await s3.send(.get, "/s3/acme/file.bin", headers: [("if-none-match", etag)])
            #expect(cached.status == .notModified)
            #expect(cached.body.isEmpty)
            #expect(cached.header("ETag") == etag)
            let changed = try await s3.send(.get, "/s3/acme/file.bin", headers: [("if-none-match", "\"0123\"")])
            #expect(changed.status == .ok)
            let precondition = try await s3.send(.get, "/s3/acme/file.bin", headers: [("if-match", "\"0123\"")])
            #expect(precondition.status == .preconditionFailed)
            #expect(precondition.code == "PreconditionFailed")
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let future = formatter.string(from: Date().addingTimeInterval(3600))
            #expect(try await s3.send(.get, "/s3/acme/file.bin", headers: [("if-modified-since", future)]).status == .notModified)
            // Create-only writes.
            let exists = try await s3.send(.put, "/s3/acme/file.bin", body: [1], headers: [("if-none-match", "*")])
            #expect(exists.status == .preconditionFailed)
        }
    }

    @Test("Missing keys: 404 NoSuchKey as S3 XML, a missing bucket 403 AccessDenied; HEAD errors have no body; DELETE answers 204")
    func missing() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let get = try await s3.send(.get, "/s3/acme/nothing/here.txt")
            #expect(get.status == .notFound)
            #expect(get.code == "NoSuchKey")
            #expect(get.header("Content-Type") == "application/xml")
            #expect(get.xmlValues("Key") == ["nothing/here.txt"])
            #expect(get.text.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"))
            let head = try await s3.send(.head, "/s3/acme/nothing/here.txt")
            #expect(head.status == .notFound)
            #expect(head.body.isEmpty)
            // A bucket that does not exist looks like another organization's (it used to be a
            // 404 NoSuchBucket, which told anyone which organizations exist).
            let bucket = try await s3.send(.get, "/s3/no-such-org", query: "list-type=2")
            #expect(bucket.status == .forbidden)
            #expect(bucket.code == "AccessDenied")

            #expect(try await s3.send(.put, "/s3/acme/gone.txt", body: Array("x".utf8)).status == .ok)
            let delete = try await s3.send(.delete, "/s3/acme/gone.txt")
            #expect(delete.status == .noContent)
            #expect(try await s3.send(.get, "/s3/acme/gone.txt").status == .notFound)
            #expect(try await s3.send(.delete, "/s3/acme/gone.txt").status == .noContent)
        }
    }

    @Test("ListObjectsV2: prefix, delimiter -> CommonPrefixes, max-keys pagination with continuation tokens, start-after, url encoding")
    func listing() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let keys = ["a/1.txt", "a/2.txt", "a/b/3.txt", "a/b/4.txt", "a/c/5.txt", "a/d.txt", "b/6.txt", "top.txt", "a/x y+z.txt"]
            for key in keys {
                let path = "/s3/acme/" + SigV4.uriEncode(key, encodeSlash: false)
                #expect(try await s3.send(.put, path, body: Array(key.utf8)).status == .ok)
            }
            // Another bucket's objects never show.
            #expect(try await agency.signer("globex", client: client).send(.put, "/s3/globex/a/secret.txt", body: [1]).status == .ok)

            let all = try await s3.send(.get, "/s3/acme", query: "list-type=2")
            #expect(all.status == .ok)
            #expect(all.xmlValues("Key") == keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            #expect(all.xmlValues("KeyCount") == ["9"])
            #expect(all.xmlValues("IsTruncated") == ["false"])
            #expect(all.text.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>acme</Name>"))
            #expect(all.text.contains("<ETag>&quot;"))
            #expect(all.text.contains("<StorageClass>STANDARD</StorageClass>"))

            let folder = try await s3.send(.get, "/s3/acme", query: "delimiter=%2F&list-type=2&prefix=a%2F")
            #expect(folder.xmlValues("Key") == ["a/1.txt", "a/2.txt", "a/d.txt", "a/x y+z.txt"])
            #expect(folder.text.contains("<CommonPrefixes><Prefix>a/b/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>a/c/</Prefix></CommonPrefixes>"))
            #expect(folder.xmlValues("KeyCount") == ["6"])
            #expect(folder.xmlValues("Delimiter") == ["/"])

            let root = try await s3.send(.get, "/s3/acme", query: "delimiter=%2F&list-type=2")
            #expect(root.xmlValues("Key") == ["top.txt"])
            #expect(root.text.contains("<Prefix>a/</Prefix>") && root.text.contains("<Prefix>b/</Prefix>"))

            // Pages of 2 under a/ with the delimiter: every entry exactly once, prefixes counted as entries.
            var seen: [String] = []
            var token: String?
            var pages = 0
            repeat {
                var query = "delimiter=%2F&list-type=2&max-keys=2&prefix=a%2F"
                if let token { query = "continuation-token=" + SigV4.uriEncode(token, encodeSlash: true) + "&" + query }
                let page = try await s3.send(.get, "/s3/acme", query: query)
                #expect(page.status == .ok, "\(page.text)")
                let entries = page.xmlValues("Key") + page.xmlValues("Prefix").filter { $0 != "a/" }
                #expect(entries.count <= 2)
                #expect(page.xmlValues("KeyCount") == [String(entries.count)])
                seen += entries
                token = page.xmlValues("NextContinuationToken").first
                #expect((page.xmlValues("IsTruncated") == ["true"]) == (token != nil))
                pages += 1
            } while token != nil && pages < 10
            #expect(seen.sorted() == ["a/1.txt", "a/2.txt", "a/b/", "a/c/", "a/d.txt", "a/x y+z.txt"])
            #expect(pages == 3)

            let after = try await s3.send(.get, "/s3/acme", query: "list-type=2&start-after=a%2Fd.txt")
            #expect(after.xmlValues("Key") == ["a/x y+z.txt", "b/6.txt", "top.txt"])
            #expect(after.xmlValues("StartAfter") == ["a/d.txt"])

            let encoded = try await s3.send(.get, "/s3/acme", query: "encoding-type=url&list-type=2&prefix=a%2Fx")
            #expect(encoded.xmlValues("Key") == ["a/x%20y%2Bz.txt"])
            #expect(encoded.xmlValues("EncodingType") == ["url"])

            let bad = try await s3.send(.get, "/s3/acme", query: "list-type=2&max-keys=-1")
            #expect(bad.status == .badRequest)
            #expect(bad.code == "InvalidArgument")
            let badToken = try await s3.send(.get, "/s3/acme", query: "continuation-token=nonsense&list-type=2")
            #expect(badToken.status == .badRequest)

            // ListObjects version 1 with a marker.
            let v1 = try await s3.send(.get, "/s3/acme", query: "marker=a%2Fd.txt&max-keys=1")
            #expect(v1.xmlValues("Key") == ["a/x y+z.txt"])
            #expect(v1.xmlValues("IsTruncated") == ["true"])
            #expect(v1.xmlValues("Marker") == ["a/d.txt"])
        }
    }

    @Test("Bucket names reveal no organization: unsigned, wrongly signed and foreign requests answer alike for existing and missing buckets")
    func bucketNamesRevealNothing() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            #expect(try await s3.send(.put, "/s3/acme/mine.txt", body: Array("mine".utf8)).status == .ok)
            let other = agency.signer("globex", client: client)
            // Status, code and message: everything but the echoed resource and request id.
            func shape(_ reply: S3Reply) -> String { "\(reply.status.code) \(reply.code ?? "-") \(reply.xmlValues("Message"))" }
            for (method, suffix, query) in [
                (HTTPRequest.Method.get, "/mine.txt", ""), (.get, "", "list-type=2"), (.head, "", ""), (.put, "/x.txt", ""),
                (.delete, "/mine.txt", ""), (.get, "", "location"),
            ] {
                let body: [UInt8]? = method == .put ? Array("x".utf8) : nil
                var shapes: [String: Set<String>] = [:]
                for bucket in ["acme", "no-such-org"] {
                    let path = "/s3/\(bucket)\(suffix)"
                    let anonymous = try await s3.send(method, path, query: query, body: body, signed: false)
                    let wrong = try await s3.send(method, path, query: query, body: body, secret: "not-the-secret")
                    let foreign = try await other.send(method, path, query: query, body: body)
                    #expect(anonymous.status == .forbidden && wrong.status == .forbidden && foreign.status == .forbidden, "\(method) \(path)")
                    if method != .head {
                        #expect(anonymous.code == "AccessDenied" && foreign.code == "AccessDenied", "\(method) \(path)")
                    }
                    shapes["anonymous", default: []].insert(shape(anonymous))
                    shapes["wrong", default: []].insert(shape(wrong))
                    shapes["foreign", default: []].insert(shape(foreign))
                }
                #expect(shapes.values.allSatisfy { $0.count == 1 }, "\(method) \(suffix): \(shapes)")
            }
            #expect(try await s3.send(.get, "/s3/acme/mine.txt").text == "mine")
        }
    }

    @Test("Signatures: unsigned, wrong secret, unknown or revoked key, another organization's bucket all answer 403")
    func authentication() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            #expect(try await s3.send(.put, "/s3/acme/mine.txt", body: Array("mine".utf8)).status == .ok)

            let anonymous = try await s3.send(.get, "/s3/acme/mine.txt", signed: false)
            #expect(anonymous.status == .forbidden)
            #expect(anonymous.code == "AccessDenied")
            let wrong = try await s3.send(.get, "/s3/acme/mine.txt", secret: "not-the-secret")
            #expect(wrong.status == .forbidden)
            #expect(wrong.code == "SignatureDoesNotMatch")
            let old = try await s3.send(.get, "/s3/acme/mine.txt", date: Date().addingTimeInterval(-3600))
            #expect(old.status == .forbidden)
            #expect(old.code == "RequestTimeTooSkewed")

            // Globex's key on acme's bucket: read, list, write and delete are all refused.
            let other = agency.signer("globex", client: client)
            for (method, path, query) in [
                (HTTPRequest.Method.get, "/s3/acme/mine.txt", ""), (.get, "/s3/acme", "list-type=2"), (.head, "/s3/acme", ""),
                (.put, "/s3/acme/mine.txt", ""), (.delete, "/s3/acme/mine.txt", ""),
            ] {
                let reply = try await other.send(method, path, query: query, body: method == .put ? Array("theirs".utf8) : nil)
                #expect(reply.status == .forbidden, "\(method) \(path)")
                if method != .head { #expect(reply.code == "AccessDenied") }
            }
            #expect(try await s3.send(.get, "/s3/acme/mine.txt").text == "mine")

            let fake = S3Signer(
                client: client,
                key: S3Key(
                    accessKeyID: "ATSKNOSUCHKEY00000000", organizationID: "x", secret: "y", isInternal: false, label: nil, createdAt: "",
                    revokedAt: nil))
            let unknown = try await fake.send(.get, "/s3/acme/mine.txt")
            #expect(unknown.status == .forbidden)
            #expect(unknown.code == "InvalidAccessKeyId")

            let organization = try #require(try await agency.store.organization(slug: "acme"))
            #expect(try await agency.store.revokeS3Key(organizationID: organization.id, accessKeyID: agency.keys["acme"]!.accessKeyID))
            let revoked = try await s3.send(.get, "/s3/acme/mine.txt")
            #expect(revoked.status == .forbidden)
        }
    }

    @Test("Presigned URLs: GET and PUT work with no credentials; expired, tampered, wrong-method and other-tenant URLs answer 403")
    func presigned() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let body = Array("presigned content".utf8)
            #expect(try await s3.send(.put, "/s3/acme/docs/cv%201.txt", body: body).status == .ok)

            let url = s3.presign("GET", "/s3/acme/docs/cv 1.txt")
            let get = try await s3.fetch(url)
            #expect(get.status == .ok, "\(get.text)")
            #expect(get.body == body)
            let ranged = try await client.execute(uri: url, method: .get, headers: [.range: "bytes=0-8"]) { $0 }
            #expect(ranged.status == .partialContent)

            let expired = s3.presign("GET", "/s3/acme/docs/cv 1.txt", expires: 60, date: Date().addingTimeInterval(-3600))
            let expiredReply = try await s3.fetch(expired)
            #expect(expiredReply.status == .forbidden)
            #expect(expiredReply.code == "AccessDenied")

            let tamperedPath = url.replacingOccurrences(of: "cv%201.txt", with: "cv%202.txt")
            #expect(try await s3.fetch(tamperedPath).status == .forbidden)
            let tamperedExpiry = url.replacingOccurrences(of: "X-Amz-Expires=300", with: "X-Amz-Expires=600")
            #expect(try await s3.fetch(tamperedExpiry).status == .forbidden)
            #expect(try await s3.fetch(url, method: .delete).status == .forbidden)
            #expect(try await s3.fetch(url, method: .put, body: [1, 2, 3]).status == .forbidden)
            let tooLong = s3.presign("GET", "/s3/acme/docs/cv 1.txt").replacingOccurrences(of: "X-Amz-Expires=300", with: "X-Amz-Expires=604801")
            #expect(try await s3.fetch(tooLong).status.code >= 400)

            // A URL signed by globex's key for acme's object: the signature is valid, the tenant is not.
            let foreign = agency.signer("globex", client: client).presign("GET", "/s3/acme/docs/cv 1.txt")
            let foreignReply = try await s3.fetch(foreign)
            #expect(foreignReply.status == .forbidden)
            #expect(foreignReply.code == "AccessDenied")

            let upload = s3.presign("PUT", "/s3/acme/uploads/new.bin")
            let uploaded = try await s3.fetch(upload, method: .put, body: Self.bytes(5000))
            #expect(uploaded.status == .ok, "\(uploaded.text)")
            #expect(try await s3.send(.get, "/s3/acme/uploads/new.bin").body == Self.bytes(5000))

            let disposition = s3.presign(
                "GET", "/s3/acme/docs/cv 1.txt", query: [("response-content-disposition", "attachment; filename=\"cv.txt\"")])
            #expect(try await s3.fetch(disposition).header("Content-Disposition") == "attachment; filename=\"cv.txt\"")
        }
    }

    @Test("Legacy SigV2 presigned URLs (boto3's default in us-east-1): GET works; tampered, expired or foreign ones answer 403")
    func presignedV2() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            #expect(try await s3.send(.put, "/s3/acme/docs/cv%201.txt", body: Array("v2 content".utf8)).status == .ok)
            func url(_ key: S3Key, method: String = "GET", path: String = "/s3/acme/docs/cv%201.txt", expires: Int) -> String {
                let resource = String(path.dropFirst(3))  // botocore signs /bucket/key, below the endpoint's /s3
                let signature = Data(Self.hmacSHA1(key: Array(key.secret.utf8), Array("\(method)\n\n\n\(expires)\n\(resource)".utf8)))
                    .base64EncodedString()
                let encoded = SigV4.uriEncode(signature, encodeSlash: true)
                return "\(path)?AWSAccessKeyId=\(key.accessKeyID)&Signature=\(encoded)&Expires=\(expires)"
            }
            let expires = Int(Date().timeIntervalSince1970) + 300
            let key = agency.keys["acme"]!
            let get = try await s3.fetch(url(key, expires: expires))
            #expect(get.status == .ok, "\(get.text)")
            #expect(get.text == "v2 content")
            let tampered = url(key, expires: expires).replacingOccurrences(of: "Expires=\(expires)", with: "Expires=\(expires + 1)")
            #expect(try await s3.fetch(tampered).code == "SignatureDoesNotMatch")
            let expired = try await s3.fetch(url(key, expires: expires - 3600))
            #expect(expired.status == .forbidden)
            #expect(expired.code == "AccessDenied")
            #expect(try await s3.fetch(url(key, expires: expires), method: .delete).status == .forbidden)
            let foreign = try await s3.fetch(url(agency.keys["globex"]!, expires: expires))
            #expect(foreign.code == "AccessDenied")
            let tooLong = try await s3.fetch(url(key, expires: expires + 30 * 86400))
            #expect(tooLong.status == .badRequest)
        }
    }

    static func hmacSHA1(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let block = key + [UInt8](repeating: 0, count: 64 - key.count)
        let inner = S3ChecksumHasher(.sha1)
        inner.update(block.map { $0 ^ 0x36 } + message)
        let outer = S3ChecksumHasher(.sha1)
        outer.update(block.map { $0 ^ 0x5c } + inner.finish())
        return outer.finish()
    }

    @Test("Bad keys: .. segments, absolute paths, NUL, percent-encoded traversal answer 400 and store nothing")
    func badKeys() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            for path in [
                "/s3/acme/..", "/s3/acme/a/../b.txt", "/s3/acme/../globex/x", "/s3/acme/%2e%2e/x", "/s3/acme/a%2F..%2Fb",
                "/s3/acme//etc/passwd", "/s3/acme/%2Fetc%2Fpasswd", "/s3/acme/a%00b", "/s3/acme/a/./b", "/s3/acme/a%5C..%5Cb",
                "/s3/acme/%252e%252e/x", "/s3/acme/line%0Abreak",
            ] {
                let reply = try await s3.send(.put, path, body: Array("evil".utf8))
                #expect(reply.status == .badRequest, "\(path): \(reply.status) \(reply.text)")
                #expect(reply.code == "InvalidArgument", "\(path)")
            }
            let long = try await s3.send(.put, "/s3/acme/" + String(repeating: "k", count: 1025), body: [1])
            #expect(long.status == .badRequest)
            #expect(long.code == "KeyTooLongError")
            let malformed = try await s3.send(.put, "/s3/acme/bad%zzescape", body: [1])
            #expect(malformed.status == .badRequest)
            let list = try await s3.send(.get, "/s3/acme", query: "list-type=2")
            #expect(list.xmlValues("KeyCount") == ["0"])
        }
    }

    @Test("Over the limit: 413 EntityTooLarge before the body is stored, by Content-Length and by counting")
    func tooLarge() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let big = Self.bytes(S3Agency.limit + 1)
            let reply = try await s3.send(.put, "/s3/acme/big.bin", body: big)
            #expect(reply.status == .contentTooLarge)
            #expect(reply.code == "EntityTooLarge", "\(reply.text)")
            // aws-chunked: the decoded length is declared, and checked before reading.
            let declared = try await s3.send(
                .put, "/s3/acme/big.bin", body: Array("0\r\n\r\n".utf8),
                headers: [("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", String(S3Agency.limit + 1))],
                payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            #expect(declared.status == .contentTooLarge)
            #expect(try await s3.send(.get, "/s3/acme/big.bin").status == .notFound)
            let blobs = try await agency.files.blobs.list()
            #expect(blobs.isEmpty)
            #expect(try await s3.send(.put, "/s3/acme/fits.bin", body: Self.bytes(S3Agency.limit)).status == .ok)
        }
    }

    @Test("Checksums: a wrong x-amz-checksum-*, Content-MD5 or payload SHA-256 answers 400 BadDigest and stores nothing")
    func checksums() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let body = Self.bytes(70_000, seed: 3)
            let other = Self.bytes(10, seed: 9)
            for algorithm in [S3ChecksumAlgorithm.crc32, .crc32c, .sha1, .sha256, .crc64nvme] {
                let wrong = try await s3.send(
                    .put, "/s3/acme/checked.bin", body: body, headers: [(algorithm.headerName, S3Checksum.base64(algorithm, of: other))])
                #expect(wrong.status == .badRequest, "\(algorithm)")
                #expect(wrong.code == "BadDigest", "\(algorithm)")
                let right = try await s3.send(
                    .put, "/s3/acme/right-\(algorithm.rawValue).bin", body: body,
                    headers: [(algorithm.headerName, S3Checksum.base64(algorithm, of: body))])
                #expect(right.status == .ok, "\(algorithm) \(right.text)")
            }
            let md5 = try await s3.send(.put, "/s3/acme/checked.bin", body: body, headers: [("content-md5", S3Checksum.base64(.md5, of: other))])
            #expect(md5.code == "BadDigest")
            let badMD5 = try await s3.send(.put, "/s3/acme/checked.bin", body: body, headers: [("content-md5", "not base64!")])
            #expect(badMD5.code == "InvalidDigest")
            let badCRC = try await s3.send(.put, "/s3/acme/checked.bin", body: body, headers: [("x-amz-checksum-crc32", "AAAA")])
            #expect(badCRC.status == .badRequest)
            let payload = try await s3.send(.put, "/s3/acme/checked.bin", body: body, payloadHash: Self.sha256Hex(other))
            #expect(payload.status == .badRequest)
            #expect(payload.code == "XAmzContentSHA256Mismatch")
            // Unknown algorithms are accepted unverified.
            let unknown = try await s3.send(.put, "/s3/acme/unknown.bin", body: body, headers: [("x-amz-checksum-xyz", "AAAA")])
            #expect(unknown.status == .ok)
            #expect(try await s3.send(.get, "/s3/acme/checked.bin").status == .notFound)
        }
    }

    @Test("aws-chunked uploads (STREAMING-UNSIGNED-PAYLOAD-TRAILER) are decoded and their trailing checksum verified")
    func awsChunked() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let payload = Self.bytes(100_000, seed: 5)
            func framed(_ trailer: String) -> [UInt8] {
                var out: [UInt8] = []
                for chunk in stride(from: 0, to: payload.count, by: 65_536) {
                    let part = payload[chunk..<min(payload.count, chunk + 65_536)]
                    out += Array(String(part.count, radix: 16).utf8) + [13, 10] + part + [13, 10]
                }
                return out + Array("0\r\nx-amz-checksum-crc32:\(trailer)\r\n\r\n".utf8)
            }
            let headers = [
                ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", String(payload.count)),
                ("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ]
            let put = try await s3.send(
                .put, "/s3/acme/chunked.bin", body: framed(S3Checksum.base64(.crc32, of: payload)), headers: headers,
                payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            #expect(put.status == .ok, "\(put.text)")
            #expect(try await s3.send(.get, "/s3/acme/chunked.bin").body == payload)
            let bad = try await s3.send(
                .put, "/s3/acme/chunked-bad.bin", body: framed(S3Checksum.base64(.crc32, of: [1])), headers: headers,
                payloadHash: "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            #expect(bad.status == .badRequest)
            #expect(bad.code == "BadDigest")
            #expect(try await s3.send(.get, "/s3/acme/chunked-bad.bin").status == .notFound)
        }
    }

    @Test("HeadBucket, GetBucketLocation, ListBuckets (a key sees its own bucket only), CopyObject")
    func bucketsAndCopy() async throws {
        try await withS3Agency { agency, client in
            let s3 = agency.signer(client: client)
            let head = try await s3.send(.head, "/s3/acme")
            #expect(head.status == .ok)
            #expect(head.header("x-amz-bucket-region") == "us-east-1")
            let location = try await s3.send(.get, "/s3/acme", query: "location=")
            #expect(location.text.contains("<LocationConstraint"))
            let buckets = try await s3.send(.get, "/s3")
            #expect(buckets.xmlValues("Name") == ["acme"])

            #expect(try await s3.send(.put, "/s3/acme/orig.txt", body: Array("original".utf8), headers: [("content-type", "text/plain")]).status == .ok)
            let copy = try await s3.send(.put, "/s3/acme/copy.txt", headers: [("x-amz-copy-source", "acme/orig.txt")])
            #expect(copy.status == .ok, "\(copy.text)")
            #expect(copy.text.contains("<CopyObjectResult"))
            let copied = try await s3.send(.get, "/s3/acme/copy.txt")
            #expect(copied.text == "original")
            #expect(copied.header("Content-Type") == "text/plain")
            let foreign = try await s3.send(.put, "/s3/acme/stolen.txt", headers: [("x-amz-copy-source", "globex/anything.txt")])
            #expect(foreign.status == .forbidden)
            let multipart = try await s3.send(.post, "/s3/acme/big.bin", query: "uploads=")
            #expect(multipart.status == .notImplemented)
        }
    }

    @Test("Live socket: Expect: 100-continue gets 100 Continue at once; over the limit the 413 comes first and the connection closes")
    func expectContinue() async throws {
        let (agency, router) = try await S3Agency.make()
        defer { try? FileManager.default.removeItem(at: agency.directory) }
        let app = Application(
            router: router,
            server: .http1(
                configuration: .init(additionalChannelHandlers: [
                    ExpectContinueHandler(defaultLimit: 64 * 1024, prefixLimits: ["/s3/": S3Agency.limit])
                ])),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let key = agency.keys["acme"]!
            let body = Self.bytes(4096)
            let date = Date()
            let hash = Self.sha256Hex(body)
            var headers = [
                ("host", "127.0.0.1:\(port)"), ("x-amz-date", SigV4.formatAmzDate(date)), ("x-amz-content-sha256", hash),
                ("content-length", String(body.count)),
            ]
            let authorization = SigV4.authorization(
                for: SigV4Request(method: "PUT", path: "/s3/acme/live.bin", headers: headers),
                credentials: SigV4Credentials(accessKeyID: key.accessKeyID, secretKey: key.secret), date: date, payloadHash: hash)
            headers += [("authorization", authorization), ("expect", "100-continue")]
            let socket = try RawSocket(port: port)
            defer { socket.close() }
            try socket.send(Array(("PUT /s3/acme/live.bin HTTP/1.1\r\n" + headers.map { "\($0): \($1)\r\n" }.joined() + "\r\n").utf8))
            let interim = try socket.receive(timeout: 0.5)
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue"), "\(interim)")
            try socket.send(body)
            let final = try socket.receive(timeout: 5)
            #expect(final.contains("HTTP/1.1 200 OK"), "\(final)")

            // Declared too large: no 100, the final answer at once, then the connection closes.
            var bigHeaders = [
                ("host", "127.0.0.1:\(port)"), ("x-amz-date", SigV4.formatAmzDate(date)), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("content-length", String(S3Agency.limit + 1)),
            ]
            bigHeaders.append((
                "authorization",
                SigV4.authorization(
                    for: SigV4Request(method: "PUT", path: "/s3/acme/huge.bin", headers: bigHeaders),
                    credentials: SigV4Credentials(accessKeyID: key.accessKeyID, secretKey: key.secret), date: date,
                    payloadHash: "UNSIGNED-PAYLOAD")))
            bigHeaders.append(("expect", "100-continue"))
            let big = try RawSocket(port: port)
            defer { big.close() }
            try big.send(Array(("PUT /s3/acme/huge.bin HTTP/1.1\r\n" + bigHeaders.map { "\($0): \($1)\r\n" }.joined() + "\r\n").utf8))
            let refused = try big.receiveUntilClosed(timeout: 5)
            #expect(refused.hasPrefix("HTTP/1.1 413"), "\(refused)")
            #expect(!refused.contains("100 Continue"))
            #expect(refused.contains("<Code>EntityTooLarge</Code>"))
            #expect(refused.lowercased().contains("connection: close"))
        }
    }
}

/// A blocking loopback TCP socket for the raw HTTP/1.1 exchange the live test needs.
final class RawSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw POSIXError(.EPIPE) }
            offset += sent
        }
    }

    /// What arrives within `timeout` seconds after the first byte (or nothing).
    func receive(timeout: Double) throws -> String {
        var out = [UInt8]()
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var wait = Int32(timeout * 1000)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while poll(&pfd, 1, wait) > 0 {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            out += buffer[0..<count]
            wait = 100
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Everything until the server closes the connection (or the timeout).
    func receiveUntilClosed(timeout: Double) throws -> String {
        var out = [UInt8]()
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline, poll(&pfd, 1, 100) >= 0 {
            guard pfd.revents != 0 else { continue }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            out += buffer[0..<count]
        }
        return String(decoding: out, as: UTF8.self)
    }

    func close() { Glibc.close(fd) }
}
