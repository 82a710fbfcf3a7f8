import ATSApp
import ATSWork
import ArgumentParser
import Foundation

struct ReindexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Rebuild the search index and the vectors of every organization from the store, with a progress bar.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let configuration = try common.resolve()
        let store = try Appliance.openStore(configuration, logger: commandLogger())
        let search = try Appliance.makeSearch(configuration, store: store, served: store, cache: nil, logger: commandLogger())
        try await rebuild(search)
    }
}

/// Rebuilds with a progress bar on standard error; the summary on standard output.
func rebuild(_ search: SearchService) async throws {
    let started = Date()
    let bar = ProgressBar()
    try await search.reindex { done, total in
        bar.draw(percent: total > 0 ? Double(done) * 100 / Double(total) : 100, detail: "\(done)/\(total) indexed")
    }
    bar.finish()
    let seconds = Date().timeIntervalSince(started)
    print("Search index rebuilt in \(String(format: "%.1f", seconds)) s.")
}

/// A one-line bar on standard error: redrawn in place on a terminal, otherwise a line at each
/// tenth, so a log file gets ten lines rather than thousands.
final class ProgressBar: @unchecked Sendable {
    let lock = NSLock()
    let terminal = isatty(2) == 1
    var drawn = false
    var lastTenth = -1

    func draw(percent: Double, detail: String) {
        lock.lock()
        defer { lock.unlock() }
        let width = 30
        let clamped = min(100, max(0, percent))
        let filled = Int(clamped / 100 * Double(width))
        let line = "[\(String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled))] \(Int(clamped))%  \(detail)"
        if terminal {
            FileHandle.standardError.write(Data("\r\(line)".utf8))
            drawn = true
        } else if Int(clamped) / 10 != lastTenth {
            lastTenth = Int(clamped) / 10
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
