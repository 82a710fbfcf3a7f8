import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    public func createMany(
        _ kind: EntityKind, organizationID: String, fields: [JSONObject], actor: String, options: WriteOptions
    ) async throws -> [Result<Record, StoreError>] {
        if fields.isEmpty { return [] }
        let now = StoreClock.now()
        return try await write { db in
            try Self.requireOrganization(db, organizationID)
            var results: [Result<Record, StoreError>] = []
            results.reserveCapacity(fields.count)
            for input in fields {
                let id = Identifier.make()
                var outcome: Result<Record, StoreError>?
                do {
                    // A savepoint per row: a rule broken halfway through leaves nothing behind.
                    try db.inSavepoint {
                        var fields = input
                        let move = try Self.applyRules(
                            db, kind, org: organizationID, id: id, fields: &fields, old: nil, actor: actor, options: options,
                            now: now)
                        let record = Record(kind: kind, id: id, createdAt: now, updatedAt: now, fields: fields)
                        let json = record.json
                        try Self.insert(db, record, org: organizationID, json: json)
                        if let move {
                            try Self.insertStageEvent(
                                db, org: organizationID,
                                StageEvent(
                                    id: Identifier.make(), applicationID: id, fromStage: move.from, toStage: move.to, actor: actor,
                                    at: now))
                        }
                        try Self.audit(
                            db, organizationID: organizationID, at: now, actor: actor, action: "create",
                            entity: kind.auditEntity, entityID: id, old: nil, new: nil, newJSON: json)
                        outcome = .success(record)
                        return .commit
                    }
                } catch {
                    switch Self.storeError(error) {
                    case let error as StoreError where error.code != .unavailable && error.code != .storageFull:
                        outcome = .failure(error)
                    case let error as ValidationError:
                        outcome = .failure(StoreError(.validation, "invalid fields", fieldErrors: error.errors))
                    default:
                        throw error
                    }
                }
                if let outcome { results.append(outcome) }
            }
            return results
        }
    }
}
