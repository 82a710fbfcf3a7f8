import Foundation

/// An opaque list cursor: the sort value and id of the last row of a page.
public struct Cursor: Sendable, Hashable, Codable {
    public let value: String
    public let id: String

    public init(value: String, id: String) {
        self.value = value
        self.id = id
    }

    public var encoded: String {
        let data = (try? JSONCoding.encode(self)) ?? Data()
        return Secrets.base64url(Array(data))
    }

    /// Nil for anything that is not a cursor this server produced.
    public init?(encoded: String) {
        guard encoded.utf8.count <= 512, let data = Secrets.base64urlDecode(encoded),
            let cursor = try? JSONDecoder().decode(Cursor.self, from: data), Identifier.isValid(cursor.id)
        else { return nil }
        self = cursor
    }
}
