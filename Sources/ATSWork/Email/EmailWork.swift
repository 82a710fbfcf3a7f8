import ATSJobs
import Foundation

/// Emails: templates, the outbox, delivery over SMTP or to `.eml` files.
public enum EmailWork {
    /// The job type that delivers one outbox message.
    public static let sendType = "email.send"

    public static func handlers(_ dependencies: WorkDependencies) -> [any JobHandler] {
        [EmailSendHandler(dependencies: dependencies)]
    }

    /// The transport the configuration asks for: SMTP when a host is set, else `.eml` files in
    /// `<dataDirectory>/outbox`.
    public static func transport(_ dependencies: WorkDependencies) -> any MailTransport {
        if let host = dependencies.email.smtpHost, !host.isEmpty {
            return SMTPTransport(configuration: dependencies.email, tracer: dependencies.tracer)
        }
        return FileMailTransport(folder: outboxFolder(dependencies.dataDirectory))
    }

    /// Where `.eml` files go when no SMTP host is configured.
    public static func outboxFolder(_ dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent("outbox").path
    }
}

/// How mail leaves the appliance. With no SMTP host, messages are written as `.eml` files.
public struct EmailConfiguration: Sendable, Hashable {
    public var smtpHost: String?
    public var smtpPort: Int
    /// Require STARTTLS before AUTH and the mail (refuse servers that do not offer it).
    public var startTLS: Bool
    public var username: String?
    public var password: String?
    /// The `From:` header: `ats@agency.example` or `Agency <ats@agency.example>`.
    public var from: String
    /// Limit of each connect, read and write of an SMTP session.
    public var timeout: Duration
    /// Check the server's certificate and name after STARTTLS (turn off only for a lab relay).
    public var tlsVerify: Bool
    /// A PEM file of CAs to trust instead of the system's (a private relay's own CA).
    public var tlsCAFile: String?

    public init(
        smtpHost: String? = nil, smtpPort: Int = 587, startTLS: Bool = true, username: String? = nil, password: String? = nil,
        from: String = "ats@localhost", timeout: Duration = .seconds(30), tlsVerify: Bool = true, tlsCAFile: String? = nil
    ) {
        self.smtpHost = smtpHost
        self.smtpPort = smtpPort
        self.startTLS = startTLS
        self.username = username
        self.password = password
        self.from = from
        self.timeout = timeout
        self.tlsVerify = tlsVerify
        self.tlsCAFile = tlsCAFile
    }
}
