import GRDB

extension SQLiteJobQueue {
    /// The job tier's schema history, in the store's database. Append-only like the store's:
    /// a shipped migration never changes. The identifiers start with `jobs-` so they never meet
    /// the store's; both migrators share `grdb_migrations`, which GRDB allows (a migrator skips
    /// identifiers it does not know when it migrates; only `hasSchemaChanges` and
    /// `eraseDatabaseOnSchemaChange`, which neither uses, would object).
    static func makeMigrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("jobs-v1-queue") { db in
            try db.execute(
                sql: """
                    CREATE TABLE job_queue (
                        id TEXT PRIMARY KEY NOT NULL,
                        queue TEXT NOT NULL,
                        type TEXT NOT NULL,
                        payload TEXT NOT NULL,
                        state TEXT NOT NULL,
                        priority INTEGER NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        max_attempts INTEGER NOT NULL,
                        run_at REAL NOT NULL,
                        timeout_ms INTEGER,
                        unique_key TEXT,
                        org_id TEXT,
                        trace_parent TEXT,
                        worker TEXT,
                        lease_until REAL,
                        progress REAL,
                        progress_message TEXT,
                        last_error TEXT,
                        result TEXT,
                        created_at REAL NOT NULL,
                        started_at REAL,
                        finished_at REAL
                    );
                    -- The claim: the due jobs of a queue, highest priority first, then oldest.
                    CREATE INDEX job_queue_claim ON job_queue(queue, priority DESC, run_at, id)
                        WHERE state IN ('queued', 'scheduled');
                    -- One live job per unique key; finished jobs free the key.
                    CREATE UNIQUE INDEX job_queue_unique ON job_queue(unique_key)
                        WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled');
                    -- Lease recovery looks only at running jobs.
                    CREATE INDEX job_queue_leases ON job_queue(lease_until) WHERE state = 'running';
                    -- Admin lists (newest first) and figures.
                    CREATE INDEX job_queue_list ON job_queue(queue, state, id);
                    CREATE INDEX job_queue_finished ON job_queue(state, finished_at);
                    -- Which occurrence of each recurring job was enqueued last (exactly-once cron).
                    CREATE TABLE job_recurring (
                        name TEXT PRIMARY KEY NOT NULL,
                        last_fire REAL NOT NULL,
                        job_id TEXT
                    ) WITHOUT ROWID;
                    """)
        }
        return migrator
    }
}
