import ATSDomain
import Hummingbird

/// Who may call an operation.
enum Access: Sendable {
    case open
    /// Authenticated, with at least this role.
    case role(Role)
}

/// A documented query or path parameter.
struct ParameterDoc: Sendable {
    enum Location: String, Sendable { case query, path }
    let name: String
    let location: Location
    let schema: JSONValue
    let summary: String
    var required: Bool { location == .path }
}

/// One route: its contract (for `/openapi.json`) and its handler. Every route is registered
/// through a `RouteTable`, so the document lists exactly what the router serves.
struct Operation: Sendable {
    typealias Handler = @Sendable (Request, ATSRequestContext) async throws -> Response

    let method: HTTPRequest.Method
    /// OpenAPI form: `/api/v1/candidates/{id}`.
    let path: String
    let operationID: String
    let summary: String
    let tag: String
    let access: Access
    var parameters: [ParameterDoc] = []
    /// The request body schema, when the operation takes one.
    var requestBody: JSONValue? = nil
    /// The body's media type (a CSV upload is `text/csv`).
    var requestContentType = "application/json"
    /// Success status and body schema (nil: no body).
    var success: (status: Int, schema: JSONValue?, contentType: String) = (200, nil, "application/json")
    /// Error statuses the operation may answer beyond the ones every route can.
    var errors: Set<Int> = []
    let handler: Handler
}

/// The router's single entry point for routes; keeps the list for the OpenAPI document.
final class RouteTable {
    private(set) var operations: [Operation] = []
    let router: Router<ATSRequestContext>
    let gateway: Gateway

    init(router: Router<ATSRequestContext>, gateway: Gateway) {
        self.router = router
        self.gateway = gateway
    }

    func add(_ operation: Operation) {
        operations.append(operation)
        let hummingbirdPath = operation.path.split(separator: "/").map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
        let gateway = self.gateway
        router.on(RouterPath(stringLiteral: "/" + hummingbirdPath), method: operation.method) { request, context in
            var context = context
            if case .role(let role) = operation.access {
                let principal = try await gateway.authenticate(request, context: context, minimum: role)
                context.principal = principal
                // The organization's id (not its name) and the role: who a trace belongs to.
                context.span?.attributes["ats.org"] = principal.organizationID
            }
            return try await operation.handler(request, context)
        }
    }
}
