import ATSJobs

/// Emails: templates, the outbox, delivery over SMTP or to `.eml` files.
public enum EmailWork {
    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] { [] }
}

/// How mail leaves the appliance. With no SMTP host, messages are written as `.eml` files.
public struct EmailConfiguration: Sendable, Hashable {
    public var smtpHost: String?
    public var smtpPort: Int
    public var startTLS: Bool
    public var username: String?
    public var password: String?
    public var from: String

    public init(smtpHost: String? = nil, smtpPort: Int = 587, startTLS: Bool = true, username: String? = nil, password: String? = nil, from: String = "ats@localhost") {
        self.smtpHost = smtpHost
        self.smtpPort = smtpPort
        self.startTLS = startTLS
        self.username = username
        self.password = password
        self.from = from
    }
}
