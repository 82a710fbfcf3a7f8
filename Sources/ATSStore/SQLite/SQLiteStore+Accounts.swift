import ATSDomain
import Foundation
import GRDB

extension SQLiteStore {
    // MARK: Organizations

    public func createOrganization(slug: String, name: String) async throws -> Organization {
        guard Organization.isValidSlug(slug) else {
            throw StoreError(
                .validation, "invalid slug",
                fieldErrors: [FieldError("slug", "must be 2-63 lower-case letters, digits and dashes")])
        }
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200 else {
            throw StoreError(.validation, "invalid name", fieldErrors: [FieldError("name", "must be 1-200 characters")])
        }
        guard !TextRules.hasForbiddenControl(name, multiline: false) else {
            throw StoreError(.validation, "invalid name", fieldErrors: [FieldError("name", TextRules.controlMessage(multiline: false))])
        }
        let organization = Organization(id: Identifier.make(), slug: slug, name: name, createdAt: StoreClock.now())
        return try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM organizations WHERE slug = ?", arguments: [slug]) == true {
                throw StoreError(.conflict, "the slug \(slug) is taken")
            }
            try db.execute(
                sql: "INSERT INTO organizations (id, slug, name, settings, created_at, updated_at) VALUES (?, ?, ?, '{}', ?, ?)",
                arguments: [organization.id, slug, name, organization.createdAt, organization.createdAt])
            try Self.audit(
                db, organizationID: organization.id, at: organization.createdAt, actor: "system", action: "create",
                entity: "organization", entityID: organization.id, old: nil, new: Self.document(organization))
            return organization
        }
    }

    public func organization(slug: String) async throws -> Organization? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, slug, name, settings, created_at FROM organizations WHERE slug = ?"),
                arguments: [slug]
            ).map(Self.organization)
        }
    }

    public func organization(id: String) async throws -> Organization? {
        guard let id = Identifier.canonical(id) else { return nil }
        return try await read { db in try Self.fetchOrganization(db, id: id) }
    }

    public func organizations() async throws -> [Organization] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT id, slug, name, settings, created_at FROM organizations ORDER BY created_at, id")
                .map(Self.organization)
        }
    }

    public func updateOrganization(id: String, name: String?, settings: JSONObject?, actor: String) async throws
        -> Organization
    {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound("organization") }
        let name = name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name, name.isEmpty || name.count > 200 {
            throw StoreError(.validation, "invalid name", fieldErrors: [FieldError("name", "must be 1-200 characters")])
        }
        return try await write { db in
            guard let old = try Self.fetchOrganization(db, id: id) else { throw StoreError.notFound("organization") }
            var new = old
            if let name { new.name = name }
            if let settings { new.settings = settings }
            guard let change = Self.diff(Self.document(old), Self.document(new)) else { return old }
            let now = StoreClock.now()
            try db.execute(
                sql: "UPDATE organizations SET name = ?, settings = ?, updated_at = ? WHERE id = ?",
                arguments: [new.name, JSONCoding.encode(new.settings), now, id])
            try Self.audit(
                db, organizationID: id, at: now, actor: actor, action: "update", entity: "organization", entityID: id,
                old: change.old, new: change.new)
            return new
        }
    }

    static func fetchOrganization(_ db: Database, id: String) throws -> Organization? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, slug, name, settings, created_at FROM organizations WHERE id = ?"),
            arguments: [id]
        ).map(organization)
    }

    static func organization(_ row: Row) -> Organization {
        Organization(
            id: row["id"], slug: row["slug"], name: row["name"], createdAt: row["created_at"],
            settings: JSONCoding.decodeObject(Data((row["settings"] as String).utf8)) ?? [:])
    }

    static func document(_ organization: Organization) -> JSONObject {
        [
            "id": .string(organization.id), "slug": .string(organization.slug), "name": .string(organization.name),
            "settings": .object(organization.settings),
        ]
    }

    static func requireOrganization(_ db: Database, _ id: String) throws {
        guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM organizations WHERE id = ?"), arguments: [id]) == true
        else { throw StoreError.notFound("organization") }
    }

    // MARK: Users

    static let userColumns = "id, org_id, email, name, role, disabled, password_hash, created_at, updated_at"

    static func user(_ row: Row) -> User {
        User(
            id: row["id"], organizationID: row["org_id"], email: row["email"], name: row["name"],
            role: Role(rawValue: row["role"]) ?? .viewer, disabled: row["disabled"], createdAt: row["created_at"],
            updatedAt: row["updated_at"], passwordHash: row["password_hash"])
    }

    static func checkedEmail(_ email: String) throws -> String {
        let email = email.trimmingCharacters(in: .whitespaces)
        guard Normalize.isEmail(email) else {
            throw StoreError(.validation, "invalid email", fieldErrors: [FieldError("email", "must be an email address")])
        }
        return email
    }

    static func checkedUserName(_ name: String) throws -> String {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200 else {
            throw StoreError(.validation, "invalid name", fieldErrors: [FieldError("name", "must be 1-200 characters")])
        }
        guard !TextRules.hasForbiddenControl(name, multiline: false) else {
            throw StoreError(.validation, "invalid name", fieldErrors: [FieldError("name", TextRules.controlMessage(multiline: false))])
        }
        return name
    }

    static func emailTaken(_ db: Database, org: String, email: String, except id: String?) throws -> Bool {
        let found = try String.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM users WHERE org_id = ? AND email_key = ?"),
            arguments: [org, email.lowercased()])
        return found != nil && found != id
    }

    public func createUser(
        organizationID: String, email: String, name: String, role: Role, passwordHash: String, actor: String
    ) async throws -> User {
        let email = try Self.checkedEmail(email)
        let name = try Self.checkedUserName(name)
        let now = StoreClock.now()
        let user = User(
            id: Identifier.make(), organizationID: organizationID, email: email, name: name, role: role, createdAt: now,
            updatedAt: now, passwordHash: passwordHash)
        return try await write { db in
            try Self.requireOrganization(db, organizationID)
            if try Self.emailTaken(db, org: organizationID, email: email, except: nil) {
                throw StoreError(
                    .conflict, "a user with this email already exists",
                    fieldErrors: [FieldError("email", "is taken")])
            }
            try db.execute(
                sql: """
                    INSERT INTO users (id, org_id, email, email_key, name, role, disabled, password_hash, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
                    """,
                arguments: [user.id, organizationID, email, email.lowercased(), name, role.rawValue, passwordHash, now, now])
            try Self.audit(
                db, organizationID: organizationID, at: now, actor: actor, action: "create", entity: "user",
                entityID: user.id, old: nil, new: user.publicDocument)
            return user
        }
    }

    public func user(organizationID: String, id: String) async throws -> User? {
        guard let id = Identifier.canonical(id) else { return nil }
        return try await read { db in try Self.fetchUser(db, org: organizationID, id: id) }
    }

    static func fetchUser(_ db: Database, org: String, id: String) throws -> User? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(userColumns) FROM users WHERE org_id = ? AND id = ?"), arguments: [org, id]
        ).map(user)
    }

    public func user(organizationID: String, email: String) async throws -> User? {
        let key = email.trimmingCharacters(in: .whitespaces).lowercased()
        return try await read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(Self.userColumns) FROM users WHERE org_id = ? AND email_key = ?"),
                arguments: [organizationID, key]
            ).map(Self.user)
        }
    }

    public func users(organizationID: String, role: Role?, page: PageRequest) async throws -> Page<User> {
        try await accountPage(
            "SELECT \(Self.userColumns) FROM users WHERE org_id = ?", organizationID: organizationID,
            filter: role.map { (" AND role = ?", $0.rawValue) }, page: page, row: Self.user
        ) { ATSDomain.Cursor(value: $0.createdAt, id: $0.id) }
    }

    /// One page of an account table (users, API keys) in creation order, keyset-paged.
    func accountPage<T: Sendable>(
        _ select: String, organizationID: String, filter: (sql: String, value: String)?, page: PageRequest,
        row: @escaping @Sendable (Row) -> T, cursor: @escaping @Sendable (T) -> ATSDomain.Cursor
    ) async throws -> Page<T> {
        var sql = select
        var arguments: [any DatabaseValueConvertible] = [organizationID]
        if let filter {
            sql += filter.sql
            arguments.append(filter.value)
        }
        if let after = page.cursor {
            sql += " AND (created_at, id) > (?, ?)"
            arguments += [after.value, after.id]
        }
        sql += " ORDER BY created_at, id LIMIT \(page.limit + 1)"
        let query = sql
        let args = StatementArguments(arguments)
        let limit = page.limit
        return try await read { db in
            let items = try Row.fetchAll(db.cachedStatement(sql: query), arguments: args).map(row)
            return Self.page(items, limit: limit, cursor: cursor)
        }
    }

    /// The first `limit` items, and a cursor after the last when more follow.
    static func page<T>(_ items: [T], limit: Int, cursor: (T) -> ATSDomain.Cursor) -> Page<T> {
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        let kept = Array(items.prefix(limit))
        return Page(items: kept, nextCursor: cursor(kept[limit - 1]))
    }

    public func updateUser(organizationID: String, id: String, change: UserChange, actor: String) async throws -> User {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound("user") }
        let email = try change.email.map(Self.checkedEmail)
        let name = try change.name.map(Self.checkedUserName)
        return try await write { db in
            guard let old = try Self.fetchUser(db, org: organizationID, id: id) else { throw StoreError.notFound("user") }
            var new = old
            if let email { new.email = email }
            if let name { new.name = name }
            if let role = change.role { new.role = role }
            if let disabled = change.disabled { new.disabled = disabled }
            if let hash = change.passwordHash { new.passwordHash = hash }
            guard new != old else { return old }
            if old.isActiveAdmin && !new.isActiveAdmin {
                try Self.requireAnotherActiveAdmin(db, org: organizationID, except: id, field: new.disabled ? "disabled" : "role")
            }
            if new.email.lowercased() != old.email.lowercased(),
                try Self.emailTaken(db, org: organizationID, email: new.email, except: id)
            {
                throw StoreError(
                    .conflict, "a user with this email already exists", fieldErrors: [FieldError("email", "is taken")])
            }
            let now = StoreClock.now()
            new.updatedAt = now
            try db.execute(
                sql: """
                    UPDATE users SET email = ?, email_key = ?, name = ?, role = ?, disabled = ?, password_hash = ?,
                    updated_at = ? WHERE org_id = ? AND id = ?
                    """,
                arguments: [
                    new.email, new.email.lowercased(), new.name, new.role.rawValue, new.disabled, new.passwordHash, now,
                    organizationID, id,
                ])
            // A disabled account or a new password ends every open session of the user.
            if new.disabled && !old.disabled || new.passwordHash != old.passwordHash {
                try db.execute(
                    sql: "DELETE FROM sessions WHERE org_id = ? AND user_id = ?", arguments: [organizationID, id])
            }
            var before = old.publicDocument
            var after = new.publicDocument
            before["updatedAt"] = nil
            after["updatedAt"] = nil
            var (oldValues, newValues) = Self.diff(before, after) ?? ([:], [:])
            if new.passwordHash != old.passwordHash { newValues["passwordChanged"] = .bool(true) }
            if oldValues.isEmpty && newValues.isEmpty { oldValues = [:] }
            try Self.audit(
                db, organizationID: organizationID, at: now, actor: actor, action: "update", entity: "user",
                entityID: id, old: oldValues, new: newValues)
            return new
        }
    }

    public func deleteUser(organizationID: String, id: String, actor: String) async throws {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound("user") }
        try await write { db in
            guard let old = try Self.fetchUser(db, org: organizationID, id: id) else { throw StoreError.notFound("user") }
            if old.isActiveAdmin { try Self.requireAnotherActiveAdmin(db, org: organizationID, except: id, field: nil) }
            // Sessions go with the user (foreign key cascade); records the user owned keep the id.
            try db.execute(sql: "DELETE FROM users WHERE org_id = ? AND id = ?", arguments: [organizationID, id])
            try Self.audit(
                db, organizationID: organizationID, at: StoreClock.now(), actor: actor, action: "delete", entity: "user",
                entityID: id, old: old.publicDocument, new: nil)
        }
    }

    /// Checked in the same transaction as the write (SQLite has one writer), so two admins
    /// disabling each other at once cannot both succeed.
    static func requireAnotherActiveAdmin(_ db: Database, org: String, except id: String, field: String?) throws {
        let others = try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM users WHERE org_id = ? AND role = ? AND disabled = 0 AND id != ?",
            arguments: [org, Role.admin.rawValue, id]) ?? 0
        if others == 0 { throw StoreError.lastAdmin(field: field) }
    }

    // MARK: API keys

    static let keyColumns = "id, org_id, name, role, prefix, created_at, last_used_at, revoked_at"

    static func apiKey(_ row: Row) -> APIKey {
        APIKey(
            id: row["id"], organizationID: row["org_id"], name: row["name"], role: Role(rawValue: row["role"]) ?? .viewer,
            prefix: row["prefix"], createdAt: row["created_at"], lastUsedAt: row["last_used_at"],
            revokedAt: row["revoked_at"])
    }

    public func createAPIKey(
        organizationID: String, name: String, role: Role, secretHash: String, prefix: String, actor: String
    ) async throws -> APIKey {
        let name = try Self.checkedUserName(name)
        let now = StoreClock.now()
        let key = APIKey(id: Identifier.make(), organizationID: organizationID, name: name, role: role, prefix: prefix, createdAt: now)
        return try await write { db in
            try Self.requireOrganization(db, organizationID)
            try db.execute(
                sql: "INSERT INTO api_keys (id, org_id, name, role, prefix, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [key.id, organizationID, name, role.rawValue, prefix, secretHash, now])
            try Self.audit(
                db, organizationID: organizationID, at: now, actor: actor, action: "create", entity: "api_key",
                entityID: key.id, old: nil, new: key.publicDocument)
            return key
        }
    }

    /// Revoked keys are not found: a caller that forgets to check `revokedAt` still cannot
    /// let a revoked key in.
    public func apiKey(secretHash: String) async throws -> (key: APIKey, organization: Organization)? {
        try await read { db in
            guard
                let key = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT \(Self.keyColumns) FROM api_keys WHERE secret_hash = ? AND revoked_at IS NULL"),
                    arguments: [secretHash]
                ).map(Self.apiKey),
                let organization = try Self.fetchOrganization(db, id: key.organizationID)
            else { return nil }
            return (key, organization)
        }
    }

    public func apiKey(organizationID: String, id: String) async throws -> APIKey? {
        guard let id = Identifier.canonical(id) else { return nil }
        return try await read { db in try Self.fetchAPIKey(db, org: organizationID, id: id) }
    }

    static func fetchAPIKey(_ db: Database, org: String, id: String) throws -> APIKey? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(keyColumns) FROM api_keys WHERE org_id = ? AND id = ?"), arguments: [org, id]
        ).map(apiKey)
    }

    public func apiKeys(organizationID: String, page: PageRequest) async throws -> Page<APIKey> {
        try await accountPage(
            "SELECT \(Self.keyColumns) FROM api_keys WHERE org_id = ?", organizationID: organizationID, filter: nil,
            page: page, row: Self.apiKey
        ) { ATSDomain.Cursor(value: $0.createdAt, id: $0.id) }
    }

    public func revokeAPIKey(organizationID: String, id: String, actor: String) async throws -> APIKey {
        guard let id = Identifier.canonical(id) else { throw StoreError.notFound("API key") }
        return try await write { db in
            guard var key = try Self.fetchAPIKey(db, org: organizationID, id: id) else {
                throw StoreError.notFound("API key")
            }
            if key.revokedAt != nil { return key }
            let now = StoreClock.now()
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ?", arguments: [now, organizationID, id])
            key.revokedAt = now
            try Self.audit(
                db, organizationID: organizationID, at: now, actor: actor, action: "revoke", entity: "api_key",
                entityID: id, old: ["revoked": .bool(false)], new: ["revoked": .bool(true), "revokedAt": .string(now)])
            return key
        }
    }

    public func touchAPIKey(id: String, at: String) async throws {
        guard let id = Identifier.canonical(id) else { return }
        let at = Timestamp.canonical(at) ?? StoreClock.now()
        try await write { db in
            try db.cachedStatement(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?").execute(arguments: [at, id])
        }
    }

    // MARK: Sessions

    public func createSession(organizationID: String, userID: String, tokenHash: String, expiresAt: String) async throws {
        guard let userID = Identifier.canonical(userID) else { throw StoreError.notFound("user") }
        guard let expiresAt = Timestamp.canonical(expiresAt) else {
            throw StoreError(.validation, "invalid expiry", fieldErrors: [FieldError("expiresAt", "must be an RFC 3339 date-time")])
        }
        try await write { db in
            guard let user = try Self.fetchUser(db, org: organizationID, id: userID), !user.disabled else {
                throw StoreError.notFound("user")
            }
            try db.execute(
                sql: "INSERT INTO sessions (token_hash, org_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [tokenHash, organizationID, userID, StoreClock.now(), expiresAt])
        }
    }

    /// Disabled users have no live sessions, whatever the table holds.
    public func session(tokenHash: String, now: String) async throws -> (user: User, organization: Organization)? {
        let now = Timestamp.canonical(now) ?? StoreClock.now()
        return try await read { db in
            let sql = """
                SELECT u.id, u.org_id, u.email, u.name, u.role, u.disabled, u.password_hash, u.created_at, u.updated_at
                FROM sessions s JOIN users u ON u.org_id = s.org_id AND u.id = s.user_id
                WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0
                """
            guard let user = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [tokenHash, now]).map(Self.user),
                let organization = try Self.fetchOrganization(db, id: user.organizationID)
            else { return nil }
            return (user, organization)
        }
    }

    public func deleteSession(tokenHash: String) async throws {
        try await write { db in
            try db.cachedStatement(sql: "DELETE FROM sessions WHERE token_hash = ?").execute(arguments: [tokenHash])
        }
    }

    public func deleteExpiredSessions(now: String) async throws -> Int {
        guard let now = Timestamp.canonical(now) else {
            throw StoreError(.validation, "invalid time", fieldErrors: [FieldError("now", "must be an RFC 3339 date-time")])
        }
        return try await write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE expires_at <= ?", arguments: [now])
            return db.changesCount
        }
    }
}
