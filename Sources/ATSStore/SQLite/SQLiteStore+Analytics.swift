import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    public func analyticsFacts(organizationID: String, notesSince: String) async throws -> AnalyticsFacts {
        // One read transaction: the jobs, applications and history agree with each other.
        try await read { db in
            var facts = AnalyticsFacts()
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT id, json_extract(doc, '$.name') FROM clients WHERE org_id = ?"),
                arguments: [organizationID])
            {
                facts.clients[row[0]] = row[1] ?? ""
            }
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id, client_id, json_extract(doc, '$.title'), status, json_extract(doc, '$.pipelineStages'),
                               json_extract(doc, '$.slaDays')
                        FROM jobs WHERE org_id = ? ORDER BY created_at, id
                        """),
                arguments: [organizationID])
            {
                let stagesText: String = row[4] ?? "[]"
                let stages = (try? JSONText.parse(Array(stagesText.utf8)))?.stringArray ?? []
                let sla: Int64? = row[5]
                facts.jobs.append(
                    AnalyticsFacts.Job(
                        id: row[0], clientID: row[1], title: row[2] ?? "", status: row[3] ?? "draft",
                        stages: stages.isEmpty ? defaultPipelineStages : stages, slaDays: sla.map { Int($0) }))
            }
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT a.id, a.job_id, a.candidate_id, a.stage, a.status,
                               COALESCE(json_extract(a.doc, '$.source'), c.source), a.created_at,
                               json_extract(a.doc, '$.stageChangedAt')
                        FROM applications a LEFT JOIN candidates c ON c.org_id = a.org_id AND c.id = a.candidate_id
                        WHERE a.org_id = ? ORDER BY a.created_at, a.id
                        """),
                arguments: [organizationID])
            {
                facts.applications.append(
                    AnalyticsFacts.Application(
                        id: row[0], jobID: row[1], candidateID: row[2], stage: row[3], status: row[4] ?? "active",
                        source: row[5], createdAt: row[6], stageChangedAt: row[7]))
            }
            let events = try Row.fetchCursor(
                db.cachedStatement(
                    sql: """
                        SELECT id, application_id, from_stage, to_stage, actor, at FROM stage_events
                        WHERE org_id = ? ORDER BY application_id, at, seq
                        """),
                arguments: [organizationID])
            while let row = try events.next() {
                facts.stageEvents.append(
                    StageEvent(id: row[0], applicationID: row[1], fromStage: row[2], toStage: row[3], actor: row[4], at: row[5]))
            }
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT json_extract(doc, '$.authorId'), created_at FROM notes
                        WHERE org_id = ? AND created_at >= ? AND json_extract(doc, '$.authorId') IS NOT NULL
                        """),
                arguments: [organizationID, notesSince])
            {
                let author: String = row[0]
                facts.notes.append(AnalyticsFacts.Note(actor: "user:\(author)", at: row[1]))
            }
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT id, name FROM users WHERE org_id = ?"), arguments: [organizationID])
            {
                facts.userNames[row[0]] = row[1]
            }
            return facts
        }
    }

    public func saveAnalyticsSnapshot(_ snapshot: AnalyticsSnapshot) async throws {
        let json = JSONCoding.encode(snapshot.document)
        try await write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO analytics_snapshots (org_id, name, computed_at, doc) VALUES (?, ?, ?, ?)
                    ON CONFLICT (org_id, name) DO UPDATE SET computed_at = excluded.computed_at, doc = excluded.doc
                    """
            ).execute(arguments: [snapshot.organizationID, snapshot.name, snapshot.computedAt, json])
        }
    }

    public func analyticsSnapshot(organizationID: String, name: String) async throws -> AnalyticsSnapshot? {
        let found: (String, String)? = try await quickRead { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT computed_at, doc FROM analytics_snapshots WHERE org_id = ? AND name = ?"),
                    arguments: [organizationID, name])
            else { return nil }
            return (row[0], row[1])
        }
        guard let (computedAt, doc) = found else { return nil }
        return AnalyticsSnapshot(
            organizationID: organizationID, name: name, computedAt: computedAt,
            document: JSONCoding.decodeObject(Array(doc.utf8)) ?? [:])
    }
}
