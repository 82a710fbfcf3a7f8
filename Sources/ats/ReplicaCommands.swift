import ATSApp
import ATSDomain
import ArgumentParser
import Foundation

// The replica tier's commands (issue 7). Their names and options are a contract: scripts and
// the operator's runbook use them. The work is in ATSApp (`Appliance+Replica.swift`); these
// only parse, print and set the exit status.

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Write a snapshot of the database to the replica now.",
        discussion: """
            With a server replicating this data folder, the server takes it (it owns the checkpoints) \
            and this command waits for its answer. With no server running, it takes one itself to \
            --replica DIR (or ATS_REPLICA_DIR).
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "The replica folder (ATS_REPLICA_DIR) when no server runs; a running server uses its own.")
    var replica: String?
    @Option(help: "Seconds to wait for the running server's answer.") var timeout: Int = 3600

    func run() async throws {
        let configuration = try common.resolve(["ATS_REPLICA_DIR": replica])
        try await printing {
            try await Appliance.snapshotCommand(configuration, timeout: .seconds(timeout), logger: commandLogger(), progress: note)
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore the database and its files from a replica into a new data folder.",
        discussion: """
            Picks the newest snapshot at or before the point, replays the segments after it up to the \
            point, verifies every object's checksum, the chain and PRAGMA integrity_check, then copies \
            the files. Without --at or --txn: the latest state. Serve the result with \
            `ats serve --data NEWDIR`.
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "The replica folder to restore from.") var from: String
    @Option(help: "The new data folder (must not exist, or be empty).") var to: String
    @Option(help: "Restore the state as of this RFC 3339 time, e.g. 2026-11-29T17:12:20Z.") var at: String?
    @Option(help: "Restore the state after this transaction number (of the newest generation, or of --generation).")
    var txn: Int?
    @Option(help: "The generation to restore from (default: the one that covers --at, or the newest).")
    var generation: String?
    @Flag(help: "Print the plan (snapshot, segments, final transaction and its time) and write nothing.")
    var dryRun = false

    func validate() throws {
        if at != nil, txn != nil { throw ArgumentParser.ValidationError("give --at or --txn, not both") }
        if let at, Timestamp.parse(at) == nil {
            throw ArgumentParser.ValidationError("--at must be an RFC 3339 time such as 2026-11-29T17:12:20Z or 2026-11-29T18:12:20.5+01:00")
        }
        if let txn, txn < 1 { throw ArgumentParser.ValidationError("--txn must be a transaction number >= 1") }
    }

    func run() async throws {
        _ = try common.resolve()
        try await printing {
            try await Appliance.restoreCommand(
                from: from, to: to, at: at.flatMap(Timestamp.parse), txn: txn, generation: generation, dryRun: dryRun,
                progress: note)
        }
    }
}

struct ReplicasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicas", abstract: "Inspect replicas.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a replica's generations, snapshots, segment ranges and the restorable window.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The replica folder.") var from: String

        func run() async throws {
            _ = try common.resolve()
            try await printing { try await Appliance.listReplicasCommand(from: from) }
        }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Restore the replica's latest state to a temporary folder and compare it with the live database.",
        discussion: """
            With a server replicating this data folder, the server runs the comparison (and updates \
            the ats_replica_verify_ok metric); otherwise this command does, against --replica DIR (or \
            ATS_REPLICA_DIR). Exits 1 when the replica is damaged or differs.
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "The replica folder (ATS_REPLICA_DIR) when no server runs; a running server uses its own.")
    var replica: String?
    @Option(help: "Seconds to wait for the running server's answer.") var timeout: Int = 3600

    func run() async throws {
        let configuration = try common.resolve(["ATS_REPLICA_DIR": replica])
        try await printing {
            try await Appliance.verifyCommand(configuration, timeout: .seconds(timeout), logger: commandLogger(), progress: note)
        }
    }
}

struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Turn this data folder's warm standby into the primary.",
        discussion: """
            A running standby (`ats serve --standby TARGET`) applies what the replica has, stops \
            following it and restarts as the primary on the same port, replicating to its --replica \
            folder if it has one. With no server running, the folder is brought up to date from \
            ATS_STANDBY_FROM and marked promoted: `ats serve` then starts it as the primary.
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "Seconds to wait for the running standby's answer.") var timeout: Int = 600

    func run() async throws {
        let configuration = try common.resolve()
        try await printing {
            try await Appliance.promoteCommand(configuration, timeout: .seconds(timeout), logger: commandLogger(), progress: note)
        }
    }
}

/// Progress lines on stderr, so stdout holds only the result.
@Sendable func note(_ line: String) {
    FileHandle.standardError.write(Data("\(line)\n".utf8))
}

/// Runs a replica command: its report on stdout, exit 0; a failure's message on stderr
/// (naming the damaged object, when one is), exit 1.
func printing(_ body: () async throws -> ReplicaCommandResult) async throws {
    let result: ReplicaCommandResult
    do {
        result = try await body()
    } catch let error as ArgumentParser.ValidationError {
        throw error
    } catch {
        FileHandle.standardError.write(Data("error: \(Appliance.describeReplicaFailure(error))\n".utf8))
        throw ExitCode.failure
    }
    if result.ok {
        print(result.report)
    } else {
        FileHandle.standardError.write(Data("\(result.report)\n".utf8))
        throw ExitCode.failure
    }
}
