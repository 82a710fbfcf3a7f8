// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "emineon-ats",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ats", targets: ["ats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        // libcrypto (OpenSSL) for SHA-256 and HMAC: already on every machine with libssl-dev,
        // and far cheaper to build than a vendored BoringSSL.
        .systemLibrary(name: "CLibCrypto", path: "Sources/CLibCrypto"),
        // libssl for STARTTLS in the SMTP client (swift-nio-ssl is not in the mirror's graph).
        .systemLibrary(name: "CLibSSL", path: "Sources/CLibSSL"),
        // libzstd for blobs at rest and replica segments/snapshots.
        .systemLibrary(name: "CLibZstd", path: "Sources/CLibZstd"),
        // The agency domain: entities, schemas, validation, ids. No I/O.
        .target(
            name: "ATSDomain",
            dependencies: [
                "CLibCrypto",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        // The store tier: the `Store` protocol, `SQLiteStore` on GRDB and its migrations.
        .target(
            name: "ATSStore",
            dependencies: [
                "ATSDomain",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The cache tier: the `Cache` protocol and the in-process byte-bounded LRU.
        .target(
            name: "ATSCache",
            dependencies: [],
            swiftSettings: swiftSettings
        ),
        // The one small HTTP/1.1 client of the appliance's outbound calls (OTLP, embeddings).
        .target(
            name: "ATSHTTPClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Observability: the tracer (swift-distributed-tracing), the OTLP exporter, JSON logs.
        .target(
            name: "ATSTelemetry",
            dependencies: [
                "ATSHTTPClient",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The search tier's full text: the `SearchIndex` protocol and SQLite FTS5.
        .target(
            name: "ATSSearch",
            dependencies: [
                "ATSDomain",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The search tier's vectors: embedders and the exact / HNSW indexes.
        .target(
            name: "ATSVector",
            dependencies: [
                "ATSHTTPClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The file tier: the `BlobStore` protocol, content-addressed files, SigV4 presigning and verification.
        .target(
            name: "ATSBlob",
            dependencies: ["CLibCrypto", "CLibZstd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Documents: text out of PDF/DOCX/RTF, ZIP reading and writing, the CV parser.
        .target(
            name: "ATSDocuments",
            dependencies: ["ATSDomain"],
            swiftSettings: swiftSettings
        ),
        // The replica tier: WAL shipping, snapshots, point-in-time restore, the standby.
        .target(
            name: "ATSReplica",
            dependencies: [
                "CLibZstd", "CLibCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // Optimized in debug builds too: WAL checksums and page copies run per frame, and the
            // integration tests (debug binary) hold replication to its one-second loss window.
            swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]
        ),
        // The job tier: the `JobQueue` protocol, `SQLiteJobQueue` in the store's database, the runner.
        .target(
            name: "ATSJobs",
            dependencies: [
                "ATSDomain", "ATSStore",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The agency work the job tier runs: emails, exports, imports, analytics.
        .target(
            name: "ATSWork",
            dependencies: [
                "ATSDomain", "ATSStore", "ATSJobs", "CLibCrypto", "CLibSSL", "ATSSearch", "ATSVector", "ATSCache", "ATSDemo",
                "ATSBlob", "ATSDocuments",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP gateway: routes, auth, rate limits, problem+json, metrics, OpenAPI.
        .target(
            name: "ATSHTTP",
            dependencies: [
                "ATSDomain",
                "ATSStore",
                "ATSJobs",
                "ATSWork",
                "ATSTelemetry",
                "ATSSearch",
                "ATSVector",
                "ATSBlob",
                "ATSDocuments",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The demo agency generator (deterministic, seeded).
        .target(
            name: "ATSDemo",
            dependencies: ["ATSDomain", "ATSStore"],
            swiftSettings: swiftSettings
        ),
        // Composition: configuration -> backends -> services. A library so tests use it too.
        .target(
            name: "ATSApp",
            dependencies: [
                "ATSDomain", "ATSStore", "ATSHTTP", "ATSDemo", "ATSJobs", "ATSWork", "ATSCache", "ATSTelemetry",
                "ATSSearch", "ATSVector", "ATSBlob", "ATSDocuments", "ATSReplica",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ats",
            dependencies: [
                "ATSApp", "ATSCache", "ATSTelemetry", "ATSVector",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ATSSearchTests",
            dependencies: ["ATSSearch", "ATSDomain", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ATSVectorTests",
            dependencies: [
                "ATSVector",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ATSBlobTests", dependencies: ["ATSBlob"], swiftSettings: swiftSettings),
        .testTarget(name: "ATSDocumentsTests", dependencies: ["ATSDocuments", "ATSDomain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ATSReplicaTests",
            dependencies: [
                "ATSReplica",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ATSCacheTests", dependencies: ["ATSCache"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ATSTelemetryTests",
            dependencies: [
                "ATSTelemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ATSDomainTests", dependencies: ["ATSDomain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ATSStoreTests",
            dependencies: ["ATSDomain", "ATSStore", "ATSDemo"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ATSJobsTests",
            dependencies: [
                "ATSDomain", "ATSStore", "ATSJobs",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ATSWorkTests",
            dependencies: [
                "ATSDomain", "ATSStore", "ATSJobs", "ATSWork", "ATSDemo", "ATSSearch", "ATSVector", "ATSCache",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ATSHTTPTests",
            dependencies: [
                "ATSApp", "ATSHTTP", "ATSStore", "ATSDomain", "ATSCache", "ATSTelemetry", "ATSBlob", "ATSDocuments", "ATSDemo",
                "ATSWork",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
