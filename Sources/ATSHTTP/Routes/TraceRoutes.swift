import ATSDomain
import ATSTelemetry
import Foundation
import Hummingbird

/// The admin view of traces, for an agency without Jaeger: recent slow requests and one
/// trace's span tree. Traces live in memory (the last `recentTraces` sampled ones); an admin
/// sees the traces of requests made for their own organization only.
extension RouteTable {
    func addTraceRoutes() {
        let gateway = self.gateway

        add(
            Operation(
                method: .get, path: "/api/v1/admin/traces", operationID: "adminListTraces",
                summary: "Recent traced requests of this organization, slowest filter first: newest first, at least `min_ms` long, of one route.",
                tag: "observability", access: .role(.admin),
                parameters: [
                    ParameterDoc(
                        name: "min_ms", location: .query, schema: .object(["type": "integer", "minimum": 0, "maximum": 86_400_000]),
                        summary: "Only traces at least this long (milliseconds)."),
                    ParameterDoc(
                        name: "route", location: .query, schema: .object(["type": "string", "maxLength": 300]),
                        summary: "Only this route template, e.g. `/api/v1/candidates/{id}`."),
                    ParameterDoc(
                        name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 200]),
                        summary: "At most this many (default 50)."),
                ],
                success: (200, JSONSchema.ref("TraceSummaryList"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let query = QueryReader(request)
                var minimum: Duration?
                if let raw = query["min_ms"] {
                    guard let value = Int(raw), (0...86_400_000).contains(value) else {
                        throw Problem.badRequest("invalid-parameter", "`min_ms` must be an integer from 0 to 86400000.")
                    }
                    minimum = .milliseconds(value)
                }
                var limit = 50
                if let raw = query["limit"] {
                    guard let value = Int(raw), (1...200).contains(value) else {
                        throw Problem.badRequest("invalid-parameter", "`limit` must be an integer from 1 to 200.")
                    }
                    limit = value
                }
                let route = query["route"]
                if let route, route.utf8.count > 300 {
                    throw Problem.badRequest("invalid-parameter", "`route` is at most 300 characters.")
                }
                let summaries = gateway.traces?.recentTraces(
                    minDuration: minimum, route: route, limit: limit, organization: principal.organizationID) ?? []
                return gateway.json(["items": .array(summaries.map { .object(Self.document($0)) })])
            })

        add(
            Operation(
                method: .get, path: "/api/v1/admin/traces/{traceId}", operationID: "adminGetTrace",
                summary: "One trace as a tree of spans: where the time of a request went.", tag: "observability",
                access: .role(.admin),
                parameters: [
                    ParameterDoc(
                        name: "traceId", location: .path,
                        schema: .object(["type": "string", "pattern": "^[0-9a-f]{32}$"]), summary: "32 lowercase hex digits.")
                ],
                success: (200, JSONSchema.ref("TraceTree"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let traceID = context.parameters.get("traceId") ?? ""
                guard traceID.utf8.count == 32, traceID.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                    throw Problem.badRequest("invalid-parameter", "A trace id is 32 lowercase hex digits.")
                }
                // Only the spans recorded for this organization: a caller who sends another
                // tenant's trace id in `traceparent` adds a root of its own to that trace; each
                // side sees its own requests, never the other's, nested or not.
                let roots = gateway.traces?.trace(id: traceID, organization: principal.organizationID)?.spans ?? []
                guard !roots.isEmpty else {
                    throw Problem(.notFound, "not-found", "Not found", detail: "No recent trace with this id.")
                }
                return gateway.json([
                    "traceId": .string(traceID.lowercased()),
                    "spans": .array(roots.map { .object(Self.document($0)) }),
                ])
            })
    }

    static func document(_ summary: TraceSummary) -> JSONObject {
        var document: JSONObject = [
            "traceId": .string(summary.traceID),
            "name": .string(summary.rootName),
            "startTime": .string(Timestamp.format(summary.startTime)),
            "durationMs": .double(Double(summary.durationNanos) / 1e6),
            "spanCount": .int(Int64(summary.spanCount)),
            "error": .bool(summary.error),
        ]
        document["route"] = summary.attributes["http.route"].map(JSONValue.string) ?? .null
        document["method"] = summary.attributes["http.request.method"].map(JSONValue.string) ?? .null
        document["status"] = summary.attributes["http.response.status_code"].flatMap { Int64($0) }.map(JSONValue.int) ?? .null
        return document
    }

    static func document(_ span: SpanNode) -> JSONObject {
        let start = Double(span.startTimeUnixNano) / 1e9
        return [
            "spanId": .string(span.spanID),
            "parentSpanId": span.parentSpanID.map(JSONValue.string) ?? .null,
            "name": .string(span.name),
            "kind": .string(span.kind),
            "startTime": .string(Timestamp.format(Date(timeIntervalSince1970: start))),
            "durationMs": .double(Double(span.endTimeUnixNano &- span.startTimeUnixNano) / 1e6),
            "status": .string(span.status),
            "attributes": .object(span.attributes.mapValues(JSONValue.string)),
            "events": .array(span.events.map { .object(["name": .string($0.name), "timeUnixNano": .string(String($0.timeUnixNano))]) }),
            "links": .array(span.links.map { .object(["traceId": .string($0.traceID), "spanId": .string($0.spanID)]) }),
            "children": .array(span.children.map { .object(document($0)) }),
        ]
    }

    static let traceSchemas: [(String, JSONValue)] = {
        let nullableString: JSONValue = .object(["type": .array(["string", "null"])])
        let summary = JSONSchema.strict(
            [
                "traceId": JSONSchema.string, "name": JSONSchema.string, "startTime": JSONSchema.dateTime,
                "durationMs": .object(["type": "number"]), "spanCount": JSONSchema.integer, "error": JSONSchema.boolean,
                "route": nullableString, "method": nullableString, "status": .object(["type": .array(["integer", "null"])]),
            ],
            required: ["traceId", "name", "startTime", "durationMs", "spanCount", "error", "route", "method", "status"])
        let span = JSONSchema.strict(
            [
                "spanId": JSONSchema.string, "parentSpanId": nullableString, "name": JSONSchema.string,
                "kind": JSONSchema.enumeration(["server", "client", "internal", "producer", "consumer"]),
                "startTime": JSONSchema.dateTime, "durationMs": .object(["type": "number"]),
                "status": JSONSchema.enumeration(["unset", "ok", "error"]),
                "attributes": .object(["type": "object", "additionalProperties": JSONSchema.string]),
                "events": .object([
                    "type": "array",
                    "items": JSONSchema.strict(["name": JSONSchema.string, "timeUnixNano": JSONSchema.string], required: ["name", "timeUnixNano"]),
                ]),
                "links": .object([
                    "type": "array",
                    "items": JSONSchema.strict(["traceId": JSONSchema.string, "spanId": JSONSchema.string], required: ["traceId", "spanId"]),
                ]),
                "children": .object(["type": "array", "items": JSONSchema.ref("TraceSpan")]),
            ],
            required: ["spanId", "parentSpanId", "name", "kind", "startTime", "durationMs", "status", "attributes", "events", "links", "children"])
        return [
            ("TraceSummary", summary),
            ("TraceSummaryList", JSONSchema.strict(["items": .object(["type": "array", "items": JSONSchema.ref("TraceSummary")])], required: ["items"])),
            ("TraceSpan", span),
            ("TraceTree", JSONSchema.strict(["traceId": JSONSchema.string, "spans": .object(["type": "array", "items": JSONSchema.ref("TraceSpan")])], required: ["traceId", "spans"])),
        ]
    }()
}
