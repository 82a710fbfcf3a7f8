import Foundation

/// The document formats the text extractor reads.
public enum DocumentFormat: String, Sendable, CaseIterable {
    case pdf, docx, rtf, text

    /// The format of a MIME type (parameters such as `; charset=utf-8` are ignored), or nil when it is not one we read.
    public init?(contentType: String) {
        let essence = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        switch essence.trimmingCharacters(in: .whitespaces).lowercased() {
        case "application/pdf", "application/x-pdf": self = .pdf
        case "application/vnd.openxmlformats-officedocument.wordprocessingml.document": self = .docx
        case "application/rtf", "text/rtf", "application/x-rtf", "text/richtext": self = .rtf
        case "text/plain", "text/markdown", "text/x-markdown": self = .text
        default: return nil
        }
    }

    /// The format a filename's extension suggests; only a hint, since uploaders name files freely.
    public init?(filename: String) {
        guard let dot = filename.lastIndex(of: ".") else { return nil }
        switch filename[filename.index(after: dot)...].lowercased() {
        case "pdf": self = .pdf
        case "docx": self = .docx
        case "rtf": self = .rtf
        case "txt", "text", "md": self = .text
        default: return nil
        }
    }

    /// The canonical MIME type of the format.
    public var contentType: String {
        switch self {
        case .pdf: "application/pdf"
        case .docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case .rtf: "application/rtf"
        case .text: "text/plain; charset=utf-8"
        }
    }
}

/// Bounds on what one extraction may cost, so a hostile upload fails fast instead of exhausting the machine.
public struct ExtractionLimits: Sendable, Hashable {
    /// Larger inputs are refused before any parsing (`tooLarge`).
    public var maxInputBytes: Int
    /// The most bytes a ZIP archive may expand to, summed over its entries (`zipBomb`).
    public var maxUncompressedBytes: Int
    /// The largest expansion ratio a big ZIP entry may declare (`zipBomb`); entries under 1 MiB are exempt.
    public var maxRatio: Int
    /// The most entries a ZIP archive may hold (`zipBomb`).
    public var maxEntries: Int
    /// Longer text is truncated: the Document schema's `extractedText` holds at most this many characters.
    public var maxTextCharacters: Int
    /// How long the PDF tool may run before it is killed (`timeout`).
    public var timeout: Duration
    /// The PDF tool reads at most this many pages (a CV longer than this is not a CV).
    public var maxPages: Int
    /// The `pdftotext` executable: a bare name is looked up in `PATH`.
    public var pdftotext: String
    /// Where the PDF's private temporary copy goes (`TMPDIR` or /tmp when nil); removed after each run.
    public var temporaryDirectory: String?

    /// The defaults suit CVs: 50 MiB in, 64 MiB unzipped, 200:1, 5,000 entries, 200,000 characters out, 30 s.
    public init(
        maxInputBytes: Int = 50 << 20,
        maxUncompressedBytes: Int = 64 << 20,
        maxRatio: Int = 200,
        maxEntries: Int = 5_000,
        maxTextCharacters: Int = 200_000,
        timeout: Duration = .seconds(30),
        maxPages: Int = 100,
        pdftotext: String = "pdftotext",
        temporaryDirectory: String? = nil
    ) {
        self.maxInputBytes = maxInputBytes
        self.maxUncompressedBytes = maxUncompressedBytes
        self.maxRatio = maxRatio
        self.maxEntries = maxEntries
        self.maxTextCharacters = maxTextCharacters
        self.timeout = timeout
        self.maxPages = maxPages
        self.pdftotext = pdftotext
        self.temporaryDirectory = temporaryDirectory
    }
}

/// Why a document could not be read; `reason` is a sentence a recruiter can read and never quotes the file.
public struct DocumentError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What went wrong, for code to branch on.
    public enum Code: String, Sendable, Hashable {
        /// The bytes are not a valid file of the declared format (damaged, truncated, or something else).
        case malformed
        /// The document is password-protected or forbids text extraction.
        case encrypted
        /// A ZIP archive that would expand beyond the limits.
        case zipBomb
        /// A format or feature we do not read (legacy .doc, ZIP64, an unknown compression method).
        case unsupported
        /// The input or an output is over a size limit.
        case tooLarge
        /// The extraction took longer than the limit and was stopped.
        case timeout
        /// The external tool (`pdftotext`) is not installed.
        case toolMissing
        /// The file is empty or has no text (a scanned PDF, for instance).
        case empty
        /// The file system failed (temporary files, the ZIP writer's output).
        case io
    }

    /// What went wrong.
    public let code: Code
    /// Why, in a sentence a recruiter can read.
    public let reason: String

    /// An error with a reason for people (never the file's content).
    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// "code: reason", for logs.
    public var description: String { "\(code.rawValue): \(reason)" }
}
