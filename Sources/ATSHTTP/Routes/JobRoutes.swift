import ATSDomain
import ATSJobs
import ATSStore
import Foundation
import Hummingbird

/// The admin view of the job tier: list by queue and state, inspect, retry, cancel, figures.
/// Jobs are scoped like everything else: an organization's admin sees its own jobs only.
extension RouteTable {
    func addJobRoutes() {
        let gateway = self.gateway
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "The job's id.")
        let states = JSONSchema.enumeration(JobState.allCases.map(\.rawValue))
        let queues = JSONSchema.enumeration(JobQueues.all)

        add(
            Operation(
                method: .get, path: "/api/v1/admin/jobs", operationID: "adminListJobs",
                summary: "This organization's jobs, newest first, by queue, state and type.", tag: "jobs",
                access: .role(.admin),
                parameters: [
                    ParameterDoc(name: "queue", location: .query, schema: queues, summary: "Filter."),
                    ParameterDoc(name: "state", location: .query, schema: states, summary: "Filter."),
                    ParameterDoc(name: "type", location: .query, schema: .object(["type": "string", "maxLength": 100]), summary: "Filter."),
                    ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 200]), summary: ""),
                    ParameterDoc(name: "cursor", location: .query, schema: .object(["type": "string", "maxLength": 200]), summary: ""),
                ],
                success: (200, JSONSchema.list(of: "QueuedJob"), "application/json"), errors: [503]
            ) { request, context in
                let principal = try gateway.principal(context)
                let work = try gateway.requireWork()
                let query = QueryReader(request)
                var state: JobState?
                if let raw = query["state"] {
                    guard let value = JobState(rawValue: raw) else { throw Problem.badRequest("invalid-parameter", "`state` is not a job state.") }
                    state = value
                }
                if let queue = query["queue"], !JobQueues.all.contains(queue) {
                    throw Problem.badRequest("invalid-parameter", "`queue` is not a queue: \(JobQueues.all.joined(separator: ", ")).")
                }
                var limit = 50
                if let raw = query["limit"] {
                    guard let value = Int(raw), (1...200).contains(value) else {
                        throw Problem.badRequest("invalid-parameter", "`limit` must be an integer from 1 to 200.")
                    }
                    limit = value
                }
                let page = try await gateway.jobCall {
                    try await work.jobs.jobs(
                        JobQuery(
                            queue: query["queue"], state: state, type: query["type"], organizationID: principal.organizationID,
                            limit: limit, cursor: query["cursor"]))
                }
                var text = "{\"items\":["
                text += page.jobs.map { JSONCoding.encode($0.document) }.joined(separator: ",")
                text += "],\"nextCursor\":" + (page.nextCursor.map { JSONText.serialize(.string($0)) } ?? "null") + "}"
                return gateway.json(text)
            })

        add(
            Operation(
                method: .get, path: "/api/v1/admin/jobs/stats", operationID: "adminJobStats",
                summary: "Per-queue counts by state and the oldest wait, of this organization's jobs only.", tag: "jobs",
                access: .role(.admin),
                success: (200, JSONSchema.ref("QueueStatsList"), "application/json"), errors: [503]
            ) { request, context in
                // Only the caller's jobs: another tenant's queue depths, failures and dead letters
                // say how busy it is. No worker-pool figure is shown: it is shared by every tenant.
                let principal = try gateway.principal(context)
                let work = try gateway.requireWork()
                let stats = try await gateway.jobCall {
                    try await work.jobs.stats(organizationID: principal.organizationID, now: Date())
                }
                return gateway.json(["items": .array(stats.map { .object($0.document) })])
            })

        add(
            Operation(
                method: .get, path: "/api/v1/admin/jobs/{id}", operationID: "adminGetJob", summary: "One job, with its last error and progress.",
                tag: "jobs", access: .role(.admin), parameters: [idParameter],
                success: (200, JSONSchema.ref("QueuedJob"), "application/json"), errors: [503]
            ) { request, context in
                let job = try await gateway.ownJob(context)
                return gateway.json(job.document)
            })

        for (action, summary) in [("retry", "Put a dead, failed or cancelled job back in its queue."), ("cancel", "Cancel a job that has not finished.")] {
            add(
                Operation(
                    method: .post, path: "/api/v1/admin/jobs/{id}/\(action)", operationID: "admin\(action.capitalized)Job", summary: summary,
                    tag: "jobs", access: .role(.admin), parameters: [idParameter],
                    success: (200, JSONSchema.ref("QueuedJob"), "application/json"), errors: [409, 503]
                ) { request, context in
                    let job = try await gateway.ownJob(context)
                    let work = try gateway.requireWork()
                    let changed = try await gateway.jobCall {
                        action == "retry" ? try await work.jobs.retry(id: job.id, now: Date()) : try await work.jobs.cancel(id: job.id, now: Date())
                    }
                    return gateway.json(changed.document)
                })
        }
    }

    static let jobSchemas: [(String, JSONValue)] = {
        let nullableString: JSONValue = .object(["type": .array(["string", "null"])])
        let nullableTime: JSONValue = .object(["type": .array(["string", "null"]), "format": "date-time"])
        let job = JSONSchema.strict(
            [
                "id": JSONSchema.id, "queue": JSONSchema.string, "type": JSONSchema.string,
                "state": JSONSchema.enumeration(JobState.allCases.map(\.rawValue)),
                "priority": JSONSchema.integer, "attempts": JSONSchema.integer, "maxAttempts": JSONSchema.integer,
                "runAt": JSONSchema.dateTime, "createdAt": JSONSchema.dateTime, "startedAt": nullableTime, "finishedAt": nullableTime,
                "uniqueKey": nullableString, "lastError": nullableString, "worker": nullableString,
                "timeoutSeconds": .object(["type": .array(["number", "null"])]),
                "progress": .object([
                    "type": .array(["object", "null"]),
                    "properties": .object(["percent": .object(["type": "number"]), "message": nullableString]),
                ]),
                "payload": .object(["type": "object"]), "result": .object(["type": .array(["object", "null"])]),
            ],
            required: ["id", "queue", "type", "state", "priority", "attempts", "maxAttempts", "runAt", "createdAt"])
        let stats = JSONSchema.strict(
            [
                "queue": JSONSchema.string, "counts": .object(["type": "object", "additionalProperties": JSONSchema.integer]),
                "oldestWaitSeconds": .object(["type": "number"]),
            ], required: ["queue", "counts", "oldestWaitSeconds"])
        return [
            ("QueuedJob", job),
            ("QueueStats", stats),
            ("QueueStatsList", JSONSchema.strict(["items": .object(["type": "array", "items": JSONSchema.ref("QueueStats")])], required: ["items"])),
        ]
    }()
}

extension Gateway {
    /// The job of `{id}`, when it belongs to the caller's organization (else 404, as for rows).
    func ownJob(_ context: ATSRequestContext) async throws -> Job {
        let principal = try principal(context)
        let work = try requireWork()
        let id = try id(context)
        guard let job = try await jobCall({ try await work.jobs.job(id: id) }), job.organizationID == principal.organizationID else {
            throw Problem.notFound("This job")
        }
        return job
    }

    /// Maps the job tier's errors to problems.
    func jobCall<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as JobQueueError {
            switch error.code {
            case .notFound: throw Problem.notFound("This job")
            case .invalidState: throw Problem.conflict("job-state", error.message)
            case .invalidRequest: throw Problem.badRequest("invalid-job", error.message)
            case .unavailable:
                throw Problem(.serviceUnavailable, "jobs-unavailable", "Jobs unavailable", detail: error.message, headers: [.retryAfter: "1"])
            case .storageFull: throw Problem.insufficientStorage("the job queue")
            }
        }
    }
}

extension Job {
    /// What the admin API shows of a job.
    public var document: JSONObject {
        func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
        var doc: JSONObject = [
            "id": .string(id), "queue": .string(queue), "type": .string(type), "state": .string(state.rawValue),
            "priority": .int(Int64(priority)), "attempts": .int(Int64(attempts)), "maxAttempts": .int(Int64(maxAttempts)),
            "runAt": .string(Timestamp.format(runAt)), "createdAt": .string(Timestamp.format(createdAt)),
            "startedAt": time(startedAt), "finishedAt": time(finishedAt),
            "uniqueKey": uniqueKey.map(JSONValue.string) ?? .null, "lastError": lastError.map(JSONValue.string) ?? .null,
            "worker": worker.map(JSONValue.string) ?? .null, "payload": .object(payload),
            "result": result.map(JSONValue.object) ?? .null,
            "timeoutSeconds": timeout.map { .double(Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) } ?? .null,
        ]
        if let progress {
            doc["progress"] = .object(["percent": .double(progress.percent), "message": progress.message.map(JSONValue.string) ?? .null])
        } else {
            doc["progress"] = .null
        }
        return doc
    }
}

extension QueueStats {
    public var document: JSONObject {
        var counts: JSONObject = [:]
        for state in JobState.allCases { counts[state.rawValue] = .int(Int64(self.counts[state] ?? 0)) }
        return ["queue": .string(queue), "counts": .object(counts), "oldestWaitSeconds": .double(oldestWaitSeconds)]
    }
}
