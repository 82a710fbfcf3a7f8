import ATSDomain
import Foundation
import Testing

@Suite("Identifiers and times")
struct IdentifierTests {
    @Test("ULIDs are valid, unique and sort by time")
    func ulids() {
        let early = Identifier.make(at: Date(timeIntervalSince1970: 1_700_000_000))
        let late = Identifier.make(at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(Identifier.isValid(early) && Identifier.isValid(late))
        #expect(early < late)
        #expect(Set((0..<1000).map { _ in Identifier.make() }).count == 1000)
        #expect(Identifier.canonical(early.lowercased()) == early)
        for bad in ["", "short", String(repeating: "Z", count: 26), "01ARZ3NDEKTSV4RRFFQ69G5FAU", "01ARZ3NDEKTSV4RRFFQ69G5FA!"] {
            #expect(!Identifier.isValid(bad), "\(bad)")
        }
    }

    @Test("RFC 3339 times parse with offsets and print in canonical UTC")
    func timestamps() {
        #expect(Timestamp.canonical("2026-11-29T17:12:20Z") == "2026-11-29T17:12:20.000Z")
        #expect(Timestamp.canonical("2026-11-29T18:12:20.5+01:00") == "2026-11-29T17:12:20.500Z")
        #expect(Timestamp.canonical("2026-02-30T00:00:00Z") == nil, "a day that does not exist")
        for bad in ["yesterday", "2026-11-29", "2026-11-29T25:00:00Z", "2026-11-29T10:00:00", "2026-11-29T10:00:00+1:00"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
        #expect(Timestamp.isDay("2024-02-29") && !Timestamp.isDay("2023-02-29"))
        #expect(Timestamp.canonical("1969-12-31T23:59:59.5Z") == "1969-12-31T23:59:59.500Z")
        #expect(Timestamp.canonical("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00.000Z")
        #expect(Timestamp.canonical("0390-01-09T22:32:03.32-07:34") == "0390-01-10T06:06:03.320Z")
        let now = Date(timeIntervalSince1970: 1_764_436_340.123)
        #expect(Timestamp.parse(Timestamp.format(now))!.timeIntervalSince1970 == 1_764_436_340.123)
    }
}

@Suite("Normalization for duplicate detection")
struct NormalizeTests {
    @Test("Emails compare without case, and Gmail without dots or tags")
    func emails() {
        #expect(Normalize.email(" Jane.Doe@Example.COM ") == "jane.doe@example.com")
        #expect(Normalize.email("jane.doe+cv@gmail.com") == Normalize.email("JaneDoe@googlemail.com"))
        #expect(Normalize.isEmail("a@b.co") && !Normalize.isEmail("a@b") && !Normalize.isEmail("a b@c.de") && !Normalize.isEmail("@c.de"))
    }

    @Test("Phones compare by their last nine digits")
    func phones() {
        #expect(Normalize.phone("+41 79 123 45 67") == Normalize.phone("079 123 45 67"))
        #expect(Normalize.phone("(555) 010-9999") == "5550109999".suffix(9))
        #expect(Normalize.isPhone("+33 6 12 34 56 78") && !Normalize.isPhone("call me") && !Normalize.isPhone("12"))
    }
}

@Suite("Schema validation")
struct ValidationTests {
    let candidate = EntitySchema.of(.candidate)

    @Test("A create applies defaults and normalizes values")
    func create() throws {
        let fields = try candidate.validateCreate([
            "firstName": " Ada ", "lastName": "Lovelace", "gdprConsentDate": "2026-01-01T01:00:00+01:00",
            "technicalSkills": ["Swift", "Swift", " ", "SQL"], "ownerId": .string(Identifier.make().lowercased()),
        ])
        #expect(fields["firstName"] == "Ada")
        #expect(fields["status"] == "new")
        #expect(fields["archived"] == false)
        #expect(fields["gdprConsentDate"] == "2026-01-01T00:00:00.000Z")
        #expect(fields["technicalSkills"] == ["Swift", "SQL"])
        #expect(fields["ownerId"]?.stringValue == fields["ownerId"]?.stringValue?.uppercased())
    }

    @Test("Every problem is reported at once, with its field path")
    func errors() {
        do {
            _ = try candidate.validateCreate([
                "firstName": 1, "experienceYears": 200, "preferences": .object(["remote": "mars", "bogus": 1]),
                "education": [.object(["startYear": "x"])], "id": "x",
            ])
            Issue.record("expected a validation error")
        } catch {
            let fields = Set(error.errors.map(\.field))
            #expect(fields == ["firstName", "lastName", "experienceYears", "preferences.remote", "preferences.bogus", "education[0].startYear", "id"])
        }
    }

    @Test("A merge patch removes with null, merges nested objects and keeps read-only fields")
    func patch() throws {
        let existing: JSONObject = [
            "firstName": "Ada", "lastName": "L", "tags": ["a"], "preferences": .object(["remote": "hybrid", "salaryMin": 10]),
        ]
        let patched = try candidate.validatePatch(["tags": .null, "preferences": .object(["salaryMin": .null, "willingToRelocate": true])], onto: existing)
        #expect(patched["tags"] == nil)
        #expect(patched["preferences"] == .object(["remote": "hybrid", "willingToRelocate": true]))
        #expect(throws: ValidationError.self) { try candidate.validatePatch(["lastName": .null], onto: existing) }
        #expect(throws: ValidationError.self) { try candidate.validatePatch(["nope": 1], onto: existing) }
        let application = EntitySchema.of(.application)
        let kept = try application.validatePatch(["rating": 3], onto: ["candidateId": .string(Identifier.make()), "jobId": .string(Identifier.make()), "stageChangedAt": "2026-01-01T00:00:00.000Z"])
        #expect(kept["stageChangedAt"] == "2026-01-01T00:00:00.000Z")
        #expect(throws: ValidationError.self) { try application.validatePatch(["stageChangedAt": "2026-01-01T00:00:00Z"], onto: kept) }
    }

    @Test("Secrets: tokens are unique, hashes stable, passwords verified")
    func secrets() {
        let token = Secrets.token(prefix: "ats_key_")
        #expect(token.hasPrefix("ats_key_") && token.count > 40)
        #expect(Secrets.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let hash = Secrets.hashPassword("correct horse", cost: 4)
        #expect(Secrets.verifyPassword("correct horse", hash: hash))
        #expect(!Secrets.verifyPassword("wrong horse", hash: hash))
        let cursor = Cursor(value: "2026-01-01T00:00:00.000Z", id: Identifier.make())
        #expect(Cursor(encoded: cursor.encoded) == cursor)
        #expect(Cursor(encoded: "not a cursor") == nil)
    }
}
