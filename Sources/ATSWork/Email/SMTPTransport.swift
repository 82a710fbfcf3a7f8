import CLibSSL
import Foundation
import Tracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a rendered mail goes: an SMTP server, or a folder of `.eml` files.
public protocol MailTransport: Sendable {
    /// Hands the mail over; a `MailError` says whether another attempt could work.
    func deliver(_ mail: MailMessage) async throws(MailError)
}

/// Delivers over SMTP (RFC 5321): EHLO, STARTTLS when configured, AUTH PLAIN or LOGIN,
/// MAIL FROM / RCPT TO / DATA with dot-stuffing, QUIT.
///
/// Why blocking sockets on a thread of their own rather than a NIO channel: an SMTP session
/// is a short, strictly sequential dialogue at recruiting volumes (a handful of mails a
/// minute), STARTTLS has to upgrade the connection mid-dialogue and swift-nio-ssl is not
/// available, while libssl upgrades a blocking socket in three calls (`SSL_set_fd`,
/// `SSL_connect`). Each delivery runs on its own thread, never on the cooperative pool; that
/// thread blocks SIGPIPE, so a server that hangs up mid-write is an error, not a dead process.
/// Every read and write has a timeout, and cancelling the job (its timeout or a cancel)
/// shuts the socket down, which ends any blocked call at once.
public struct SMTPTransport: MailTransport {
    public let configuration: EmailConfiguration
    let tracer: (any Tracer)?

    public init(configuration: EmailConfiguration, tracer: (any Tracer)? = nil) {
        self.configuration = configuration
        self.tracer = tracer
    }

    public func deliver(_ mail: MailMessage) async throws(MailError) {
        // The server only: never the addresses (personal data) on a span.
        let span = tracer?.startSpan("smtp.send", context: ServiceContext.current ?? .topLevel, ofKind: .client)
        defer { span?.end() }
        span?.attributes["server.address"] = configuration.smtpHost ?? ""
        span?.attributes["server.port"] = configuration.smtpPort
        do throws(MailError) {
            try await send(mail)
        } catch {
            span?.attributes["error.type"] = error.code.rawValue
            span?.setStatus(SpanStatus(code: .error))
            throw error
        }
    }

    func send(_ mail: MailMessage) async throws(MailError) {
        let message = try mail.rfc5322()
        let configuration = self.configuration
        let socket = SocketBox()
        let result: Result<Void, MailError> = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, MailError>, Never>) in
                let thread = Thread {
                    var set = sigset_t()
                    sigemptyset(&set)
                    sigaddset(&set, SIGPIPE)
                    pthread_sigmask(SIG_BLOCK, &set, nil)
                    let session = SMTPSession(configuration: configuration, socket: socket)
                    do throws(MailError) {
                        try session.run(from: mail.fromAddress, to: mail.to, data: MIME.dotStuffed(message))
                        continuation.resume(returning: .success(()))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                    session.close()
                }
                thread.name = "ats-smtp"
                thread.start()
            }
        } onCancel: {
            socket.cancel()
        }
        try result.get()
    }
}

/// The socket of one session, so a cancel from another thread can shut it down.
final class SocketBox: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var cancelled = false

    /// Registers the connected socket; false when the delivery was cancelled meanwhile.
    func set(_ descriptor: Int32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        fd = descriptor
        return !cancelled
    }

    var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    func cancel() {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
        if fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }
}

/// One SMTP dialogue on the calling (dedicated) thread.
final class SMTPSession {
    let configuration: EmailConfiguration
    let socket: SocketBox
    private var fd: Int32 = -1
    private var context: OpaquePointer?
    private var ssl: OpaquePointer?
    private var buffer: [UInt8] = []
    private var position = 0

    init(configuration: EmailConfiguration, socket: SocketBox) {
        self.configuration = configuration
        self.socket = socket
    }

    struct Reply {
        let code: Int
        let lines: [String]
        var text: String { lines.joined(separator: " / ") }
        var isPositive: Bool { code >= 200 && code < 400 }
    }

    func run(from: String, to: String, data: [UInt8]) throws(MailError) {
        guard let host = configuration.smtpHost else { throw MailError(.connection, "no SMTP host is configured") }
        try connect(host: host, port: configuration.smtpPort)
        try expect(readReply(), [220], "greeting")
        var extensions = try hello()
        if configuration.startTLS {
            guard extensions.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                throw MailError(.connection, "the SMTP server does not offer STARTTLS, which the configuration requires")
            }
            try expect(command("STARTTLS"), [220], "STARTTLS")
            try startTLS(host: host)
            extensions = try hello()
        }
        if let username = configuration.username {
            try authenticate(username: username, password: configuration.password ?? "", extensions: extensions)
        }
        try expect(command("MAIL FROM:<\(from)>"), [250], "MAIL FROM")
        try expect(command("RCPT TO:<\(to)>"), [250, 251], "RCPT TO")
        try expect(command("DATA"), [354], "DATA")
        try write(data)
        try expect(readReply(), [250], "end of DATA")
        // The mail is accepted; a failing QUIT changes nothing.
        _ = try? command("QUIT")
    }

    /// EHLO (HELO when the server does not know it); the extension lines of the answer.
    private func hello() throws(MailError) -> [String] {
        let name = Self.localName()
        let reply = try command("EHLO \(name)")
        if reply.code == 250 { return Array(reply.lines.dropFirst()) }
        try expect(command("HELO \(name)"), [250], "HELO")
        return []
    }

    private func authenticate(username: String, password: String, extensions: [String]) throws(MailError) {
        let mechanisms = extensions.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased()
            .split(whereSeparator: { $0 == " " || $0 == "=" }).dropFirst().map(String.init) ?? []
        if mechanisms.contains("PLAIN") || !mechanisms.contains("LOGIN") {
            let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
            try expect(command("AUTH PLAIN \(token)", secret: true), [235], "AUTH PLAIN")
        } else {
            try expect(command("AUTH LOGIN"), [334], "AUTH LOGIN")
            try expect(command(Data(username.utf8).base64EncodedString(), secret: true), [334], "AUTH LOGIN user")
            try expect(command(Data(password.utf8).base64EncodedString(), secret: true), [235], "AUTH LOGIN password")
        }
    }

    private func expect(_ reply: Reply, _ codes: Set<Int>, _ step: String) throws(MailError) {
        guard !codes.contains(reply.code) else { return }
        let text = "\(step): \(reply.code) \(reply.text)"
        if reply.code >= 500 && reply.code < 600 {
            throw MailError(.rejected, "the SMTP server refused \(text)", replyCode: reply.code)
        }
        if reply.code >= 400 && reply.code < 500 {
            throw MailError(.deferred, "the SMTP server deferred \(text)", replyCode: reply.code)
        }
        throw MailError(.connection, "unexpected SMTP reply to \(text)", replyCode: reply.code)
    }

    private func command(_ line: String, secret: Bool = false) throws(MailError) -> Reply {
        try write(Array((line + "\r\n").utf8))
        return try readReply()
    }

    // MARK: Replies

    private func readReply() throws(MailError) -> Reply {
        var lines: [String] = []
        var code = 0
        while true {
            let line = try readLine()
            guard line.utf8.count >= 3, let value = Int(line.prefix(3)), (200...599).contains(value) else {
                throw MailError(.connection, "the SMTP server sent a malformed reply")
            }
            if code != 0 && value != code { throw MailError(.connection, "the SMTP server mixed reply codes in one reply") }
            code = value
            let rest = line.dropFirst(3)
            lines.append(String(rest.dropFirst()).trimmingCharacters(in: .whitespaces))
            if rest.first != "-" { break }
            if lines.count > 100 { throw MailError(.connection, "the SMTP server sent an endless reply") }
        }
        return Reply(code: code, lines: lines)
    }

    private func readLine() throws(MailError) -> String {
        var line: [UInt8] = []
        while true {
            if position == buffer.count {
                buffer = try readSome()
                position = 0
            }
            let byte = buffer[position]
            position += 1
            if byte == 10 {
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            line.append(byte)
            if line.count > 4096 { throw MailError(.connection, "the SMTP server sent a line over 4096 bytes") }
        }
    }

    // MARK: Socket and TLS

    private func connect(host: String, port: Int) throws(MailError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw MailError(.connection, "cannot resolve the SMTP host: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let descriptor = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard descriptor >= 0 else { lastError = Self.errnoText(); continue }
            guard socket.set(descriptor) else {
                Glibc.close(descriptor)
                throw MailError(.connection, "the delivery was cancelled")
            }
            if connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen, timeout: configuration.timeout) {
                fd = descriptor
                var interval = timeval(
                    tv_sec: Int(configuration.timeout.components.seconds),
                    tv_usec: Int(configuration.timeout.components.attoseconds / 1_000_000_000_000))
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
                return
            }
            lastError = Self.errnoText()
            _ = socket.set(-1)
            Glibc.close(descriptor)
        }
        throw MailError(.connection, "cannot connect to the SMTP server \(host):\(port): \(lastError)")
    }

    /// A connect bounded by `timeout`: non-blocking connect, then poll.
    private func connect(_ descriptor: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t, timeout: Duration) -> Bool {
        let flags = fcntl(descriptor, F_GETFL, 0)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(descriptor, F_SETFL, flags) }
        if Glibc.connect(descriptor, address, length) == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let ready = poll(&poller, 1, milliseconds)
        guard ready == 1 else {
            errno = ready == 0 ? ETIMEDOUT : errno
            return false
        }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &size)
        if error != 0 { errno = error }
        return error == 0
    }

    private func startTLS(host: String) throws(MailError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw tlsError("cannot create a TLS context") }
        self.context = context
        _ = clibssl_set_min_proto_version(context, TLS1_2_VERSION)
        if configuration.tlsVerify {
            if let caFile = configuration.tlsCAFile {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    throw tlsError("cannot read the CA file")
                }
            } else {
                SSL_CTX_set_default_verify_paths(context)
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        }
        guard let ssl = SSL_new(context) else { throw tlsError("cannot create a TLS session") }
        self.ssl = ssl
        _ = clibssl_set_tlsext_host_name(ssl, host)
        if configuration.tlsVerify {
            if host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
            } else {
                SSL_set1_host(ssl, host)
            }
        }
        SSL_set_fd(ssl, fd)
        // Anything the server sent before the handshake would be a protocol violation.
        buffer = []
        position = 0
        guard SSL_connect(ssl) == 1 else { throw tlsError("the TLS handshake failed") }
    }

    private func tlsError(_ what: String) -> MailError {
        var details: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            details.append(Self.cString(text))
        }
        let suffix = details.isEmpty ? "" : ": " + details.joined(separator: "; ")
        return MailError(.connection, "STARTTLS: \(what)\(suffix)")
    }

    private func readSome() throws(MailError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let count: Int
        if let ssl {
            count = Int(SSL_read(ssl, &chunk, Int32(chunk.count)))
        } else {
            count = recv(fd, &chunk, chunk.count, 0)
        }
        if count > 0 { return Array(chunk[0..<count]) }
        if socket.isCancelled { throw MailError(.connection, "the delivery was cancelled") }
        if count == 0 { throw MailError(.connection, "the SMTP server closed the connection") }
        if errno == EAGAIN || errno == EWOULDBLOCK {
            throw MailError(.connection, "the SMTP server did not answer within \(configuration.timeout)")
        }
        throw MailError(.connection, "reading from the SMTP server failed: \(Self.errnoText())")
    }

    private func write(_ bytes: [UInt8]) throws(MailError) {
        var offset = 0
        while offset < bytes.count {
            let count: Int = bytes[offset...].withUnsafeBytes { raw in
                if let ssl { return Int(SSL_write(ssl, raw.baseAddress, Int32(min(raw.count, 1 << 20)))) }
                return send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 {
                if socket.isCancelled { throw MailError(.connection, "the delivery was cancelled") }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw MailError(.connection, "the SMTP server did not take data within \(configuration.timeout)")
                }
                throw MailError(.connection, "writing to the SMTP server failed: \(Self.errnoText())")
            }
            offset += count
        }
    }

    func close() {
        if let ssl {
            SSL_free(ssl)
            self.ssl = nil
        }
        if let context {
            SSL_CTX_free(context)
            self.context = nil
        }
        if fd >= 0 {
            _ = socket.set(-1)
            Glibc.close(fd)
            fd = -1
        }
    }

    static func cString(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// The name EHLO announces: this host's name when it is a plain domain name, else a literal.
    static func localName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count) == 0 else { return "localhost" }
        let text = cString(name)
        let valid = !text.isEmpty && text.utf8.allSatisfy { $0 < 127 && ($0 == 45 || $0 == 46 || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0)) }
        return valid ? text : "localhost"
    }
}

/// Writes each mail as `<folder>/<id>.eml`: the default with no SMTP host, so a demo or a test
/// VM never mails real people. Written to a temporary name and renamed, so a reader never sees half a file.
public struct FileMailTransport: MailTransport {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    public func deliver(_ mail: MailMessage) async throws(MailError) {
        let bytes = try mail.rfc5322()
        guard mail.id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw MailError(.invalidAddress, "the message id is not a file name")
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let url = URL(fileURLWithPath: folder).appendingPathComponent("\(mail.id).eml")
            try Data(bytes).write(to: url, options: .atomic)
        } catch {
            throw MailError(.storage, "cannot write the .eml file: \(error.localizedDescription)")
        }
    }

    /// Where the mail with this id lands.
    public func path(for id: String) -> String {
        URL(fileURLWithPath: folder).appendingPathComponent("\(id).eml").path
    }
}
