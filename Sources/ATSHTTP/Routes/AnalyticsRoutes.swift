import ATSDomain
import ATSJobs
import ATSStore
import ATSWork
import Hummingbird

/// Analytics computed from the stage history by `analytics.refresh` jobs; each endpoint answers
/// the latest snapshot (computed once, now, when none exists yet).
extension RouteTable {
    func addAnalyticsRoutes() {
        let gateway = self.gateway
        let nullableNumber: JSONValue = .object(["type": .array(["number", "null"])])
        let distribution: JSONObject = [
            "count": JSONSchema.integer, "medianDays": nullableNumber, "p90Days": nullableNumber,
        ]
        let stageFigures = JSONSchema.strict(
            ["stage": JSONSchema.string, "reached": JSONSchema.integer, "conversion": nullableNumber],
            required: ["stage", "reached", "conversion"])
        let stageList: JSONValue = .object(["type": "array", "items": stageFigures])
        func array(_ item: JSONValue) -> JSONValue { .object(["type": "array", "items": item]) }
        func document(_ properties: JSONObject) -> JSONValue {
            var properties = properties
            properties["computedAt"] = JSONSchema.dateTime
            return JSONSchema.strict(properties, required: properties.keys.sorted())
        }
        let nullableString: JSONValue = .object(["type": .array(["string", "null"])])

        let endpoints: [(name: String, operation: String, summary: String, schema: JSONValue)] = [
            (
                "funnel", "analyticsFunnel",
                "Per job and per client: applications that reached each stage and the conversion to the next.",
                document([
                    "jobs": array(
                        JSONSchema.strict(
                            [
                                "jobId": JSONSchema.id, "title": JSONSchema.string, "clientId": JSONSchema.id,
                                "applications": JSONSchema.integer, "hired": JSONSchema.integer, "stages": stageList,
                            ], required: ["jobId", "title", "clientId", "applications", "hired", "stages"])),
                    "clients": array(
                        JSONSchema.strict(
                            [
                                "clientId": JSONSchema.id, "name": JSONSchema.string, "applications": JSONSchema.integer,
                                "hired": JSONSchema.integer, "stages": stageList,
                            ], required: ["clientId", "name", "applications", "hired", "stages"])),
                ])
            ),
            (
                "time-to-hire", "analyticsTimeToHire",
                "Days from an application's first stage event to its move into the hire stage: median and p90, overall and per job.",
                document(
                    distribution.merging([
                        "jobs": array(
                            JSONSchema.strict(
                                distribution.merging(["jobId": JSONSchema.id, "title": JSONSchema.string]) { a, _ in a },
                                required: ["jobId", "title", "count", "medianDays", "p90Days"]))
                    ]) { a, _ in a })
            ),
            (
                "time-in-stage", "analyticsTimeInStage", "Days spent in each stage (finished stays): median and p90.",
                document([
                    "stages": array(
                        JSONSchema.strict(
                            distribution.merging(["stage": JSONSchema.string]) { a, _ in a },
                            required: ["stage", "count", "medianDays", "p90Days"]))
                ])
            ),
            (
                "sources", "analyticsSources", "Per application source: applications, how many reached an interview, hires.",
                document([
                    "sources": array(
                        JSONSchema.strict(
                            [
                                "source": JSONSchema.string, "applications": JSONSchema.integer, "reachedInterview": JSONSchema.integer,
                                "hired": JSONSchema.integer, "interviewRate": .object(["type": "number"]),
                                "hireRate": .object(["type": "number"]),
                            ],
                            required: ["source", "applications", "reachedInterview", "hired", "interviewRate", "hireRate"]))
                ])
            ),
            (
                "recruiters", "analyticsRecruiters", "Per actor over the last 30 days: stage moves, notes, applications created.",
                document([
                    "since": JSONSchema.dateTime,
                    "recruiters": array(
                        JSONSchema.strict(
                            [
                                "actor": JSONSchema.string, "userId": nullableString, "name": nullableString,
                                "moves": JSONSchema.integer, "notes": JSONSchema.integer, "applicationsCreated": JSONSchema.integer,
                                "total": JSONSchema.integer,
                            ], required: ["actor", "userId", "name", "moves", "notes", "applicationsCreated", "total"])),
                ])
            ),
            (
                "sla-breaches", "analyticsSLABreaches",
                "Active applications whose time in their current stage exceeds their job's slaDays, most overdue first.",
                document([
                    "total": JSONSchema.integer, "truncated": JSONSchema.boolean,
                    "jobs": array(
                        JSONSchema.strict(
                            ["jobId": JSONSchema.id, "title": JSONSchema.string, "slaDays": JSONSchema.integer, "breaches": JSONSchema.integer],
                            required: ["jobId", "title", "slaDays", "breaches"])),
                    "items": array(
                        JSONSchema.strict(
                            [
                                "applicationId": JSONSchema.id, "candidateId": JSONSchema.id, "jobId": JSONSchema.id,
                                "jobTitle": JSONSchema.string, "stage": JSONSchema.string, "since": JSONSchema.dateTime,
                                "daysInStage": .object(["type": "number"]), "slaDays": JSONSchema.integer,
                                "overdueDays": .object(["type": "number"]),
                            ],
                            required: [
                                "applicationId", "candidateId", "jobId", "jobTitle", "stage", "since", "daysInStage", "slaDays",
                                "overdueDays",
                            ])),
                ])
            ),
        ]

        for endpoint in endpoints {
            let isFunnel = endpoint.name == "funnel"
            let parameters =
                isFunnel
                ? [
                    ParameterDoc(name: "job", location: .query, schema: JSONSchema.id, summary: "Only this job's funnel."),
                    ParameterDoc(name: "client", location: .query, schema: JSONSchema.id, summary: "Only this client's funnel and jobs."),
                ] : []
            let name = endpoint.name
            add(
                Operation(
                    method: .get, path: "/api/v1/analytics/\(name)", operationID: endpoint.operation, summary: endpoint.summary,
                    tag: "analytics", access: .role(.viewer), parameters: parameters,
                    success: (200, endpoint.schema, "application/json")
                ) { request, context in
                    let principal = try gateway.principal(context)
                    var job: String?
                    var client: String?
                    if isFunnel {
                        let query = QueryReader(request)
                        job = try query.id("job")
                        client = try query.id("client")
                    }
                    let snapshot = try await AnalyticsWork.snapshot(
                        name: name, organizationID: principal.organizationID, store: gateway.store)
                    var doc = snapshot.document
                    if isFunnel { doc = Self.filterFunnel(doc, job: job, client: client) }
                    doc["computedAt"] = .string(snapshot.computedAt)
                    return gateway.json(doc)
                })
        }
    }

    /// `job`: that job only; `client`: that client's funnel and its jobs.
    static func filterFunnel(_ doc: JSONObject, job: String?, client: String?) -> JSONObject {
        guard job != nil || client != nil else { return doc }
        var result = doc
        let jobs = (doc["jobs"]?.arrayValue ?? []).filter { item in
            let object = item.objectValue ?? [:]
            if let job, object["jobId"]?.stringValue != job { return false }
            if let client, object["clientId"]?.stringValue != client { return false }
            return true
        }
        let clients = (doc["clients"]?.arrayValue ?? []).filter { item in
            guard job == nil, let client else { return false }
            return item.objectValue?["clientId"]?.stringValue == client
        }
        result["jobs"] = .array(jobs)
        result["clients"] = .array(clients)
        return result
    }
}
