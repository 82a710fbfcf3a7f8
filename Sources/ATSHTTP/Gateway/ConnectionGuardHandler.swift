import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// A request body that stopped arriving for longer than the body timeout. It is fired into the
/// request's body stream, so the handler reading the body fails (408) instead of taking a
/// truncated body for a whole one.
public struct RequestBodyTimeout: Error, Sendable {
    public init() {}
}

/// One connection's guard, between the HTTP/1 codec and Hummingbird: counts the connection
/// against the caps (503 beyond them), closes it when a request head, a body or an idle
/// keep-alive takes too long, answers requests the parser rejects with problem+json (400, 431)
/// instead of Hummingbird's empty 400, and closes the connection after a response the client
/// may still be sending a body for (413) without resetting it.
///
/// Timeouts count ticks of one timer per connection (a tenth of the shortest timeout, at most a
/// second), so a request costs a few field updates and no timer operations.
public final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        /// The header timeout runs: from the connection's start, or from the first byte of a
        /// later request on a kept-alive connection.
        case waitingHead
        /// Kept alive after a response, nothing of a next request yet: the idle timeout runs.
        case idle
        /// Reading a request body: the body timeout runs from the last bytes received.
        case body
        /// The request is read and its response is on its way: no timeout.
        case busy
        /// The output is closed after a final response; input is read and dropped until the
        /// client closes its side or the linger time passes.
        case closing
    }

    private let connections: ConnectionGuard
    private var started = false
    private var counted = false
    private var address: String?
    private var refusal: ConnectionGuard.Refusal?
    private var phase = Phase.waitingHead
    private var ticks = 0
    private var phaseStart = 0
    private var timer: Scheduled<Void>?
    /// Bytes of a request arrived since the last response (a header timeout then answers 408).
    private var sawBytes = false
    /// Heads read minus responses finished.
    private var requestsInProgress = 0
    private var readingBody = false
    private var responseStarted = false
    private var closeAfterResponse = false
    /// The parser failed: nothing more can be read from this connection.
    private var parseFailed = false
    private var bodyTimedOut = false

    init(guard connections: ConnectionGuard) {
        self.connections = connections
    }

    // MARK: Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        address = context.channel.remoteAddress?.ipAddress
        counted = true
        switch connections.admit(address: address) {
        case .admitted: break
        case .refused(let reason): refusal = reason
        case .dropped:
            context.close(promise: nil)
            return
        }
        // The raw bytes, before the HTTP decoder: the first byte of a request ends the idle
        // phase, body bytes count as progress, and input after a final response is dropped.
        try? context.pipeline.syncOperations.addHandler(ConnectionBytesWatcher(owner: self), position: .first)
        enter(.waitingHead)
        scheduleTick(context: context)
    }

    private func stop() {
        timer?.cancel()
        timer = nil
        if counted {
            counted = false
            connections.release(address: address)
        }
    }

    private func enter(_ phase: Phase) {
        self.phase = phase
        phaseStart = ticks
    }

    // MARK: Inbound

    /// Raw bytes arrived; false: drop them.
    fileprivate func bytesArrived() -> Bool {
        switch phase {
        case .closing: return false
        case .idle: enter(.waitingHead)
        case .body: phaseStart = ticks
        case .waitingHead, .busy: break
        }
        sawBytes = true
        return !parseFailed
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if phase == .closing { return }
        let part = unwrapInboundIn(data)
        if let refusal {
            if case .head = part { refuse(context: context, reason: refusal) }
            return
        }
        switch part {
        case .head:
            requestsInProgress += 1
            readingBody = true
            bodyTimedOut = false
            enter(.body)
        case .body:
            break
        case .end:
            readingBody = false
            if requestsInProgress > 0 { enter(.busy) } else { afterResponse() }
        }
        context.fireChannelRead(data)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard Self.isParseError(error) else {
            context.fireErrorCaught(error)
            return
        }
        // Once the parser failed, what follows on the connection cannot be read: later
        // errors of the same kind say nothing new.
        if phase == .closing || parseFailed { return }
        parseFailed = true
        if requestsInProgress == 0 {
            if readingBody {
                // The rest of a body already answered: nothing to say, just close.
                startClosing(context: context)
            } else {
                writeProblem(context: context, Self.problem(for: error))
            }
        } else if readingBody, !responseStarted {
            // The body of a request being handled is malformed: its reader fails with this error
            // (answered 400), then the connection closes.
            closeAfterResponse = true
            context.fireErrorCaught(error)
        } else {
            closeAfterResponse = true
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if phase == .closing, let event = event as? ChannelEvent, event == .inputClosed {
            // The client has read our final response and closed its side: done.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            responseStarted = true
            let status = head.status.code
            if closeAfterResponse || status == 413 || status == 408 || status == 431
                || head.headerFields[.connection]?.lowercased() == "close"
            {
                closeAfterResponse = true
                head.headerFields[.connection] = "close"
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            } else {
                context.write(data, promise: promise)
            }
        case .end:
            responseStarted = false
            requestsInProgress = max(0, requestsInProgress - 1)
            context.write(data, promise: promise)
            if closeAfterResponse {
                context.flush()
                startClosing(context: context)
            } else if requestsInProgress == 0, !readingBody {
                afterResponse()
            }
        default:
            context.write(data, promise: promise)
        }
    }

    private func afterResponse() {
        sawBytes = false
        enter(.idle)
    }

    // MARK: Answers the pipeline writes itself

    /// 503 to a connection over a cap, once its request head is in.
    private func refuse(context: ChannelHandlerContext, reason: ConnectionGuard.Refusal) {
        let detail = reason == .total
            ? "The server has as many connections open as it takes; retry shortly."
            : "Your address has as many connections open as it may; close some, or retry shortly."
        let seconds = String(connections.configuration.retryAfterSeconds)
        writeProblem(
            context: context,
            Problem(.serviceUnavailable, "too-many-connections", "Too many connections", detail: detail, headers: [.retryAfter: seconds]))
    }

    /// Writes a whole problem response (no request is being answered) and closes after it.
    private func writeProblem(context: ChannelHandlerContext, _ problem: Problem) {
        let buffer = context.channel.allocator.buffer(string: problem.document(instance: nil, requestID: nil))
        var fields = problem.headers
        fields[.contentType] = "application/problem+json"
        fields[.contentLength] = String(buffer.readableBytes)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: problem.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        startClosing(context: context)
    }

    /// Half-closes after the queued response (the client reads it, then end of stream), drops
    /// whatever the client still sends, and closes once it closes its side or the linger time
    /// passes. Closing at once with unread input would send a reset instead.
    private func startClosing(context: ChannelHandlerContext) {
        guard phase != .closing else { return }
        enter(.closing)
        context.close(mode: .output, promise: nil)
        context.read()
    }

    fileprivate var isClosing: Bool { phase == .closing }

    // MARK: Timer

    private func scheduleTick(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: connections.tick) {
            self.tick(context: context)
        }
    }

    private func tick(context: ChannelHandlerContext) {
        timer = nil
        guard counted else { return }
        ticks += 1
        let elapsed = ticks - phaseStart
        switch phase {
        case .waitingHead where elapsed > connections.headerTicks:
            connections.timedOut(.header)
            if sawBytes, refusal == nil, !parseFailed {
                writeProblem(
                    context: context,
                    Problem(.requestTimeout, "header-timeout", "Request timeout", detail: "The request head did not arrive in time."))
            } else {
                context.close(promise: nil)
                return
            }
        case .idle where elapsed > connections.idleTicks:
            connections.timedOut(.idle)
            context.close(promise: nil)
            return
        case .body where elapsed > connections.bodyTicks:
            connections.timedOut(.body)
            if requestsInProgress > 0, !responseStarted, !bodyTimedOut {
                // The handler reading the body fails with a 408; if it does not answer within
                // another body timeout, the connection closes.
                bodyTimedOut = true
                closeAfterResponse = true
                parseFailed = true
                phaseStart = ticks
                context.fireErrorCaught(RequestBodyTimeout())
            } else {
                context.close(promise: nil)
                return
            }
        case .closing where elapsed >= connections.lingerTicks:
            context.close(promise: nil)
            return
        default:
            break
        }
        scheduleTick(context: context)
    }

    // MARK: Parse errors

    static func isParseError(_ error: any Error) -> Bool {
        error is HTTPParserError || error is HTTP1TypeConversionError || error is ByteToMessageDecoderError
    }

    static func problem(for error: any Error) -> Problem {
        if let error = error as? HTTPParserError, error == .headerOverflow {
            return Problem(
                .init(code: 431, reasonPhrase: "Request Header Fields Too Large"), "header-too-large", "Request head too large",
                detail: "The request line and headers together must stay under the server's limit.")
        }
        return Problem.malformedRequest
    }
}

extension Problem {
    /// A request the HTTP parser rejects (a garbage request line, bytes a URL cannot hold, a bad chunk).
    static let malformedRequest = Problem(
        .badRequest, "malformed-request", "Malformed request", detail: "The request is not valid HTTP/1.1.")
}

/// The first handler of the pipeline: tells the connection's guard that bytes arrived, and drops
/// them once the connection is closing.
final class ConnectionBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let owner: ConnectionGuardHandler

    init(owner: ConnectionGuardHandler) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if owner.bytesArrived() { context.fireChannelRead(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // While closing, the bytes are dropped here and nobody downstream asks for more: keep
        // reading, so a client still writing its body is drained (no reset) until it stops.
        if owner.isClosing { context.read() }
        context.fireChannelReadComplete()
    }
}
