import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Foundation
import Logging
import Testing

@Suite("Email delivery")
struct EmailDeliveryTests {
    // MARK: Outbox and .eml files

    @Test func queueingEnqueuesOneJobPerMessage() async throws {
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        let message = try await agency.message()
        #expect(message["status"] == "draft")
        let queued = try await agency.outbox.queue(organizationID: agency.org, messageID: message.id, actor: "test")
        #expect(queued["status"] == "queued")
        // Sending again while it waits: still one job (the unique key).
        _ = try await agency.outbox.queue(organizationID: agency.org, messageID: message.id, actor: "test")
        let page = try await agency.jobs.jobs(JobQuery(queue: JobQueues.emails))
        #expect(page.jobs.count == 1)
        let job = try #require(page.jobs.first)
        #expect(job.type == EmailWork.sendType)
        #expect(job.uniqueKey == "email.send:\(message.id)")
        #expect(job.payload["messageId"]?.stringValue == message.id)
        #expect(job.payload["organizationId"]?.stringValue == agency.org)
    }

    @Test func withoutSMTPTheMailIsAnEMLFile() async throws {
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        let candidate = try await agency.candidate()
        let template = try await agency.create(
            .emailTemplate, ["name": "T", "subject": "Bonjour {{candidate.firstName}} — entretien", "body": "Hi\n.dot line\nBye"])
        let message = try await agency.outbox.send(
            organizationID: agency.org, templateID: template.id, candidateID: candidate.id, jobID: nil, sender: agency.sender)
        #expect(message["status"] == "queued")
        #expect(message["to"] == "ada@example.org")
        #expect(message["templateId"]?.stringValue == template.id)

        let dependencies = WorkDependencies(
            store: agency.store, jobs: agency.jobs, dataDirectory: agency.dataDirectory, logger: Logger(label: "test"))
        let handlers = EmailWork.handlers(dependencies)
        let handler = try #require(handlers.first as? EmailSendHandler)
        let (job, outcome) = try await agency.runNextEmailJob(handler)
        let result = try outcome.get()
        let path = EmailWork.outboxFolder(agency.dataDirectory) + "/\(message.id).eml"
        #expect(result?["file"]?.stringValue == path)
        let raw = try String(contentsOfFile: path, encoding: .utf8)
        let (headers, body) = MIMEDecode.split(raw)
        #expect(MIMEDecode.encodedWords(try #require(headers["Subject"])) == "Bonjour Ada — entretien")
        #expect(headers["To"] == "<ada@example.org>")
        #expect(body == "Hi\n.dot line\nBye\n")
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: EmailWork.outboxFolder(agency.dataDirectory)) == ["\(message.id).eml"])

        let sent = try await agency.message(message.id)
        #expect(sent["status"] == "sent")
        #expect(sent["sentAt"]?.stringValue != nil)
        #expect(try await agency.jobs.job(id: job.id)?.state == .completed)

        // A repeated job (a lease that expired after the send) delivers nothing twice.
        let again = try await agency.handler(FileMailTransport(folder: agency.dataDirectory + "/other")).run(
            job, context: JobContext(logger: Logger(label: "t")) { _ in true })
        #expect(again?["skipped"] != nil)
        await #expect(throws: OutboxError.self) {
            try await agency.outbox.queue(organizationID: agency.org, messageID: message.id, actor: "test")
        }
    }

    @Test func badPayloadsGoStraightToTheDeadLetters() async throws {
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        _ = try await agency.jobs.enqueue(JobRequest(queue: JobQueues.emails, type: EmailWork.sendType, payload: ["messageId": 42]))
        let (job, outcome) = try await agency.runNextEmailJob(agency.handler(FileMailTransport(folder: agency.dataDirectory)))
        guard case .failure(let failure) = outcome else { Issue.record("expected a failure"); return }
        #expect(!failure.retryable)
        #expect(try await agency.jobs.job(id: job.id)?.state == .dead)
    }

    // MARK: A real SMTP server (aiosmtpd)

    @Test(.enabled(if: SMTPTestServer.available, Comment(rawValue: SMTPTestServer.missing)))
    func deliversOverSMTP() async throws {
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        let server = try SMTPTestServer(mode: "save")
        defer { server.cleanup() }
        let body = "Grüezi Ada,\n.leading dot\n..two dots\n.\nend"
        let message = try await agency.message(subject: "Entretien à Zürich", body: body)
        _ = try await agency.outbox.queue(organizationID: agency.org, messageID: message.id, actor: "test")
        let transport = SMTPTransport(
            configuration: EmailConfiguration(smtpHost: "127.0.0.1", smtpPort: server.port, startTLS: false, timeout: .seconds(5)))
        let (_, outcome) = try await agency.runNextEmailJob(agency.handler(transport))
        _ = try outcome.get()

        let received = try server.received()
        try #require(received.count == 1)
        let (content, envelope) = received[0]
        #expect(envelope["mail_from"] == "jobs@acme.example")
        #expect(envelope["rcpt_tos"] == .array(["ada@example.org"]))
        let (headers, encoded) = MIMEDecode.split(content)
        #expect(MIMEDecode.encodedWords(try #require(headers["Subject"])) == "Entretien à Zürich")
        #expect(headers["Message-ID"] == "<\(message.id)@acme.example>")
        // The server undid the dot-stuffing: the body arrives exactly as written.
        #expect(MIMEDecode.quotedPrintable(encoded.replacingOccurrences(of: "\n", with: "\r\n"))
            == body.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n")
        let sent = try await agency.message(message.id)
        #expect(sent["status"] == "sent")
        #expect(sent["sentAt"]?.stringValue != nil)
    }

    @Test(.enabled(if: SMTPTestServer.available, Comment(rawValue: SMTPTestServer.missing)))
    func startTLSAndLogin() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        try SMTPTestServer.makeCertificate(cert: cert, key: key)
        let server = try SMTPTestServer(mode: "save", arguments: ["--tls", cert, key, "--auth", "ats:s3cret pass"])
        defer { server.cleanup() }
        let mail = MailMessage(
            from: "jobs@acme.example", to: "ada@example.org", subject: "TLS", body: "secret", id: Identifier.make(), date: Date())

        var configuration = EmailConfiguration(
            smtpHost: "localhost", smtpPort: server.port, startTLS: true, username: "ats", password: "s3cret pass",
            from: "jobs@acme.example", timeout: .seconds(5), tlsCAFile: cert)
        try await SMTPTransport(configuration: configuration).deliver(mail)
        let received = try server.received()
        try #require(received.count == 1)
        #expect(received[0].envelope["tls"] == true)
        #expect(received[0].envelope["auth"] == true)

        // A wrong password is a permanent refusal (535).
        configuration.password = "wrong"
        let refused = await #expect(throws: MailError.self) { try await SMTPTransport(configuration: configuration).deliver(mail) }
        #expect(refused?.code == .rejected)
        #expect(refused?.replyCode == 535)

        // A certificate the client does not trust: the handshake fails before any credential leaves.
        configuration.password = "s3cret pass"
        configuration.tlsCAFile = nil
        let untrusted = await #expect(throws: MailError.self) { try await SMTPTransport(configuration: configuration).deliver(mail) }
        #expect(untrusted?.code == .connection)
        #expect(untrusted?.message.contains("TLS") == true)
        #expect(try server.received().count == 1)
    }

    @Test(.enabled(if: SMTPTestServer.available, Comment(rawValue: SMTPTestServer.missing)))
    func aRefusedRecipientFailsTheMessageAndKillsTheJob() async throws {
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        let server = try SMTPTestServer(mode: "reject")
        defer { server.cleanup() }
        let message = try await agency.message(to: "nobody@example.org")
        _ = try await agency.outbox.queue(organizationID: agency.org, messageID: message.id, actor: "test")
        let transport = SMTPTransport(
            configuration: EmailConfiguration(smtpHost: "127.0.0.1", smtpPort: server.port, startTLS: false, timeout: .seconds(5)))
        let (job, outcome) = try await agency.runNextEmailJob(agency.handler(transport))
        guard case .failure(let failure) = outcome else { Issue.record("expected a failure"); return }
        #expect(!failure.retryable)
        #expect(failure.message.contains("550"))
        #expect(failure.message.contains("User unknown"))
        #expect(try await agency.message(message.id)["status"] == "failed")
        let dead = try #require(try await agency.jobs.job(id: job.id))
        #expect(dead.state == .dead)
        #expect(dead.lastError?.contains("550 5.1.1") == true)
        #expect(try server.received().isEmpty)
    }

    @Test(.enabled(if: SMTPTestServer.available, Comment(rawValue: SMTPTestServer.missing)))
    func aDeferralIsRetriedAndTheLastAttemptFailsTheMessage() async throws {
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        let server = try SMTPTestServer(mode: "defer")
        defer { server.cleanup() }
        let message = try await agency.message()
        _ = try await agency.jobs.enqueue(Outbox.jobRequest(organizationID: agency.org, messageID: message.id, maxAttempts: 2))
        _ = try await agency.store.update(.message, organizationID: agency.org, id: message.id, actor: "test", options: WriteOptions()) {
            var fields = $0.fields
            fields["status"] = "queued"
            return fields
        }
        let handler = agency.handler(
            SMTPTransport(configuration: EmailConfiguration(smtpHost: "127.0.0.1", smtpPort: server.port, startTLS: false, timeout: .seconds(5))))

        let (job, first) = try await agency.runNextEmailJob(handler)
        guard case .failure(let failure) = first else { Issue.record("expected a failure"); return }
        #expect(failure.retryable)
        #expect(failure.message.contains("451"))
        #expect(try await agency.message(message.id)["status"] == "queued")
        #expect(try await agency.jobs.job(id: job.id)?.state.isFinished == false)

        let (_, second) = try await agency.runNextEmailJob(handler)
        guard case .failure = second else { Issue.record("expected a failure"); return }
        #expect(try await agency.message(message.id)["status"] == "failed")
        let dead = try #require(try await agency.jobs.job(id: job.id))
        #expect(dead.state == .dead)
        #expect(dead.lastError?.contains("451") == true)
    }

    @Test(.enabled(if: SMTPTestServer.available, Comment(rawValue: SMTPTestServer.missing)))
    func aServerThatDisappearsIsATransientError() async throws {
        let server = try SMTPTestServer(mode: "save")
        let port = server.port
        server.cleanup()
        let mail = MailMessage(from: "jobs@acme.example", to: "ada@example.org", subject: "x", body: "y", id: Identifier.make(), date: Date())
        let transport = SMTPTransport(configuration: EmailConfiguration(smtpHost: "127.0.0.1", smtpPort: port, startTLS: false, timeout: .seconds(2)))
        let error = await #expect(throws: MailError.self) { try await transport.deliver(mail) }
        #expect(error?.code == .connection)
        #expect(error?.isPermanent == false)

        // Through the handler: transient, the message waits for the retry.
        let agency = try await EmailAgency.make()
        defer { agency.cleanup() }
        let message = try await agency.message()
        _ = try await agency.outbox.queue(organizationID: agency.org, messageID: message.id, actor: "test")
        let (_, outcome) = try await agency.runNextEmailJob(agency.handler(transport))
        guard case .failure(let failure) = outcome else { Issue.record("expected a failure"); return }
        #expect(failure.retryable)
        #expect(try await agency.message(message.id)["status"] == "queued")
    }

    @Test(.enabled(if: SMTPTestServer.available, Comment(rawValue: SMTPTestServer.missing)))
    func aSilentServerTimesOutAndCancellingStopsAtOnce() async throws {
        let server = try SMTPTestServer(mode: "silent")
        defer { server.cleanup() }
        let mail = MailMessage(from: "jobs@acme.example", to: "ada@example.org", subject: "x", body: "y", id: Identifier.make(), date: Date())
        let clock = ContinuousClock()

        let quick = SMTPTransport(configuration: EmailConfiguration(smtpHost: "127.0.0.1", smtpPort: server.port, startTLS: false, timeout: .seconds(1)))
        let started = clock.now
        let error = await #expect(throws: MailError.self) { try await quick.deliver(mail) }
        #expect(error?.code == .connection)
        #expect(error?.message.contains("did not answer") == true)
        #expect(started.duration(to: clock.now) < .seconds(5))

        // A job timeout cancels the task: the blocked read ends with it, not after 60 s.
        let slow = SMTPTransport(configuration: EmailConfiguration(smtpHost: "127.0.0.1", smtpPort: server.port, startTLS: false, timeout: .seconds(60)))
        let task = Task { try await slow.deliver(mail) }
        try await Task.sleep(for: .milliseconds(300))
        let cancelledAt = clock.now
        task.cancel()
        let result = await task.result
        #expect(cancelledAt.duration(to: clock.now) < .seconds(3))
        guard case .failure(let cancelled as MailError) = result else { Issue.record("expected a MailError"); return }
        #expect(cancelled.code == .connection)
    }
}
