import ATSDomain
import ATSJobs
import ATSStore
import Foundation

/// Funnels, time-to-hire, time in stage, sources, recruiter activity, SLA breaches:
/// computed by jobs from the stage history, stored as snapshots, served from the latest one.
public enum AnalyticsWork {
    public static let refreshType = "analytics.refresh"

    /// The snapshot names, one per `/api/v1/analytics/<name>` endpoint.
    public static let names = ["funnel", "time-to-hire", "time-in-stage", "sources", "recruiters", "sla-breaches"]

    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] {
        [AnalyticsRefreshHandler(dependencies: dependencies)]
    }

    /// The refresh to enqueue after a write (and from a cron): one live job per organization,
    /// due in 30 s, so a burst of writes collapses into one computation.
    public static func refreshRequest(organizationID: String, now: Date = Date()) -> JobRequest {
        JobRequest(
            queue: JobQueues.analytics, type: refreshType, payload: ["organizationId": .string(organizationID)],
            runAt: now.addingTimeInterval(30), maxAttempts: 3, uniqueKey: "analytics:\(organizationID)",
            organizationID: organizationID)
    }

    /// Computes every figure for the organization and stores the snapshots; returns them by name.
    @discardableResult
    public static func refresh(organizationID: String, store: any Store, now: Date = Date()) async throws -> [String: AnalyticsSnapshot] {
        let since = Timestamp.format(now.addingTimeInterval(-30 * 86400))
        let facts = try await store.analyticsFacts(organizationID: organizationID, notesSince: since)
        let computedAt = Timestamp.format(now)
        var result: [String: AnalyticsSnapshot] = [:]
        for (name, document) in AnalyticsComputation.compute(facts, now: now) {
            let snapshot = AnalyticsSnapshot(organizationID: organizationID, name: name, computedAt: computedAt, document: document)
            try await store.saveAnalyticsSnapshot(snapshot)
            result[name] = snapshot
        }
        return result
    }

    /// The latest snapshot of `name`; when none was computed yet, computes all of them once, now.
    public static func snapshot(name: String, organizationID: String, store: any Store, now: Date = Date()) async throws
        -> AnalyticsSnapshot
    {
        if let snapshot = try await store.analyticsSnapshot(organizationID: organizationID, name: name) { return snapshot }
        let all = try await refresh(organizationID: organizationID, store: store, now: now)
        guard let snapshot = all[name] else { throw StoreError.notFound("analytics \(name)") }
        return snapshot
    }
}

/// Runs `analytics.refresh`: payload `{organizationId}`.
struct AnalyticsRefreshHandler: JobHandler {
    let dependencies: WorkDependencies
    var type: String { AnalyticsWork.refreshType }

    func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        guard let organizationID = job.payload["organizationId"]?.stringValue ?? job.organizationID else {
            throw JobFailure.permanent("bad analytics payload: organizationId is required")
        }
        let all = try await AnalyticsWork.refresh(organizationID: organizationID, store: dependencies.store)
        await context.progress(100)
        return ["computedAt": .string(all.values.first?.computedAt ?? Timestamp.format(Date()))]
    }
}

/// The figures, from plain facts: no database, so tests check them on a hand-made history.
///
/// Definitions:
/// - an application *reached* stage i of its job's pipeline when the furthest stage it was ever
///   in (history or current stage) is at i or later: a jump from Screening to Offer counts for Interview;
/// - *conversion* of a stage is reached(next) / reached(this); null for the last stage or none reached;
/// - the *hire* stage is the one named `Hired` (any case), else the pipeline's last;
/// - *time-to-hire* runs from an application's first stage event to its first move into the hire stage;
/// - *time in stage* is each finished stay (from entering to the next move); current stays are not counted;
/// - medians average the two middle values; p90 is the nearest-rank value (ceil(0.9 n)-th smallest);
///   durations are in days, rounded to 0.001;
/// - an *SLA breach* is an active application, not at the hire stage, whose time in its current stage
///   exceeds its job's `slaDays`.
public enum AnalyticsComputation {
    public static func compute(_ facts: AnalyticsFacts, now: Date) -> [String: JSONObject] {
        let model = Model(facts)
        return [
            "funnel": funnel(model),
            "time-to-hire": timeToHire(model),
            "time-in-stage": timeInStage(model),
            "sources": sources(model),
            "recruiters": recruiters(model, now: now),
            "sla-breaches": slaBreaches(model, now: now),
        ]
    }

    struct Model {
        let facts: AnalyticsFacts
        let jobs: [String: AnalyticsFacts.Job]
        let events: [String: [StageEvent]]
        let furthest: [String: Int]

        init(_ facts: AnalyticsFacts) {
            self.facts = facts
            var jobs: [String: AnalyticsFacts.Job] = [:]
            for job in facts.jobs { jobs[job.id] = job }
            var events: [String: [StageEvent]] = [:]
            for event in facts.stageEvents { events[event.applicationID, default: []].append(event) }
            for key in events.keys { events[key]!.sort { $0.at < $1.at } }
            var furthest: [String: Int] = [:]
            for application in facts.applications {
                guard let job = jobs[application.jobID] else { continue }
                var best = job.stages.firstIndex(of: application.stage) ?? -1
                for event in events[application.id] ?? [] {
                    if let index = job.stages.firstIndex(of: event.toStage) { best = max(best, index) }
                }
                furthest[application.id] = best
            }
            self.jobs = jobs
            self.events = events
            self.furthest = furthest
        }

        static func hireIndex(_ job: AnalyticsFacts.Job) -> Int {
            job.stages.firstIndex { $0.lowercased() == "hired" } ?? (job.stages.count - 1)
        }

        static func interviewIndex(_ job: AnalyticsFacts.Job) -> Int? {
            job.stages.firstIndex { $0.lowercased().contains("interview") }
        }
    }

    // MARK: Funnel

    static func funnel(_ model: Model) -> JSONObject {
        var byJob: [String: [AnalyticsFacts.Application]] = [:]
        for application in model.facts.applications { byJob[application.jobID, default: []].append(application) }
        var jobItems: [JSONValue] = []
        var clientStages: [String: [String]] = [:]
        var clientReached: [String: [String: Int]] = [:]
        var clientApplications: [String: Int] = [:]
        var clientHired: [String: Int] = [:]
        for job in model.facts.jobs {
            let applications = byJob[job.id] ?? []
            var reached = [Int](repeating: 0, count: job.stages.count)
            for application in applications {
                let best = model.furthest[application.id] ?? -1
                if best >= 0 { for index in 0...best { reached[index] += 1 } }
            }
            let hired = reached.isEmpty ? 0 : reached[Model.hireIndex(job)]
            jobItems.append(
                .object([
                    "jobId": .string(job.id), "title": .string(job.title), "clientId": .string(job.clientID),
                    "applications": .int(Int64(applications.count)), "hired": .int(Int64(hired)),
                    "stages": stagesJSON(job.stages, reached: reached),
                ]))
            var merged = clientStages[job.clientID] ?? []
            var position = 0
            for stage in job.stages {
                if let existing = merged.firstIndex(of: stage) {
                    position = existing + 1
                } else {
                    merged.insert(stage, at: min(position, merged.count))
                    position += 1
                }
            }
            clientStages[job.clientID] = merged
            for (index, stage) in job.stages.enumerated() { clientReached[job.clientID, default: [:]][stage, default: 0] += reached[index] }
            clientApplications[job.clientID, default: 0] += applications.count
            clientHired[job.clientID, default: 0] += hired
        }
        let clientItems: [JSONValue] = clientStages.keys.sorted().map { clientID in
            let stages = clientStages[clientID] ?? []
            let reached = stages.map { clientReached[clientID]?[$0] ?? 0 }
            return .object([
                "clientId": .string(clientID), "name": .string(model.facts.clients[clientID] ?? ""),
                "applications": .int(Int64(clientApplications[clientID] ?? 0)), "hired": .int(Int64(clientHired[clientID] ?? 0)),
                "stages": stagesJSON(stages, reached: reached),
            ])
        }
        return ["jobs": .array(jobItems), "clients": .array(clientItems)]
    }

    static func stagesJSON(_ stages: [String], reached: [Int]) -> JSONValue {
        .array(
            stages.indices.map { index in
                let conversion: JSONValue =
                    index + 1 < stages.count && reached[index] > 0
                    ? .double(round3(Double(reached[index + 1]) / Double(reached[index]))) : .null
                return .object(["stage": .string(stages[index]), "reached": .int(Int64(reached[index])), "conversion": conversion])
            })
    }

    // MARK: Durations

    static func timeToHire(_ model: Model) -> JSONObject {
        var all: [Double] = []
        var byJob: [String: [Double]] = [:]
        for application in model.facts.applications {
            guard let job = model.jobs[application.jobID], !job.stages.isEmpty, let events = model.events[application.id],
                let first = events.first.flatMap({ Timestamp.parse($0.at) })
            else { continue }
            let hire = job.stages[Model.hireIndex(job)]
            guard let hired = events.first(where: { $0.toStage == hire }).flatMap({ Timestamp.parse($0.at) }) else { continue }
            let days = hired.timeIntervalSince(first) / 86400
            all.append(days)
            byJob[job.id, default: []].append(days)
        }
        let jobs: [JSONValue] = model.facts.jobs.compactMap { job in
            guard let values = byJob[job.id] else { return nil }
            var object = distribution(values)
            object["jobId"] = .string(job.id)
            object["title"] = .string(job.title)
            return .object(object)
        }
        var document = distribution(all)
        document["jobs"] = .array(jobs)
        return document
    }

    static func timeInStage(_ model: Model) -> JSONObject {
        var byStage: [String: [Double]] = [:]
        for events in model.events.values where events.count > 1 {
            for index in 0..<(events.count - 1) {
                guard let start = Timestamp.parse(events[index].at), let end = Timestamp.parse(events[index + 1].at) else { continue }
                byStage[events[index].toStage, default: []].append(end.timeIntervalSince(start) / 86400)
            }
        }
        // Pipeline order where the stage is a default one, then by name.
        let order = byStage.keys.sorted { a, b in
            let ia = defaultPipelineStages.firstIndex(of: a) ?? Int.max
            let ib = defaultPipelineStages.firstIndex(of: b) ?? Int.max
            return ia != ib ? ia < ib : a < b
        }
        return [
            "stages": .array(
                order.map { stage in
                    var object = distribution(byStage[stage] ?? [])
                    object["stage"] = .string(stage)
                    return .object(object)
                })
        ]
    }

    /// `{count, medianDays, p90Days}`; nulls when there are no values.
    static func distribution(_ values: [Double]) -> JSONObject {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return ["count": 0, "medianDays": .null, "p90Days": .null] }
        let middle = sorted.count / 2
        let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        let rank = Int((0.9 * Double(sorted.count)).rounded(.up))
        let p90 = sorted[max(0, rank - 1)]
        return ["count": .int(Int64(sorted.count)), "medianDays": .double(round3(median)), "p90Days": .double(round3(p90))]
    }

    static func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    // MARK: Sources

    static func sources(_ model: Model) -> JSONObject {
        var figures: [String: (applications: Int, interviewed: Int, hired: Int)] = [:]
        for application in model.facts.applications {
            let source = application.source.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
            var entry = figures[source] ?? (0, 0, 0)
            entry.applications += 1
            if let job = model.jobs[application.jobID] {
                let best = model.furthest[application.id] ?? -1
                if let interview = Model.interviewIndex(job), best >= interview { entry.interviewed += 1 }
                if !job.stages.isEmpty, best >= Model.hireIndex(job) { entry.hired += 1 }
            }
            figures[source] = entry
        }
        let items = figures.sorted { $0.value.applications != $1.value.applications ? $0.value.applications > $1.value.applications : $0.key < $1.key }
        return [
            "sources": .array(
                items.map { source, entry in
                    .object([
                        "source": .string(source), "applications": .int(Int64(entry.applications)),
                        "reachedInterview": .int(Int64(entry.interviewed)), "hired": .int(Int64(entry.hired)),
                        "interviewRate": .double(round3(Double(entry.interviewed) / Double(entry.applications))),
                        "hireRate": .double(round3(Double(entry.hired) / Double(entry.applications))),
                    ])
                })
        ]
    }

    // MARK: Recruiters

    static func recruiters(_ model: Model, now: Date) -> JSONObject {
        let since = Timestamp.format(now.addingTimeInterval(-30 * 86400))
        var figures: [String: (moves: Int, notes: Int, created: Int)] = [:]
        for event in model.facts.stageEvents where event.at >= since {
            var entry = figures[event.actor] ?? (0, 0, 0)
            if event.fromStage == nil { entry.created += 1 } else { entry.moves += 1 }
            figures[event.actor] = entry
        }
        for note in model.facts.notes where note.at >= since {
            figures[note.actor, default: (0, 0, 0)].notes += 1
        }
        let items = figures.sorted { a, b in
            let ta = a.value.moves + a.value.notes + a.value.created
            let tb = b.value.moves + b.value.notes + b.value.created
            return ta != tb ? ta > tb : a.key < b.key
        }
        return [
            "since": .string(since),
            "recruiters": .array(
                items.map { actor, entry in
                    var object: JSONObject = [
                        "actor": .string(actor), "moves": .int(Int64(entry.moves)), "notes": .int(Int64(entry.notes)),
                        "applicationsCreated": .int(Int64(entry.created)),
                        "total": .int(Int64(entry.moves + entry.notes + entry.created)),
                    ]
                    let userID = actor.hasPrefix("user:") ? String(actor.dropFirst(5)) : nil
                    object["userId"] = userID.map(JSONValue.string) ?? .null
                    object["name"] = userID.flatMap { model.facts.userNames[$0] }.map(JSONValue.string) ?? .null
                    return .object(object)
                }),
        ]
    }

    // MARK: SLA

    static func slaBreaches(_ model: Model, now: Date) -> JSONObject {
        var items: [(overdue: Double, value: JSONObject)] = []
        var byJob: [String: Int] = [:]
        for application in model.facts.applications where application.status == "active" {
            guard let job = model.jobs[application.jobID], let sla = job.slaDays,
                job.stages.firstIndex(of: application.stage) != Model.hireIndex(job)
            else { continue }
            let sinceText = application.stageChangedAt ?? model.events[application.id]?.last?.at ?? application.createdAt
            guard let since = Timestamp.parse(sinceText) else { continue }
            let days = now.timeIntervalSince(since) / 86400
            guard days > Double(sla) else { continue }
            byJob[job.id, default: 0] += 1
            items.append(
                (
                    days - Double(sla),
                    [
                        "applicationId": .string(application.id), "candidateId": .string(application.candidateID),
                        "jobId": .string(job.id), "jobTitle": .string(job.title), "stage": .string(application.stage),
                        "since": .string(Timestamp.canonical(sinceText) ?? sinceText), "daysInStage": .double(round3(days)),
                        "slaDays": .int(Int64(sla)), "overdueDays": .double(round3(days - Double(sla))),
                    ]
                ))
        }
        items.sort { $0.overdue > $1.overdue }
        let jobs: [JSONValue] = model.facts.jobs.compactMap { job in
            guard let count = byJob[job.id] else { return nil }
            return .object(["jobId": .string(job.id), "title": .string(job.title), "slaDays": .int(Int64(job.slaDays ?? 0)), "breaches": .int(Int64(count))])
        }
        return [
            "total": .int(Int64(items.count)), "jobs": .array(jobs),
            "items": .array(items.prefix(1000).map { .object($0.value) }), "truncated": .bool(items.count > 1000),
        ]
    }
}
