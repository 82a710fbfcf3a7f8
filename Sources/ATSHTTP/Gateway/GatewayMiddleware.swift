import ATSDomain
import ATSStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization

/// The edge every request passes: request id, per-address rate limit, body limit, metrics,
/// and the one place errors turn into `problem+json` (never a stack trace, never a 500 for
/// bad input).
struct GatewayMiddleware: RouterMiddleware {
    typealias Context = ATSRequestContext
    let metrics: HTTPMetrics
    let limiter: RateLimiter
    let maxBodyBytes: Int
    let trustedProxies: Set<String>
    /// Routes that take larger bodies than `maxBodyBytes` (uploads), by path.
    let uploadLimits: [String: Int]

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
        var response: Response
        do {
            if let wait = limiter.take("a:" + context.remoteAddress) {
                throw Problem.tooManyRequests(retryAfter: wait)
            }
            let limit = uploadLimits[request.uri.path] ?? maxBodyBytes
            if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
                throw Problem.tooLarge(limit: limit)
            }
            response = try await next(request, context)
        } catch {
            response = Self.problem(for: error, maxBodyBytes: maxBodyBytes, logger: context.logger)
                .makeResponse(instance: request.uri.path, requestID: requestID)
        }
        response.headers[.xRequestID] = requestID
        metrics.record(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
            duration: ContinuousClock.now - start)
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

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-Id")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
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
