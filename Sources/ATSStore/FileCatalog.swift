import ATSDomain

/// An access key of the S3-compatible endpoint: the id and its secret (SigV4 needs the secret
/// itself, so it is kept, not hashed). `internal` keys sign the API's own presigned links.
public struct S3Key: Sendable, Hashable {
    public let accessKeyID: String
    public let organizationID: String
    public let secret: String
    public let isInternal: Bool
    public let label: String?
    public let createdAt: String
    public let revokedAt: String?

    public init(
        accessKeyID: String, organizationID: String, secret: String, isInternal: Bool, label: String?, createdAt: String,
        revokedAt: String?
    ) {
        self.accessKeyID = accessKeyID
        self.organizationID = organizationID
        self.secret = secret
        self.isInternal = isInternal
        self.label = label
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// One object of an organization's bucket: a key naming a blob, with what S3 clients read back.
public struct S3Object: Sendable, Hashable {
    public let organizationID: String
    public let key: String
    /// The blob's SHA-256 (hex).
    public let blob: String
    public let size: Int64
    /// The MD5 of the content (hex): the object's ETag.
    public let md5: String
    /// The type the uploader declared (S3 returns it as is); the blob keeps the sniffed one.
    public let contentType: String
    public let modifiedAt: String

    public init(organizationID: String, key: String, blob: String, size: Int64, md5: String, contentType: String, modifiedAt: String) {
        self.organizationID = organizationID
        self.key = key
        self.blob = blob
        self.size = size
        self.md5 = md5
        self.contentType = contentType
        self.modifiedAt = modifiedAt
    }
}

/// A presigned upload handed out by the API and not yet used: what the PUT will become.
public struct PendingUpload: Sendable, Hashable {
    public let id: String
    public let organizationID: String
    public let candidateID: String
    public let kind: String
    public let filename: String
    public let actor: String
    public let expiresAt: String
    /// The document the upload made, once it completed.
    public let documentID: String?

    public init(
        id: String, organizationID: String, candidateID: String, kind: String, filename: String, actor: String, expiresAt: String,
        documentID: String?
    ) {
        self.id = id
        self.organizationID = organizationID
        self.candidateID = candidateID
        self.kind = kind
        self.filename = filename
        self.actor = actor
        self.expiresAt = expiresAt
        self.documentID = documentID
    }
}

/// The store's records of the file tier: S3 keys and objects, pending uploads, and which blobs
/// are referenced (the blob garbage collector keeps exactly those). Blobs themselves live in the
/// blob tier; this is the system of record that points at them.
public protocol FileCatalog: Sendable {
    /// A new key with a random id and secret.
    func createS3Key(organizationID: String, isInternal: Bool, label: String?) async throws -> S3Key
    /// The key by id, revoked or not (the caller decides).
    func s3Key(accessKeyID: String) async throws -> S3Key?
    /// The organization's key for the API's own presigned links, made on first use.
    func internalS3Key(organizationID: String) async throws -> S3Key
    func s3Keys(organizationID: String) async throws -> [S3Key]
    func revokeS3Key(organizationID: String, accessKeyID: String) async throws -> Bool

    /// Stores or replaces the object under its key.
    func putS3Object(_ object: S3Object) async throws
    func s3Object(organizationID: String, key: String) async throws -> S3Object?
    /// Whether an object was there.
    func deleteS3Object(organizationID: String, key: String) async throws -> Bool
    /// Objects whose key starts with `prefix` and sorts after `startAfter`, in key order (bytewise).
    func s3Objects(organizationID: String, prefix: String, startAfter: String?, limit: Int) async throws -> [S3Object]

    /// Keeps a blob for an owner (an export, a zip) until `expiresAt` (nil: until removed).
    func addBlobReference(organizationID: String, blob: String, owner: String, expiresAt: String?) async throws
    func removeBlobReferences(organizationID: String, owner: String) async throws
    /// Whether the organization refers to the blob (a document, an object, a live reference):
    /// a presigned link of one tenant never serves another tenant's file.
    func refersToBlob(organizationID: String, blob: String, now: String) async throws -> Bool
    /// Every blob some organization refers to at `now`: what the garbage collector keeps.
    func referencedBlobs(now: String) async throws -> Set<String>

    func createUpload(_ upload: PendingUpload) async throws
    func upload(organizationID: String, id: String) async throws -> PendingUpload?
    /// Takes the upload for one PUT: false when another PUT has it or had it (one upload per link).
    func claimUpload(organizationID: String, id: String) async throws -> Bool
    /// Gives a claimed upload back after a PUT that stored nothing (the link may be used again).
    func releaseUpload(organizationID: String, id: String) async throws
    func completeUpload(organizationID: String, id: String, documentID: String) async throws
    /// Forgets uploads that expired before `now`; returns how many.
    func deleteExpiredUploads(now: String) async throws -> Int
}
