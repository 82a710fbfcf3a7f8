import ATSApp
import ATSDomain
import ArgumentParser
import Foundation
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server (and, later, the workers) until SIGTERM.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Address to listen on (ATS_HOST, default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (ATS_PORT, default 8080; 0 picks a free one).") var port: Int?
    @Flag(help: "Load the demo agency when the data folder has none, and print a login and an admin API key.")
    var demo = false
    @Option(help: "Replicate the database and files continuously to this folder (ATS_REPLICA_DIR).") var replica: String?
    @Option(help: "Serve read-only as a warm standby of this replica folder (ATS_STANDBY_FROM); `ats promote` makes it the primary.")
    var standby: String?

    func run() async throws {
        // Before the server's threads make their arenas: the resident size under writes.
        MemoryTrimmer.limitArenas(environment: ProcessInfo.processInfo.environment)
        let configuration = try common.resolve([
            "ATS_HOST": host, "ATS_PORT": port.map(String.init), "ATS_REPLICA_DIR": replica, "ATS_STANDBY_FROM": standby,
        ])
        bootstrapLogging(configuration)
        let logger = Logger(label: "ats")
        if Appliance.startsAsStandby(configuration) {
            if demo { throw ValidationError("--demo cannot load an agency into a standby: its data comes from the primary") }
            let host = configuration.host
            let source = configuration.standbySource ?? ""
            let outcome = try await Appliance.serveStandby(configuration, logger: logger) { port in
                FileHandle.standardOutput.write(
                    Data("Emineon ATS standby listening on http://\(host):\(port) (read-only, following \(source))\n".utf8))
            }
            guard outcome == .promoted else { return }
            logger.notice("promoted: serving this data folder as the primary")
        }
        let store = try Appliance.openStore(configuration, logger: logger, server: true)
        var banner: [String] = []
        if demo {
            let credentials = try await DemoSetup.ensure(store: store, configuration: configuration, candidates: nil, seed: nil) {
                FileHandle.standardError.write(Data("\($0)\n".utf8))
            }
            banner = [
                "Demo agency: organization '\(credentials.organization)'",
                "  sign in:  \(credentials.email) / \(credentials.password)",
                "  API key (admin): \(credentials.apiKey)",
            ]
        }
        let host = configuration.host
        let lines = banner
        try await Appliance.serve(configuration, store: store, logger: logger) { port in
            var text = "Emineon ATS listening on http://\(host):\(port)\n"
            for line in lines { text += line + "\n" }
            if !lines.isEmpty {
                text += "  try:  curl -H 'Authorization: Bearer \(lines[2].split(separator: " ").last ?? "")' 'http://\(host):\(port)/api/v1/candidates?limit=5'\n"
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.resolve()
        _ = try Appliance.openStore(configuration, logger: commandLogger())
        print("Database ready at \(configuration.databasePath)")
    }
}

struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "org", abstract: "Organizations (agencies).", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Short name used in URLs and sign-in (lower-case letters, digits, dashes).") var slug: String
        @Option(help: "Display name.") var name: String

        func run() async throws {
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            let organization = try await runAdministration { try await Administration.createOrganization(store, slug: slug, name: name) }
            print("Created organization \(organization.slug) (\(organization.id))")
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Users who sign in.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user. The password is read from stdin when it is not a terminal; otherwise one is generated and printed.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Organization slug.") var org: String
        @Option(help: "Email address (the sign-in name).") var email: String
        @Option(help: "admin, recruiter, hiring_manager or viewer.") var role: String
        @Option(help: "Display name (default: the email's local part).") var name: String?

        func run() async throws {
            let role = try readRole(role)
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            var password: String?
            if isatty(FileHandle.standardInput.fileDescriptor) == 0 {
                let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                let line = input.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                if !line.isEmpty { password = line }
            }
            let (user, generated) = try await runAdministration {
                try await Administration.createUser(store, organization: org, email: email, name: name, role: role, password: password)
            }
            print("Created user \(user.email) (\(user.role.rawValue), \(user.id))")
            if let generated { print("Password: \(generated)") }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "API keys.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key and print it (only it) on stdout.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Organization slug.") var org: String
        @Option(help: "admin, recruiter, hiring_manager or viewer.") var role: String
        @Option(help: "A label to tell keys apart.") var name: String = "cli"

        func run() async throws {
            let role = try readRole(role)
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            let key = try await runAdministration { try await Administration.createToken(store, organization: org, role: role, name: name) }
            print(key)
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load the demo agency (organization 'demo') into the data folder.")
    @OptionGroup var common: CommonOptions
    @Option(help: "How many candidates (default 2000; 100000 for benchmarks).") var candidates: Int?
    @Option(help: "Random seed: the same seed makes the same agency.") var seed: UInt64?

    func run() async throws {
        if let candidates, !(1...2_000_000).contains(candidates) { throw ValidationError("--candidates must be from 1 to 2000000") }
        let configuration = try common.resolve()
        let store = try Appliance.openStore(configuration, logger: commandLogger())
        let credentials = try await DemoSetup.ensure(store: store, configuration: configuration, candidates: candidates, seed: seed) {
            FileHandle.standardError.write(Data("\($0)\n".utf8))
        }
        let search = try Appliance.makeSearch(configuration, store: store, served: store, cache: nil, logger: commandLogger())
        if try await search.needsRebuild() { try await rebuild(search) }
        print("Demo agency '\(credentials.organization)': sign in as \(credentials.email) / \(credentials.password)")
        print("API key (admin): \(credentials.apiKey)")
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Print the effective configuration (secrets masked) and where each value came from.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        print(try common.resolve().describe())
    }
}

/// Administration errors are the user's mistakes: print them plainly, exit non-zero.
func runAdministration<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as AdministrationError {
        throw ValidationError(error.description)
    }
}
