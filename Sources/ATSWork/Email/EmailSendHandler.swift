import ATSDomain
import ATSJobs
import ATSStore
import Foundation
import Logging

/// `email.send`: delivers one outbox message and records the outcome on it.
///
/// - `sent` (the store stamps `sentAt`) when the server accepted it or the `.eml` file is written;
/// - a permanent refusal (5xx: bounce, unknown recipient) marks it `failed` and sends the job
///   to the dead letters with the server's reply;
/// - a 4xx reply or a connection problem is retried with backoff; the last attempt marks the
///   message `failed` before the runner marks the job dead.
///
/// Delivery is at least once: a crash between the server's "250" and the status write sends
/// again on the next attempt, with the same `Message-ID` so mail clients show it once.
public struct EmailSendHandler: JobHandler {
    public let type = EmailWork.sendType
    let store: any Store
    let transport: any MailTransport
    let from: String
    let logger: Logger

    public init(dependencies: WorkDependencies) {
        self.init(
            store: dependencies.store, transport: EmailWork.transport(dependencies), from: dependencies.email.from,
            logger: dependencies.logger)
    }

    public init(store: any Store, transport: any MailTransport, from: String, logger: Logger) {
        self.store = store
        self.transport = transport
        self.from = from
        self.logger = logger
    }

    public func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        guard let organizationID = job.payload["organizationId"]?.stringValue,
            let messageID = job.payload["messageId"]?.stringValue.flatMap(Identifier.canonical)
        else {
            throw JobFailure.permanent("the payload needs organizationId and messageId")
        }
        guard let message = try await store.record(.message, organizationID: organizationID, id: messageID) else {
            return ["skipped": "the message no longer exists"]
        }
        let status = message["status"]?.stringValue ?? "draft"
        guard status == "queued" || status == "failed" else {
            // Sent already (a repeated job), or taken back to draft: nothing to deliver.
            return ["skipped": .string("the message is \(status)")]
        }
        let mail = MailMessage(
            from: from, to: message["to"]?.stringValue ?? "", subject: message["subject"]?.stringValue ?? "",
            body: message["body"]?.stringValue ?? "", id: messageID, date: Date())
        let actor = "job:\(job.id)"
        do throws(MailError) {
            try await transport.deliver(mail)
        } catch {
            let lastAttempt = job.attempts >= job.maxAttempts
            context.logger.warning(
                "email not delivered",
                metadata: ["message_id": "\(messageID)", "code": "\(error.code.rawValue)", "reply": "\(error.replyCode.map(String.init) ?? "-")"])
            if error.isPermanent || lastAttempt {
                try await mark(organizationID: organizationID, messageID: messageID, status: "failed", actor: actor)
            }
            if error.isPermanent { throw JobFailure.permanent(error.message) }
            throw JobFailure.transient(error.message)
        }
        let sent = try await mark(organizationID: organizationID, messageID: messageID, status: "sent", actor: actor)
        var result: JSONObject = ["messageId": .string(messageID), "status": "sent"]
        if let sentAt = sent?["sentAt"] { result["sentAt"] = sentAt }
        if let files = transport as? FileMailTransport { result["file"] = .string(files.path(for: messageID)) }
        return result
    }

    @discardableResult
    func mark(organizationID: String, messageID: String, status: String, actor: String) async throws -> Record? {
        do {
            return try await store.update(
                .message, organizationID: organizationID, id: messageID, actor: actor, options: WriteOptions()
            ) { record in
                var fields = record.fields
                fields["status"] = .string(status)
                return fields
            }
        } catch let error as StoreError where error.code == .notFound {
            // Deleted while it was being sent: nothing left to record.
            return nil
        }
    }
}
