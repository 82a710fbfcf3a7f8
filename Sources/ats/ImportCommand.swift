import ATSApp
import ATSDomain
import ATSStore
import ATSWork
import ArgumentParser
import Foundation

/// `ats import candidates FILE --org SLUG`: the CSV import without the queue, with a progress
/// bar on stderr and the summary on stdout.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import data from files.", subcommands: [Candidates.self])

    struct Candidates: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import candidates from a CSV file (UTF-8, header row first; duplicates by email or phone are reported, not created).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The CSV file.") var file: String
        @Option(help: "The organization's slug.") var org: String
        @Option(help: "Column mapping as JSON: {\"CSV header\": \"candidateField\" or null to skip}. Default: by header name.")
        var mapping: String?
        @Option(help: "Rows imported at most; the rest are reported as skipped.") var maxRows: Int = ImportOptions().maxRows
        @Option(help: "Row problems listed at most.") var maxErrors: Int = 50

        func run() async throws {
            let explicit: [String: String?]
            do {
                let value = try mapping.map { raw -> JSONValue in
                    guard let value = try? JSONText.parse(Array(raw.utf8)) else { throw ImportError("--mapping is not valid JSON") }
                    return value
                }
                explicit = try CandidateImport.parseMapping(value)
            } catch let error as ImportError {
                throw ArgumentParser.ValidationError(error.message)
            }
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw ArgumentParser.ValidationError("cannot read \(file)")
            }
            let store = try Appliance.openStore(try common.resolve(), logger: commandLogger())
            guard let organization = try await store.organization(slug: org) else {
                throw ArgumentParser.ValidationError("no organization \(org)")
            }
            let bar = ProgressBar()
            let summary: ImportSummary
            do {
                summary = try await CandidateImport.run(
                    path: file, organizationID: organization.id, store: store, actor: "cli:import", mapping: explicit,
                    options: ImportOptions(maxRows: maxRows)
                ) { state in
                    let s = state.summary
                    bar.draw(percent: state.percent, detail: "\(s.imported) imported, \(s.duplicates) duplicates, \(s.invalid) invalid")
                    return true
                }
            } catch let error as ImportError {
                bar.finish()
                throw ArgumentParser.ValidationError(error.message)
            }
            bar.finish()
            print(Self.report(summary, maxErrors: maxErrors))
        }

        static func report(_ summary: ImportSummary, maxErrors: Int) -> String {
            var lines = [
                "Rows: \(summary.rows)  imported: \(summary.imported)  duplicates: \(summary.duplicates)  invalid: \(summary.invalid)"
                    + (summary.skipped > 0 ? "  skipped (over the row limit): \(summary.skipped)" : "")
            ]
            if !summary.ignoredColumns.isEmpty {
                lines.append("Ignored columns: \(summary.ignoredColumns.joined(separator: ", "))")
            }
            for error in summary.errors.prefix(maxErrors) {
                var line = "  row \(error.row) (line \(error.line)): \(error.kind.rawValue)"
                if let field = error.field { line += " \(field)" }
                line += ": \(error.message)"
                if let existing = error.existingID { line += " (existing \(existing))" }
                lines.append(line)
            }
            let hidden = summary.errors.count - min(summary.errors.count, maxErrors)
            if hidden > 0 || summary.errorsTruncated { lines.append("  ... more problems not listed") }
            return lines.joined(separator: "\n")
        }
    }
}
