import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Hummingbird

/// The outbox: render a template for a candidate, send it, send a drafted message.
extension RouteTable {
    func addEmailRoutes() {
        let gateway = self.gateway
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "")
        let sendBody = JSONSchema.strict(
            [
                "candidateId": JSONSchema.id,
                "jobId": .object(["anyOf": .array([JSONSchema.id, .object(["type": "null"])]),
                                  "description": "Fills `{{job.*}}` and `{{client.*}}`."]),
            ], required: ["candidateId"])
        let rendered = JSONSchema.strict(
            ["subject": JSONSchema.string, "body": JSONSchema.string, "to": .object(["type": .array(["string", "null"])])],
            required: ["subject", "body", "to"])
        let variables = TemplateValues.knownNames.map { "`{{\($0)}}`" }.joined(separator: ", ")

        add(
            Operation(
                method: .post, path: "/api/v1/email-templates/{id}/render", operationID: "renderEmailTemplate",
                summary: "Render a template for a candidate (and a job) without sending it. Variables: \(variables).",
                tag: "email-templates", access: .role(.recruiter), parameters: [idParameter], requestBody: sendBody,
                success: (200, rendered, "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let (candidateID, jobID) = try Self.sendRequest(try await gateway.jsonObject(request))
                let result = try await Self.outboxCall {
                    try await Outbox(store: gateway.store, jobs: gateway.work?.jobs).render(
                        organizationID: principal.organizationID, templateID: id, candidateID: candidateID, jobID: jobID,
                        sender: Outbox.Sender(userID: principal.userID, actor: principal.actor))
                }
                let to = result.candidate["email"].map { $0 } ?? .null
                return gateway.json(["subject": .string(result.subject), "body": .string(result.body), "to": to])
            })

        add(
            Operation(
                method: .post, path: "/api/v1/email-templates/{id}/send", operationID: "sendEmailTemplate",
                summary: "Render a template for a candidate, create the message to their email and queue it for delivery.",
                tag: "email-templates", access: .role(.recruiter), parameters: [idParameter], requestBody: sendBody,
                success: (202, JSONSchema.ref("Message"), "application/json"), errors: [503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let (candidateID, jobID) = try Self.sendRequest(try await gateway.jsonObject(request))
                let work = try gateway.requireWork()
                let message = try await Self.outboxCall {
                    try await Outbox(store: gateway.store, jobs: work.jobs).send(
                        organizationID: principal.organizationID, templateID: id, candidateID: candidateID, jobID: jobID,
                        sender: Outbox.Sender(userID: principal.userID, actor: principal.actor))
                }
                return gateway.json(message.json, status: .accepted, headers: [.location: "/api/v1/messages/\(message.id)"])
            })

        add(
            Operation(
                method: .post, path: "/api/v1/messages/{id}/send", operationID: "sendMessage",
                summary: "Queue a draft (or failed) message for delivery; the `email.send` job sends it.",
                tag: "messages", access: .role(.recruiter), parameters: [idParameter],
                success: (202, JSONSchema.ref("Message"), "application/json"), errors: [409, 422, 503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let work = try gateway.requireWork()
                let message = try await Self.outboxCall {
                    try await Outbox(store: gateway.store, jobs: work.jobs).queue(
                        organizationID: principal.organizationID, messageID: id, actor: principal.actor)
                }
                return gateway.json(message.json, status: .accepted)
            })
    }

    /// `{candidateId, jobId?}`: 422 with every bad field.
    static func sendRequest(_ body: JSONObject) throws -> (candidateID: String, jobID: String?) {
        var errors: [FieldError] = []
        for key in body.keys where key != "candidateId" && key != "jobId" { errors.append(FieldError(key, "is not a known field")) }
        let candidateID = body["candidateId"]?.stringValue.flatMap(Identifier.canonical)
        if candidateID == nil { errors.append(FieldError("candidateId", "must be a candidate id")) }
        var jobID: String?
        if let raw = body["jobId"], !raw.isNull {
            jobID = raw.stringValue.flatMap(Identifier.canonical)
            if jobID == nil { errors.append(FieldError("jobId", "must be a job id")) }
        }
        guard errors.isEmpty, let candidateID else { throw Problem.validation(errors) }
        return (candidateID, jobID)
    }

    /// Runs an outbox call and turns its refusals into problems.
    static func outboxCall<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as OutboxError {
            throw Problem.from(error)
        } catch let error as JobQueueError where error.code == .storageFull {
            throw Problem.insufficientStorage("the job queue")
        } catch let error as JobQueueError {
            throw Problem(.serviceUnavailable, "jobs-unavailable", "Jobs unavailable", detail: "The job queue refused: \(error.code.rawValue).")
        }
    }
}

extension Problem {
    static func from(_ error: OutboxError) -> Problem {
        switch error.code {
        case .notFound:
            return Problem(.notFound, "not-found", "Not found", detail: error.message)
        case .invalidReference:
            return Problem(.unprocessableContent, "invalid-reference", "Unknown reference", detail: error.message, errors: error.errors)
        case .template:
            return Problem(.unprocessableContent, "template-error", "Template does not render", detail: error.message, errors: error.errors)
        case .notContactable:
            return Problem(.unprocessableContent, "not-contactable", "Cannot mail this recipient", detail: error.message, errors: error.errors)
        case .alreadySent:
            return Problem(.conflict, "already-sent", "Already sent", detail: error.message)
        case .unavailable:
            return Problem(
                .serviceUnavailable, "jobs-unavailable", "Jobs unavailable", detail: error.message, headers: [.retryAfter: "1"])
        }
    }
}
