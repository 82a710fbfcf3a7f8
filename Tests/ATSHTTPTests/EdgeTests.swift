import ATSApp
import ATSDomain
import ATSHTTP
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOEmbedded
import Prometheus
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The HTTP edge: body limits and /metrics access, through the router")
struct EdgeRouterTests {
    /// Sends one request straight to the router's responder, as the server would: the body as a
    /// stream of `chunks` without a Content-Length (a chunked upload), from `peer`.
    static func send(
        _ router: Router<ATSRequestContext>, _ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:],
        chunks: [ByteBuffer] = [], peer: String? = nil
    ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, text: String) {
        let responder = router.buildResponder()
        let stream = AsyncStream<ByteBuffer> { continuation in
            for chunk in chunks { continuation.yield(chunk) }
            continuation.finish()
        }
        let body = RequestBody(asyncSequence: stream)
        let request = Request(head: HTTPRequest(method: method, scheme: "http", authority: "x", path: path, headerFields: headers), body: body)
        var logger = Logger(label: "edge")
        logger.logLevel = .critical
        var context = ATSRequestContext(source: .init(channel: NIOAsyncTestingChannel(), logger: logger))
        if let peer { context.remoteAddress = peer }
        let response = try await responder.respond(to: request, context: context)
        let box = BodyBox()
        try await response.body.write(CollectingBodyWriter(box: box))
        return (response.status, response.headers, String(buffer: box.buffer))
    }

    @Test("A chunked body over the limit answers 413 problem+json on every JSON route, signed in or not")
    func chunkedOversize() async throws {
        let (agency, router) = try await TestAgency.make()
        defer { try? FileManager.default.removeItem(at: agency.directory) }
        // 64 KiB is the test router's limit: five 16 KiB chunks go over it.
        let chunks = Array(repeating: ByteBuffer(repeating: UInt8(ascii: "a"), count: 16 * 1024), count: 5)
        let login = try await Self.send(router, .post, "/api/v1/auth/login", headers: [.contentType: "application/json"], chunks: chunks)
        #expect(login.status == .contentTooLarge, "\(login.text)")
        #expect(login.headers[.contentType] == "application/problem+json")
        #expect(login.text.contains("/problems/body-too-large"))
        let create = try await Self.send(
            router, .post, "/api/v1/candidates",
            headers: [.contentType: "application/json", .authorization: "Bearer \(agency.key())"], chunks: chunks)
        #expect(create.status == .contentTooLarge, "\(create.text)")
        #expect(create.text.contains("/problems/body-too-large"))
    }

    @Test("/metrics: the token when one is set; otherwise loopback peers without X-Forwarded-For, unless public")
    func metricsAccess() async throws {
        let (agency, _) = try await TestAgency.make()
        defer { try? FileManager.default.removeItem(at: agency.directory) }
        func router(token: String? = nil, public: Bool = false) -> Router<ATSRequestContext> {
            APIRouter.build(
                store: agency.served,
                configuration: GatewayConfiguration(metricsToken: token, metricsPublic: `public`),
                registry: PrometheusCollectorRegistry())
        }
        let closed = router()
        #expect(try await Self.send(closed, .get, "/metrics", peer: "127.0.0.1").status == .ok)
        #expect(try await Self.send(closed, .get, "/metrics", peer: "::1").status == .ok)
        let remote = try await Self.send(closed, .get, "/metrics", peer: "203.0.113.9")
        #expect(remote.status == .forbidden)
        #expect(remote.headers[.contentType] == "application/problem+json")
        let proxied = try await Self.send(
            closed, .get, "/metrics", headers: [HTTPField.Name("X-Forwarded-For")!: "203.0.113.9"], peer: "127.0.0.1")
        #expect(proxied.status == .forbidden)

        let open = router(public: true)
        #expect(try await Self.send(open, .get, "/metrics", peer: "203.0.113.9").status == .ok)

        let tokened = router(token: "s3cret")
        #expect(try await Self.send(tokened, .get, "/metrics", peer: "127.0.0.1").status == .unauthorized)
        #expect(
            try await Self.send(tokened, .get, "/metrics", headers: [.authorization: "Bearer wrong"], peer: "127.0.0.1").status
                == .unauthorized)
        let allowed = try await Self.send(
            tokened, .get, "/metrics", headers: [.authorization: "Bearer s3cret", HTTPField.Name("X-Forwarded-For")!: "203.0.113.9"],
            peer: "203.0.113.9")
        #expect(allowed.status == .ok)
        #expect(allowed.text.contains("ats_store_readers"))
    }
}

final class BodyBox: @unchecked Sendable {
    var buffer = ByteBuffer()
}

/// Collects a response body in tests.
struct CollectingBodyWriter: ResponseBodyWriter {
    let box: BodyBox
    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        box.buffer.writeBuffer(&buffer)
    }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

@Suite("The HTTP edge over a real socket: parse errors, caps, timeouts", .serialized)
struct EdgeLiveTests {
    /// The appliance on a free port with `settings`, running `body` with that port.
    static func withServer(_ settings: [String: String], _ body: @Sendable (Int, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ats-edge-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var flags = settings
        flags["ATS_DATA"] = directory.path
        flags["ATS_PORT"] = "0"
        flags["ATS_MAX_BODY_BYTES"] = "65536"
        let configuration = try Configuration(flags: flags, environment: [:])
        var logger = Logger(label: "edge-live")
        logger.logLevel = .critical
        let store = try Appliance.openStore(configuration, logger: logger)
        _ = try await Administration.createOrganization(store, slug: "edge", name: "Edge")
        let key = try await Administration.createToken(store, organization: "edge", role: .admin, name: "t")
        let app = Appliance.makeApplication(configuration, store: store, registry: PrometheusCollectorRegistry(), logger: logger)
        try await app.test(.live) { client in
            try await body(client.port!, key)
        }
    }

    @Test("A garbage request line, an oversized head and a bad URL answer problem+json, then close")
    func parseErrors() async throws {
        try await Self.withServer([:]) { port, _ in
            let garbage = try RawConnection(port: port)
            try garbage.send("HELLO THERE\r\n\r\n")
            let answer = garbage.readAll()
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
            #expect(answer.contains("application/problem+json"))
            #expect(answer.contains("/problems/malformed-request"))
            #expect(garbage.closedByPeer)

            let big = try RawConnection(port: port)
            try big.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n")
            let bigAnswer = big.readAll()
            #expect(bigAnswer.hasPrefix("HTTP/1.1 431"), "\(bigAnswer)")
            #expect(bigAnswer.contains("/problems/header-too-large"))
            #expect(big.closedByPeer)
        }
    }

    @Test("A chunked body over the limit answers 413 and the connection closes; so does an announced one the client keeps sending")
    func oversizedBodies() async throws {
        try await Self.withServer([:]) { port, _ in
            let chunked = try RawConnection(port: port)
            try chunked.send(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: "a", count: 16 * 1024)
            for _ in 0..<6 { try? chunked.send(String(16 * 1024, radix: 16) + "\r\n" + chunk + "\r\n") }
            let answer = chunked.readAll()
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(300))")
            #expect(answer.lowercased().contains("connection: close"))
            #expect(answer.contains("/problems/body-too-large"))
            #expect(chunked.closedByPeer)

            // Announced: the early 413 comes before the body is read; the client keeps writing
            // and must still get the answer, then the end of the stream (not a hang).
            let announced = try RawConnection(port: port)
            try announced.send(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
            for _ in 0..<20 { try? announced.send(chunk) }
            let early = announced.readAll()
            #expect(early.hasPrefix("HTTP/1.1 413"), "\(early.prefix(300))")
            #expect(announced.closedByPeer)
        }
    }

    @Test("A half-sent request head is answered 408 and closed after the header timeout")
    func headerTimeout() async throws {
        try await Self.withServer(["ATS_HEADER_TIMEOUT_SECONDS": "1"]) { port, _ in
            let slow = try RawConnection(port: port, timeout: 5)
            try slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            let start = ContinuousClock.now
            let answer = slow.readAll()
            let waited = ContinuousClock.now - start
            #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
            #expect(slow.closedByPeer)
            #expect(waited < .seconds(3))
        }
    }

    @Test("Beyond ATS_MAX_CONNECTIONS a connection gets 503 with Retry-After")
    func connectionCap() async throws {
        try await Self.withServer(["ATS_MAX_CONNECTIONS": "4"]) { port, _ in
            var held: [RawConnection] = []
            for _ in 0..<4 { held.append(try RawConnection(port: port)) }
            // The held ones are served: a full request on one of them answers 200.
            try held[0].send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(held[0].readResponseHead().hasPrefix("HTTP/1.1 200"))
            let extra = try RawConnection(port: port)
            try extra.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let answer = extra.readAll()
            #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer)")
            #expect(answer.lowercased().contains("retry-after: "))
            #expect(answer.contains("/problems/too-many-connections"))
            held.removeAll()
            // Once they close, new connections are served again.
            try await Task.sleep(for: .milliseconds(300))
            let later = try RawConnection(port: port)
            try later.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(later.readAll().hasPrefix("HTTP/1.1 200"))
        }
    }
}

/// A blocking loopback TCP connection for tests that need bytes HTTP clients refuse to send.
final class RawConnection: @unchecked Sendable {
    let fd: Int32
    private(set) var closedByPeer = false

    init(port: Int, timeout: Int = 10) throws {
        fd = try connectLoopback(port: port)
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeMutableBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw POSIXError(.EPIPE) }
            offset += sent
        }
    }

    /// Everything until the peer closes (or the receive timeout).
    func readAll() -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { closedByPeer = true; break }
            if count < 0 { break }
            data += buffer[0..<count]
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Bytes until the end of a response head.
    func readResponseHead() -> String {
        var data: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            data.append(byte)
            if data.count >= 4, data.suffix(4) == [13, 10, 13, 10] { break }
        }
        return String(decoding: data, as: UTF8.self)
    }
}
