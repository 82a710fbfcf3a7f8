import ATSDomain
import ATSJobs
import ATSStore
import Foundation

/// Limits of one candidate import.
public struct ImportOptions: Sendable, Hashable {
    /// Data rows processed; the rest of the file is counted as `skipped`.
    public var maxRows: Int
    /// Rows written per store transaction.
    public var batchSize: Int
    /// Problems kept in the report (the counts stay exact).
    public var maxReportedErrors: Int
    /// Longest record, in bytes.
    public var maxRecordBytes: Int

    public init(maxRows: Int = 100_000, batchSize: Int = 500, maxReportedErrors: Int = 1000, maxRecordBytes: Int = 1 << 20) {
        self.maxRows = max(0, maxRows)
        self.batchSize = max(1, batchSize)
        self.maxReportedErrors = max(0, maxReportedErrors)
        self.maxRecordBytes = max(1024, maxRecordBytes)
    }

    /// Largest CSV upload the API accepts.
    public static let maxUploadBytes = 200 * 1024 * 1024
}

/// One problem with one row of an import.
public struct ImportRowError: Sendable, Hashable {
    public enum Kind: String, Sendable { case invalid, duplicate }
    /// The record number, the header being row 1 (what a spreadsheet shows when no cell spans lines).
    public var row: Int
    /// The physical line the record starts on.
    public var line: Int
    public var kind: Kind
    public var field: String?
    public var message: String
    public var existingID: String?

    public var json: JSONValue {
        var object: JSONObject = [
            "row": .int(Int64(row)), "line": .int(Int64(line)), "type": .string(kind.rawValue), "message": .string(message),
        ]
        object["field"] = field.map(JSONValue.string) ?? .null
        if let existingID { object["existingId"] = .string(existingID) }
        return .object(object)
    }
}

/// What an import did.
public struct ImportSummary: Sendable, Hashable {
    /// Data rows read (processed or not).
    public var rows = 0
    public var imported = 0
    public var duplicates = 0
    public var invalid = 0
    /// Rows past `maxRows`.
    public var skipped = 0
    public var errors: [ImportRowError] = []
    /// More problems happened than `errors` holds.
    public var errorsTruncated = false
    /// Header -> candidate field.
    public var mapping: [String: String] = [:]
    /// Headers no field took.
    public var ignoredColumns: [String] = []

    public init() {}

    public var json: JSONObject {
        [
            "rows": .int(Int64(rows)), "imported": .int(Int64(imported)), "duplicates": .int(Int64(duplicates)),
            "invalid": .int(Int64(invalid)), "skipped": .int(Int64(skipped)), "errors": .array(errors.map(\.json)),
            "errorsTruncated": .bool(errorsTruncated), "mapping": .object(mapping.mapValues(JSONValue.string)),
            "ignoredColumns": .array(ignoredColumns.map(JSONValue.string)),
        ]
    }
}

/// Progress of a running import.
public struct ImportProgress: Sendable, Hashable {
    public var bytesRead: Int
    public var totalBytes: Int
    public var summary: ImportSummary

    public var percent: Double { totalBytes > 0 ? min(100, Double(bytesRead) * 100 / Double(totalBytes)) : 0 }
}

/// An import that cannot start or go on: a bad mapping, a file that is not UTF-8 ...
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which CSV column fills which candidate field.
public struct CandidateColumnMapping: Sendable, Hashable {
    /// Column index -> field path (`email`, `preferences.salaryMin`).
    public let columns: [Int: String]
    public let headers: [String]

    /// Fields a column can fill: top-level fields that are not lists of objects, and
    /// `preferences.<field>`.
    public static let targets: [String: FieldType] = {
        var targets: [String: FieldType] = [:]
        for field in EntitySchema.of(.candidate).fields where !field.readOnly {
            switch field.type {
            case .object(let nested):
                for child in nested { targets["\(field.name).\(child.name)"] = child.type }
            case .array(.object, _), .freeform:
                continue
            default:
                targets[field.name] = field.type
            }
        }
        return targets
    }()

    /// Header spellings recruiters' spreadsheets use, by squashed form (lower-case letters and digits).
    static let synonyms: [String: String] = [
        "first": "firstName", "firstname": "firstName", "givenname": "firstName", "forename": "firstName", "prenom": "firstName",
        "vorname": "firstName",
        "last": "lastName", "lastname": "lastName", "surname": "lastName", "familyname": "lastName", "nom": "lastName",
        "nachname": "lastName",
        "emailaddress": "email", "mail": "email", "email": "email", "email1": "email",
        "phonenumber": "phone", "mobile": "phone", "mobilephone": "phone", "telephone": "phone", "tel": "phone", "cell": "phone",
        "title": "currentTitle", "jobtitle": "currentTitle", "position": "currentTitle", "currenttitle": "currentTitle",
        "headline": "professionalHeadline",
        "location": "currentLocation", "city": "currentLocation", "currentlocation": "currentLocation",
        "skills": "technicalSkills", "languages": "spokenLanguages", "yearsofexperience": "experienceYears",
        "experience": "experienceYears", "years": "experienceYears", "tag": "tags", "owner": "ownerId",
    ]

    static func squash(_ text: String) -> String {
        String(text.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }

    /// Builds the mapping: `explicit` (header -> field, or null to ignore a column) first, then
    /// every other header by case-insensitive name (`First name`, `first_name`, `firstName`).
    public init(headers: [String], explicit: [String: String?] = [:]) throws(ImportError) {
        self.headers = headers
        var problems: [String] = []
        let byField = Dictionary(Self.targets.keys.map { (Self.squash($0), $0) }, uniquingKeysWith: { first, _ in first })
        var columns: [Int: String] = [:]
        for (header, target) in explicit {
            let indices = headers.indices.filter { headers[$0] == header || headers[$0].lowercased() == header.lowercased() }
            if indices.isEmpty { problems.append("the mapping names a column `\(header)` the file does not have") }
            if let target, Self.targets[target] == nil {
                problems.append("`\(target)` (for column `\(header)`) is not a candidate field a column can fill")
            }
        }
        for (index, header) in headers.enumerated() {
            let explicitTarget = explicit.first { $0.key == header } ?? explicit.first { $0.key.lowercased() == header.lowercased() }
            if let explicitTarget {
                if let target = explicitTarget.value, Self.targets[target] != nil { columns[index] = target }
                continue
            }
            let key = Self.squash(header)
            if let target = byField[key] ?? Self.synonyms[key] ?? (key.hasPrefix("preferences") ? byField[key] : nil) {
                columns[index] = target
            }
        }
        var seen: [String: Int] = [:]
        for index in columns.keys.sorted() {
            let target = columns[index]!
            if let first = seen[target] {
                problems.append("columns `\(headers[first])` and `\(headers[index])` both map to \(target)")
            } else {
                seen[target] = index
            }
        }
        for required in ["firstName", "lastName"] where seen[required] == nil {
            problems.append("no column maps to \(required) (name one `\(required)` or pass a mapping)")
        }
        if !problems.isEmpty { throw ImportError("bad column mapping: " + problems.joined(separator: "; ")) }
        self.columns = columns
    }

    public var mapped: [String: String] {
        Dictionary(columns.map { (headers[$0.key], $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    public var ignored: [String] { headers.indices.filter { columns[$0] == nil }.map { headers[$0] } }

    /// A row's cells as a candidate create body (to validate with the schema).
    public func fields(_ cells: [String]) -> JSONObject {
        var output: JSONObject = [:]
        var preferences: JSONObject = [:]
        for (index, target) in columns where index < cells.count {
            let text = cells[index].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty, let type = Self.targets[target] else { continue }
            let value = Self.value(text, as: type)
            if target.hasPrefix("preferences.") {
                preferences[String(target.dropFirst(12))] = value
            } else {
                output[target] = value
            }
        }
        if !preferences.isEmpty { output["preferences"] = .object(preferences) }
        return output
    }

    /// Text to the JSON the schema expects; what cannot convert stays text, so validation names the field.
    static func value(_ text: String, as type: FieldType) -> JSONValue {
        switch type {
        case .integer:
            if let number = Int64(text) { return .int(number) }
            if let number = Double(text), number.rounded() == number, abs(number) < 9e15 { return .int(Int64(number)) }
            return .string(text)
        case .number:
            return Double(text).map(JSONValue.double) ?? .string(text)
        case .boolean:
            switch text.lowercased() {
            case "true", "yes", "y", "1", "x", "oui", "ja": return .bool(true)
            case "false", "no", "n", "0", "non", "nein": return .bool(false)
            default: return .string(text)
            }
        case .enumeration(let allowed):
            if allowed.contains(text) { return .string(text) }
            let snake = text.lowercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
            return .string(allowed.contains(snake) ? snake : text)
        case .array(let element, _):
            let parts = text.split(whereSeparator: { $0 == ";" || $0 == "," || $0 == "|" || $0 == "\n" })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return .array(parts.map { value($0, as: element) })
        default:
            return .string(text)
        }
    }
}

/// CSV import of candidates: streamed in chunks, validated per row with the candidate schema,
/// written in batches (duplicates by email or phone reported with the existing id), with a
/// capped per-row report. Used by the `import.candidates` job and by `ats import candidates`.
public enum CandidateImport {
    /// Imports the file at `path` into the organization. `progress` is called after each
    /// batch; returning false stops the import (cancellation), as does task cancellation.
    public static func run(
        path: String, organizationID: String, store: any Store, actor: String, mapping explicit: [String: String?] = [:],
        options: ImportOptions = ImportOptions(), progress: @Sendable (ImportProgress) async -> Bool = { _ in true }
    ) async throws -> ImportSummary {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ImportError("cannot open \(path)") }
        defer { try? handle.close() }
        let totalBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let reader = CSVReader(fileHandle: handle, maxRecordBytes: options.maxRecordBytes)
        return try await run(
            reader: reader, totalBytes: totalBytes, organizationID: organizationID, store: store, actor: actor, mapping: explicit,
            options: options, progress: progress)
    }

    public static func run(
        reader: CSVReader, totalBytes: Int, organizationID: String, store: any Store, actor: String,
        mapping explicit: [String: String?] = [:], options: ImportOptions = ImportOptions(),
        progress: @Sendable (ImportProgress) async -> Bool = { _ in true }
    ) async throws -> ImportSummary {
        let schema = EntitySchema.of(.candidate)
        var summary = ImportSummary()
        let header: CSVRecord
        do {
            guard let first = try reader.next() else { throw ImportError("the file is empty: it needs a header row") }
            header = first
        } catch let error as CSVError {
            throw ImportError(error.message)
        }
        guard !header.hasInvalidUTF8 else {
            throw ImportError("the header row is not valid UTF-8: save the file as CSV UTF-8")
        }
        let headers = header.fields.map { ($0 ?? "").trimmingCharacters(in: .whitespaces) }
        let mapping = try CandidateColumnMapping(headers: headers, explicit: explicit)
        summary.mapping = mapping.mapped
        summary.ignoredColumns = mapping.ignored
        let sourceMapped = mapping.columns.values.contains("source")

        func report(_ error: ImportRowError) {
            if summary.errors.count < options.maxReportedErrors { summary.errors.append(error) } else { summary.errorsTruncated = true }
        }

        var batch: [(row: Int, line: Int, fields: JSONObject)] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let results = try await store.createMany(
                .candidate, organizationID: organizationID, fields: batch.map(\.fields), actor: actor, options: WriteOptions())
            for (item, result) in zip(batch, results) {
                switch result {
                case .success:
                    summary.imported += 1
                case .failure(let error) where error.code == .duplicate:
                    summary.duplicates += 1
                    report(
                        ImportRowError(
                            row: item.row, line: item.line, kind: .duplicate, field: nil,
                            message: "a candidate with the same email or phone exists", existingID: error.existingID))
                case .failure(let error):
                    summary.invalid += 1
                    if error.fieldErrors.isEmpty {
                        report(ImportRowError(row: item.row, line: item.line, kind: .invalid, field: nil, message: error.message))
                    }
                    for fieldError in error.fieldErrors {
                        report(
                            ImportRowError(row: item.row, line: item.line, kind: .invalid, field: fieldError.field, message: fieldError.message))
                    }
                }
            }
            batch.removeAll(keepingCapacity: true)
            let state = ImportProgress(bytesRead: reader.bytesRead, totalBytes: totalBytes, summary: summary)
            guard await progress(state) else { throw CancellationError() }
            try Task.checkCancellation()
        }

        var row = 1
        while true {
            let record: CSVRecord?
            do {
                record = try reader.next()
            } catch let error as CSVError {
                try await flush()
                throw ImportError(error.message)
            }
            guard let record else { break }
            row += 1
            summary.rows += 1
            if summary.rows > options.maxRows {
                summary.skipped += 1
                if summary.skipped % 50_000 == 0 { try Task.checkCancellation() }
                continue
            }
            func invalid(_ field: String?, _ message: String) {
                report(ImportRowError(row: row, line: record.line, kind: .invalid, field: field, message: message))
            }
            if record.unterminatedQuote {
                summary.invalid += 1
                invalid(nil, "a quoted cell is not closed before the end of the file")
                continue
            }
            if record.hasInvalidUTF8 {
                summary.invalid += 1
                let columns = record.fields.indices.filter { record.fields[$0] == nil }
                    .map { $0 < headers.count ? headers[$0] : "column \($0 + 1)" }
                invalid(columns.first, "is not valid UTF-8 text (save the file as CSV UTF-8)")
                continue
            }
            if record.fields.count != headers.count {
                summary.invalid += 1
                invalid(nil, "has \(record.fields.count) cells; the header has \(headers.count)")
                continue
            }
            var input = mapping.fields(record.fields.map { $0 ?? "" })
            if !sourceMapped, input["source"] == nil { input["source"] = .string("csv-import") }
            do {
                let fields = try schema.validateCreate(input)
                batch.append((row, record.line, fields))
            } catch {
                summary.invalid += 1
                for fieldError in error.errors { invalid(fieldError.field, fieldError.message) }
            }
            if batch.count >= options.batchSize { try await flush() }
        }
        try await flush()
        _ = await progress(ImportProgress(bytesRead: totalBytes, totalBytes: totalBytes, summary: summary))
        return summary
    }

    /// Reads an explicit mapping: a JSON object of header -> field name (or null to skip the column).
    public static func parseMapping(_ value: JSONValue?) throws(ImportError) -> [String: String?] {
        guard let value, !value.isNull else { return [:] }
        guard let object = value.objectValue else { throw ImportError("the mapping must be a JSON object of column -> field") }
        var mapping: [String: String?] = [:]
        var problems: [String] = []
        for (header, target) in object {
            switch target {
            case .null: mapping[header] = .some(nil)
            case .string(let field):
                if CandidateColumnMapping.targets[field] == nil {
                    problems.append("`\(field)` (for column `\(header)`) is not a candidate field a column can fill")
                }
                mapping[header] = field
            default: problems.append("the target of `\(header)` must be a field name or null")
            }
        }
        if !problems.isEmpty { throw ImportError("bad column mapping: " + problems.joined(separator: "; ")) }
        return mapping
    }
}

/// Runs `import.candidates` jobs: payload `{organizationId, path, mapping, actor}`. The uploaded
/// file is removed once the import finished.
struct CandidateImportHandler: JobHandler {
    let dependencies: WorkDependencies
    var type: String { CandidateImportJob.type }

    func run(_ job: Job, context: JobContext) async throws -> JSONObject? {
        guard let organizationID = job.payload["organizationId"]?.stringValue ?? job.organizationID,
            let path = job.payload["path"]?.stringValue
        else { throw JobFailure.permanent("bad import payload: organizationId and path are required") }
        let mapping: [String: String?]
        do {
            mapping = try CandidateImport.parseMapping(job.payload["mapping"])
        } catch {
            throw JobFailure.permanent(error.message)
        }
        guard FileManager.default.fileExists(atPath: path) else { throw JobFailure.permanent("the uploaded file is gone") }
        let actor = job.payload["actor"]?.stringValue ?? "job:\(job.id)"
        var options = ImportOptions()
        if let limit = job.payload["maxRows"]?.intValue { options.maxRows = Int(max(0, limit)) }
        let summary: ImportSummary
        do {
            summary = try await CandidateImport.run(
                path: path, organizationID: organizationID, store: dependencies.store, actor: actor, mapping: mapping, options: options
            ) { state in
                await context.progress(
                    state.percent, "\(state.summary.imported) imported, \(state.summary.duplicates) duplicates, \(state.summary.invalid) invalid")
            }
        } catch let error as ImportError {
            try? FileManager.default.removeItem(atPath: path)
            throw JobFailure.permanent(error.message)
        }
        try? FileManager.default.removeItem(atPath: path)
        return summary.json
    }
}

/// The `import.candidates` job and where its uploads wait.
public enum CandidateImportJob {
    public static let type = "import.candidates"

    /// `<data>/imports/<organization id>`: uploads wait here until their job ran.
    public static func uploadFolder(dataDirectory: String, organizationID: String) -> String {
        "\(dataDirectory)/imports/\(organizationID)"
    }

    /// One attempt only: a retry would meet its own rows as duplicates.
    public static func jobRequest(
        organizationID: String, path: String, mapping: [String: String?], actor: String, maxRows: Int? = nil
    ) -> JobRequest {
        var payload: JSONObject = [
            "organizationId": .string(organizationID), "path": .string(path), "actor": .string(actor),
            "mapping": .object(mapping.mapValues { $0.map(JSONValue.string) ?? .null }),
        ]
        if let maxRows { payload["maxRows"] = .int(Int64(maxRows)) }
        return JobRequest(
            queue: JobQueues.imports, type: type, payload: payload, maxAttempts: 1, timeout: .seconds(3600),
            organizationID: organizationID)
    }
}
