import ATSBlob
import ATSDomain
import ATSJobs
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Tracing

/// The edge every request passes: request id, the server span (W3C `traceparent` in and out),
/// per-address rate limit, body limit, metrics, and the one place errors turn into
/// `problem+json` (never a stack trace, never a 500 for bad input).
struct GatewayMiddleware: RouterMiddleware {
    typealias Context = ATSRequestContext
    let metrics: HTTPMetrics
    let limiter: RateLimiter
    let maxBodyBytes: Int
    let trustedProxies: Set<String>
    /// Routes that take larger bodies than `maxBodyBytes` (uploads): their limit by path, nil
    /// for every other route. Uploads that stream to the blob store enforce it again as they read.
    let uploadLimit: @Sendable (String) -> Int?
    let tracer: any Tracer

    func handle(
        _ request: Request, context: ATSRequestContext, next: (Request, ATSRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let start = ContinuousClock.now
        let requestID = Self.requestID(from: request.headers[.xRequestID])
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        if trustedProxies.contains(context.remoteAddress), let forwarded = Self.forwardedClient(request.headers[.xForwardedFor]) {
            context.remoteAddress = forwarded
        }
        // The server span: named by the route template (never the raw path: ids and names stay
        // out of span names), parented by the caller's traceparent when it sent a valid one.
        let route = context.endpointPath ?? "unmatched"
        var parent = ServiceContext.topLevel
        tracer.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let span = tracer.startSpan(route, context: parent, ofKind: .server)
        if span.isRecording {
            span.operationName = request.method.rawValue + " " + route
            span.attributes["http.request.method"] = request.method.rawValue
            span.attributes["http.route"] = route
            span.attributes["ats.request_id"] = requestID
            context.span = span
        }
        var response: Response
        do {
            if let wait = limiter.take("a:" + context.remoteAddress) {
                throw Problem.tooManyRequests(retryAfter: wait)
            }
            let limit = uploadLimit(request.uri.path) ?? maxBodyBytes
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                throw Problem.tooLarge(limit: limit)
            }
            response = try await ServiceContext.$current.withValue(span.context) {
                try await next(request, context)
            }
        } catch {
            response = ServiceContext.$current.withValue(span.context) {
                Self.problem(for: error, maxBodyBytes: maxBodyBytes, logger: context.logger)
                    .makeResponse(instance: request.uri.path, requestID: requestID)
            }
        }
        response.headers[.xRequestID] = requestID
        tracer.inject(span.context, into: &response.headers, using: HTTPFieldsInjector())
        let status = response.status.code
        if span.isRecording {
            span.attributes["http.response.status_code"] = status
            if status >= 500 {
                span.setStatus(SpanStatus(code: .error))
                span.attributes["error.type"] = String(status)
            }
        }
        span.end()
        let duration = ContinuousClock.now - start
        metrics.record(route: route, method: request.method.rawValue, status: status, duration: duration)
        if context.logger.logLevel <= .debug {
            // The access line: the route template, never the path (ids, query values).
            ServiceContext.$current.withValue(span.context) {
                context.logger.debug(
                    "request",
                    metadata: [
                        "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
                        "duration_ms": .stringConvertible(Double(duration.components.attoseconds / 1_000_000_000_000) / 1000 + Double(duration.components.seconds) * 1000),
                    ])
            }
        }
        return response
    }

    /// Reuses a client's request id when it is a plain token, so traces can be joined.
    static func requestID(from header: String?) -> String {
        if let header, (1...64).contains(header.utf8.count),
            header.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 })
        {
            return header
        }
        var generator = RequestIDGenerator()
        return Identifier.make(at: Date(), using: &generator)
    }

    /// The right-most address of `X-Forwarded-For`: the one the trusted proxy itself saw.
    static func forwardedClient(_ header: String?) -> String? {
        guard let header, let last = header.split(separator: ",").last else { return nil }
        let address = last.trimmingCharacters(in: .whitespaces)
        return (1...64).contains(address.utf8.count) ? address : nil
    }

    static func problem(for error: any Error, maxBodyBytes: Int, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as StoreError:
            if error.code == .unavailable { logger.warning("store unavailable", metadata: ["error": "\(error.code)"]) }
            return Problem.from(error)
        case let error as ValidationError:
            return Problem.validation(error.errors)
        // A full disk met by a tier a route did not catch itself: 507 names it, never a 500.
        case let error as BlobError where error.code == .storageFull:
            return Problem.insufficientStorage("the file storage")
        case let error as JobQueueError where error.code == .storageFull:
            return Problem.insufficientStorage("the job queue")
        case is NIOTooManyBytesError:
            // A body read with a limit (a chunked one: no Content-Length was checked up front).
            return Problem.tooLarge(limit: maxBodyBytes)
        case is RequestBodyTimeout:
            return Problem(.requestTimeout, "body-timeout", "Request timeout", detail: "The request body stopped arriving.")
        case let error where ConnectionGuardHandler.isParseError(error):
            // The parser rejected the body (a bad chunk): the client's fault, not ours.
            return Problem.malformedRequest
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return Problem(.notFound, "no-route", "Not found", detail: "No such route.")
            case .contentTooLarge:
                return Problem.tooLarge(limit: maxBodyBytes)
            case .methodNotAllowed:
                return Problem(.methodNotAllowed, "method-not-allowed", "Method not allowed", detail: "This route does not take that method.")
            default:
                let status = error.status
                if status.code >= 500 {
                    logger.error("http error", metadata: ["status": "\(status.code)"])
                    return Problem.internalError
                }
                return Problem(status, "http-\(status.code)", status.reasonPhrase, detail: error.body ?? status.reasonPhrase)
            }
        default:
            // The type only: messages of unknown errors may carry personal data.
            logger.error("unhandled error", metadata: ["error_type": "\(type(of: error))"])
            return Problem.internalError
        }
    }
}

extension Problem {
    static func tooManyRequests(retryAfter: Int) -> Problem {
        Problem(
            .tooManyRequests, "rate-limited", "Too many requests",
            detail: "Slow down: retry after \(retryAfter) second(s).", headers: [.retryAfter: String(retryAfter)])
    }

    static func tooLarge(limit: Int) -> Problem {
        Problem(.contentTooLarge, "body-too-large", "Request body too large", detail: "The body limit is \(limit) bytes.")
    }

    static let internalError = Problem(
        .internalServerError, "internal", "Internal error",
        detail: "Something went wrong on our side; the request id identifies it in the logs.")
}

/// Reads `traceparent` and `tracestate` from request headers.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        switch key {
        case "traceparent": carrier[.traceparent]
        case "tracestate": carrier[.tracestate]
        default: HTTPField.Name(key).flatMap { carrier[$0] }
        }
    }
}

/// Writes `traceparent` (and `tracestate`) into response headers, so a client can find its trace.
struct HTTPFieldsInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPFields) {
        switch key {
        case "traceparent": carrier.append(HTTPField(name: .traceparent, value: value))
        case "tracestate": carrier.append(HTTPField(name: .tracestate, value: value))
        default: if let name = HTTPField.Name(key) { carrier[name] = value }
        }
    }
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-Id")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let traceparent = HTTPField.Name("traceparent")!
    static let tracestate = HTTPField.Name("tracestate")!
}

/// Request ids need to be unique, not secret: a SplitMix64 stream over an atomic counter
/// gives ULID randomness without a `getrandom` call per request.
struct RequestIDGenerator: RandomNumberGenerator {
    static let seed: UInt64 = {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }()
    static let counter = Atomic<UInt64>(0)

    mutating func next() -> UInt64 {
        let (value, _) = Self.counter.add(1, ordering: .relaxed)
        var z = Self.seed &+ value &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
