import ATSDomain
import ATSJobs
import ATSStore
import Foundation

/// The outbox: renders templates for a candidate, puts messages in the queue and hands them
/// to the `email.send` job. The HTTP routes call it; it knows nothing of HTTP.
public struct Outbox: Sendable {
    public let store: any Store
    public let jobs: (any JobQueue)?

    public init(store: any Store, jobs: (any JobQueue)?) {
        self.store = store
        self.jobs = jobs
    }

    /// Candidate statuses that must never be mailed.
    public static let doNotMail: Set<String> = ["do_not_contact", "blacklisted"]

    /// Who is sending, for `{{recruiter.*}}`: the acting user, when a person acts.
    public struct Sender: Sendable, Hashable {
        public var userID: String?
        /// The audit actor (`user:<id>`, `key:<id>`).
        public var actor: String

        public init(userID: String?, actor: String) {
            self.userID = userID
            self.actor = actor
        }
    }

    /// A rendered template.
    public struct Rendered: Sendable, Hashable {
        public var subject: String
        public var body: String
        public var candidate: Record
    }

    // MARK: Templates

    /// Renders a template for a candidate (and optionally a job, whose client comes with it).
    public func render(organizationID: String, templateID: String, candidateID: String, jobID: String?, sender: Sender)
        async throws -> Rendered
    {
        guard let template = try await store.record(.emailTemplate, organizationID: organizationID, id: templateID) else {
            throw OutboxError(.notFound, "This email template does not exist.")
        }
        guard let candidate = try await store.record(.candidate, organizationID: organizationID, id: candidateID) else {
            throw OutboxError(.invalidReference, "no such candidate", field: "candidateId")
        }
        let values = try await values(organizationID: organizationID, candidate: candidate, jobID: jobID, sender: sender)
        var errors: [FieldError] = []
        var rendered: [String: String] = [:]
        for part in ["subject", "body"] {
            do throws(TemplateError) {
                rendered[part] = try EmailTemplate(template[part]?.stringValue ?? "").render(values)
            } catch {
                errors.append(FieldError(part, error.message))
            }
        }
        guard errors.isEmpty else { throw OutboxError(.template, "The template does not render for this send.", errors: errors) }
        // A subject is one header line: whatever a variable brought in, no CR or LF survives.
        return Rendered(subject: MIME.headerSafe(rendered["subject"] ?? ""), body: rendered["body"] ?? "", candidate: candidate)
    }

    /// Renders the template, creates the message (to the candidate's email) and queues it.
    public func send(organizationID: String, templateID: String, candidateID: String, jobID: String?, sender: Sender)
        async throws -> Record
    {
        let rendered = try await render(
            organizationID: organizationID, templateID: templateID, candidateID: candidateID, jobID: jobID, sender: sender)
        let to = try Self.recipient(rendered.candidate)
        let fields = try EntitySchema.of(.message).validateCreate([
            "to": .string(to), "subject": .string(rendered.subject), "body": .string(rendered.body),
            "candidateId": .string(candidateID), "templateId": .string(templateID), "status": "draft",
        ])
        let message = try await store.create(
            .message, organizationID: organizationID, fields: fields, actor: sender.actor, options: WriteOptions())
        return try await queue(organizationID: organizationID, messageID: message.id, actor: sender.actor)
    }

    // MARK: Queueing

    /// Moves a draft (or failed) message to `queued` and enqueues its `email.send` job; a message
    /// already queued gets its job back if it lost it (the unique key makes this idempotent).
    public func queue(organizationID: String, messageID: String, actor: String) async throws -> Record {
        guard let jobs else { throw OutboxError(.unavailable, "This server runs without the job tier.") }
        guard let current = try await store.record(.message, organizationID: organizationID, id: messageID) else {
            throw OutboxError(.notFound, "This message does not exist.")
        }
        try await checkSendable(organizationID: organizationID, message: current)
        let previous = current["status"]?.stringValue ?? "draft"
        let queued = try await store.update(
            .message, organizationID: organizationID, id: messageID, actor: actor, options: WriteOptions()
        ) { record in
            guard record["status"]?.stringValue != "sent" else { throw OutboxError(.alreadySent, "This message was sent already.") }
            var fields = record.fields
            fields["status"] = "queued"
            return fields
        }
        do {
            _ = try await jobs.enqueue(Self.jobRequest(organizationID: organizationID, messageID: messageID))
        } catch {
            // Without its job the message would wait forever: put it back as it was.
            if previous != "queued" {
                _ = try? await store.update(
                    .message, organizationID: organizationID, id: messageID, actor: actor, options: WriteOptions()
                ) { record in
                    var fields = record.fields
                    if fields["status"]?.stringValue == "queued" { fields["status"] = .string(previous) }
                    return fields
                }
            }
            throw OutboxError(.unavailable, "The job queue did not take the message; it stays \(previous).")
        }
        return queued
    }

    /// The job that delivers one message: one live job per message at most.
    public static func jobRequest(organizationID: String, messageID: String, maxAttempts: Int = 6) -> JobRequest {
        JobRequest(
            queue: JobQueues.emails, type: EmailWork.sendType,
            payload: ["organizationId": .string(organizationID), "messageId": .string(messageID)],
            maxAttempts: maxAttempts, timeout: .seconds(120), uniqueKey: "\(EmailWork.sendType):\(messageID)",
            organizationID: organizationID)
    }

    /// Refuses a message that cannot or must not go: sent already, an address SMTP cannot
    /// carry, or a candidate who asked not to be contacted.
    func checkSendable(organizationID: String, message: Record) async throws {
        if message["status"]?.stringValue == "sent" { throw OutboxError(.alreadySent, "This message was sent already.") }
        let to = message["to"]?.stringValue ?? ""
        guard MailMessage.isDeliverable(to) else {
            throw OutboxError(.notContactable, "The address cannot be mailed (ASCII only, no spaces or brackets).", field: "to")
        }
        if let candidateID = message["candidateId"]?.stringValue,
            let candidate = try await store.record(.candidate, organizationID: organizationID, id: candidateID)
        {
            try Self.checkContactable(candidate)
        }
    }

    static func checkContactable(_ candidate: Record) throws {
        if let status = candidate["status"]?.stringValue, doNotMail.contains(status) {
            throw OutboxError(.notContactable, "The candidate is marked \(status) and must not be mailed.", field: "candidateId")
        }
    }

    static func recipient(_ candidate: Record) throws -> String {
        try checkContactable(candidate)
        guard let email = candidate["email"]?.stringValue, !email.isEmpty else {
            throw OutboxError(.notContactable, "The candidate has no email address.", field: "candidateId")
        }
        guard MailMessage.isDeliverable(email) else {
            throw OutboxError(.notContactable, "The candidate's email address cannot be mailed over SMTP.", field: "candidateId")
        }
        return email
    }

    // MARK: Values

    /// What `{{...}}` can say for this send.
    func values(organizationID: String, candidate: Record, jobID: String?, sender: Sender) async throws -> TemplateValues {
        var values = TemplateValues()
        var candidateFields = TemplateValues.fields(of: candidate, TemplateValues.catalogue["candidate"] ?? [])
        candidateFields["fullName"] = [candidate["firstName"]?.stringValue, candidate["lastName"]?.stringValue]
            .compactMap { $0 }.joined(separator: " ")
        values.namespaces["candidate"] = candidateFields

        if let jobID {
            guard let job = try await store.record(.job, organizationID: organizationID, id: jobID) else {
                throw OutboxError(.invalidReference, "no such job", field: "jobId")
            }
            values.namespaces["job"] = TemplateValues.fields(of: job, TemplateValues.catalogue["job"] ?? [])
            if let clientID = job["clientId"]?.stringValue,
                let client = try await store.record(.client, organizationID: organizationID, id: clientID)
            {
                values.namespaces["client"] = TemplateValues.fields(of: client, TemplateValues.catalogue["client"] ?? [])
            }
        } else {
            values.absentReasons["job"] = "send a jobId"
            values.absentReasons["client"] = "send a jobId (the client is the job's)"
        }

        let recruiterID = sender.userID ?? candidate["ownerId"]?.stringValue
        if let recruiterID, let user = try await store.user(organizationID: organizationID, id: recruiterID) {
            values.namespaces["recruiter"] = ["name": user.name, "email": user.email]
        } else {
            values.absentReasons["recruiter"] = "an API key is not a person and the candidate has no owner"
        }
        if let organization = try await store.organization(id: organizationID) {
            values.namespaces["organization"] = ["name": organization.name]
        }
        return values
    }
}

/// Why the outbox refused; the HTTP edge turns each code into a status.
public struct OutboxError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The template or message (named by the URL) does not exist.
        case notFound
        /// A body field names a row that does not exist.
        case invalidReference
        /// The template does not render: unknown variables, syntax, a missing job.
        case template
        /// No address, an address SMTP cannot carry, or a do-not-contact / blacklisted candidate.
        case notContactable
        case alreadySent
        /// No job tier, or the queue refused.
        case unavailable
    }

    public let code: Code
    public let message: String
    public let errors: [FieldError]

    public init(_ code: Code, _ message: String, field: String? = nil, errors: [FieldError] = []) {
        self.code = code
        self.message = message
        self.errors = errors.isEmpty ? (field.map { [FieldError($0, message)] } ?? []) : errors
    }

    public var description: String { "OutboxError.\(code.rawValue): \(message)" }
}
