import ATSApp
import ATSDomain
import ArgumentParser
import Foundation
import Logging

@main
struct ATSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ats",
        abstract: "The Emineon ATS appliance: an applicant tracking system for recruiting agencies in one binary.",
        subcommands: [
            Serve.self, Worker.self, Migrate.self, OrgCommand.self, UserCommand.self, TokenCommand.self, JobsCommand.self,
            ImportCommand.self, S3KeyCommand.self,
            Demo.self, ReindexCommand.self, ConfigCommand.self, CacheBenchCommand.self, VectorBenchCommand.self, CVBenchCommand.self,
            SnapshotCommand.self, RestoreCommand.self, ReplicasCommand.self, VerifyCommand.self, PromoteCommand.self,
        ]
    )
}

/// Options every command takes.
struct CommonOptions: ParsableArguments {
    @Option(help: "The data folder (database, runtime files). Default: Data/runtime, or ATS_DATA.")
    var data: String?

    @Option(help: "A configuration file of ATS_* KEY=value lines. Default: <data>/ats.conf when present.")
    var config: String?

    func flags(_ extra: [String: String?] = [:]) -> [String: String] {
        var flags: [String: String] = [:]
        if let data { flags["ATS_DATA"] = data }
        if let config { flags["ATS_CONFIG"] = config }
        for (key, value) in extra { if let value { flags[key] = value } }
        return flags
    }

    func resolve(_ extra: [String: String?] = [:]) throws -> Configuration {
        do {
            return try Configuration(flags: flags(extra))
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }
}

/// Logging for one-shot commands: warnings and worse, on stderr, so stdout stays clean for scripts.
func commandLogger() -> Logger {
    var logger = Logger(label: "ats") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .warning
    return logger
}

func readRole(_ raw: String) throws -> Role {
    guard let role = Role(rawValue: raw) else {
        throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return role
}
