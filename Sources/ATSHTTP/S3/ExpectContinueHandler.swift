import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` with an interim `100 Continue` as soon as the request head
/// arrives. Hummingbird never sends one, and botocore (boto3, the AWS CLI) puts that header on
/// every PutObject and then waits a whole second for it before sending the body anyway.
///
/// A body declared larger than its route's limit gets no `100`: the final answer (413) is the
/// response, the client never sends the body, and the connection is closed after that response
/// (the server would otherwise wait to drain a body that is not coming, and the client's next
/// request on the connection would be read as that body).
///
/// Install it in the HTTP/1 pipeline: `.http1(configuration: .init(additionalChannelHandlers:
/// [ExpectContinueHandler(limits: ...)]))`.
public final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    /// The body limit of a request path (the gateway's per-route upload limits).
    public typealias Limit = @Sendable (_ path: String) -> Int

    private let limit: Limit
    /// The current request asked for a 100 that was refused: close once its response is written.
    private var closeAfterResponse = false

    /// `limit` gives each request path's body limit (a declared body above it gets no 100).
    public init(limit: @escaping Limit) {
        self.limit = limit
    }

    /// Prefix limits (`"/s3/": 100 MiB`), else `defaultLimit`.
    public convenience init(defaultLimit: Int, prefixLimits: [String: Int] = [:]) {
        let sorted = prefixLimits.sorted { $0.key.count > $1.key.count }
        self.init { path in sorted.first { path.hasPrefix($0.key) }?.value ?? defaultLimit }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data), let expect = head.headerFields[.expect],
            expect.lowercased() == "100-continue"
        {
            let declared = head.headerFields[.contentLength].flatMap { Int($0) }
            let path = head.path.map { String($0.prefix { $0 != "?" }) } ?? "/"
            if let declared, declared > limit(path) {
                closeAfterResponse = true
            } else {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard closeAfterResponse else {
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end:
            closeAfterResponse = false
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        default:
            context.write(data, promise: promise)
        }
    }
}
