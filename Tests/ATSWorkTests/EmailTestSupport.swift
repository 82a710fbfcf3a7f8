import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Logging
import Testing

/// An agency in a fresh SQLite store, with the real SQLite job queue in the same database.
struct EmailAgency {
    let store: SQLiteStore
    let jobs: SQLiteJobQueue
    let organization: Organization
    let recruiter: User
    let folder: URL

    static func make() async throws -> EmailAgency {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-email-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: folder.appendingPathComponent("ats.sqlite").path, logger: Logger(label: "test.store"))
        try store.migrate()
        let jobs = SQLiteJobQueue(pool: store.pool, logger: Logger(label: "test.jobs"))
        try jobs.migrate()
        let organization = try await store.createOrganization(slug: "acme-\(UUID().uuidString.prefix(8).lowercased())", name: "Acme Talent")
        let recruiter = try await store.createUser(
            organizationID: organization.id, email: "rita@acme.example", name: "Rita Recruiter", role: .recruiter,
            passwordHash: "x", actor: "test")
        return EmailAgency(store: store, jobs: jobs, organization: organization, recruiter: recruiter, folder: folder)
    }

    var org: String { organization.id }
    var sender: Outbox.Sender { Outbox.Sender(userID: recruiter.id, actor: "user:\(recruiter.id)") }
    var outbox: Outbox { Outbox(store: store, jobs: jobs) }
    var dataDirectory: String { folder.appendingPathComponent("data").path }

    func cleanup() { try? FileManager.default.removeItem(at: folder) }

    func create(_ kind: EntityKind, _ fields: JSONObject) async throws -> Record {
        try await store.create(
            kind, organizationID: org, fields: try EntitySchema.of(kind).validateCreate(fields), actor: "test", options: WriteOptions())
    }

    func candidate(email: String? = "ada@example.org", status: String = "active", firstName: String = "Ada") async throws -> Record {
        var fields: JSONObject = ["firstName": .string(firstName), "lastName": "Lovelace", "status": .string(status)]
        if let email { fields["email"] = .string(email) }
        return try await create(.candidate, fields)
    }

    func message(to: String = "ada@example.org", subject: String = "Hello", body: String = "Hi Ada") async throws -> Record {
        try await create(.message, ["to": .string(to), "subject": .string(subject), "body": .string(body)])
    }

    func message(_ id: String) async throws -> Record {
        try #require(try await store.record(.message, organizationID: org, id: id))
    }

    /// Claims the next email job and runs it with `handler` the way the runner does: complete on
    /// success, dead on a permanent failure, back to the queue (retry now) on a transient one.
    @discardableResult
    func runNextEmailJob(_ handler: EmailSendHandler) async throws -> (job: Job, outcome: Result<JSONObject?, JobFailure>) {
        let job = try #require(try await jobs.claim(queue: JobQueues.emails, worker: "test", lease: .seconds(60), now: Date()))
        let context = JobContext(logger: Logger(label: "test.job")) { _ in true }
        do {
            let result = try await handler.run(job, context: context)
            _ = try await jobs.complete(id: job.id, attempt: job.attempts, result: result, now: Date())
            return (job, .success(result))
        } catch let failure as JobFailure {
            _ = try await jobs.fail(
                id: job.id, attempt: job.attempts, error: failure.message, retryAt: failure.retryable ? Date() : nil, now: Date())
            return (job, .failure(failure))
        }
    }

    func handler(_ transport: any MailTransport) -> EmailSendHandler {
        EmailSendHandler(store: store, transport: transport, from: "Acme Talent <jobs@acme.example>", logger: Logger(label: "test.email"))
    }
}

/// The aiosmtpd server of `Tests/integration/smtp_test.py`, started on a free loopback port
/// and stopped by pid.
final class SMTPTestServer: @unchecked Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let python = packageRoot.appendingPathComponent(".build-py/venv/bin/python").path
    static let script = packageRoot.appendingPathComponent("Tests/integration/smtp_test.py").path

    /// Whether the test virtualenv with aiosmtpd exists (`Appliance/install-deps.sh --test`).
    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", "import aiosmtpd"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    static let missing = "needs .build-py/venv with aiosmtpd (Tests/integration/requirements.txt): run `Appliance/install-deps.sh --test`"

    let process: Process
    let port: Int
    let folder: URL

    init(mode: String, arguments: [String] = []) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [Self.script, "--mode", mode, "--folder", folder.appendingPathComponent("mail").path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // The first line is `READY <port>`.
        var line: [UInt8] = []
        let handle = output.fileHandleForReading
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let first = byte.first else { break }
            if first == 10 { break }
            line.append(first)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY "), let port = Int(text.dropFirst(6)) else {
            process.terminate()
            throw SMTPTestServerError(message: "the SMTP test server did not start: '\(text)'")
        }
        self.port = port
    }

    /// SIGTERM, then SIGKILL if it is still there after two seconds.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<40 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func cleanup() {
        stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// The mails the server accepted: raw content and envelope.
    func received() throws -> [(content: String, envelope: JSONObject)] {
        let mail = folder.appendingPathComponent("mail")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: mail.path)) ?? []
        return try names.filter { $0.hasSuffix(".eml") }.sorted().map { name in
            let content = try String(contentsOf: mail.appendingPathComponent(name), encoding: .utf8)
            let json = try Data(contentsOf: mail.appendingPathComponent(name.replacingOccurrences(of: ".eml", with: ".json")))
            let envelope = JSONCoding.decodeObject(Array(json)) ?? [:]
            return (content, envelope)
        }
    }

    /// A self-signed certificate for `localhost` and 127.0.0.1, made with the openssl CLI.
    func makeCertificate() throws -> (cert: String, key: String) {
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        try Self.makeCertificate(cert: cert, key: key)
        return (cert, key)
    }

    static func makeCertificate(cert: String, key: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw SMTPTestServerError(message: "openssl req failed") }
    }
}

struct SMTPTestServerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Decoders for what the MIME builder encodes, so tests check round trips.
enum MIMEDecode {
    static func encodedWords(_ header: String) -> String {
        let unfolded = header.replacingOccurrences(of: "\r\n ", with: " ")
        guard unfolded.contains("=?UTF-8?B?") else { return unfolded }
        var bytes: [UInt8] = []
        for word in unfolded.split(separator: " ") {
            guard word.hasPrefix("=?UTF-8?B?"), word.hasSuffix("?=") else { continue }
            let payload = word.dropFirst(10).dropLast(2)
            bytes += Array(Data(base64Encoded: String(payload)) ?? Data())
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func quotedPrintable(_ text: String) -> String {
        let joined = text.replacingOccurrences(of: "=\r\n", with: "")
        var bytes: [UInt8] = []
        var iterator = Array(joined.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "="), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Headers (unfolded) and body of a raw message.
    static func split(_ raw: String) -> (headers: [String: String], body: String) {
        let normalized = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let parts = normalized.components(separatedBy: "\n\n")
        let head = parts.first ?? ""
        var headers: [String: String] = [:]
        var lastName: String?
        for line in head.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(" "), let lastName {
                headers[lastName, default: ""] += "\r\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                let name = String(line[..<colon])
                headers[name] = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                lastName = name
            }
        }
        return (headers, parts.dropFirst().joined(separator: "\n\n"))
    }
}
