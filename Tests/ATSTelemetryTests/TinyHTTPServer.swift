import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback HTTP/1.1 server on a thread of its own, for the exporter tests: it answers
/// each request with the next scripted status (200 once the script is used up), or not at all
/// when `silent`, and closes the connection.
final class TinyHTTPServer: Sendable {
    struct Request: Sendable {
        var requestLine: String
        var headers: [String: String]
        var body: String
    }

    let port: Int
    private let listener: Int32
    private let script: Mutex<[Int]>
    private let silent: Bool
    let requests = Mutex<[Request]>([])

    init(statuses: [Int] = [], silent: Bool = false) throws {
        self.script = Mutex(statuses)
        self.silent = silent
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        self.listener = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops accepting: wakes the blocked `accept`, whose thread then closes the socket (closing
    /// it here could let a new socket reuse the descriptor under that thread's feet).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// A loopback port with nothing listening on it.
    static func closedPort() throws -> Int {
        let server = try TinyHTTPServer()
        let port = server.port
        server.stop()
        return port
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                close(listener)
                return
            }
            serve(connection)
        }
    }

    private func serve(_ connection: Int32) {
        defer { close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Int?
        var contentLength = 0
        while true {
            if let end = headerEnd, received.count >= end + contentLength { break }
            let count = read(connection, &buffer, buffer.count)
            if count <= 0 { return }
            received.append(contentsOf: buffer[0..<count])
            if headerEnd == nil, let range = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                headerEnd = range.upperBound
                let head = String(decoding: received[..<range.lowerBound], as: UTF8.self)
                for line in head.split(separator: "\r\n").dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "content-length" {
                        contentLength = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                }
            }
        }
        guard let headerEnd else { return }
        let head = String(decoding: received[..<(headerEnd - 4)], as: UTF8.self)
        let lines = head.split(separator: "\r\n").map(String.init)
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        let body = String(decoding: received[headerEnd..<(headerEnd + contentLength)], as: UTF8.self)
        requests.withLock { $0.append(Request(requestLine: lines.first ?? "", headers: headers, body: body)) }
        if silent {
            // Hold the connection open without answering until the client gives up.
            _ = read(connection, &buffer, buffer.count)
            return
        }
        let status = script.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
        let response = "HTTP/1.1 \(status) Scripted\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        _ = Array(response.utf8).withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
    }
}
