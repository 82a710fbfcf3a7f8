import ATSDomain
import Hummingbird
import NIOCore
import Tracing

/// Per-request state: the request id, the client's address and, once authenticated, who is asking.
public struct ATSRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The id returned in `X-Request-Id` and written into every log line of the request.
    public var requestID: String
    public var principal: Principal?
    /// The client's address: the TCP peer, or the address a trusted proxy forwarded.
    public var remoteAddress: String
    /// The request's server span, so a handler can name the organization on it.
    public var span: (any Span)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.requestID = ""
        self.principal = nil
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        self.span = nil
    }

    /// Body limits are enforced by `BodyLimitMiddleware` with a problem response; this is the backstop.
    public var maxUploadSize: Int { 64 * 1024 * 1024 }
}
