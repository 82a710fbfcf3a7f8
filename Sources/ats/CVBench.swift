import ATSApp
import ArgumentParser
import Foundation

/// `ats cv-bench`: documents per second through CV extraction and parsing, on demo CVs
/// (half PDF, half DOCX) in a fresh data folder. Prints `cv-bench <name> <value>` lines.
struct CVBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cv-bench", abstract: "Measure CV extraction and parsing on generated demo CVs.", shouldDisplay: false)

    @OptionGroup var common: CommonOptions
    @Option(help: "CVs (one per demo candidate, at most 200).") var count: Int = 200

    func run() async throws {
        guard (1...200).contains(count) else { throw ValidationError("--count must be from 1 to 200") }
        let result = try await CVBenchmark.run(try common.resolve(), count: count, logger: commandLogger())
        for (format, rate) in result.parsePerSecond.sorted(by: { $0.key < $1.key }) {
            print("cv-bench parse_\(format)_per_second \(String(format: "%.1f", rate))")
        }
        print("cv-bench job_per_second \(String(format: "%.1f", result.jobsPerSecond))")
        print("cv-bench documents \(result.documents)")
    }
}
