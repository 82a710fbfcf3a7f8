import ATSDomain
import ATSStore
import Foundation

/// How big the demo agency is and which seed and clock it is generated from.
/// The same seed and `now` give the same records, byte for byte.
public struct DemoConfiguration: Sendable, Hashable {
    public var seed: UInt64
    public var candidates: Int
    public var clients: Int
    public var projects: Int
    public var jobs: Int
    /// Capped at half of all candidate x job pairs, so small test agencies still find free pairs.
    public var applications: Int
    public var notes: Int
    /// The generation's "now": every time lies in the `historyDays` before it (a few interviews after it).
    public var now: Date
    public var historyDays: Int
    /// Records per `importRecords` call.
    public var batchSize: Int

    public init(
        seed: UInt64 = 42, candidates: Int = 2000, clients: Int = 30, projects: Int = 15, jobs: Int = 80,
        applications: Int = 5000, notes: Int = 3000, now: Date = Date(), historyDays: Int = 540, batchSize: Int = 5000
    ) {
        self.seed = seed
        self.candidates = candidates
        self.clients = clients
        self.projects = projects
        self.jobs = jobs
        self.applications = applications
        self.notes = notes
        self.now = now
        self.historyDays = historyDays
        self.batchSize = batchSize
    }

    func validate() throws {
        var problems: [String] = []
        if candidates < 0 || candidates > 10_000_000 { problems.append("candidates must be 0...10000000") }
        if clients < 1 || clients > 100_000 { problems.append("clients must be 1...100000") }
        if projects < 0 || jobs < 0 || applications < 0 || notes < 0 { problems.append("counts must not be negative") }
        if historyDays < 30 || historyDays > 3650 { problems.append("historyDays must be 30...3650") }
        if batchSize < 1 { problems.append("batchSize must be positive") }
        if !problems.isEmpty { throw DemoError(.invalidConfiguration, problems.joined(separator: "; ")) }
    }
}

/// The ids of the demo agency's users, which records name as owners, authors and interviewers.
public struct DemoUsers: Sendable, Hashable {
    public var admin: String
    public var recruiters: [String]
    public var hiringManagers: [String]
    public var viewer: String

    public init(admin: String, recruiters: [String], hiringManagers: [String], viewer: String) {
        self.admin = admin
        self.recruiters = recruiters
        self.hiringManagers = hiringManagers
        self.viewer = viewer
    }

    /// Made-up ids for generating without a store (tests, dry runs): 4 recruiters, 2 hiring managers.
    public static func placeholder(seed: UInt64 = 42, now: Date) -> DemoUsers {
        var random = DemoRandom(seed: seed, stream: 99)
        func id() -> String { Identifier.make(at: now, using: &random) }
        return DemoUsers(admin: id(), recruiters: [id(), id(), id(), id()], hiringManagers: [id(), id()], viewer: id())
    }
}

/// One user of the demo agency; all share `DemoAgency.password`.
public struct DemoUserSpec: Sendable, Hashable {
    public let email: String
    public let name: String
    public let role: Role

    public init(email: String, name: String, role: Role) {
        self.email = email
        self.name = name
        self.role = role
    }
}

/// The generated agency, without organization or users: what `DemoAgency.load` imports.
public struct DemoDataset: Sendable {
    public var clients: [Record] = []
    public var clientContacts: [Record] = []
    public var projects: [Record] = []
    public var jobs: [Record] = []
    public var candidates: [Record] = []
    public var applications: [Record] = []
    public var interviews: [Record] = []
    public var notes: [Record] = []
    /// Every application's stage history, oldest first per application.
    public var stageEvents: [StageEvent] = []

    public init() {}

    /// Every record in an order where each one's references come before it.
    public var records: [Record] {
        clients + clientContacts + projects + jobs + candidates + applications + interviews + notes
    }

    public var counts: [EntityKind: Int] {
        [
            .client: clients.count, .clientContact: clientContacts.count, .project: projects.count, .job: jobs.count,
            .candidate: candidates.count, .application: applications.count, .interview: interviews.count,
            .note: notes.count,
        ]
    }
}

/// What `DemoAgency.load` created.
public struct DemoSummary: Sendable, Hashable, CustomStringConvertible {
    public let organizationID: String
    public let organizationSlug: String
    public let adminEmail: String
    public let users: Int
    /// Records per kind.
    public let counts: [EntityKind: Int]
    public let stageEvents: Int
    /// Wall-clock seconds for generation and import together.
    public let seconds: Double

    public init(
        organizationID: String, organizationSlug: String, adminEmail: String, users: Int, counts: [EntityKind: Int],
        stageEvents: Int, seconds: Double
    ) {
        self.organizationID = organizationID
        self.organizationSlug = organizationSlug
        self.adminEmail = adminEmail
        self.users = users
        self.counts = counts
        self.stageEvents = stageEvents
        self.seconds = seconds
    }

    public var description: String {
        let kinds = EntityKind.allCases.compactMap { kind in counts[kind].map { "\($0) \(kind.table)" } }
        return "organization \(organizationSlug) (\(organizationID)): \(users) users, "
            + kinds.joined(separator: ", ") + ", \(stageEvents) stage events in "
            + String(format: "%.1f", seconds) + " s; sign in as \(adminEmail)"
    }
}

/// Why the demo agency could not be generated or loaded.
public struct DemoError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A reference file is missing, malformed or inconsistent.
        case referenceData
        /// The organization `demo` exists already; nothing was changed.
        case alreadyExists
        case invalidConfiguration
        /// A generated record failed schema validation: a bug in the generator or its data.
        case invalidRecord
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "DemoError.\(code.rawValue): \(message)" }
}
