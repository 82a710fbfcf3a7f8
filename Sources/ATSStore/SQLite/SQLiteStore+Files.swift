import ATSDomain
import Foundation
import GRDB

extension SQLiteStore: FileCatalog {
    public func createS3Key(organizationID: String, isInternal: Bool, label: String?) async throws -> S3Key {
        let key = S3Key(
            accessKeyID: Self.randomToken(prefix: isInternal ? "ATSI" : "ATSK", count: 16, alphabet: Self.upperAlphabet),
            organizationID: organizationID, secret: Self.randomToken(prefix: "", count: 40, alphabet: Self.secretAlphabet),
            isInternal: isInternal, label: label, createdAt: Timestamp.format(Date()), revokedAt: nil)
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM organizations WHERE id = ?", arguments: [organizationID]) != nil else {
                throw StoreError.notFound("organization")
            }
            try db.execute(
                sql: """
                    INSERT INTO s3_keys (access_key_id, org_id, secret, internal, label, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [key.accessKeyID, organizationID, key.secret, isInternal, label, key.createdAt])
        }
        return key
    }

    public func s3Key(accessKeyID: String) async throws -> S3Key? {
        try await quickRead { db in
            try Row.fetchOne(db, sql: "SELECT * FROM s3_keys WHERE access_key_id = ?", arguments: [accessKeyID]).map(Self.s3Key)
        }
    }

    public func internalS3Key(organizationID: String) async throws -> S3Key {
        let existing = try await quickRead { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM s3_keys WHERE org_id = ? AND internal = 1 AND revoked_at IS NULL ORDER BY created_at LIMIT 1",
                arguments: [organizationID]
            ).map(Self.s3Key)
        }
        if let existing { return existing }
        // Two first uses at once make two keys; both work, and the oldest is used from then on.
        return try await createS3Key(organizationID: organizationID, isInternal: true, label: "presigned links")
    }

    public func s3Keys(organizationID: String) async throws -> [S3Key] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM s3_keys WHERE org_id = ? ORDER BY created_at", arguments: [organizationID])
                .map(Self.s3Key)
        }
    }

    public func revokeS3Key(organizationID: String, accessKeyID: String) async throws -> Bool {
        let now = Timestamp.format(Date())
        return try await write { db in
            try db.execute(
                sql: "UPDATE s3_keys SET revoked_at = ? WHERE org_id = ? AND access_key_id = ? AND revoked_at IS NULL",
                arguments: [now, organizationID, accessKeyID])
            return db.changesCount > 0
        }
    }

    public func putS3Object(_ object: S3Object) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO s3_objects (org_id, key, blob, size, md5, content_type, modified_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, key) DO UPDATE SET blob = excluded.blob, size = excluded.size, md5 = excluded.md5,
                        content_type = excluded.content_type, modified_at = excluded.modified_at
                    """,
                arguments: [
                    object.organizationID, object.key, object.blob, object.size, object.md5, object.contentType, object.modifiedAt,
                ])
        }
    }

    public func s3Object(organizationID: String, key: String) async throws -> S3Object? {
        try await quickRead { db in
            try Row.fetchOne(db, sql: "SELECT * FROM s3_objects WHERE org_id = ? AND key = ?", arguments: [organizationID, key])
                .map(Self.s3Object)
        }
    }

    public func deleteS3Object(organizationID: String, key: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM s3_objects WHERE org_id = ? AND key = ?", arguments: [organizationID, key])
            return db.changesCount > 0
        }
    }

    public func s3Objects(organizationID: String, prefix: String, startAfter: String?, limit: Int) async throws -> [S3Object] {
        // Keys compare bytewise (SQLite's BINARY collation), as S3 lists them. The prefix bound
        // is a range, so the primary key serves it.
        let lower = max(prefix, startAfter ?? "")
        return try await quickRead { db in
            var sql = "SELECT * FROM s3_objects WHERE org_id = ? AND key >= ?"
            var arguments: StatementArguments = [organizationID, lower]
            if let startAfter, startAfter >= prefix {
                sql += " AND key > ?"
                arguments += [startAfter]
            }
            if !prefix.isEmpty {
                // Bytes, not characters: a prefix like "Müller/" counts 8 bytes.
                sql += " AND substr(CAST(key AS BLOB), 1, ?) = CAST(? AS BLOB)"
                arguments += [prefix.utf8.count, prefix]
            }
            sql += " ORDER BY key LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.s3Object)
        }
    }

    public func addBlobReference(organizationID: String, blob: String, owner: String, expiresAt: String?) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO blob_refs (org_id, owner, blob, expires_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (org_id, owner, blob) DO UPDATE SET expires_at = excluded.expires_at
                    """,
                arguments: [organizationID, owner, blob, expiresAt])
        }
    }

    public func removeBlobReferences(organizationID: String, owner: String) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM blob_refs WHERE org_id = ? AND owner = ?", arguments: [organizationID, owner])
        }
    }

    public func refersToBlob(organizationID: String, blob: String, now: String) async throws -> Bool {
        try await quickRead { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM documents WHERE json_extract(doc, '$.sha256') = ?1 AND org_id = ?2)
                        OR EXISTS (SELECT 1 FROM s3_objects WHERE blob = ?1 AND org_id = ?2)
                        OR EXISTS (SELECT 1 FROM blob_refs WHERE blob = ?1 AND org_id = ?2
                                   AND (expires_at IS NULL OR expires_at > ?3))
                    """,
                arguments: [blob, organizationID, now]) ?? false
        }
    }

    public func referencedBlobs(now: String) async throws -> Set<String> {
        try await read { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT json_extract(doc, '$.sha256') FROM documents WHERE json_extract(doc, '$.sha256') IS NOT NULL
                        UNION SELECT blob FROM s3_objects
                        UNION SELECT blob FROM blob_refs WHERE expires_at IS NULL OR expires_at > ?
                        """,
                    arguments: [now]))
        }
    }

    public func createUpload(_ upload: PendingUpload) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO uploads (id, org_id, candidate_id, kind, filename, actor, expires_at, document_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    upload.id, upload.organizationID, upload.candidateID, upload.kind, upload.filename, upload.actor,
                    upload.expiresAt, upload.documentID,
                ])
        }
    }

    public func upload(organizationID: String, id: String) async throws -> PendingUpload? {
        try await quickRead { db in
            try Row.fetchOne(db, sql: "SELECT * FROM uploads WHERE org_id = ? AND id = ?", arguments: [organizationID, id]).map {
                PendingUpload(
                    id: $0["id"], organizationID: $0["org_id"], candidateID: $0["candidate_id"], kind: $0["kind"],
                    filename: $0["filename"], actor: $0["actor"], expiresAt: $0["expires_at"], documentID: $0["document_id"])
            }
        }
    }

    public func claimUpload(organizationID: String, id: String) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE uploads SET document_id = '' WHERE org_id = ? AND id = ? AND document_id IS NULL",
                arguments: [organizationID, id])
            return db.changesCount == 1
        }
    }

    public func releaseUpload(organizationID: String, id: String) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE uploads SET document_id = NULL WHERE org_id = ? AND id = ? AND document_id = ''",
                arguments: [organizationID, id])
        }
    }

    public func completeUpload(organizationID: String, id: String, documentID: String) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE uploads SET document_id = ? WHERE org_id = ? AND id = ?", arguments: [documentID, organizationID, id])
        }
    }

    public func deleteExpiredUploads(now: String) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM uploads WHERE expires_at < ?", arguments: [now])
            try db.execute(sql: "DELETE FROM blob_refs WHERE expires_at IS NOT NULL AND expires_at < ?", arguments: [now])
            return db.changesCount
        }
    }

    static let upperAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func randomToken(prefix: String, count: Int, alphabet: [UInt8]) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }
        return prefix + String(decoding: bytes, as: UTF8.self)
    }

    static func s3Key(_ row: Row) -> S3Key {
        S3Key(
            accessKeyID: row["access_key_id"], organizationID: row["org_id"], secret: row["secret"], isInternal: row["internal"],
            label: row["label"], createdAt: row["created_at"], revokedAt: row["revoked_at"])
    }

    static func s3Object(_ row: Row) -> S3Object {
        S3Object(
            organizationID: row["org_id"], key: row["key"], blob: row["blob"], size: row["size"], md5: row["md5"],
            contentType: row["content_type"], modifiedAt: row["modified_at"])
    }
}
