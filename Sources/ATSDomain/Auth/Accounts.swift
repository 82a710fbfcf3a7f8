/// The agency: the tenant every row belongs to.
public struct Organization: Sendable, Hashable, Codable {
    public let id: String
    public var slug: String
    public var name: String
    public var createdAt: String
    public var settings: JSONObject

    public init(id: String, slug: String, name: String, createdAt: String, settings: JSONObject = [:]) {
        self.id = id
        self.slug = slug
        self.name = name
        self.createdAt = createdAt
        self.settings = settings
    }

    /// Slugs name S3 buckets and URLs later: lower-case letters, digits and dashes, 2-63 long.
    public static func isValidSlug(_ slug: String) -> Bool {
        let utf8 = Array(slug.utf8)
        guard (2...63).contains(utf8.count), utf8.first != UInt8(ascii: "-"), utf8.last != UInt8(ascii: "-") else {
            return false
        }
        return utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}

/// A person who signs in. The password hash never leaves the store layer's callers.
public struct User: Sendable, Hashable, Codable {
    public let id: String
    public let organizationID: String
    public var email: String
    public var name: String
    public var role: Role
    public var disabled: Bool
    public var createdAt: String
    public var updatedAt: String
    public var passwordHash: String

    public init(
        id: String, organizationID: String, email: String, name: String, role: Role, disabled: Bool = false,
        createdAt: String, updatedAt: String, passwordHash: String
    ) {
        self.id = id
        self.organizationID = organizationID
        self.email = email
        self.name = name
        self.role = role
        self.disabled = disabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.passwordHash = passwordHash
    }

    /// What the API shows of a user.
    public var publicDocument: JSONObject {
        [
            "id": .string(id), "email": .string(email), "name": .string(name), "role": .string(role.rawValue),
            "disabled": .bool(disabled), "createdAt": .string(createdAt), "updatedAt": .string(updatedAt),
        ]
    }
}

/// An API key: stored as a SHA-256 of the secret, shown once at creation.
public struct APIKey: Sendable, Hashable, Codable {
    public let id: String
    public let organizationID: String
    public var name: String
    public var role: Role
    /// The first characters of the key, so an admin can tell keys apart.
    public var prefix: String
    public var createdAt: String
    public var lastUsedAt: String?
    public var revokedAt: String?

    public init(
        id: String, organizationID: String, name: String, role: Role, prefix: String, createdAt: String,
        lastUsedAt: String? = nil, revokedAt: String? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.role = role
        self.prefix = prefix
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    public var publicDocument: JSONObject {
        var doc: JSONObject = [
            "id": .string(id), "name": .string(name), "role": .string(role.rawValue), "prefix": .string(prefix),
            "createdAt": .string(createdAt), "revoked": .bool(revokedAt != nil),
        ]
        if let lastUsedAt { doc["lastUsedAt"] = .string(lastUsedAt) }
        if let revokedAt { doc["revokedAt"] = .string(revokedAt) }
        return doc
    }
}

extension User {
    /// An enabled admin: someone who can still manage the organization's users and keys.
    public var isActiveAdmin: Bool { role == .admin && !disabled }
}
