import ATSApp
import ATSCache
import ATSDomain
import ATSHTTP
import ATSStore
import ATSTelemetry
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The cache behind the API (no stale read after a write, tenants apart, writes of other
/// processes noticed) and the server spans (traceparent in and out, the admin traces view).
@Suite struct CacheAndTraceTests {
    @Test func aWriteIsVisibleInTheNextRead() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let (_, job, candidate) = try await seedPipeline(client, key: key)
            // Fill the cache, then change the candidate through every kind of write.
            let before = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: key)
            #expect(before.json["professionalHeadline"] == nil)
            _ = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: key)
            #expect(agency.cache.figures.hits >= 1)

            let patched = try await client.call(.patch, "/api/v1/candidates/\(candidate)", key: key, json: ["professionalHeadline": "Staff"])
            #expect(patched.status == .ok)
            let after = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: key)
            #expect(after.json["professionalHeadline"]?.stringValue == "Staff")
            #expect(after.text == patched.text, "the write-through document is the stored one, byte for byte")

            // Bulk tag: many documents at once.
            let bulk = try await client.call(
                .post, "/api/v1/candidates/bulk", key: key, json: ["action": "tag", "ids": [.string(candidate)], "tags": ["hot"]])
            #expect(bulk.status == .ok, "\(bulk.text)")
            let tagged = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: key)
            #expect(tagged.json["tags"]?.arrayValue?.contains(.string("hot")) == true, "\(tagged.text)")

            // A cached list page sees a new row and a filter sees a changed one.
            let listed = try await client.call(.get, "/api/v1/candidates?limit=50", key: key)
            let created = try await client.call(.post, "/api/v1/candidates", key: key, json: ["firstName": "Grace", "lastName": "Hopper"])
            let relisted = try await client.call(.get, "/api/v1/candidates?limit=50", key: key)
            #expect(relisted.items.count == listed.items.count + 1)
            #expect(relisted.items.contains { $0["id"]?.stringValue == created.id })
            _ = try await client.call(.get, "/api/v1/candidates?status=active", key: key)
            _ = try await client.call(.patch, "/api/v1/candidates/\(created.id)", key: key, json: ["status": "active"])
            let active = try await client.call(.get, "/api/v1/candidates?status=active", key: key)
            #expect(active.items.contains { $0["id"]?.stringValue == created.id })

            // Stage moves and deletes.
            let application = try await client.call(
                .post, "/api/v1/applications", key: key, json: ["candidateId": .string(candidate), "jobId": .string(job)])
            #expect(application.status == .created, "\(application.text)")
            _ = try await client.call(.get, "/api/v1/applications/\(application.id)", key: key)
            let moved = try await client.call(.post, "/api/v1/applications/\(application.id)/move", key: key, json: ["stage": "Screening"])
            #expect(moved.status == .ok, "\(moved.text)")
            let read = try await client.call(.get, "/api/v1/applications/\(application.id)", key: key)
            #expect(read.json["stage"]?.stringValue == "Screening")

            _ = try await client.call(.get, "/api/v1/candidates/\(created.id)", key: key)
            let deleted = try await client.call(.delete, "/api/v1/candidates/\(created.id)", key: key)
            #expect(deleted.status == .noContent)
            let gone = try await client.call(.get, "/api/v1/candidates/\(created.id)", key: key)
            #expect(gone.status == .notFound)

            // Deleting an application takes its (cached) notes along.
            let note = try await client.call(
                .post, "/api/v1/notes", key: key,
                json: ["applicationId": .string(application.id), "body": "Strong on SQL"])
            #expect(note.status == .created, "\(note.text)")
            #expect(try await client.call(.get, "/api/v1/notes/\(note.id)", key: key).status == .ok)
            let second = try await client.call(
                .post, "/api/v1/applications", key: key, json: ["candidateId": .string(candidate), "jobId": .string(job)])
            #expect(second.status == .conflict, "one application per candidate and job")
            #expect(try await client.call(.delete, "/api/v1/applications/\(application.id)", key: key).status == .noContent)
            #expect(try await client.call(.get, "/api/v1/notes/\(note.id)", key: key).status == .notFound)
            let again = try await client.call(
                .post, "/api/v1/applications", key: key, json: ["candidateId": .string(candidate), "jobId": .string(job)])
            #expect(again.status == .created, "\(again.text)")

            // Erasing a candidate takes its (cached) application along.
            let erased = try await client.call(.delete, "/api/v1/candidates/\(candidate)", key: key)
            #expect(erased.status == .noContent)
            let orphan = try await client.call(.get, "/api/v1/applications/\(again.id)", key: key)
            #expect(orphan.status == .notFound)
        }
    }

    @Test func cachedDocumentsStayWithTheirTenant() async throws {
        try await withAgency { agency, client in
            let (_, _, candidate) = try await seedPipeline(client, key: agency.key("acme"))
            let own = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: agency.key("acme"))
            #expect(own.status == .ok)
            let other = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: agency.key("globex"))
            #expect(other.status == .notFound)
            let list = try await client.call(.get, "/api/v1/candidates", key: agency.key("globex"))
            #expect(list.items.isEmpty)
        }
    }

    @Test func writesOfAnotherProcessAreNoticed() async throws {
        try await withAgency { agency, client in
            let key = agency.key()
            let (_, _, candidate) = try await seedPipeline(client, key: key)
            _ = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: key)
            let watcher = Task { try await agency.served.run() }
            defer { watcher.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            // An `ats worker` or the CLI: its own pool on the same file, marking its writes.
            var logger = Logger(label: "other")
            logger.logLevel = .critical
            let other = try SQLiteStore(
                path: agency.store.path, configuration: .init(readers: 1, marksWrites: true), logger: logger)
            let organization = try #require(try await other.organization(slug: "acme"))
            _ = try await other.update(
                .candidate, organizationID: organization.id, id: candidate, actor: "system", options: .init()
            ) { record in
                var fields = record.fields
                fields["currentTitle"] = "Written elsewhere"
                return fields
            }
            try other.pool.close()
            var seen = false
            for _ in 0..<40 where !seen {
                try await Task.sleep(for: .milliseconds(100))
                let read = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: key)
                seen = read.json["currentTitle"]?.stringValue == "Written elsewhere"
            }
            #expect(seen, "the change mark moved the cache's epoch within a few polls")
        }
    }

    @Test func requestsContinueTheCallersTraceAndReturnTheirSpan() async throws {
        try await withAgency { agency, client in
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let parent = "00f067aa0ba902b7"
            let (_, _, candidate) = try await seedPipeline(client, key: agency.key())
            let reply = try await client.execute(
                uri: "/api/v1/candidates/\(candidate)", method: .get,
                headers: [.authorization: "Bearer \(agency.key())", HTTPField.Name("traceparent")!: "00-\(traceID)-\(parent)-01"]
            ) { $0 }
            #expect(reply.status == .ok)
            let returned = try #require(reply.headers[HTTPField.Name("traceparent")!])
            let parts = returned.split(separator: "-").map(String.init)
            #expect(parts.count == 4 && parts[1] == traceID && parts[2] != parent && parts[3] == "01", "\(returned)")

            // A malformed traceparent starts a new trace instead of failing the request.
            let fresh = try await client.execute(
                uri: "/api/v1/candidates/\(candidate)", method: .get,
                headers: [.authorization: "Bearer \(agency.key())", HTTPField.Name("traceparent")!: "00-zz-\(parent)-01"]
            ) { $0 }
            #expect(fresh.status == .ok)
            let freshParent = fresh.headers[HTTPField.Name("traceparent")!] ?? ""
            #expect(!freshParent.isEmpty && !freshParent.contains(traceID))

            // The admin view: the trace is listed under its route and its tree holds the
            // server span (under the caller's span) and the cache read below it.
            let listed = try await client.call(
                .get, "/api/v1/admin/traces?route=/api/v1/candidates/%7Bid%7D&min_ms=0", key: agency.key())
            #expect(listed.status == .ok, "\(listed.text)")
            #expect(listed.items.contains { $0["traceId"]?.stringValue == traceID })
            #expect(listed.items.allSatisfy { $0["route"]?.stringValue == "/api/v1/candidates/{id}" })
            let tree = try await client.call(.get, "/api/v1/admin/traces/\(traceID)", key: agency.key())
            #expect(tree.status == .ok, "\(tree.text)")
            let root = try #require(tree.json["spans"]?.arrayValue?.first?.objectValue)
            #expect(root["kind"]?.stringValue == "server")
            #expect(root["parentSpanId"]?.stringValue == parent)
            #expect(root["name"]?.stringValue == "GET /api/v1/candidates/{id}")
            let children = root["children"]?.arrayValue?.compactMap { $0.objectValue?["name"]?.stringValue } ?? []
            #expect(children.contains("cache.fetch"), "\(children)")

            // Another organization that sends this trace id in its own traceparent joins the
            // trace with a root of its own, and sees that root only, never acme's spans.
            let intruder = try await client.execute(
                uri: "/api/v1/candidates", method: .get,
                headers: [.authorization: "Bearer \(agency.key("globex"))", HTTPField.Name("traceparent")!: "00-\(traceID)-\(parent)-01"]
            ) { $0 }
            #expect(intruder.status == .ok)
            let theirs = try await client.call(.get, "/api/v1/admin/traces/\(traceID)", key: agency.key("globex"))
            #expect(theirs.status == .ok)
            let theirRoots = theirs.json["spans"]?.arrayValue?.compactMap(\.objectValue) ?? []
            #expect(theirRoots.count == 1 && theirRoots.allSatisfy { $0["name"]?.stringValue == "GET /api/v1/candidates" }, "\(theirs.text)")
            let ours = try await client.call(.get, "/api/v1/admin/traces/\(traceID)", key: agency.key())
            #expect(!(ours.json["spans"]?.arrayValue ?? []).contains { $0.objectValue?["name"]?.stringValue == "GET /api/v1/candidates" })

            // Another organization's admin does not see it; a viewer may not look at all.
            let foreignTrace = "5bf92f3577b34da6a3ce929d0e0e4736"
            _ = try await client.execute(
                uri: "/api/v1/candidates/\(candidate)", method: .get,
                headers: [.authorization: "Bearer \(agency.key())", HTTPField.Name("traceparent")!: "00-\(foreignTrace)-\(parent)-01"]
            ) { $0 }
            let foreign = try await client.call(.get, "/api/v1/admin/traces/\(foreignTrace)", key: agency.key("globex"))
            #expect(foreign.status == .notFound)
            let viewer = try await client.call(.get, "/api/v1/admin/traces", key: agency.key("acme", .viewer))
            #expect(viewer.status == .forbidden)
            let bad = try await client.call(.get, "/api/v1/admin/traces/XYZ", key: agency.key())
            #expect(bad.status == .badRequest && bad.problemType?.hasSuffix("invalid-parameter") == true)
        }
    }

    @Test func metricsCountTheCache() async throws {
        try await withAgency { agency, client in
            let (_, _, candidate) = try await seedPipeline(client, key: agency.key())
            // The create wrote the document through: every read hits. A list page misses once.
            for _ in 0..<3 { _ = try await client.call(.get, "/api/v1/candidates/\(candidate)", key: agency.key()) }
            for _ in 0..<2 { _ = try await client.call(.get, "/api/v1/candidates?limit=7", key: agency.key()) }
            let figures = agency.cache.figures
            #expect(figures.hits >= 4)
            #expect(figures.misses >= 1)
            #expect(figures.loads >= 1)
            #expect(figures.bytes <= figures.maxBytes)
        }
    }
}
