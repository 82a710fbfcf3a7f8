import ATSDemo
import ATSDomain
import ATSStore
import ATSWork
import Foundation

/// What `make run` prints: how to sign in to the demo agency and an admin API key.
public struct DemoCredentials: Sendable {
    public let organization: String
    public let email: String
    public let password: String
    public let apiKey: String
}

/// Loads the demo agency once and keeps one admin API key for it, so every `make run` prints
/// a key that works without piling up new keys.
public enum DemoSetup {
    static let keyFile = "demo-api-key"
    /// Demo candidates that get a CV file.
    static let cvCount = 60

    public static func ensure(
        store: any Store, configuration: Configuration, candidates: Int?, seed: UInt64?,
        progress: @escaping @Sendable (String) -> Void
    ) async throws -> DemoCredentials {
        if try await store.organization(slug: DemoAgency.slug) == nil {
            guard let directory = configuration.referenceDirectory.map({ URL(fileURLWithPath: $0) }) ?? ReferenceData.locate() else {
                throw AdministrationError(
                    "cannot find the reference data (Data/reference); set ATS_REFERENCE_DIR to its folder")
            }
            let reference = try ReferenceData.load(from: directory)
            var demo = DemoConfiguration()
            if let candidates { demo.candidates = candidates }
            if let seed { demo.seed = seed }
            let started = Date()
            let summary = try await DemoAgency.load(into: store, reference: reference, configuration: demo, progress: progress)
            // Loaded without the change feed: the search index is rebuilt from the store.
            if let store = store as? SQLiteStore {
                SearchService.markStale(store.pool)
                if let organization = try await store.organization(slug: DemoAgency.slug) {
                    let files = try Appliance.makeFiles(configuration, store: store, served: store, logger: .init(label: "ats.demo"))
                    let attached = try await DemoCVs.attach(
                        store: store, files: files.work, organizationID: organization.id, count: min(demo.candidates, Self.cvCount))
                    progress("Attached \(attached) CV files (PDF and DOCX); jobs extract and parse them.")
                }
            }
            progress("Loaded the demo agency in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(summary)")
        }
        let apiKey = try await demoKey(store: store, configuration: configuration)
        return DemoCredentials(
            organization: DemoAgency.slug, email: DemoAgency.adminEmail, password: DemoAgency.password, apiKey: apiKey)
    }

    static func demoKey(store: any Store, configuration: Configuration) async throws -> String {
        let path = (configuration.dataDirectory as NSString).appendingPathComponent(keyFile)
        if let saved = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            let (key, organization) = try await store.apiKey(secretHash: Secrets.sha256Hex(saved)),
            key.revokedAt == nil, organization.slug == DemoAgency.slug
        {
            return saved
        }
        let secret = try await Administration.createToken(store, organization: DemoAgency.slug, role: .admin, name: "demo console")
        FileManager.default.createFile(atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600])
        return secret
    }
}
