import GRDB

extension SQLiteStore {
    /// The schema's history. Append-only: a shipped migration never changes; a new need is a
    /// new named migration at the end, so every file upgrades along the same path.
    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()

        migrator.registerMigration("v1-accounts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE organizations (
                        id TEXT PRIMARY KEY NOT NULL,
                        slug TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        settings TEXT NOT NULL DEFAULT '{}',
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL
                    );
                    CREATE TABLE users (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        email TEXT NOT NULL,
                        email_key TEXT NOT NULL,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        disabled INTEGER NOT NULL DEFAULT 0,
                        password_hash TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        UNIQUE (org_id, id),
                        UNIQUE (org_id, email_key)
                    );
                    CREATE INDEX users_list ON users(org_id, created_at, id);
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        secret_hash TEXT NOT NULL UNIQUE,
                        created_at TEXT NOT NULL,
                        last_used_at TEXT,
                        revoked_at TEXT
                    );
                    CREATE INDEX api_keys_list ON api_keys(org_id, created_at, id);
                    CREATE TABLE sessions (
                        token_hash TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL,
                        user_id TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        FOREIGN KEY (org_id, user_id) REFERENCES users(org_id, id) ON DELETE CASCADE
                    ) WITHOUT ROWID;
                    CREATE INDEX sessions_user ON sessions(org_id, user_id);
                    CREATE INDEX sessions_expiry ON sessions(expires_at);
                    """)
        }

        migrator.registerMigration("v1-entities") { db in
            // Parents first: composite foreign keys (org_id, x_id) -> parent(org_id, id) keep
            // tenancy in the database itself, not only in the queries.
            let candidate = "FOREIGN KEY (org_id, candidate_id) REFERENCES candidates(org_id, id) ON DELETE CASCADE"
            try db.execute(
                sql: v1EntityTable(
                    "candidates",
                    columns: "status TEXT, owner_id TEXT, archived INTEGER NOT NULL DEFAULT 0, source TEXT, "
                        + "email_norm TEXT, phone_norm TEXT",
                    filters: ["status", "owner_id", "archived", "source"])
                    + """
                    CREATE INDEX candidates_email_norm ON candidates(org_id, email_norm) WHERE email_norm IS NOT NULL;
                    CREATE INDEX candidates_phone_norm ON candidates(org_id, phone_norm) WHERE phone_norm IS NOT NULL;
                    """)
            try db.execute(
                sql: v1EntityTable("clients", columns: "status TEXT, owner_id TEXT", filters: ["status", "owner_id"]))
            try db.execute(
                sql: v1EntityTable(
                    "client_contacts", columns: "client_id TEXT NOT NULL",
                    constraints: ["FOREIGN KEY (org_id, client_id) REFERENCES clients(org_id, id)"],
                    filters: ["client_id"]))
            try db.execute(
                sql: v1EntityTable(
                    "projects", columns: "client_id TEXT NOT NULL, status TEXT, owner_id TEXT",
                    constraints: ["FOREIGN KEY (org_id, client_id) REFERENCES clients(org_id, id)"],
                    filters: ["client_id", "status", "owner_id"]))
            try db.execute(
                sql: v1EntityTable(
                    "jobs", columns: "client_id TEXT NOT NULL, project_id TEXT, status TEXT, owner_id TEXT",
                    constraints: [
                        "FOREIGN KEY (org_id, client_id) REFERENCES clients(org_id, id)",
                        "FOREIGN KEY (org_id, project_id) REFERENCES projects(org_id, id)",
                    ],
                    filters: ["client_id", "project_id", "status", "owner_id"]))
            try db.execute(
                sql: v1EntityTable(
                    "applications",
                    columns: "candidate_id TEXT NOT NULL, job_id TEXT NOT NULL, stage TEXT NOT NULL, status TEXT, "
                        + "owner_id TEXT",
                    constraints: [
                        candidate,
                        "FOREIGN KEY (org_id, job_id) REFERENCES jobs(org_id, id)",
                        "UNIQUE (org_id, candidate_id, job_id)",
                    ],
                    filters: ["job_id", "stage", "status", "owner_id"]))
            try db.execute(
                sql: v1EntityTable(
                    "interviews",
                    columns: "application_id TEXT NOT NULL, candidate_id TEXT, job_id TEXT, status TEXT",
                    constraints: [
                        "FOREIGN KEY (org_id, application_id) REFERENCES applications(org_id, id) ON DELETE CASCADE"
                    ],
                    filters: ["application_id", "candidate_id", "job_id", "status"]))
            try db.execute(
                sql: v1EntityTable(
                    "notes", columns: "candidate_id TEXT, application_id TEXT, job_id TEXT, type TEXT",
                    constraints: [
                        candidate,
                        "FOREIGN KEY (org_id, application_id) REFERENCES applications(org_id, id) ON DELETE CASCADE",
                        "FOREIGN KEY (org_id, job_id) REFERENCES jobs(org_id, id)",
                    ],
                    filters: ["candidate_id", "application_id", "job_id", "type"]))
            try db.execute(
                sql: v1EntityTable(
                    "documents", columns: "candidate_id TEXT NOT NULL, kind TEXT", constraints: [candidate],
                    filters: ["candidate_id", "kind"]))
            try db.execute(
                sql: v1EntityTable("email_templates", columns: "category TEXT", filters: ["category"]))
            // A template that messages used can still be deleted: their link is cleared by the store.
            try db.execute(
                sql: v1EntityTable(
                    "messages", columns: "candidate_id TEXT, template_id TEXT, status TEXT", constraints: [candidate],
                    filters: ["candidate_id", "template_id", "status"]))
            try db.execute(sql: v1EntityTable("saved_searches", columns: "owner_id TEXT", filters: ["owner_id"]))
            try db.execute(
                sql: """
                    CREATE TABLE entity_tags (
                        org_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        tag TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        PRIMARY KEY (org_id, kind, tag, entity_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX entity_tags_entity ON entity_tags(org_id, kind, entity_id);
                    """)
        }

        migrator.registerMigration("v1-pipelines") { db in
            try db.execute(
                sql: """
                    CREATE TABLE stage_events (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        org_id TEXT NOT NULL,
                        application_id TEXT NOT NULL,
                        from_stage TEXT,
                        to_stage TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        at TEXT NOT NULL,
                        reason TEXT,
                        FOREIGN KEY (org_id, application_id) REFERENCES applications(org_id, id) ON DELETE CASCADE
                    );
                    CREATE INDEX stage_events_application ON stage_events(org_id, application_id, at, seq);
                    """)
        }

        migrator.registerMigration("v1-audit") { db in
            try db.execute(
                sql: """
                    CREATE TABLE audit_log (
                        seq INTEGER PRIMARY KEY,
                        id TEXT NOT NULL UNIQUE,
                        org_id TEXT NOT NULL,
                        at TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        entity TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        old TEXT,
                        new TEXT
                    );
                    CREATE INDEX audit_org ON audit_log(org_id, seq);
                    CREATE INDEX audit_entity ON audit_log(org_id, entity_id, seq);
                    CREATE INDEX audit_actor ON audit_log(org_id, actor, seq);
                    """)
        }

        migrator.registerMigration("v2-analytics-snapshots") { db in
            try db.execute(
                sql: """
                    CREATE TABLE analytics_snapshots (
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        computed_at TEXT NOT NULL,
                        doc TEXT NOT NULL,
                        PRIMARY KEY (org_id, name)
                    ) WITHOUT ROWID;
                    """)
        }

        // One counter that writers in other processes (`ats worker`, the CLI) bump in each of
        // their transactions, so the server's cache learns of writes it did not make.
        migrator.registerMigration("v3-change-mark") { db in
            try db.execute(
                sql: """
                    CREATE TABLE change_mark (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        seq INTEGER NOT NULL
                    );
                    INSERT INTO change_mark (id, seq) VALUES (1, 0);
                    """)
        }

        // The file tier's records: S3 keys and objects, blob references of exports and zips,
        // presigned uploads. Blobs themselves are files (the blob tier); these point at them.
        migrator.registerMigration("v4-files") { db in
            try db.execute(
                sql: """
                    CREATE TABLE s3_keys (
                        access_key_id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        secret TEXT NOT NULL,
                        internal INTEGER NOT NULL DEFAULT 0,
                        label TEXT,
                        created_at TEXT NOT NULL,
                        revoked_at TEXT
                    );
                    CREATE INDEX s3_keys_org ON s3_keys (org_id);
                    CREATE TABLE s3_objects (
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        key TEXT NOT NULL,
                        blob TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        md5 TEXT NOT NULL,
                        content_type TEXT NOT NULL,
                        modified_at TEXT NOT NULL,
                        PRIMARY KEY (org_id, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX s3_objects_blob ON s3_objects (blob);
                    CREATE TABLE blob_refs (
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        owner TEXT NOT NULL,
                        blob TEXT NOT NULL,
                        expires_at TEXT,
                        PRIMARY KEY (org_id, owner, blob)
                    ) WITHOUT ROWID;
                    CREATE INDEX blob_refs_blob ON blob_refs (blob);
                    CREATE TABLE uploads (
                        id TEXT PRIMARY KEY NOT NULL,
                        org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                        candidate_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        filename TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        document_id TEXT
                    );
                    CREATE INDEX documents_blob ON documents (json_extract(doc, '$.sha256'))
                        WHERE json_extract(doc, '$.sha256') IS NOT NULL;
                    """)
        }

        return migrator
    }
}

/// The DDL of one v1 entity table: the common columns, the promoted ones, and the list indexes.
/// Frozen with the "v1-entities" migration; later tables get their own text.
private func v1EntityTable(_ table: String, columns: String, constraints: [String] = [], filters: [String]) -> String {
    let tail = constraints.map { ",\n    \($0)" }.joined()
    var sql = """
        CREATE TABLE \(table) (
            id TEXT PRIMARY KEY NOT NULL,
            org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            doc TEXT NOT NULL,
            \(columns),
            UNIQUE (org_id, id)\(tail)
        );
        CREATE INDEX \(table)_created ON \(table)(org_id, created_at, id);
        CREATE INDEX \(table)_updated ON \(table)(org_id, updated_at, id);

        """
    for column in filters {
        sql += "CREATE INDEX \(table)_\(column) ON \(table)(org_id, \(column), created_at, id);\n"
    }
    return sql
}
