import ATSDomain
import ATSStore
import Synchronization

/// Turns a bearer token into a principal. Tokens are looked up by their SHA-256; answers are
/// kept for a few seconds so a busy key costs one hash per request, not one query. Revoking a
/// key, ending a session or changing a user clears the cache at once.
public final class Authenticator: Sendable {
    public static let keyPrefix = "ats_key_"
    public static let sessionPrefix = "ats_ses_"

    struct Entry {
        let principal: Principal
        let expires: ContinuousClock.Instant
    }

    let store: any Store
    let ttl: Duration
    let cache = Mutex<[String: Entry]>([:])
    /// When each key last had its `lastUsedAt` written: at most once a minute.
    let touched = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(store: any Store, ttl: Duration = .seconds(10)) {
        self.store = store
        self.ttl = ttl
    }

    public func principal(token: String) async throws -> Principal? {
        guard token.utf8.count <= 200,
            token.hasPrefix(Self.keyPrefix) || token.hasPrefix(Self.sessionPrefix)
        else { return nil }
        let hash = Secrets.sha256Hex(token)
        let now = ContinuousClock.now
        if let entry = cache.withLock({ $0[hash] }), entry.expires > now {
            await touchIfDue(entry.principal, now: now)
            return entry.principal
        }
        let principal: Principal?
        if token.hasPrefix(Self.keyPrefix) {
            if let (key, organization) = try await store.apiKey(secretHash: hash), key.revokedAt == nil {
                principal = Principal(
                    organizationID: organization.id, organizationSlug: organization.slug, role: key.role,
                    kind: .apiKey(id: key.id))
            } else {
                principal = nil
            }
        } else {
            let nowText = Timestamp.format(.now)
            if let (user, organization) = try await store.session(tokenHash: hash, now: nowText), !user.disabled {
                principal = Principal(
                    organizationID: organization.id, organizationSlug: organization.slug, role: user.role,
                    kind: .user(id: user.id))
            } else {
                principal = nil
            }
        }
        guard let principal else { return nil }
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }
            cache[hash] = Entry(principal: principal, expires: now + ttl)
        }
        await touchIfDue(principal, now: now)
        return principal
    }

    /// Forget every cached answer: after a revocation, logout or user change.
    public func invalidate() {
        cache.withLock { $0.removeAll() }
    }

    func touchIfDue(_ principal: Principal, now: ContinuousClock.Instant) async {
        guard case .apiKey(let id) = principal.kind else { return }
        let due = touched.withLock { touched in
            if let last = touched[id], now - last < .seconds(60) { return false }
            touched[id] = now
            return true
        }
        if due { try? await store.touchAPIKey(id: id, at: Timestamp.format(.now)) }
    }
}
