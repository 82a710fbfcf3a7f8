import ATSDomain
import Testing

@Suite("Text and field rules")
struct TextRuleTests {
    @Test func controlCharactersByKindOfText() {
        #expect(TextRules.hasForbiddenControl("Ada\u{0}", multiline: false))
        #expect(TextRules.hasForbiddenControl("Ada\u{0}", multiline: true))
        #expect(TextRules.hasForbiddenControl("A\u{1F}", multiline: true))
        #expect(TextRules.hasForbiddenControl("A\u{7F}", multiline: true))
        #expect(TextRules.hasForbiddenControl("A\tB", multiline: false))
        #expect(!TextRules.hasForbiddenControl("A\tB\nC\r\n", multiline: true))
        #expect(!TextRules.hasForbiddenControl("Zoë Ångström 山田 🙂", multiline: false))
        #expect(TextRules.firstForbiddenControl(in: .object(["a": ["ok", "b\u{0}"]]), path: "filters") == "filters.a[1]")
        #expect(TextRules.firstForbiddenControl(in: .object(["a": "x\ny"]), path: "filters") == nil)
    }

    @Test func schemaRefusesControlCharactersWithTheFieldNamed() throws {
        let schema = EntitySchema.of(.candidate)
        let error = #expect(throws: ValidationError.self) {
            try schema.validateCreate(["firstName": "A\u{0}", "lastName": "L"])
        }
        #expect(error?.errors.map(\.field) == ["firstName"])
        #expect(try schema.validateCreate(["firstName": "A", "lastName": "L", "summary": "a\n\tb"])["summary"] == "a\n\tb")
    }

    @Test func salaryBandsAreNotUpsideDown() throws {
        let job = EntitySchema.of(.job)
        let base: JSONObject = ["clientId": "01J0000000000000000000000A", "title": "T"]
        #expect(throws: ValidationError.self) { try job.validateCreate(base.merging(["salaryMin": 10, "salaryMax": 5]) { $1 }) }
        #expect(try job.validateCreate(base.merging(["salaryMin": 5, "salaryMax": 5]) { $1 })["salaryMin"] == 5)
        let stored = try job.validateCreate(base.merging(["salaryMin": 5, "salaryMax": 10]) { $1 })
        let error = #expect(throws: ValidationError.self) { try job.validatePatch(["salaryMin": 11], onto: stored) }
        #expect(error?.errors == [FieldError("salaryMin", "must not be greater than salaryMax")])
        #expect(try job.validatePatch(["salaryMax": .null, "salaryMin": 11], onto: stored)["salaryMin"] == 11)
    }
}
