import ATSHTTP

/// The HTTP edge's connection limits and `/metrics` access.
extension Configuration {
    public var headerTimeoutSeconds: Int { Int(self["ATS_HEADER_TIMEOUT_SECONDS"]) ?? 30 }
    public var idleTimeoutSeconds: Int { Int(self["ATS_IDLE_TIMEOUT_SECONDS"]) ?? 60 }
    public var bodyTimeoutSeconds: Int { Int(self["ATS_BODY_TIMEOUT_SECONDS"]) ?? 60 }
    public var maxConnections: Int { Int(self["ATS_MAX_CONNECTIONS"]) ?? 10_000 }
    public var maxConnectionsPerIP: Int { Int(self["ATS_MAX_CONNECTIONS_PER_IP"]) ?? 256 }
    public var metricsPublic: Bool { self["ATS_METRICS_PUBLIC"].lowercased() == "true" }

    /// The connection guard's settings: the timeouts, the caps, and the trusted proxies the
    /// per-address cap does not apply to.
    public var connectionGuard: ConnectionGuard.Configuration {
        ConnectionGuard.Configuration(
            headerTimeout: .seconds(headerTimeoutSeconds), idleTimeout: .seconds(idleTimeoutSeconds),
            bodyTimeout: .seconds(bodyTimeoutSeconds), maxConnections: maxConnections,
            maxConnectionsPerAddress: maxConnectionsPerIP, exemptAddresses: trustedProxies)
    }

    func validateEdge() throws {
        for name in ["ATS_HEADER_TIMEOUT_SECONDS", "ATS_IDLE_TIMEOUT_SECONDS", "ATS_BODY_TIMEOUT_SECONDS"] {
            guard let value = Int(self[name]), (1...86_400).contains(value) else {
                throw ConfigurationError("\(name) must be an integer from 1 to 86400, not '\(self[name])'")
            }
        }
        for name in ["ATS_MAX_CONNECTIONS", "ATS_MAX_CONNECTIONS_PER_IP"] {
            guard let value = Int(self[name]), (1...1_000_000).contains(value) else {
                throw ConfigurationError("\(name) must be an integer from 1 to 1000000, not '\(self[name])'")
            }
        }
        guard ["true", "false"].contains(self["ATS_METRICS_PUBLIC"].lowercased()) else {
            throw ConfigurationError("ATS_METRICS_PUBLIC must be true or false, not '\(self["ATS_METRICS_PUBLIC"])'")
        }
    }
}
