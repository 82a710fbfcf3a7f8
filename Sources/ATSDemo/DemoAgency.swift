import ATSDomain
import ATSStore
import Foundation

/// The demo agency: an organization `demo` with users and a realistic, seeded history of clients,
/// jobs, candidates and pipelines, for demos, screenshots and benchmarks.
public enum DemoAgency {
    public static let slug = "demo"
    public static let name = "Emineon Demo Agency"
    public static let adminEmail = "admin@demo.example"
    /// Every demo user's password; the demo is for trying things out, never for real data.
    public static let password = "demo-password"
    /// Who writes the organization and users in the audit log.
    public static let actor = "system:demo"

    /// The users `load` creates, admin first.
    public static let users: [DemoUserSpec] = [
        DemoUserSpec(email: adminEmail, name: "Alex Morgan", role: .admin),
        DemoUserSpec(email: "sophie.martin@demo.example", name: "Sophie Martin", role: .recruiter),
        DemoUserSpec(email: "lukas.weber@demo.example", name: "Lukas Weber", role: .recruiter),
        DemoUserSpec(email: "emma.clarke@demo.example", name: "Emma Clarke", role: .recruiter),
        DemoUserSpec(email: "julien.dubois@demo.example", name: "Julien Dubois", role: .recruiter),
        DemoUserSpec(email: "claire.fontaine@demo.example", name: "Claire Fontaine", role: .hiringManager),
        DemoUserSpec(email: "thomas.becker@demo.example", name: "Thomas Becker", role: .hiringManager),
        DemoUserSpec(email: "viewer@demo.example", name: "Val Viewer", role: .viewer),
    ]

    /// Generates the whole agency in memory, without a store: for tests and for looking at the data.
    /// Same reference data, configuration (seed and `now`) and users => the same records.
    public static func generate(reference: ReferenceData, configuration: DemoConfiguration, users: DemoUsers) throws
        -> DemoDataset
    {
        var generator = try DemoGenerator(reference: reference, configuration: configuration, users: users)
        var dataset = DemoDataset()
        while let batch = try generator.nextBatch(limit: configuration.batchSize) {
            for record in batch.records {
                switch record.kind {
                case .client: dataset.clients.append(record)
                case .clientContact: dataset.clientContacts.append(record)
                case .project: dataset.projects.append(record)
                case .job: dataset.jobs.append(record)
                case .candidate: dataset.candidates.append(record)
                case .application: dataset.applications.append(record)
                case .interview: dataset.interviews.append(record)
                case .note: dataset.notes.append(record)
                default: break
                }
            }
            dataset.stageEvents += batch.stageEvents
        }
        return dataset
    }

    /// Creates the organization `demo`, its users (all with `password`) and the generated records,
    /// imported in batches of `configuration.batchSize`.
    ///
    /// When an organization `demo` exists already this throws `DemoError` with code `.alreadyExists`
    /// and changes nothing: loading twice would mix two histories. Delete the data folder (or the
    /// organization) to load again.
    public static func load(
        into store: any Store, reference: ReferenceData, configuration: DemoConfiguration,
        progress: (@Sendable (String) -> Void)? = nil
    ) async throws -> DemoSummary {
        let clock = ContinuousClock()
        let started = clock.now
        try configuration.validate()
        if let existing = try await store.organization(slug: slug) {
            throw DemoError(
                .alreadyExists, "organization \(slug) exists already (\(existing.id)); nothing was loaded")
        }
        // Fail on bad reference data before anything is written.
        _ = try DemoGenerator(
            reference: reference, configuration: configuration, users: DemoUsers.placeholder(now: configuration.now))

        let organization = try await store.createOrganization(slug: slug, name: name)
        progress?("created organization \(slug) (\(organization.id))")
        // bcrypt is slow on purpose: hash once, share the hash.
        let hash = Secrets.hashPassword(password)
        var ids: [Role: [String]] = [:]
        for spec in users {
            let user = try await store.createUser(
                organizationID: organization.id, email: spec.email, name: spec.name, role: spec.role, passwordHash: hash,
                actor: actor)
            ids[spec.role, default: []].append(user.id)
        }
        let demoUsers = DemoUsers(
            admin: ids[.admin]![0], recruiters: ids[.recruiter]!, hiringManagers: ids[.hiringManager]!,
            viewer: ids[.viewer]![0])
        progress?("created \(users.count) users")

        var generator = try DemoGenerator(reference: reference, configuration: configuration, users: demoUsers)
        var counts: [EntityKind: Int] = [:]
        var events = 0
        while let batch = try generator.nextBatch(limit: configuration.batchSize) {
            guard !batch.records.isEmpty || !batch.stageEvents.isEmpty else { continue }
            try await store.importRecords(
                organizationID: organization.id, records: batch.records, stageEvents: batch.stageEvents)
            for record in batch.records { counts[record.kind, default: 0] += 1 }
            events += batch.stageEvents.count
            progress?("imported \(batch.records.count) \(batch.label) (\(counts.values.reduce(0, +)) records)")
        }
        let elapsed = clock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return DemoSummary(
            organizationID: organization.id, organizationSlug: slug, adminEmail: adminEmail, users: users.count,
            counts: counts, stageEvents: events, seconds: seconds)
    }
}
