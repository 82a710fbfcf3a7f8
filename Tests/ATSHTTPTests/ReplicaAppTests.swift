import ATSDomain
import ATSHTTP
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing

@testable import ATSApp

/// The replica tier's app side (issue 7): the standby's write gate, `/readyz`'s extra checks,
/// the control channel between the CLI and the server, the settings. The end-to-end proofs
/// (real binary, kill -9, flipped bytes, chmod 000) are Tests/integration/replica_check.py.
@Suite("Replica integration in the app")
struct ReplicaAppTests {
    static func router(
        readinessChecks: [@Sendable () async -> String?] = [],
        middleware: [any MiddlewareProtocol<Request, Response, ATSRequestContext>] = []
    ) throws -> (Router<ATSRequestContext>, String, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ats-replica-app-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try SQLiteStore(path: directory.appendingPathComponent("ats.sqlite").path, logger: logger)
        try store.migrate()
        let router = APIRouter.build(
            store: store, configuration: GatewayConfiguration(rateLimit: .init(ratePerSecond: 0, burst: 0), maxBodyBytes: 65536),
            registry: PrometheusCollectorRegistry(), readinessChecks: readinessChecks, middleware: middleware)
        return (router, directory.path, directory)
    }

    @Test("a standby answers every write with 503 problem+json before auth or the body; reads pass")
    func standbyGate() async throws {
        let (router, _, directory) = try Self.router(middleware: [ReplicaStandbyGate()])
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Application(router: router).test(.router) { client in
            for method in [HTTPRequest.Method.post, .patch, .put, .delete] {
                let reply = try await client.call(method, "/api/v1/candidates", key: nil, json: ["firstName": "A"])
                #expect(reply.status == .serviceUnavailable, "\(method)")
                #expect(reply.headers[.contentType] == "application/problem+json")
                #expect(reply.problemType == "/problems/standby")
                #expect(reply.json["detail"]?.stringValue?.hasPrefix("This server is a standby; write to the primary") == true)
            }
            #expect(try await client.call(.get, "/healthz", key: nil).status == .ok)
            #expect(try await client.call(.get, "/api/v1/candidates", key: nil).status == .unauthorized, "reads reach the routes")
        }
    }

    @Test("/readyz answers 503 with the first not-ready reason, 200 when every check passes")
    func readiness() async throws {
        let lagging = LockedFlag()
        let (router, _, directory) = try Self.router(readinessChecks: [
            { nil },
            { lagging.value ? "Replication to the replica lags 12 s, more than ATS_REPLICA_MAX_LAG_SECONDS=10." : nil },
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        try await Application(router: router).test(.router) { client in
            #expect(try await client.call(.get, "/readyz", key: nil).status == .ok)
            lagging.value = true
            let reply = try await client.call(.get, "/readyz", key: nil)
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.json["detail"]?.stringValue?.contains("lags 12 s") == true)
            #expect(reply.headers[.retryAfter] == "1")
        }
    }

    @Test("the control channel: one owner per data folder, plain servers share, the CLI's request is answered")
    func control() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-control-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let control = ReplicaControl(dataDirectory: folder)
        #expect(control.holder() == .none)

        // Plain servers share the lock; an owner cannot join them.
        var plain: [ReplicaControlLock] = [try control.lock(exclusive: false), try control.lock(exclusive: false)]
        #expect(control.holder() == .plain)
        #expect(throws: ReplicaControlError.self) { _ = try control.lock(exclusive: true) }
        plain.removeAll()

        var owner: ReplicaControlLock? = try control.lock(exclusive: true)
        #expect(control.holder() == .owner(pid: getpid()))
        #expect(throws: ReplicaControlError.self) { _ = try control.lock(exclusive: false) }
        #expect(throws: ReplicaControlError.self) { _ = try control.lock(exclusive: true) }

        // The owner answers a request (the server's side runs as a service).
        let service = Task {
            while !Task.isCancelled {
                for (id, command) in control.pendingRequests() {
                    control.answer(id, .init(ok: command == .snapshot, message: "did \(command?.rawValue ?? "?")"))
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let answer = try await control.send(.snapshot, timeout: .seconds(10))
        #expect(answer.ok && answer.message == "did snapshot")
        let refused = try await control.send(.promote, timeout: .seconds(10))
        #expect(!refused.ok && refused.message == "did promote")
        service.cancel()

        owner = nil
        #expect(owner == nil)
        #expect(control.holder() == .none, "the lock goes with its holder")
        await #expect(throws: ReplicaControlError.self) { _ = try await control.send(.verify, timeout: .seconds(1)) }
    }

    @Test("replica settings: defaults, ranges, and no replica inside the data folder")
    func settings() throws {
        let configuration = try Configuration(flags: ["ATS_DATA": "/srv/ats"], environment: [:])
        #expect(configuration.replicaDirectory == nil && configuration.standbySource == nil)
        #expect(configuration.replicaSyncInterval == .seconds(1))
        #expect(configuration.snapshotInterval == .seconds(3600))
        #expect(configuration.segmentRetention == .seconds(24 * 3600))
        #expect(configuration.snapshotRetention == .seconds(7 * 86_400))
        #expect(configuration.replicaMaxLagSeconds == 10)
        #expect(configuration.replicaVerifyInterval == .seconds(360 * 60))
        let on = try Configuration(
            flags: ["ATS_DATA": "/srv/ats", "ATS_REPLICA_DIR": "/mnt/backup/ats", "ATS_REPLICA_SYNC_SECONDS": "0.5",
                    "ATS_REPLICA_VERIFY_INTERVAL_MINUTES": "0"],
            environment: [:])
        #expect(on.replicaDirectory == "/mnt/backup/ats")
        #expect(on.replicaSyncInterval == .milliseconds(500))
        #expect(on.replicaVerifyInterval == nil)
        for bad in [
            ["ATS_REPLICA_DIR": "/srv/ats/replica"], ["ATS_REPLICA_DIR": "/srv"], ["ATS_STANDBY_FROM": "/srv/ats"],
            ["ATS_REPLICA_SYNC_SECONDS": "0"], ["ATS_SNAPSHOT_INTERVAL_MINUTES": "0"], ["ATS_REPLICA_MAX_LAG_SECONDS": "-1"],
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") {
                _ = try Configuration(flags: bad.merging(["ATS_DATA": "/srv/ats"]) { a, _ in a }, environment: [:])
            }
        }
    }

    @Test("a standby's primed WAL is an empty log SQLite accepts, so opening a pool writes nothing")
    func primedWAL() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ats-prime-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let path = folder + "/ats.sqlite"
        let primary = try SQLiteStore(path: path, logger: logger)
        try primary.migrate()
        try primary.pool.close()
        // A closed pool leaves no WAL: as a restored copy comes.
        try? FileManager.default.removeItem(atPath: path + "-wal")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let configuration = try Configuration(flags: ["ATS_DATA": folder], environment: [:])
        let store = try Appliance.openStandbyStore(configuration, logger: logger)
        #expect(try store.pendingMigrations().isEmpty, "the copy reads")
        let walSize = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue
        #expect(walSize == 32, "the header only: no frame was written")
        #expect(throws: (any Error).self) {
            try store.pool.writeWithoutTransaction { try $0.execute(sql: "CREATE TABLE nope (x)") }
        }
        try store.pool.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }
}

/// A flag a test flips while a router reads it.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool {
        get { lock.withLock { flag } }
        set { lock.withLock { flag = newValue } }
    }
}
