import ATSApp
import ATSStore
import ArgumentParser
import Foundation

/// `ats s3-key create|list|revoke`: access keys of the S3-compatible endpoint (`/s3`, one
/// bucket per organization, named by its slug).
struct S3KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s3-key", abstract: "Access keys of the S3-compatible endpoint (http://HOST:PORT/s3, bucket = organization slug).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an access key; prints `ACCESS_KEY_ID SECRET` on one line (the secret is shown only here).")
        @OptionGroup var common: CommonOptions
        @Option(help: "Organization slug (the bucket the key may use).") var org: String
        @Option(help: "A label to tell keys apart.") var label: String?

        func run() async throws {
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            let organization = try await runAdministration { try await Administration.organization(store, slug: org) }
            let key = try await store.createS3Key(organizationID: organization.id, isInternal: false, label: label)
            print("\(key.accessKeyID) \(key.secret)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an organization's access keys (never their secrets).")
        @OptionGroup var common: CommonOptions
        @Option(help: "Organization slug.") var org: String

        func run() async throws {
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            let organization = try await runAdministration { try await Administration.organization(store, slug: org) }
            let keys = try await store.s3Keys(organizationID: organization.id)
            print(pad("ACCESS KEY ID", 22), pad("STATE", 8), pad("CREATED", 25), "LABEL")
            for key in keys {
                let state = key.revokedAt == nil ? "active" : "revoked"
                let label = key.isInternal ? "(internal: the API's presigned links)" : (key.label ?? "")
                print(pad(key.accessKeyID, 22), pad(state, 8), pad(key.createdAt, 25), label)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an access key: requests signed with it answer 403 from now on.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Organization slug.") var org: String
        @Argument(help: "The access key id.") var id: String

        func run() async throws {
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            let organization = try await runAdministration { try await Administration.organization(store, slug: org) }
            guard try await store.revokeS3Key(organizationID: organization.id, accessKeyID: id) else {
                throw ValidationError("no active access key '\(id)' in '\(org)'")
            }
            print("Revoked access key \(id)")
        }
    }
}
