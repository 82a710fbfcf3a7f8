import ATSHTTP
import Hummingbird

/// A standby's write gate: every request that could change something (any method but GET,
/// HEAD and OPTIONS) answers 503 problem+json before it reaches a route or reads its body, so
/// the local copy only ever changes by following the primary's replica.
struct ReplicaStandbyGate: RouterMiddleware {
    typealias Context = ATSRequestContext

    func handle(
        _ request: Request, context: ATSRequestContext, next: (Request, ATSRequestContext) async throws -> Response
    ) async throws -> Response {
        switch request.method {
        case .get, .head, .options:
            return try await next(request, context)
        default:
            throw Problem(
                .serviceUnavailable, "standby", "Read-only standby",
                detail: "This server is a standby; write to the primary (or run `ats promote` here to make this server the primary).",
                headers: [.retryAfter: "5"])
        }
    }
}
