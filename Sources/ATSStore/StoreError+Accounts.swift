import ATSDomain

/// The account rule every store keeps inside the write that would break it: an organization
/// always has an active admin (an enabled user with the admin role). Without one nobody can
/// manage its users or keys again: a lock-out only the operator's CLI could undo.
extension StoreError {
    static let lastAdminMessage =
        "an organization must keep at least one active admin: make another user admin first"

    /// The `.conflict` of a change or deletion that would leave no active admin; `field` names
    /// what the request changed (`role`, `disabled`, or nothing for a deletion).
    public static func lastAdmin(field: String?) -> StoreError {
        StoreError(
            .conflict, lastAdminMessage,
            fieldErrors: field.map { [FieldError($0, "would leave the organization without an active admin")] } ?? [])
    }

    /// Whether this is the refusal of `lastAdmin(field:)`.
    public var isLastAdmin: Bool { code == .conflict && message == Self.lastAdminMessage }
}
