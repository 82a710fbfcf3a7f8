import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    public func moveApplication(organizationID: String, id: String, to stage: String, actor: String, reason: String?)
        async throws -> Record
    {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound("application") }
        let stage = stage.trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await write { db in
            try Self.update(
                db, .application, org: organizationID, id: id, actor: actor, options: WriteOptions(),
                reason: reason?.isEmpty == true ? nil : reason
            ) { record in
                var fields = record.fields
                fields["stage"] = .string(stage)
                return fields
            }
        }
    }

    public func stageHistory(organizationID: String, applicationID: String) async throws -> [StageEvent] {
        guard let id = Identifier.canonical(applicationID) else { throw StoreError.notFound("application") }
        return try await read { db in
            guard try Self.exists(db, .application, org: organizationID, id: id) else {
                throw StoreError.notFound("application")
            }
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id, application_id, from_stage, to_stage, actor, at, reason FROM stage_events
                        WHERE org_id = ? AND application_id = ? ORDER BY at, seq
                        """),
                arguments: [organizationID, id]
            ).map { row in
                StageEvent(
                    id: row[0], applicationID: row[1], fromStage: row[2], toStage: row[3], actor: row[4], at: row[5],
                    reason: row[6])
            }
        }
    }
}
