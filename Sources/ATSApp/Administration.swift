import ATSDomain
import ATSStore
import Foundation

/// The administrative acts behind the CLI (`ats org create`, `ats user create`, `ats token create`),
/// as a library so tests run exactly what the commands run.
public enum Administration {
    public static let actor = "cli"

    public static func createOrganization(_ store: any Store, slug: String, name: String) async throws -> Organization {
        guard Organization.isValidSlug(slug) else {
            throw AdministrationError("--slug must be 2-63 lower-case letters, digits or dashes (not at the ends): '\(slug)'")
        }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard (1...200).contains(trimmed.count) else { throw AdministrationError("--name must be 1 to 200 characters") }
        do {
            return try await store.createOrganization(slug: slug, name: trimmed)
        } catch let error as StoreError where error.code == .conflict {
            throw AdministrationError("an organization with slug '\(slug)' exists already")
        }
    }

    public static func organization(_ store: any Store, slug: String) async throws -> Organization {
        guard let organization = try await store.organization(slug: slug) else {
            throw AdministrationError("no organization with slug '\(slug)' (create it with `ats org create`)")
        }
        return organization
    }

    /// Creates a user; returns the password when it was generated (nil when given).
    public static func createUser(
        _ store: any Store, organization slug: String, email: String, name: String?, role: Role, password: String?
    ) async throws -> (User, generatedPassword: String?) {
        let organization = try await organization(store, slug: slug)
        guard Normalize.isEmail(email) else { throw AdministrationError("--email is not an email address: '\(email)'") }
        if let password, !Secrets.isAcceptablePassword(password) {
            throw AdministrationError("the password must be 8 to 200 characters")
        }
        let secret = password ?? Secrets.password()
        let displayName = name ?? String(email.split(separator: "@").first ?? "")
        do {
            let user = try await store.createUser(
                organizationID: organization.id, email: email, name: displayName, role: role,
                passwordHash: Secrets.hashPassword(secret), actor: actor)
            return (user, password == nil ? secret : nil)
        } catch let error as StoreError where error.code == .conflict {
            throw AdministrationError("a user with email '\(email)' exists already in '\(slug)'")
        }
    }

    /// Creates an API key and returns its secret (shown once).
    public static func createToken(_ store: any Store, organization slug: String, role: Role, name: String) async throws -> String {
        let organization = try await organization(store, slug: slug)
        let secret = Secrets.token(prefix: "ats_key_")
        _ = try await store.createAPIKey(
            organizationID: organization.id, name: name, role: role, secretHash: Secrets.sha256Hex(secret),
            prefix: String(secret.prefix(14)), actor: actor)
        return secret
    }
}

public struct AdministrationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
