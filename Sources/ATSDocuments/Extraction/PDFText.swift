import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PDF text through poppler's `pdftotext`, run as a child process on a private temporary copy.
///
/// The child gets its own process group, a minimal environment (`LC_ALL=C`, so its messages are the ones we
/// match), a 1 GiB address-space limit and a 32 MiB file-size limit (a garbage PDF makes poppler print one
/// line per bad byte), and is killed (SIGKILL to the group) when the timeout passes or the
/// calling task is cancelled. Its output goes to a file, not a pipe, so a chatty child can never block on a
/// full pipe, and we read back at most what the text limit needs.
enum PDFText {
    static func extract(_ bytes: [UInt8], limits: ExtractionLimits) async throws(DocumentError) -> String {
        guard bytes.prefix(1024).firstRange(of: Array("%PDF-".utf8)) != nil else {
            throw DocumentError(.malformed, "The file is not a PDF.")
        }
        guard let tool = locate(limits.pdftotext) else {
            throw DocumentError(.toolMissing, "PDF text extraction is not available: poppler's pdftotext is not installed.")
        }
        let directory = try TemporaryDirectory(in: limits.temporaryDirectory)
        defer { directory.remove() }
        let input = directory.path + "/input.pdf", output = directory.path + "/output.txt", errors = directory.path + "/errors.txt"
        try write(bytes, to: input)
        let arguments = [
            "/bin/sh", "-c", "ulimit -v 1048576 2>/dev/null; ulimit -f 65536 2>/dev/null; exec \"$0\" \"$@\"",
            tool, "-enc", "UTF-8", "-eol", "unix", "-l", String(max(1, limits.maxPages)), input, output,
        ]
        let status = try await ChildProcess.run(arguments, stderrPath: errors, timeout: limits.timeout)
        let stderr = String(decoding: readPrefix(errors, max: 4096), as: UTF8.self)
        switch status {
        case 0:
            break
        case 3:
            throw DocumentError(.encrypted, "The PDF does not allow its text to be copied.")
        default:
            throw classify(stderr: stderr)
        }
        let text = readPrefix(output, max: limits.maxTextCharacters * 4 + 4096)
        return String(decoding: text, as: UTF8.self)
    }

    /// The error a failed run means, from what poppler printed.
    static func classify(stderr: String) -> DocumentError {
        let lower = stderr.lowercased()
        if lower.contains("incorrect password") || lower.contains("encrypt") || lower.contains("password") {
            return DocumentError(.encrypted, "The PDF is password-protected.")
        }
        return DocumentError(.malformed, "The PDF is damaged or not a valid PDF.")
    }

    /// The absolute path of an executable: as given when it has a slash, else the first hit in PATH.
    static func locate(_ tool: String) -> String? {
        if tool.contains("/") { return access(tool, X_OK) == 0 ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/local/bin"] {
            let candidate = "\(directory)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static func write(_ bytes: [UInt8], to path: String) throws(DocumentError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DocumentError(.io, "A temporary file for the PDF cannot be created.") }
        defer { posixClose(descriptor) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { posixWrite(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { throw DocumentError(.io, "Writing a temporary copy of the PDF failed.") }
            written += result
        }
    }

    /// At most `max` bytes from the start of a file (empty when it does not exist).
    static func readPrefix(_ path: String, max: Int) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { posixClose(descriptor) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while result.count < max {
            let wanted = min(buffer.count, max - result.count)
            let count = buffer.withUnsafeMutableBytes { posixRead(descriptor, $0.baseAddress!, wanted) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            result += buffer[0..<count]
        }
        return result
    }
}

/// A private (0700) folder under the system temporary directory, removed by the caller.
struct TemporaryDirectory {
    let path: String

    init(in parent: String?) throws(DocumentError) {
        let base = parent ?? ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/ats-document-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DocumentError(.io, "A temporary folder for the extraction cannot be created.")
        }
        path = String(cString: created)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A child process with a deadline, spawned with posix_spawn and reaped with waitpid on its own pid only.
enum ChildProcess {
    /// Runs `arguments` (argv[0] an absolute path) with stdin and stdout on /dev/null and stderr to a file;
    /// returns the exit status, or throws `timeout` after killing the process group.
    static func run(_ arguments: [String], stderrPath: String, timeout: Duration) async throws(DocumentError) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let environmentStrings: [String] = ["PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "LANG=C", "HOME=/tmp"]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let environment: [UnsafeMutablePointer<CChar>?] = environmentStrings.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in environment { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0]!, &actions, &attributes, argv, environment)
        guard spawned == 0 else {
            throw DocumentError(.toolMissing, "The PDF text extractor could not be started.")
        }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while true {
            // The deadline first: a result that arrives after it counts as late, which keeps short limits exact.
            if clock.now >= deadline || Task.isCancelled {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                var ignored: Int32 = 0
                while waitpid(pid, &ignored, 0) < 0, errno == EINTR {}
                throw DocumentError(.timeout, Task.isCancelled
                    ? "The text extraction was cancelled."
                    : "Reading the PDF took longer than \(describe(timeout)) and was stopped.")
            }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                // WIFEXITED / WEXITSTATUS are macros Swift does not import.
                if status & 0x7F == 0 { return (status >> 8) & 0xFF }
                throw DocumentError(.malformed, "The PDF text extractor crashed on this file; the PDF is probably damaged.")
            }
            if result < 0, errno != EINTR {
                throw DocumentError(.io, "The PDF text extractor's status was lost.")
            }
            try? await Task.sleep(for: max(.zero, min(pause, deadline - clock.now)))
            pause = min(pause * 2, .milliseconds(25))
        }
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds >= 1 { return seconds == 1 ? "1 second" : "\(seconds) seconds" }
        return "\(duration.components.attoseconds / 1_000_000_000_000_000) ms"
    }
}
