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
    let bar = IndexProgressBar(label: "indexing")
    try await search.reindex { done, total in bar.update(done, total) }
    bar.finish()
    let seconds = Date().timeIntervalSince(started)
    print("Search index rebuilt in \(String(format: "%.1f", seconds)) s.")
}

/// A one-line progress bar, redrawn at most every 1%.
final class IndexProgressBar: @unchecked Sendable {
    let label: String
    let lock = NSLock()
    var shown = -1
    let terminal = isatty(2) == 1

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        let percent = total > 0 ? done * 100 / total : 100
        lock.lock()
        defer { lock.unlock() }
        guard percent != shown else { return }
        shown = percent
        let width = 30
        let filled = width * percent / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\(label) [\(bar)] \(percent)% (\(done)/\(total))"
        if terminal {
            FileHandle.standardError.write(Data("\r\(line)".utf8))
        } else if percent % 10 == 0 {
            FileHandle.standardError.write(Data("\(line)\n".utf8))
        }
    }

    func finish() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
