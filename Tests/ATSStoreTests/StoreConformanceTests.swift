import ATSDomain
import ATSStore
import Foundation
import Testing

/// The contract of `Store`, run against every backend in `StoreFactory.all`.
@Suite("Store conformance")
struct StoreConformanceTests {
    // MARK: Accounts

    @Test(arguments: StoreFactory.all)
    func organizationsUsersKeysAndSessions(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            #expect(await storeErrorCode { _ = try await store.createOrganization(slug: "acme", name: "Again") } == .conflict)
            #expect(await storeErrorCode { _ = try await store.createOrganization(slug: "Bad Slug", name: "x") } == .validation)
            #expect(try await store.organization(slug: "acme")?.id == acme.org)
            #expect(try await store.organization(id: acme.org)?.slug == "acme")
            let renamed = try await store.updateOrganization(
                id: acme.org, name: "Acme AG", settings: ["locale": .string("de-CH")], actor: acme.actor)
            #expect(renamed.name == "Acme AG")
            #expect(try await store.organization(id: acme.org)?.settings["locale"] == .string("de-CH"))
            #expect(try await store.organizations().count == 1)

            // Email unique per organization, case-insensitively; fine in another organization.
            #expect(
                await storeErrorCode {
                    _ = try await store.createUser(
                        organizationID: acme.org, email: "REC@acme.example", name: "Dup", role: .viewer,
                        passwordHash: "h", actor: acme.actor)
                } == .conflict)
            let other = try await Agency.make(store, slug: "other")
            _ = try await store.createUser(
                organizationID: other.org, email: "rec@acme.example", name: "Same mail", role: .viewer, passwordHash: "h",
                actor: other.actor)
            #expect(try await store.user(organizationID: acme.org, email: "Rec@Acme.Example")?.id == acme.user.id)
            #expect(try await store.user(organizationID: other.org, id: acme.user.id) == nil)

            let updated = try await store.updateUser(
                organizationID: acme.org, id: acme.user.id, change: UserChange(name: "Rita R.", role: .admin),
                actor: acme.actor)
            #expect(updated.name == "Rita R." && updated.role == .admin)
            let admins = try await store.users(organizationID: acme.org, role: .admin, page: PageRequest())
            #expect(admins.items.map(\.id) == [acme.user.id])

            // API keys: found by secret hash across organizations, not once revoked.
            let key = try await store.createAPIKey(
                organizationID: acme.org, name: "CI", role: .recruiter, secretHash: "secret-hash", prefix: "ats_key_ab",
                actor: acme.actor)
            let found = try await store.apiKey(secretHash: "secret-hash")
            #expect(found?.key.id == key.id && found?.organization.id == acme.org)
            try await store.touchAPIKey(id: key.id, at: "2030-01-01T00:00:00Z")
            #expect(try await store.apiKey(organizationID: acme.org, id: key.id)?.lastUsedAt == "2030-01-01T00:00:00.000Z")
            #expect(try await store.apiKey(organizationID: other.org, id: key.id) == nil)
            #expect(try await store.apiKeys(organizationID: acme.org, page: PageRequest()).items.count == 1)
            let revoked = try await store.revokeAPIKey(organizationID: acme.org, id: key.id, actor: acme.actor)
            #expect(revoked.revokedAt != nil)
            #expect(try await store.apiKey(secretHash: "secret-hash") == nil)
            #expect(await storeErrorCode { _ = try await store.revokeAPIKey(organizationID: other.org, id: key.id, actor: "x") } == .notFound)

            // Sessions: live until expiry; ended by deleteSession, expiry sweep and user deletion.
            try await store.createSession(
                organizationID: acme.org, userID: acme.user.id, tokenHash: "t1", expiresAt: "2030-01-01T00:00:00Z")
            try await store.createSession(
                organizationID: acme.org, userID: acme.user.id, tokenHash: "t2", expiresAt: "2020-01-01T00:00:00Z")
            let live = try await store.session(tokenHash: "t1", now: "2025-01-01T00:00:00Z")
            #expect(live?.user.id == acme.user.id && live?.organization.id == acme.org)
            #expect(try await store.session(tokenHash: "t2", now: "2025-01-01T00:00:00Z") == nil)
            #expect(try await store.deleteExpiredSessions(now: "2025-01-01T00:00:00Z") == 1)
            try await store.deleteSession(tokenHash: "t1")
            #expect(try await store.session(tokenHash: "t1", now: "2025-01-01T00:00:00Z") == nil)
            try await store.createSession(
                organizationID: acme.org, userID: acme.user.id, tokenHash: "t3", expiresAt: "2030-01-01T00:00:00Z")
            #expect(await storeErrorCode {
                try await store.createSession(
                    organizationID: other.org, userID: acme.user.id, tokenHash: "t4", expiresAt: "2030-01-01T00:00:00Z")
            } == .notFound)
            // Rita is acme's only admin: another one first, or she could not be deleted.
            _ = try await store.createUser(
                organizationID: acme.org, email: "second@acme.example", name: "Second admin", role: .admin, passwordHash: "h",
                actor: acme.actor)
            try await store.deleteUser(organizationID: acme.org, id: acme.user.id, actor: "system")
            #expect(try await store.session(tokenHash: "t3", now: "2025-01-01T00:00:00Z") == nil)
            #expect(try await store.user(organizationID: acme.org, id: acme.user.id) == nil)

            let userAudit = try await store.auditLog(organizationID: acme.org, query: AuditQuery(entity: "user"))
            #expect(Set(userAudit.items.map(\.action)) == ["create", "update", "delete"])
            #expect(userAudit.items.allSatisfy { ($0.new?["passwordHash"] ?? $0.old?["passwordHash"]) == nil })
            let keyAudit = try await store.auditLog(organizationID: acme.org, query: AuditQuery(entity: "api_key"))
            #expect(keyAudit.items.map(\.action) == ["revoke", "create"])
        }
    }

    @Test(arguments: StoreFactory.all)
    func disabledUsersLoseTheirSessions(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            try await store.createSession(
                organizationID: acme.org, userID: acme.user.id, tokenHash: "t", expiresAt: "2030-01-01T00:00:00Z")
            _ = try await store.updateUser(
                organizationID: acme.org, id: acme.user.id, change: UserChange(disabled: true), actor: "system")
            #expect(try await store.session(tokenHash: "t", now: "2025-01-01T00:00:00Z") == nil)
        }
    }

    @Test(arguments: StoreFactory.all)
    func theLastActiveAdminStays(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let other = try await Agency.make(store, slug: "other")
            let first = try await store.createUser(
                organizationID: acme.org, email: "a1@acme.example", name: "First", role: .admin, passwordHash: "h", actor: "system")
            let second = try await store.createUser(
                organizationID: acme.org, email: "a2@acme.example", name: "Second", role: .admin, passwordHash: "h", actor: "system")
            // Another organization's admin counts for nothing here.
            _ = try await store.createUser(
                organizationID: other.org, email: "a@other.example", name: "Other", role: .admin, passwordHash: "h", actor: "system")

            // With two admins, one may go; then the other is the last one.
            _ = try await store.updateUser(organizationID: acme.org, id: second.id, change: UserChange(disabled: true), actor: "system")
            for change in [UserChange(disabled: true), UserChange(role: .recruiter), UserChange(role: .viewer, disabled: true)] {
                let error = await storeError { _ = try await store.updateUser(organizationID: acme.org, id: first.id, change: change, actor: "system") }
                #expect(error?.isLastAdmin == true, "\(change)")
            }
            #expect(await storeError { try await store.deleteUser(organizationID: acme.org, id: first.id, actor: "system") }?.isLastAdmin == true)
            let kept = try #require(try await store.user(organizationID: acme.org, id: first.id))
            #expect(kept.isActiveAdmin, "nothing of a refused change was written")
            // Other changes to the last admin, and changes to everyone else, go through.
            #expect(try await store.updateUser(organizationID: acme.org, id: first.id, change: UserChange(name: "Renamed"), actor: "system").name == "Renamed")
            _ = try await store.updateUser(organizationID: acme.org, id: acme.user.id, change: UserChange(disabled: true), actor: "system")
            try await store.deleteUser(organizationID: acme.org, id: second.id, actor: "system")
            // A disabled admin does not count; enabling one again frees the other.
            let third = try await store.createUser(
                organizationID: acme.org, email: "a3@acme.example", name: "Third", role: .admin, passwordHash: "h", actor: "system")
            _ = try await store.updateUser(organizationID: acme.org, id: third.id, change: UserChange(disabled: true), actor: "system")
            #expect(await storeError { try await store.deleteUser(organizationID: acme.org, id: first.id, actor: "system") }?.isLastAdmin == true)
            _ = try await store.updateUser(organizationID: acme.org, id: third.id, change: UserChange(disabled: false), actor: "system")
            try await store.deleteUser(organizationID: acme.org, id: first.id, actor: "system")

            // Two admins demoting each other at once: exactly one of the two changes wins.
            let fourth = try await store.createUser(
                organizationID: acme.org, email: "a4@acme.example", name: "Fourth", role: .admin, passwordHash: "h", actor: "system")
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for id in [third.id, fourth.id] {
                    group.addTask {
                        (try? await store.updateUser(organizationID: acme.org, id: id, change: UserChange(role: .recruiter), actor: "system")) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            let admins = try await store.users(organizationID: acme.org, role: .admin, page: PageRequest()).items
            #expect(admins.filter(\.isActiveAdmin).count == 1)
        }
    }

    // MARK: Entities

    @Test(arguments: StoreFactory.all)
    func createReadUpdateListDeleteEveryKind(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let u = JSONValue.string(acme.user.id)
            var made: [EntityKind: Record] = [:]
            made[.client] = try await acme.create(.client, ["name": .string("Globex"), "ownerId": u, "tags": .array([.string("key")])])
            let client = JSONValue.string(made[.client]!.id)
            made[.clientContact] = try await acme.create(
                .clientContact, ["clientId": client, "firstName": .string("Hank"), "lastName": .string("Scorpio")])
            made[.project] = try await acme.create(.project, ["clientId": client, "name": .string("Doomsday")])
            made[.job] = try await acme.create(
                .job,
                ["clientId": client, "projectId": .string(made[.project]!.id), "title": .string("Engineer"),
                 "hiringManagerIds": .array([u])])
            made[.candidate] = try await acme.candidate(email: "ada@example.com", tags: ["swift"])
            let candidate = JSONValue.string(made[.candidate]!.id)
            made[.application] = try await acme.create(
                .application, ["candidateId": candidate, "jobId": .string(made[.job]!.id)])
            made[.interview] = try await acme.create(
                .interview,
                ["applicationId": .string(made[.application]!.id), "scheduledAt": .string("2030-05-01T09:00:00+02:00"),
                 "interviewerIds": .array([u])])
            made[.note] = try await acme.create(.note, ["body": .string("Strong profile"), "candidateId": candidate])
            made[.document] = try await acme.create(.document, ["candidateId": candidate, "filename": .string("cv.pdf")])
            made[.emailTemplate] = try await acme.create(
                .emailTemplate, ["name": .string("Intro"), "subject": .string("Hi"), "body": .string("Hello {{firstName}}")])
            made[.message] = try await acme.create(
                .message,
                ["to": .string("ada@example.com"), "subject": .string("Hi"), "body": .string("Hello"), "candidateId": candidate,
                 "templateId": .string(made[.emailTemplate]!.id)])
            made[.savedSearch] = try await acme.create(.savedSearch, ["name": .string("Swift devs"), "query": .string("swift")])
            #expect(Set(made.keys) == Set(EntityKind.allCases))

            for (kind, record) in made {
                // Documents come back as the schema normalized them, plus id and times.
                let fetched = try #require(try await store.record(kind, organizationID: acme.org, id: record.id))
                #expect(fetched == record, "\(kind)")
                let json = try #require(try await store.document(kind, organizationID: acme.org, id: record.id))
                #expect(json == record.json, "\(kind)")
                #expect(try await store.document(kind, organizationID: acme.org, id: record.id.lowercased()) == json)
                let page = try await store.list(kind, organizationID: acme.org, query: ListQuery())
                #expect(page.items == [StoredDocument(id: record.id, json: record.json)], "\(kind)")
                #expect(try await acme.audit(record.id).map(\.action) == ["create"], "\(kind)")
            }
            // Read-only fields the store owns.
            #expect(made[.interview]!["candidateId"] == candidate)
            #expect(made[.interview]!["jobId"] == .string(made[.job]!.id))
            #expect(made[.interview]!["scheduledAt"] == .string("2030-05-01T07:00:00.000Z"))
            #expect(made[.note]!["authorId"] == u)
            #expect(made[.savedSearch]!["ownerId"] == u)
            #expect(made[.application]!["stage"] == .string(defaultPipelineStages[0]))
            #expect(made[.application]!["stageChangedAt"] == .string(made[.application]!.createdAt))

            // Update every kind through a merge patch.
            let patches: [EntityKind: JSONObject] = [
                .candidate: ["currentTitle": .string("CTO")], .client: ["industry": .string("Energy")],
                .clientContact: ["title": .string("CEO")], .project: ["priority": .string("high")],
                .job: ["status": .string("active")], .application: ["rating": .int(4)],
                .interview: ["status": .string("completed")], .note: ["pinned": .bool(true)],
                .document: ["kind": .string("other")], .emailTemplate: ["category": .string("outreach")],
                .message: ["status": .string("sent")], .savedSearch: ["shared": .bool(true)],
            ]
            for (kind, patch) in patches {
                let before = made[kind]!
                let after = try await acme.patch(kind, before.id, patch)
                let (key, value) = patch.first!
                #expect(after[key] == value, "\(kind)")
                #expect(after.createdAt == before.createdAt && after.updatedAt >= before.updatedAt)
                #expect(try await store.document(kind, organizationID: acme.org, id: before.id) == after.json)
                let entries = try await acme.audit(before.id)
                #expect(entries.first?.action == "update", "\(kind)")
                #expect(entries.first?.new?[key] == value, "\(kind)")
                #expect(entries.first?.old?[key] == before[key] ?? .null, "\(kind)")
            }
            let sent = try #require(try await store.record(.message, organizationID: acme.org, id: made[.message]!.id))
            #expect(sent["sentAt"] != nil)

            // An update that changes nothing writes nothing.
            let same = try await acme.patch(.client, made[.client]!.id, ["industry": .string("Energy")])
            #expect(try await acme.audit(same.id).count == 2)

            // Delete leaves to roots.
            let order: [EntityKind] = [
                .savedSearch, .message, .emailTemplate, .document, .note, .interview, .application, .candidate, .job,
                .project, .clientContact, .client,
            ]
            for kind in order {
                try await store.delete(kind, organizationID: acme.org, id: made[kind]!.id, actor: acme.actor)
                #expect(try await store.record(kind, organizationID: acme.org, id: made[kind]!.id) == nil)
                #expect(try await store.list(kind, organizationID: acme.org, query: ListQuery()).items.isEmpty)
                #expect(
                    await storeErrorCode {
                        try await store.delete(kind, organizationID: acme.org, id: made[kind]!.id, actor: acme.actor)
                    } == .notFound)
            }
            let deleted = try await acme.audit(made[.client]!.id)
            #expect(deleted.first?.action == "delete" && deleted.first?.old?["name"] == .string("Globex"))
        }
    }

    @Test(arguments: StoreFactory.all)
    func aBatchReadReturnsTheOrganizationsOwnRecordsOnly(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            // Given two candidates in acme and one in another organization
            let acme = try await Agency.make(store)
            let other = try await Agency.make(store, slug: "other")
            let ada = try await acme.candidate()
            let grace = try await acme.candidate("Grace", "Hopper")
            let foreign = try await other.candidate("Alan", "Turing")
            // When acme reads them in one batch, with a missing id, a malformed one and a repeat
            let found = try await store.records(
                .candidate, organizationID: acme.org,
                ids: [ada.id, grace.id, foreign.id, Identifier.make(), "not-an-id", ada.id])
            // Then it gets exactly its own two, whole
            #expect(Set(found.map(\.id)) == [ada.id, grace.id])
            #expect(found.count == 2)
            #expect(found.first { $0.id == grace.id }?.fields["lastName"] == .string("Hopper"))
            #expect(try await store.records(.candidate, organizationID: acme.org, ids: []).isEmpty)
        }
    }

    @Test(arguments: StoreFactory.all)
    func referencesMustExistInTheOrganization(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let other = try await Agency.make(store, slug: "other")
            let foreignClient = try await other.client()
            let missing = Identifier.make()

            let error = await storeError { _ = try await acme.create(.project, ["clientId": .string(foreignClient.id), "name": .string("P")]) }
            #expect(error?.code == .invalidReference)
            #expect(error?.fieldErrors == [FieldError("clientId", "no such client")])

            let candidate = try await acme.candidate()
            let appError = await storeError {
                _ = try await acme.create(.application, ["candidateId": .string(candidate.id), "jobId": .string(missing)])
            }
            #expect(appError?.code == .invalidReference && appError?.fieldErrors.map(\.field) == ["jobId"])

            // User references: same organization only, arrays report the index.
            let client = try await acme.client()
            let userError = await storeError {
                _ = try await acme.create(
                    .job,
                    ["clientId": .string(client.id), "title": .string("T"), "ownerId": .string(other.user.id),
                     "hiringManagerIds": .array([.string(acme.user.id), .string(missing)])])
            }
            #expect(userError?.code == .invalidReference)
            #expect(Set(userError?.fieldErrors.map(\.field) ?? []) == ["ownerId", "hiringManagerIds[1]"])

            // Updates are checked too.
            #expect(await storeErrorCode { _ = try await acme.patch(.client, client.id, ["ownerId": .string(missing)]) } == .invalidReference)

            // A note needs a target.
            let noteError = await storeError { _ = try await acme.create(.note, ["body": .string("orphan")]) }
            #expect(noteError?.code == .validation && noteError?.fieldErrors.isEmpty == false)
        }
    }

    @Test(arguments: StoreFactory.all)
    func tenantsCannotSeeEachOther(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let other = try await Agency.make(store, slug: "other")
            let candidate = try await acme.candidate(email: "ada@example.com")
            let id = candidate.id
            #expect(try await store.record(.candidate, organizationID: other.org, id: id) == nil)
            #expect(try await store.document(.candidate, organizationID: other.org, id: id) == nil)
            #expect(try await store.list(.candidate, organizationID: other.org, query: ListQuery()).items.isEmpty)
            #expect(await storeErrorCode { _ = try await other.patch(.candidate, id, ["currentTitle": .string("x")]) } == .notFound)
            #expect(await storeErrorCode { try await store.delete(.candidate, organizationID: other.org, id: id, actor: other.actor) } == .notFound)
            #expect(await storeErrorCode { _ = try await store.stageHistory(organizationID: other.org, applicationID: id) } == .notFound)
            #expect(try await store.auditLog(organizationID: other.org, query: AuditQuery(entityID: id)).items.isEmpty)
            let bulk = try await store.bulkUpdateCandidates(organizationID: other.org, ids: [id], action: .archive, actor: other.actor)
            #expect(bulk == [BulkResult(id: id, outcome: .notFound)])
            // The same email in another tenant is no duplicate.
            _ = try await other.candidate(email: "ada@example.com")
            #expect(try await store.record(.candidate, organizationID: acme.org, id: id) == candidate)
        }
    }

    // MARK: Candidates

    @Test(arguments: StoreFactory.all)
    func duplicateCandidatesByNormalizedEmailAndPhone(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let ada = try await acme.candidate(email: "Ada.Lovelace+cv@gmail.com", phone: "+41 79 123 45 67")
            let byEmail = await storeError { _ = try await acme.candidate("A", "L", email: "adalovelace@GMAIL.com") }
            #expect(byEmail?.code == .duplicate && byEmail?.existingID == ada.id)
            let byPhone = await storeError { _ = try await acme.candidate("A", "L", phone: "079 123 45 67") }
            #expect(byPhone?.code == .duplicate && byPhone?.existingID == ada.id)
            #expect(try await store.list(.candidate, organizationID: acme.org, query: ListQuery()).items.count == 1)

            let twin = try await acme.create(
                .candidate, ["firstName": .string("A"), "lastName": .string("L"), "phone": .string("0791234567")],
                allowDuplicate: true)
            // Updates check too, excluding the candidate itself.
            let bob = try await acme.candidate("Bob", "B", email: "bob@example.com")
            let onUpdate = await storeError { _ = try await acme.patch(.candidate, bob.id, ["email": .string("ada.lovelace@gmail.com")]) }
            #expect(onUpdate?.code == .duplicate && onUpdate?.existingID == ada.id)
            _ = try await acme.patch(.candidate, bob.id, ["email": .string("ada.lovelace@gmail.com")], allowDuplicate: true)
            _ = try await acme.patch(.candidate, ada.id, ["currentTitle": .string("Countess")])
            _ = try await acme.patch(.candidate, twin.id, ["currentTitle": .string("Twin")])
        }
    }

    @Test(arguments: StoreFactory.all)
    func mergeMovesEverythingOntoTheSurvivor(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let client = try await acme.client()
            let shared = try await acme.job(client: client.id, title: "Shared")
            let onlyDuplicate = try await acme.job(client: client.id, title: "Only duplicate")
            let survivor = try await acme.candidate(
                "Ada", "Lovelace", email: "ada@example.com", tags: ["swift"],
                extra: ["technicalSkills": .array([.string("Swift")]), "preferences": .object(["remote": .string("remote")])])
            let duplicate = try await acme.create(
                .candidate,
                ["firstName": .string("Ada"), "lastName": .string("L."), "email": .string("ada@example.com"),
                 "phone": .string("+41 79 000 00 00"), "tags": .array([.string("Swift"), .string("rust")]),
                 "technicalSkills": .array([.string("Swift"), .string("Rust")]),
                 "preferences": .object(["remote": .string("onsite"), "salaryMin": .int(100_000)])],
                allowDuplicate: true)
            let keptApplication = try await acme.application(candidate: survivor.id, job: shared.id)
            let lostApplication = try await acme.application(candidate: duplicate.id, job: shared.id)
            _ = try await store.moveApplication(organizationID: acme.org, id: lostApplication.id, to: "Screening", actor: acme.actor, reason: nil)
            let interview = try await acme.create(
                .interview, ["applicationId": .string(lostApplication.id), "scheduledAt": .string("2030-01-01T10:00:00Z")])
            let movedApplication = try await acme.application(candidate: duplicate.id, job: onlyDuplicate.id)
            let note = try await acme.create(.note, ["body": .string("n"), "candidateId": .string(duplicate.id)])
            let document = try await acme.create(.document, ["candidateId": .string(duplicate.id), "filename": .string("cv.pdf")])

            let merged = try await store.mergeCandidates(
                organizationID: acme.org, survivorID: survivor.id, duplicateID: duplicate.id, actor: acme.actor)
            #expect(merged.id == survivor.id)
            #expect(merged["lastName"] == .string("Lovelace"))
            #expect(merged["phone"] == .string("+41 79 000 00 00"))
            #expect(merged["technicalSkills"] == .array([.string("Swift"), .string("Rust")]))
            #expect(merged["tags"]?.stringArray == ["swift", "Swift", "rust"] || merged["tags"]?.stringArray == ["swift", "rust"])
            #expect(merged["preferences"] == .object(["remote": .string("remote"), "salaryMin": .int(100_000)]))
            #expect(try await store.record(.candidate, organizationID: acme.org, id: duplicate.id) == nil)
            #expect(try await store.record(.application, organizationID: acme.org, id: lostApplication.id) == nil)

            let history = try await store.stageHistory(organizationID: acme.org, applicationID: keptApplication.id)
            #expect(history.map(\.toStage) == ["Sourced", "Sourced", "Screening"])
            let movedInterview = try #require(try await store.record(.interview, organizationID: acme.org, id: interview.id))
            #expect(movedInterview["applicationId"] == .string(keptApplication.id))
            #expect(movedInterview["candidateId"] == .string(survivor.id))
            for (kind, id) in [(EntityKind.application, movedApplication.id), (.note, note.id), (.document, document.id)] {
                #expect(try await store.record(kind, organizationID: acme.org, id: id)?["candidateId"] == .string(survivor.id))
            }
            let byCandidate = try await store.list(
                .application, organizationID: acme.org, query: ListQuery(equals: ["candidateId": survivor.id]))
            #expect(Set(byCandidate.items.map(\.id)) == [keptApplication.id, movedApplication.id])
            let tagged = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(tag: "rust"))
            #expect(tagged.items.map(\.id) == [survivor.id])
            let audit = try await acme.audit(survivor.id)
            #expect(audit.first?.action == "merge" && audit.first?.new?["mergedFrom"] == .string(duplicate.id))
        }
    }

    @Test(arguments: StoreFactory.all)
    func bulkActionsReportEachID(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let a = try await acme.candidate("A", "A", tags: ["old"])
            let b = try await acme.candidate("B", "B")
            let missing = Identifier.make()
            let tagged = try await store.bulkUpdateCandidates(
                organizationID: acme.org, ids: [a.id, b.id, missing], action: .tag(["hot", "old"]), actor: acme.actor)
            #expect(tagged == [
                BulkResult(id: a.id, outcome: .updated), BulkResult(id: b.id, outcome: .updated),
                BulkResult(id: missing, outcome: .notFound),
            ])
            #expect(try await store.record(.candidate, organizationID: acme.org, id: a.id)?["tags"]?.stringArray == ["old", "hot"])
            let hot = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(tag: "hot"))
            #expect(Set(hot.items.map(\.id)) == [a.id, b.id])

            let untagged = try await store.bulkUpdateCandidates(
                organizationID: acme.org, ids: [a.id, b.id], action: .untag(["old"]), actor: acme.actor)
            #expect(untagged.map(\.outcome) == [.updated, .updated])
            let again = try await store.bulkUpdateCandidates(
                organizationID: acme.org, ids: [a.id, b.id], action: .untag(["old"]), actor: acme.actor)
            #expect(again.map(\.outcome) == [.unchanged, .unchanged])
            #expect(try await store.list(.candidate, organizationID: acme.org, query: ListQuery(tag: "old")).items.isEmpty)

            _ = try await store.bulkUpdateCandidates(organizationID: acme.org, ids: [a.id], action: .archive, actor: acme.actor)
            let archived = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(equals: ["archived": "true"]))
            #expect(archived.items.map(\.id) == [a.id])
            let archivedAgain = try await store.bulkUpdateCandidates(organizationID: acme.org, ids: [a.id], action: .archive, actor: acme.actor)
            #expect(archivedAgain.map(\.outcome) == [.unchanged])
            #expect(try await acme.audit(a.id).filter { $0.action == "bulk" }.count == 3)
        }
    }

    // MARK: Pipelines

    @Test(arguments: StoreFactory.all)
    func stageMovesHistoryAndPipelineRules(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let client = try await acme.client()
            let job = try await acme.job(client: client.id, stages: ["New", "Call", "Offer"])
            let candidate = try await acme.candidate()
            #expect(await storeErrorCode { _ = try await acme.application(candidate: candidate.id, job: job.id, stage: "Nope") } == .invalidStage)
            let application = try await acme.application(candidate: candidate.id, job: job.id)
            #expect(application["stage"] == .string("New"))

            // Unique per candidate and job.
            let twice = await storeError { _ = try await acme.application(candidate: candidate.id, job: job.id) }
            #expect(twice?.code == .conflict && twice?.message.contains("already") == true)

            let moved = try await store.moveApplication(
                organizationID: acme.org, id: application.id, to: "Call", actor: acme.actor, reason: "good CV")
            #expect(moved["stage"] == .string("Call") && moved["stageChangedAt"] != nil)
            #expect(await storeErrorCode {
                _ = try await store.moveApplication(organizationID: acme.org, id: application.id, to: "Hired", actor: acme.actor, reason: nil)
            } == .invalidStage)
            // A stage change through update is a move too.
            _ = try await acme.patch(.application, application.id, ["stage": .string("Offer")])
            let history = try await store.stageHistory(organizationID: acme.org, applicationID: application.id)
            #expect(history.map(\.fromStage) == [nil, "New", "Call"])
            #expect(history.map(\.toStage) == ["New", "Call", "Offer"])
            #expect(history[1].reason == "good CV" && history[1].actor == acme.actor)
            let audit = try await acme.audit(application.id)
            #expect(audit.map(\.action) == ["move", "move", "create"])
            #expect(audit[0].old?["stage"] == .string("Call") && audit[0].new?["stage"] == .string("Offer"))
            let byStage = try await store.list(.application, organizationID: acme.org, query: ListQuery(equals: ["stage": "Offer"]))
            #expect(byStage.items.map(\.id) == [application.id])

            // A pipeline may not lose a stage that holds applications, nor be empty or repeat.
            #expect(await storeErrorCode { _ = try await acme.patch(.job, job.id, ["pipelineStages": .array([.string("New"), .string("Call")])]) } == .invalidStage)
            #expect(await storeErrorCode { _ = try await acme.patch(.job, job.id, ["pipelineStages": .array([])]) } == .validation)
            let renamed = try await acme.patch(.job, job.id, ["pipelineStages": .array([.string("Offer"), .string("Hired")])])
            #expect(renamed["pipelineStages"]?.stringArray == ["Offer", "Hired"])
            #expect(await storeErrorCode { _ = try await acme.create(.job, ["clientId": .string(client.id), "title": .string("x"), "pipelineStages": .array([])]) } == .validation)

            // The candidate and job of an application are fixed.
            let otherJob = try await acme.job(client: client.id)
            #expect(await storeErrorCode { _ = try await acme.patch(.application, application.id, ["jobId": .string(otherJob.id)]) } == .validation)
        }
    }

    // MARK: Deletes

    @Test(arguments: StoreFactory.all)
    func deletingACandidateErasesWhatBelongsToIt(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let client = try await acme.client()
            let job = try await acme.job(client: client.id)
            let candidate = try await acme.candidate(email: "ada@example.com", tags: ["x"])
            let keep = try await acme.candidate("Bob", "B")
            let application = try await acme.application(candidate: candidate.id, job: job.id)
            let kept = try await acme.application(candidate: keep.id, job: job.id)
            let interview = try await acme.create(.interview, ["applicationId": .string(application.id), "scheduledAt": .string("2030-01-01T10:00:00Z")])
            let note = try await acme.create(.note, ["body": .string("n"), "candidateId": .string(candidate.id)])
            let appNote = try await acme.create(.note, ["body": .string("n"), "applicationId": .string(application.id)])
            let document = try await acme.create(.document, ["candidateId": .string(candidate.id), "filename": .string("cv.pdf")])
            let message = try await acme.create(
                .message, ["to": .string("ada@example.com"), "subject": .string("s"), "body": .string("b"), "candidateId": .string(candidate.id)])

            // Client and job are still referenced.
            #expect(await storeErrorCode { try await store.delete(.job, organizationID: acme.org, id: job.id, actor: acme.actor) } == .conflict)
            #expect(await storeErrorCode { try await store.delete(.client, organizationID: acme.org, id: client.id, actor: acme.actor) } == .conflict)

            try await store.delete(.candidate, organizationID: acme.org, id: candidate.id, actor: acme.actor)
            for (kind, id) in [(EntityKind.application, application.id), (.interview, interview.id), (.note, note.id),
                               (.note, appNote.id), (.document, document.id), (.message, message.id)] {
                #expect(try await store.record(kind, organizationID: acme.org, id: id) == nil, "\(kind)")
            }
            #expect(try await store.record(.application, organizationID: acme.org, id: kept.id) != nil)
            #expect(try await store.list(.candidate, organizationID: acme.org, query: ListQuery(tag: "x")).items.isEmpty)
            // The audit trail keeps the facts but no personal data of the erased candidate.
            let trail = try await acme.audit(candidate.id)
            #expect(trail.map(\.action) == ["delete", "create"])
            #expect(trail.allSatisfy { $0.old == nil && $0.new == nil })
            #expect(try await acme.audit(message.id).allSatisfy { $0.new == nil })

            // Deleting a template keeps the messages written from it.
            let template = try await acme.create(.emailTemplate, ["name": .string("t"), "subject": .string("s"), "body": .string("b")])
            let fromTemplate = try await acme.create(
                .message, ["to": .string("x@example.com"), "subject": .string("s"), "body": .string("b"), "templateId": .string(template.id)])
            try await store.delete(.emailTemplate, organizationID: acme.org, id: template.id, actor: acme.actor)
            let orphan = try #require(try await store.record(.message, organizationID: acme.org, id: fromTemplate.id))
            #expect(orphan["templateId"] == nil)
        }
    }

    // MARK: Lists

    @Test(arguments: StoreFactory.all)
    func listsPageWithCursorsFiltersAndTags(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            var ids: [String] = []
            for index in 0..<23 {
                let record = try await acme.candidate(
                    "C\(index)", "L", tags: index % 2 == 0 ? ["Even"] : ["odd"],
                    extra: ["source": .string(index % 3 == 0 ? "linkedin" : "referral"), "ownerId": .string(acme.user.id)])
                ids.append(record.id)
            }
            func all(_ query: ListQuery) async throws -> [String] {
                var query = query
                var seen: [String] = []
                var pages = 0
                while true {
                    let page = try await store.list(.candidate, organizationID: acme.org, query: query)
                    #expect(page.items.count <= query.page.limit)
                    seen += page.items.map(\.id)
                    pages += 1
                    guard let next = page.nextCursor else { break }
                    #expect(page.items.count == query.page.limit)
                    query.page.cursor = next
                }
                #expect(pages == max(1, (seen.count + query.page.limit - 1) / query.page.limit))
                return seen
            }
            let created = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(page: PageRequest(limit: 200)))
            let createdOrder = created.items.map(\.id)
            #expect(Set(createdOrder) == Set(ids) && created.nextCursor == nil)
            #expect(try await all(ListQuery(page: PageRequest(limit: 5))) == createdOrder)
            #expect(try await all(ListQuery(sort: SortOrder(key: .createdAt, descending: false), page: PageRequest(limit: 4))) == createdOrder.reversed())

            // Touch some rows: updatedAt order changes.
            try await Task.sleep(for: .milliseconds(3))
            for id in ids.prefix(3) { _ = try await acme.patch(.candidate, id, ["currentTitle": .string("Dev")]) }
            let byUpdate = try await all(ListQuery(sort: SortOrder(key: .updatedAt, descending: true), page: PageRequest(limit: 2)))
            #expect(Set(byUpdate.prefix(3)) == Set(ids.prefix(3)) && byUpdate.count == 23)
            let byUpdateAscending = try await all(ListQuery(sort: SortOrder(key: .updatedAt, descending: false), page: PageRequest(limit: 7)))
            #expect(byUpdateAscending == byUpdate.reversed())
            let touched = try await store.record(.candidate, organizationID: acme.org, id: ids[0])!.updatedAt
            let since = try await all(ListQuery(updatedSince: touched, page: PageRequest(limit: 2)))
            #expect(Set(since).isSubset(of: Set(ids.prefix(3))) && !since.isEmpty)

            let even = try await all(ListQuery(tag: "even", page: PageRequest(limit: 5)))
            #expect(Set(even) == Set(ids.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)))
            let linkedinEven = try await all(ListQuery(equals: ["source": "linkedin"], tag: "Even", page: PageRequest(limit: 1)))
            #expect(Set(linkedinEven) == Set(ids.enumerated().filter { $0.offset % 6 == 0 }.map(\.element)))
            let owned = try await all(ListQuery(equals: ["ownerId": acme.user.id.lowercased(), "archived": "false", "status": "new"], page: PageRequest(limit: 10)))
            #expect(owned.count == 23)
            #expect(await storeErrorCode { _ = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(equals: ["firstName": "C1"])) } == .validation)
            #expect(await storeErrorCode { _ = try await store.list(.candidate, organizationID: acme.org, query: ListQuery(equals: ["archived": "maybe"])) } == .validation)
        }
    }

    // MARK: Audit and atomicity

    @Test(arguments: StoreFactory.all)
    func auditEntriesCarryOldAndNewValues(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let candidate = try await acme.candidate(email: "ada@example.com")
            _ = try await acme.patch(.candidate, candidate.id, ["currentTitle": .string("CTO"), "email": .null])
            let entries = try await acme.audit(candidate.id)
            #expect(entries.map(\.action) == ["update", "create"])
            let update = entries[0]
            #expect(update.actor == acme.actor && update.entity == "candidate" && update.entityID == candidate.id)
            #expect(update.old == ["currentTitle": .null, "email": .string("ada@example.com")])
            #expect(update.new == ["currentTitle": .string("CTO"), "email": .null])
            #expect(entries[1].new?["firstName"] == .string("Ada") && entries[1].old == nil)

            // Queries by entity in any spelling, by actor, and paged newest first.
            for name in ["candidate", "candidates"] {
                #expect(try await store.auditLog(organizationID: acme.org, query: AuditQuery(entity: name)).items.count == 2)
            }
            #expect(try await store.auditLog(organizationID: acme.org, query: AuditQuery(actor: acme.actor)).items.count == 2)
            let first = try await store.auditLog(organizationID: acme.org, query: AuditQuery(page: PageRequest(limit: 1)))
            let cursor = try #require(first.nextCursor)
            let second = try await store.auditLog(organizationID: acme.org, query: AuditQuery(page: PageRequest(limit: 1, cursor: cursor)))
            #expect(second.items.first?.id != first.items.first?.id && second.items.count == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func failedWritesLeaveNothingBehind(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let before = try await store.auditLog(organizationID: acme.org, query: AuditQuery(page: PageRequest(limit: 200))).items.count
            _ = await storeErrorCode {
                _ = try await acme.create(.clientContact, ["clientId": .string(Identifier.make()), "firstName": .string("a"), "lastName": .string("b")])
            }
            #expect(try await store.list(.clientContact, organizationID: acme.org, query: ListQuery()).items.isEmpty)
            let candidate = try await acme.candidate(email: "ada@example.com", tags: ["a"])
            // The change closure fails: nothing is written.
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                _ = try await store.update(.candidate, organizationID: acme.org, id: candidate.id, actor: acme.actor, options: WriteOptions()) { _ in
                    throw Boom()
                }
            }
            // A validation error from the caller's closure passes through as it is.
            await #expect(throws: ValidationError.self) {
                _ = try await acme.patch(.candidate, candidate.id, ["firstName": .int(3)])
            }
            // A rule fails after the row would change: the row, tags and audit stay as they were.
            let other = try await acme.candidate("Bob", "B", email: "bob@example.com")
            #expect(await storeErrorCode {
                _ = try await acme.patch(.candidate, other.id, ["email": .string("ada@example.com"), "tags": .array([.string("b")])])
            } == .duplicate)
            #expect(try await store.record(.candidate, organizationID: acme.org, id: other.id) == other)
            #expect(try await store.list(.candidate, organizationID: acme.org, query: ListQuery(tag: "b")).items.isEmpty)
            let after = try await store.auditLog(organizationID: acme.org, query: AuditQuery(page: PageRequest(limit: 200))).items.count
            #expect(after == before + 2)
        }
    }

    @Test(arguments: StoreFactory.all)
    func concurrentCreatesAllSucceed(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let client = try await acme.client()
            let job = try await acme.job(client: client.id)
            let count = 200
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<count {
                    group.addTask {
                        let candidate = try await acme.candidate("C\(index)", "L", email: "c\(index)@example.com")
                        _ = try await acme.application(candidate: candidate.id, job: job.id)
                        _ = try await store.document(.candidate, organizationID: acme.org, id: candidate.id)
                        return candidate.id
                    }
                }
                var ids: Set<String> = []
                for try await id in group { ids.insert(id) }
                return ids
            }
            #expect(ids.count == count)
            let applications = try await store.list(
                .application, organizationID: acme.org, query: ListQuery(equals: ["jobId": job.id], page: PageRequest(limit: 200)))
            #expect(applications.items.count == count)
        }
    }

    // MARK: Import and operations

    @Test(arguments: StoreFactory.all)
    func importKeepsIDsTimesColumnsAndHistory(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let at = "2024-03-01T10:00:00.000Z"
            let client = Record(kind: .client, id: Identifier.make(), createdAt: at, updatedAt: at, fields: try EntitySchema.of(.client).validateCreate(["name": .string("Initech")]))
            let job = Record(kind: .job, id: Identifier.make(), createdAt: at, updatedAt: at, fields: try EntitySchema.of(.job).validateCreate(["clientId": .string(client.id), "title": .string("Dev")]))
            let candidate = Record(kind: .candidate, id: Identifier.make(), createdAt: at, updatedAt: at, fields: try EntitySchema.of(.candidate).validateCreate(["firstName": .string("Imp"), "lastName": .string("Orted"), "tags": .array([.string("imported")])]))
            var applicationFields = try EntitySchema.of(.application).validateCreate(["candidateId": .string(candidate.id), "jobId": .string(job.id), "stage": .string("Contacted")])
            applicationFields["stageChangedAt"] = .string(at)
            let application = Record(kind: .application, id: Identifier.make(), createdAt: at, updatedAt: at, fields: applicationFields)
            let interview = Record(kind: .interview, id: Identifier.make(), createdAt: at, updatedAt: at, fields: try EntitySchema.of(.interview).validateCreate(["applicationId": .string(application.id), "scheduledAt": .string(at)]))
            let events = [
                StageEvent(id: Identifier.make(), applicationID: application.id, fromStage: nil, toStage: "Sourced", actor: "system", at: at),
                StageEvent(id: Identifier.make(), applicationID: application.id, fromStage: "Sourced", toStage: "Contacted", actor: "system", at: at),
            ]
            // Children before parents: references are checked at commit.
            try await store.importRecords(organizationID: acme.org, records: [interview, application, candidate, job, client], stageEvents: events)
            #expect(try await store.document(.candidate, organizationID: acme.org, id: candidate.id) == candidate.json)
            #expect(try await store.list(.candidate, organizationID: acme.org, query: ListQuery(tag: "imported")).items.map(\.id) == [candidate.id])
            #expect(try await store.list(.application, organizationID: acme.org, query: ListQuery(equals: ["stage": "Contacted"])).items.map(\.id) == [application.id])
            #expect(try await store.stageHistory(organizationID: acme.org, applicationID: application.id).map(\.toStage) == ["Sourced", "Contacted"])
            #expect(try await store.record(.interview, organizationID: acme.org, id: interview.id)?["jobId"] == .string(job.id))
            #expect(try await acme.audit(candidate.id).isEmpty)
            // A broken reference fails the whole import.
            let orphan = Record(kind: .document, id: Identifier.make(), createdAt: at, updatedAt: at, fields: ["candidateId": .string(Identifier.make()), "filename": .string("x"), "kind": .string("cv")])
            #expect(await storeErrorCode { try await store.importRecords(organizationID: acme.org, records: [orphan], stageEvents: []) } != nil)
            #expect(try await store.list(.document, organizationID: acme.org, query: ListQuery()).items.isEmpty)
        }
    }

    @Test(arguments: StoreFactory.all)
    func readinessAndFigures(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let readiness = await store.readiness()
            #expect(readiness.isReady)
            let acme = try await Agency.make(store)
            _ = try await acme.candidate()
            _ = try await store.list(.candidate, organizationID: acme.org, query: ListQuery())
            let figures = store.figures
            #expect(figures.writes >= 3 && figures.reads >= 1)
            #expect(figures.readsInFlight == 0 && figures.writesInFlight == 0)
            #expect(figures.readWaitSeconds >= 0 && figures.writeWaitSeconds >= 0)
        }
    }

    // MARK: Change feed

    @Test(arguments: StoreFactory.all)
    func theChangeFeedListsCommittedChangesInOrder(_ factory: StoreFactory) async throws {
        try await withStore(factory) { store in
            let acme = try await Agency.make(store)
            let start = try await store.latestChangeSequence()
            let ada = try await acme.candidate()
            _ = try await acme.patch(.candidate, ada.id, ["currentTitle": "Engineer"])
            let client = try await acme.client()
            let job = try await acme.create(.job, ["clientId": .string(client.id), "title": "Backend"])
            let application = try await acme.create(.application, ["candidateId": .string(ada.id), "jobId": .string(job.id)])
            // An application's change names its candidate (whose filters it changes).
            let beforeErasure = try await store.changes(after: start, limit: 100)
            #expect(beforeErasure.first { $0.entity == "application" && $0.entityID == application.id }?.candidateID == ada.id)
            try await store.delete(.candidate, organizationID: acme.org, id: ada.id, actor: acme.actor)

            let changes = try await store.changes(after: start, limit: 100)
            #expect(changes.map(\.sequence) == changes.map(\.sequence).sorted())
            #expect(changes.first.map { $0.sequence > start } == true)
            let entities = changes.map { "\($0.entity):\($0.action)" }
            #expect(entities.contains("candidate:create") && entities.contains("candidate:update") && entities.contains("candidate:delete"), "\(entities)")
            // The erasure scrubbed the application's recorded values; the change itself remains.
            #expect(changes.contains { $0.entity == "application" && $0.entityID == application.id })
            #expect(changes.allSatisfy { $0.organizationID == acme.org })
            #expect(try await store.latestChangeSequence() == changes.last?.sequence)
            // Paging: after the last one, nothing; a limit is honored.
            #expect(try await store.changes(after: changes.last?.sequence ?? 0, limit: 10).isEmpty)
            #expect(try await store.changes(after: start, limit: 2).count == 2)
        }
    }
}
