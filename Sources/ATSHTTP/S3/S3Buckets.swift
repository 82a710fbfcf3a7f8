import ATSDomain
import ATSStore
import Foundation
import Hummingbird

extension S3Endpoint {
    /// ListObjectsV2 (`list-type=2`) or ListObjects (version 1, `marker`).
    func listObjects(_ scope: S3Scope, version: Int) async throws -> Response {
        let list = try S3ListRequest(query: scope.query, version: version)
        var startAfter = list.startAfter
        var token: String?
        if version == 2, let raw = scope.query["continuation-token"] {
            guard let resume = S3ContinuationToken.decode(raw) else {
                throw S3Error.invalidArgument("The continuation token provided is incorrect", name: "continuation-token")
            }
            token = raw
            startAfter = resume
        }
        let catalog = scope.catalog
        let organizationID = scope.organization.id
        let prefix = list.prefix
        let listing = try await S3Listing.list(
            prefix: prefix, delimiter: list.delimiter, startAfter: startAfter, maxKeys: list.maxKeys
        ) { after, limit in
            try await catalog.s3Objects(organizationID: organizationID, prefix: prefix, startAfter: after, limit: limit)
        }
        let bucket = scope.organization.slug
        if version == 2 {
            let next = listing.resumeAfter.map(S3ContinuationToken.encode)
            return Self.xml(S3XML.listV2(bucket: bucket, request: list, listing: listing, continuationToken: token, nextContinuationToken: next))
        }
        // Version 1 names NextMarker only with a delimiter; clients use the last key otherwise.
        let nextMarker = listing.isTruncated && list.delimiter != nil ? listing.lastEntry : nil
        return Self.xml(S3XML.listV1(bucket: bucket, request: list, listing: listing, nextMarker: nextMarker))
    }

    /// ListBuckets: a key sees its own organization's bucket, and only it.
    func listBuckets(_ caller: S3Caller) async throws -> Response {
        guard let organization = try await gateway.store.organization(id: caller.key.organizationID) else {
            throw S3Error.accessDenied()
        }
        return Self.xml(S3XML.buckets(organization.slug, created: organization.createdAt))
    }
}
