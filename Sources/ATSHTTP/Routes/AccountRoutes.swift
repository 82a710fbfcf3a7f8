import ATSDomain
import ATSStore
import Foundation
import Hummingbird
import NIOPosix

/// Sign-in, the organization, its users, API keys and the audit log.
extension RouteTable {
    func addAccountRoutes() {
        let gateway = self.gateway
        let idParameter = ParameterDoc(name: "id", location: .path, schema: JSONSchema.id, summary: "")
        let roles = JSONSchema.enumeration(Role.allCases.map(\.rawValue))

        add(
            Operation(
                method: .post, path: "/api/v1/auth/login", operationID: "login",
                summary: "Sign in with email and password; returns a session token for `Authorization: Bearer`.",
                tag: "auth", access: .open,
                requestBody: JSONSchema.strict(
                    [
                        "organization": .object(["type": "string", "maxLength": 63, "description": "The organization's slug."]),
                        "email": .object(["type": "string", "maxLength": 254]),
                        "password": .object(["type": "string", "maxLength": 200]),
                    ], required: ["organization", "email", "password"]),
                success: (200, JSONSchema.ref("Session"), "application/json"), errors: [401]
            ) { request, context in
                let body = try await gateway.jsonObject(request)
                guard let slug = body["organization"]?.stringValue, let email = body["email"]?.stringValue,
                    let password = body["password"]?.stringValue, body.count == 3
                else {
                    throw Problem.validation([FieldError("body", "must have exactly organization, email and password strings")])
                }
                return try await gateway.login(slug: slug, email: email, password: password)
            })

        add(
            Operation(
                method: .post, path: "/api/v1/auth/logout", operationID: "logout", summary: "End this session.",
                tag: "auth", access: .role(.viewer), success: (204, nil, "application/json")
            ) { request, context in
                if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
                    let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
                    if token.hasPrefix(Authenticator.sessionPrefix) {
                        try await gateway.store.deleteSession(tokenHash: Secrets.sha256Hex(token))
                        gateway.authenticator.invalidate()
                    }
                }
                return gateway.noContent()
            })

        add(
            Operation(
                method: .get, path: "/api/v1/auth/me", operationID: "me", summary: "Who is calling.", tag: "auth",
                access: .role(.viewer), success: (200, JSONSchema.ref("Me"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                var doc: JSONObject = [
                    "organizationId": .string(principal.organizationID), "organization": .string(principal.organizationSlug),
                    "role": .string(principal.role.rawValue),
                ]
                switch principal.kind {
                case .user(let id):
                    doc["kind"] = "user"
                    doc["userId"] = .string(id)
                case .apiKey(let id):
                    doc["kind"] = "api_key"
                    doc["apiKeyId"] = .string(id)
                }
                return gateway.json(doc)
            })

        add(
            Operation(
                method: .get, path: "/api/v1/organization", operationID: "getOrganization", summary: "This organization.",
                tag: "organization", access: .role(.viewer), success: (200, JSONSchema.ref("Organization"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                guard let organization = try await gateway.store.organization(id: principal.organizationID) else {
                    throw Problem.notFound("This organization")
                }
                return gateway.json(organization.document)
            })

        add(
            Operation(
                method: .patch, path: "/api/v1/organization", operationID: "updateOrganization",
                summary: "Rename the organization or change its settings.", tag: "organization", access: .role(.admin),
                requestBody: JSONSchema.strict(
                    ["name": .object(["type": "string", "minLength": 1, "maxLength": 200]), "settings": .object(["type": "object"])],
                    required: []),
                success: (200, JSONSchema.ref("Organization"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let body = try await gateway.jsonObject(request)
                var errors: [FieldError] = []
                for key in body.keys where key != "name" && key != "settings" { errors.append(FieldError(key, "is not a known field")) }
                let name = body["name"]?.stringValue?.trimmingCharacters(in: .whitespaces)
                if body["name"] != nil && (name == nil || name!.isEmpty || name!.count > 200) {
                    errors.append(FieldError("name", "must be a string of 1 to 200 characters"))
                } else if let name, TextRules.hasForbiddenControl(name, multiline: false) {
                    errors.append(FieldError("name", TextRules.controlMessage(multiline: false)))
                }
                let settings = body["settings"]?.objectValue
                if body["settings"] != nil && (settings == nil || JSONCoding.encode(settings!).utf8.count > 65_536) {
                    errors.append(FieldError("settings", "must be a JSON object of at most 64 KB"))
                }
                if !errors.isEmpty { throw Problem.validation(errors) }
                let organization = try await gateway.store.updateOrganization(
                    id: principal.organizationID, name: name, settings: settings, actor: principal.actor)
                return gateway.json(organization.document)
            })

        // Users
        let userCreate = JSONSchema.strict(
            [
                "email": .object(["type": "string", "format": "email", "maxLength": 254]),
                "name": .object(["type": "string", "minLength": 1, "maxLength": 200]), "role": roles,
                "password": .object(["type": "string", "minLength": 8, "maxLength": 200]),
            ], required: ["email", "name", "role"])
        add(
            Operation(
                method: .get, path: "/api/v1/users", operationID: "listUsers", summary: "The organization's users.",
                tag: "users", access: .role(.viewer),
                parameters: [
                    ParameterDoc(name: "role", location: .query, schema: roles, summary: "Filter."),
                    ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 200]), summary: ""),
                    ParameterDoc(name: "cursor", location: .query, schema: JSONSchema.string, summary: ""),
                ],
                success: (200, JSONSchema.list(of: "User"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let query = QueryReader(request)
                var role: Role?
                if let raw = query["role"] {
                    guard let value = Role(rawValue: raw) else { throw Problem.badRequest("invalid-parameter", "`role` is not a role.") }
                    role = value
                }
                let page = try await gateway.store.users(organizationID: principal.organizationID, role: role, page: try query.page())
                return gateway.page(page.items.map { JSONCoding.encode($0.publicDocument) }, next: page.nextCursor)
            })
        add(
            Operation(
                method: .post, path: "/api/v1/users", operationID: "createUser",
                summary: "Add a user; without `password` one is generated and returned once.", tag: "users",
                access: .role(.admin), requestBody: userCreate, success: (201, JSONSchema.ref("NewUser"), "application/json"),
                errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let body = try await gateway.jsonObject(request)
                return try await gateway.createUser(body, principal: principal)
            })
        add(
            Operation(
                method: .get, path: "/api/v1/users/{id}", operationID: "getUser", summary: "A user.", tag: "users",
                access: .role(.viewer), parameters: [idParameter], success: (200, JSONSchema.ref("User"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                guard let user = try await gateway.store.user(organizationID: principal.organizationID, id: try gateway.id(context))
                else { throw Problem.notFound("This user") }
                return gateway.json(user.publicDocument)
            })
        add(
            Operation(
                method: .patch, path: "/api/v1/users/{id}", operationID: "updateUser",
                summary: "Change a user's name, email, role, password or disable them.", tag: "users", access: .role(.admin),
                parameters: [idParameter],
                requestBody: JSONSchema.strict(
                    [
                        "email": .object(["type": "string", "format": "email", "maxLength": 254]),
                        "name": .object(["type": "string", "minLength": 1, "maxLength": 200]), "role": roles,
                        "password": .object(["type": "string", "minLength": 8, "maxLength": 200]), "disabled": JSONSchema.boolean,
                    ], required: []),
                success: (200, JSONSchema.ref("User"), "application/json"), errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                let body = try await gateway.jsonObject(request)
                return try await gateway.updateUser(id: id, body: body, principal: principal)
            })
        add(
            Operation(
                method: .delete, path: "/api/v1/users/{id}", operationID: "deleteUser", summary: "Remove a user.",
                tag: "users", access: .role(.admin), parameters: [idParameter], success: (204, nil, "application/json"),
                errors: [409]
            ) { request, context in
                let principal = try gateway.principal(context)
                let id = try gateway.id(context)
                guard id != principal.userID else { throw Problem.conflict("self-delete", "You cannot delete yourself.") }
                try await Problem.keepingAnAdmin {
                    try await gateway.store.deleteUser(organizationID: principal.organizationID, id: id, actor: principal.actor)
                }
                gateway.authenticator.invalidate()
                return gateway.noContent()
            })

        // API keys
        add(
            Operation(
                method: .get, path: "/api/v1/api-keys", operationID: "listAPIKeys", summary: "The organization's API keys.",
                tag: "api-keys", access: .role(.admin),
                parameters: [
                    ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 200]), summary: ""),
                    ParameterDoc(name: "cursor", location: .query, schema: JSONSchema.string, summary: ""),
                ],
                success: (200, JSONSchema.list(of: "APIKey"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let page = try await gateway.store.apiKeys(organizationID: principal.organizationID, page: try QueryReader(request).page())
                return gateway.page(page.items.map { JSONCoding.encode($0.publicDocument) }, next: page.nextCursor)
            })
        add(
            Operation(
                method: .post, path: "/api/v1/api-keys", operationID: "createAPIKey",
                summary: "Create an API key; the secret is in the answer once and never again.", tag: "api-keys",
                access: .role(.admin),
                requestBody: JSONSchema.strict(
                    ["name": .object(["type": "string", "minLength": 1, "maxLength": 200]), "role": roles], required: ["name", "role"]),
                success: (201, JSONSchema.ref("NewAPIKey"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let body = try await gateway.jsonObject(request)
                var errors: [FieldError] = []
                for key in body.keys where key != "name" && key != "role" { errors.append(FieldError(key, "is not a known field")) }
                let name = body["name"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
                if name.isEmpty || name.count > 200 {
                    errors.append(FieldError("name", "must be a string of 1 to 200 characters"))
                } else if TextRules.hasForbiddenControl(name, multiline: false) {
                    errors.append(FieldError("name", TextRules.controlMessage(multiline: false)))
                }
                let role = body["role"]?.stringValue.flatMap(Role.init(rawValue:))
                if role == nil { errors.append(FieldError("role", "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")) }
                guard errors.isEmpty, let role else { throw Problem.validation(errors) }
                let (key, secret) = try await gateway.createAPIKey(
                    organizationID: principal.organizationID, name: name, role: role, actor: principal.actor)
                var doc = key.publicDocument
                doc["key"] = .string(secret)
                return gateway.json(doc, status: .created, headers: [.location: "/api/v1/api-keys/\(key.id)"])
            })
        add(
            Operation(
                method: .get, path: "/api/v1/api-keys/{id}", operationID: "getAPIKey", summary: "An API key (never its secret).",
                tag: "api-keys", access: .role(.admin), parameters: [idParameter], success: (200, JSONSchema.ref("APIKey"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                guard let key = try await gateway.store.apiKey(organizationID: principal.organizationID, id: try gateway.id(context))
                else { throw Problem.notFound("This API key") }
                return gateway.json(key.publicDocument)
            })
        add(
            Operation(
                method: .delete, path: "/api/v1/api-keys/{id}", operationID: "revokeAPIKey",
                summary: "Revoke an API key; it stops working at once.", tag: "api-keys", access: .role(.admin),
                parameters: [idParameter], success: (204, nil, "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                _ = try await gateway.store.revokeAPIKey(organizationID: principal.organizationID, id: try gateway.id(context), actor: principal.actor)
                gateway.authenticator.invalidate()
                return gateway.noContent()
            })

        add(
            Operation(
                method: .get, path: "/api/v1/audit-log", operationID: "auditLog",
                summary: "Who changed what, newest first, with old and new values.", tag: "audit", access: .role(.admin),
                parameters: [
                    ParameterDoc(name: "entity", location: .query, schema: .object(["type": "string", "maxLength": 50]), summary: "e.g. candidate, user, api_key."),
                    ParameterDoc(name: "entityId", location: .query, schema: JSONSchema.id, summary: ""),
                    ParameterDoc(name: "actor", location: .query, schema: .object(["type": "string", "maxLength": 100]), summary: "`user:<id>` or `key:<id>`."),
                    ParameterDoc(name: "limit", location: .query, schema: .object(["type": "integer", "minimum": 1, "maximum": 200]), summary: ""),
                    ParameterDoc(name: "cursor", location: .query, schema: JSONSchema.string, summary: ""),
                ],
                success: (200, JSONSchema.list(of: "AuditEntry"), "application/json")
            ) { request, context in
                let principal = try gateway.principal(context)
                let query = QueryReader(request)
                let audit = AuditQuery(entity: query["entity"], entityID: try query.id("entityId"), actor: query["actor"], page: try query.page())
                let page = try await gateway.store.auditLog(organizationID: principal.organizationID, query: audit)
                return gateway.page(page.items.map { JSONCoding.encode($0.document) }, next: page.nextCursor)
            })
    }

    static let accountSchemas: [(String, JSONValue)] = {
        let roles = JSONSchema.enumeration(Role.allCases.map(\.rawValue))
        let user: JSONObject = [
            "id": JSONSchema.id, "email": JSONSchema.string, "name": JSONSchema.string, "role": roles,
            "disabled": JSONSchema.boolean, "createdAt": JSONSchema.dateTime, "updatedAt": JSONSchema.dateTime,
        ]
        let userRequired = ["id", "email", "name", "role", "disabled", "createdAt", "updatedAt"]
        var newUser = user
        newUser["password"] = JSONSchema.string
        let key: JSONObject = [
            "id": JSONSchema.id, "name": JSONSchema.string, "role": roles, "prefix": JSONSchema.string,
            "createdAt": JSONSchema.dateTime, "lastUsedAt": JSONSchema.dateTime, "revokedAt": JSONSchema.dateTime,
            "revoked": JSONSchema.boolean,
        ]
        var newKey = key
        newKey["key"] = JSONSchema.string
        let keyRequired = ["id", "name", "role", "prefix", "createdAt", "revoked"]
        return [
            ("User", JSONSchema.strict(user, required: userRequired)),
            ("NewUser", JSONSchema.strict(newUser, required: userRequired)),
            ("APIKey", JSONSchema.strict(key, required: keyRequired)),
            ("NewAPIKey", JSONSchema.strict(newKey, required: keyRequired + ["key"])),
            (
                "Session",
                JSONSchema.strict(
                    ["token": JSONSchema.string, "expiresAt": JSONSchema.dateTime, "user": JSONSchema.ref("User"), "organization": JSONSchema.string],
                    required: ["token", "expiresAt", "user", "organization"])
            ),
            (
                "Me",
                JSONSchema.strict(
                    [
                        "organizationId": JSONSchema.id, "organization": JSONSchema.string, "role": roles,
                        "kind": JSONSchema.enumeration(["user", "api_key"]), "userId": JSONSchema.id, "apiKeyId": JSONSchema.id,
                    ], required: ["organizationId", "organization", "role", "kind"])
            ),
            (
                "Organization",
                JSONSchema.strict(
                    [
                        "id": JSONSchema.id, "slug": JSONSchema.string, "name": JSONSchema.string, "createdAt": JSONSchema.dateTime,
                        "settings": .object(["type": "object"]),
                    ], required: ["id", "slug", "name", "createdAt", "settings"])
            ),
            (
                "AuditEntry",
                JSONSchema.strict(
                    [
                        "id": JSONSchema.id, "at": JSONSchema.dateTime, "actor": JSONSchema.string, "action": JSONSchema.string,
                        "entity": JSONSchema.string, "entityId": JSONSchema.string,
                        "old": .object(["type": .array(["object", "null"])]), "new": .object(["type": .array(["object", "null"])]),
                    ], required: ["id", "at", "actor", "action", "entity", "entityId", "old", "new"])
            ),
        ]
    }()
}

extension Gateway {
    /// A fixed hash to check against when the user does not exist, so a wrong email and a
    /// wrong password take the same time.
    static let decoyHash = Secrets.hashPassword("decoy-password-never-valid")

    func login(slug: String, email: String, password: String) async throws -> Response {
        let organization = try await store.organization(slug: slug.lowercased())
        let user = try await organization.asyncMap { try await store.user(organizationID: $0.id, email: email) } ?? nil
        let hash = user?.passwordHash ?? Self.decoyHash
        // bcrypt is ~100 ms of CPU: keep it off the event loops.
        let matches = try await NIOThreadPool.singleton.runIfActive { Secrets.verifyPassword(password, hash: hash) }
        guard let organization, let user, matches, !user.disabled else {
            throw Problem(
                .unauthorized, "invalid-credentials", "Sign-in failed", detail: "Unknown organization, email or password.")
        }
        let token = Secrets.token(prefix: Authenticator.sessionPrefix)
        let expires = Timestamp.format(Date.now.addingTimeInterval(Double(configuration.sessionTTL.components.seconds)))
        try await store.createSession(organizationID: organization.id, userID: user.id, tokenHash: Secrets.sha256Hex(token), expiresAt: expires)
        return json([
            "token": .string(token), "expiresAt": .string(expires), "user": .object(user.publicDocument),
            "organization": .string(organization.slug),
        ])
    }

    func createUser(_ body: JSONObject, principal: Principal) async throws -> Response {
        var errors: [FieldError] = []
        for key in body.keys where !["email", "name", "role", "password"].contains(key) { errors.append(FieldError(key, "is not a known field")) }
        let email = body["email"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
        if !Normalize.isEmail(email) { errors.append(FieldError("email", "must be an email address")) }
        let name = body["name"]?.stringValue?.trimmingCharacters(in: .whitespaces) ?? ""
        if name.isEmpty || name.count > 200 {
            errors.append(FieldError("name", "must be a string of 1 to 200 characters"))
        } else if TextRules.hasForbiddenControl(name, multiline: false) {
            errors.append(FieldError("name", TextRules.controlMessage(multiline: false)))
        }
        let role = body["role"]?.stringValue.flatMap(Role.init(rawValue:))
        if role == nil { errors.append(FieldError("role", "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")) }
        var password = body["password"]?.stringValue
        if body["password"] != nil && (password == nil || !Secrets.isAcceptablePassword(password!)) {
            errors.append(FieldError("password", "must be 8 to 200 characters"))
        }
        guard errors.isEmpty, let role else { throw Problem.validation(errors) }
        let generated = password == nil
        if generated { password = Secrets.password() }
        let secret = password!
        let hash = try await NIOThreadPool.singleton.runIfActive { Secrets.hashPassword(secret) }
        let user = try await store.createUser(
            organizationID: principal.organizationID, email: email, name: name, role: role, passwordHash: hash, actor: principal.actor)
        var doc = user.publicDocument
        if generated { doc["password"] = .string(secret) }
        return json(doc, status: .created, headers: [.location: "/api/v1/users/\(user.id)"])
    }

    func updateUser(id: String, body: JSONObject, principal: Principal) async throws -> Response {
        var errors: [FieldError] = []
        var change = UserChange()
        for (key, value) in body {
            switch key {
            case "email":
                if let text = value.stringValue?.trimmingCharacters(in: .whitespaces), Normalize.isEmail(text) { change.email = text } else { errors.append(FieldError(key, "must be an email address")) }
            case "name":
                if let text = value.stringValue?.trimmingCharacters(in: .whitespaces), (1...200).contains(text.count) {
                    if TextRules.hasForbiddenControl(text, multiline: false) {
                        errors.append(FieldError(key, TextRules.controlMessage(multiline: false)))
                    } else {
                        change.name = text
                    }
                } else {
                    errors.append(FieldError(key, "must be a string of 1 to 200 characters"))
                }
            case "role":
                if let role = value.stringValue.flatMap(Role.init(rawValue:)) { change.role = role } else { errors.append(FieldError(key, "is not a role")) }
            case "disabled":
                if let flag = value.boolValue { change.disabled = flag } else { errors.append(FieldError(key, "must be true or false")) }
            case "password":
                if let text = value.stringValue, Secrets.isAcceptablePassword(text) {
                    change.passwordHash = try await NIOThreadPool.singleton.runIfActive { Secrets.hashPassword(text) }
                } else {
                    errors.append(FieldError(key, "must be 8 to 200 characters"))
                }
            default:
                errors.append(FieldError(key, "is not a known field"))
            }
        }
        if !errors.isEmpty { throw Problem.validation(errors) }
        if id == principal.userID, let role = change.role, role != .admin {
            throw Problem.conflict("self-demote", "You cannot take the admin role from yourself.")
        }
        let user = try await Problem.keepingAnAdmin {
            try await store.updateUser(organizationID: principal.organizationID, id: id, change: change, actor: principal.actor)
        }
        authenticator.invalidate()
        return json(user.publicDocument)
    }

    func createAPIKey(organizationID: String, name: String, role: Role, actor: String) async throws -> (APIKey, String) {
        let secret = Secrets.token(prefix: Authenticator.keyPrefix)
        let key = try await store.createAPIKey(
            organizationID: organizationID, name: name, role: role, secretHash: Secrets.sha256Hex(secret),
            prefix: String(secret.prefix(Authenticator.keyPrefix.count + 6)), actor: actor)
        return (key, secret)
    }
}

extension Problem {
    /// Runs a user change and answers the store's last-admin refusal with its own stable type.
    static func keepingAnAdmin<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError where error.isLastAdmin {
            throw Problem(
                .conflict, "last-admin", "Conflict",
                detail: "The organization must keep at least one active admin: make another user admin before you disable, demote or delete this one.",
                errors: error.fieldErrors)
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

extension Organization {
    var document: JSONObject {
        ["id": .string(id), "slug": .string(slug), "name": .string(name), "createdAt": .string(createdAt), "settings": .object(settings)]
    }
}

extension AuditEntry {
    var document: JSONObject {
        [
            "id": .string(id), "at": .string(at), "actor": .string(actor), "action": .string(action), "entity": .string(entity),
            "entityId": .string(entityID), "old": old.map(JSONValue.object) ?? .null, "new": new.map(JSONValue.object) ?? .null,
        ]
    }
}
