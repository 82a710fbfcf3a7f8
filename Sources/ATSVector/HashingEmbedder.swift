import Foundation
import Synchronization

/// Built-in: no network, no model. Hashed word unigrams + bigrams and character 3-grams
/// (signed feature hashing into `dimensions`, default 384), sublinear tf, IDF-like weights
/// (document frequencies observed through `observe(_:)`, or a neutral default), and the
/// skills taxonomy's synonyms folded to their canonical name before hashing, so "k8s" lands on
/// "Kubernetes" and "JS" on "JavaScript".
///
/// Words carry the meaning, bigrams the phrases ("machine learning"), and the character
/// 3-grams tolerate typos and inflections ("kubernets", "developers"). Each feature's FNV-1a
/// hash picks a dimension and a sign, so collisions cancel out on average instead of piling up.
/// Until documents are observed, every feature weighs 1 except English stop words (0.1); after,
/// a feature weighs `1 + ln((N + 1) / (df + 1))`. Copies of an embedder share the observed
/// frequencies; observing changes the weights (not the feature space), so a caller that wants
/// stable vectors observes its corpus before embedding it.
public struct HashingEmbedder: Embedder {
    public let dimensions: Int
    public let identifier: String
    private let folder: SynonymFolder
    private let frequencies: DocumentFrequencies

    /// - Parameter synonyms: lowercased synonym -> lowercased canonical (multi-word ok).
    public init(dimensions: Int = 384, synonyms: [String: String] = [:]) {
        precondition(dimensions > 0, "dimensions must be positive")
        self.dimensions = dimensions
        folder = SynonymFolder(synonyms)
        frequencies = DocumentFrequencies()
        // The synonyms change where texts land, so they are part of the identity.
        var digest = FeatureHash.offset
        for (key, value) in synonyms.sorted(by: { $0.key < $1.key }) {
            digest = FeatureHash.feed(digest, Array((key + "\u{1}" + value + "\u{2}").utf8))
        }
        identifier = "hashing-v1-d\(dimensions)-s" + String(FeatureHash.finish(digest) & 0xFFFF_FFFF, radix: 16)
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let featureSets = texts.map(features)
        let weights = frequencies.weights(for: featureSets)
        return zip(featureSets, weights).map { vector($0, idf: $1) }
    }

    /// Records the documents' features for the IDF weights (each feature once per document).
    public func observe(_ texts: [String]) {
        frequencies.observe(texts.map { Set(features($0).map(\.hash)) })
    }

    /// How many documents `observe(_:)` has seen (shared by copies of this embedder).
    public var observedDocuments: Int { frequencies.documents }

    /// The tokens of `text` after normalization and synonym folding (for explain and tests).
    public func tokens(_ text: String) -> [String] {
        folder.fold(Tokenizer.tokens(text)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A synonym table from the skills taxonomy (`Data/reference/skills.json`): every
    /// `{"name": ..., "synonyms": [...], "localized": {...}}` object at any depth maps each
    /// synonym and localized name (lowercased) to the lowercased name.
    public static func synonyms(fromTaxonomyJSON data: Data) throws -> [String: String] {
        var table: [String: String] = [:]
        func walk(_ node: Any) {
            if let list = node as? [Any] {
                list.forEach(walk)
            } else if let object = node as? [String: Any] {
                if let name = object["name"] as? String {
                    let canonical = name.lowercased()
                    var aliases = object["synonyms"] as? [String] ?? []
                    if let localized = object["localized"] as? [String: String] { aliases += localized.values }
                    for alias in aliases where alias.lowercased() != canonical {
                        table[alias.lowercased()] = canonical
                    }
                }
                object.values.forEach(walk)
            }
        }
        walk(try JSONSerialization.jsonObject(with: data))
        return table
    }

    // MARK: Features

    /// One hashed feature occurrence: its hash and its base weight (by kind).
    struct Feature {
        var hash: UInt64
        var weight: Float
        var stopWord: Bool
    }

    private static let unigramWeight: Float = 1.0
    private static let bigramWeight: Float = 0.6
    private static let trigramWeight: Float = 0.25

    private func features(_ text: String) -> [Feature] {
        let words = folder.fold(Tokenizer.tokens(text))
        var features: [Feature] = []
        features.reserveCapacity(words.count * 8)
        var previous: [UInt8]?
        for word in words {
            let stop = Tokenizer.stopWords.contains(word)
            features.append(Feature(hash: FeatureHash.of(kind: 0x77, word), weight: Self.unigramWeight, stopWord: stop))
            if let previous {
                let previousStop = Tokenizer.stopWords.contains(previous)
                features.append(Feature(
                    hash: FeatureHash.of(kind: 0x62, previous + [0x20] + word), weight: Self.bigramWeight,
                    stopWord: stop || previousStop))
            }
            previous = word
            if !stop {
                let padded = [0x3C] + word + [0x3E]  // <word>
                if padded.count >= 3 {
                    for start in 0...(padded.count - 3) {
                        features.append(Feature(
                            hash: FeatureHash.of(kind: 0x63, padded[start..<(start + 3)]), weight: Self.trigramWeight,
                            stopWord: false))
                    }
                }
            }
        }
        return features
    }

    /// Sums the features into a signed hashed vector, tf sublinear, then normalizes. An empty
    /// text gives the zero vector (cosine 0 with everything).
    private func vector(_ features: [Feature], idf: [UInt64: Float]) -> [Float] {
        var counts: [UInt64: (count: Int, weight: Float)] = [:]
        for feature in features {
            let base = feature.weight * (feature.stopWord && idf.isEmpty ? 0.1 : 1)
            counts[feature.hash, default: (0, base)].count += 1
        }
        var vector = [Float](repeating: 0, count: dimensions)
        for (hash, entry) in counts {
            let tf = 1 + Float(_log(Double(entry.count)))
            let weight = entry.weight * tf * (idf[hash] ?? 1)
            let index = Int(hash % UInt64(dimensions))
            vector[index] += (hash >> 63) == 0 ? weight : -weight
        }
        return VectorMath.normalized(vector)
    }
}

/// Text to word tokens: lowercased, diacritics folded, split on anything but letters,
/// digits, `+` and `#` (C++, C#), keeping a `.` between letters (node.js, .net).
enum Tokenizer {
    static func tokens(_ text: String) -> [[UInt8]] {
        let folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
        let scalars = Array(folded.unicodeScalars)
        var tokens: [[UInt8]] = []
        var current = ""
        func flush() {
            while current.hasSuffix(".") { current.removeLast() }
            if !current.isEmpty { tokens.append(Array(current.utf8)) }
            current = ""
        }
        for (index, scalar) in scalars.enumerated() {
            if scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "+" || scalar == "#" {
                current.unicodeScalars.append(scalar)
            } else if scalar == ".", index + 1 < scalars.count, scalars[index + 1].properties.isAlphabetic
                || scalars[index + 1].properties.numericType != nil
            {
                current.unicodeScalars.append(scalar)
            } else {
                flush()
            }
        }
        flush()
        return tokens
    }

    static let stopWords: Set<[UInt8]> = Set(
        ("a an and are as at be but by for from has have he her his i in is it its of on or our she that the their them "
            + "they this to was we were will with you your").split(separator: " ").map { Array($0.utf8) })
}

/// Replaces synonym phrases (longest first) by their canonical tokens.
struct SynonymFolder: Sendable {
    private let table: [[UInt8]: [[UInt8]]]
    private let longest: Int

    init(_ synonyms: [String: String]) {
        var table: [[UInt8]: [[UInt8]]] = [:]
        var longest = 0
        for (alias, canonical) in synonyms {
            let from = Tokenizer.tokens(alias)
            let to = Tokenizer.tokens(canonical)
            guard !from.isEmpty, !to.isEmpty, from != to else { continue }
            table[Self.key(from[...])] = to
            longest = max(longest, from.count)
        }
        self.table = table
        self.longest = longest
    }

    private static func key(_ words: ArraySlice<[UInt8]>) -> [UInt8] {
        var key: [UInt8] = []
        for (index, word) in words.enumerated() {
            if index > 0 { key.append(0x20) }
            key += word
        }
        return key
    }

    func fold(_ words: [[UInt8]]) -> [[UInt8]] {
        guard longest > 0 else { return words }
        var output: [[UInt8]] = []
        output.reserveCapacity(words.count)
        var index = 0
        outer: while index < words.count {
            for length in stride(from: min(longest, words.count - index), through: 1, by: -1) {
                if let canonical = table[Self.key(words[index..<(index + length)])] {
                    output += canonical
                    index += length
                    continue outer
                }
            }
            output.append(words[index])
            index += 1
        }
        return output
    }
}

/// FNV-1a 64 with a final avalanche (the low bits pick the dimension, the top bit the sign).
/// Stable across processes and platforms, unlike `Hasher`.
enum FeatureHash {
    static let offset: UInt64 = 0xCBF2_9CE4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01B3

    static func feed<S: Sequence<UInt8>>(_ hash: UInt64, _ bytes: S) -> UInt64 {
        var hash = hash
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* prime }
        return hash
    }

    static func finish(_ hash: UInt64) -> UInt64 {
        var z = hash
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func of<S: Sequence<UInt8>>(kind: UInt8, _ bytes: S) -> UInt64 {
        finish(feed((offset ^ UInt64(kind)) &* prime, bytes))
    }
}

/// Observed document frequencies in 2^20 hashed buckets (bounded memory whatever the corpus).
final class DocumentFrequencies: Sendable {
    private struct State {
        var counts = [UInt32](repeating: 0, count: 1 << 20)
        var documents = 0
    }

    private let state = Mutex(State())

    var documents: Int { state.withLock { $0.documents } }

    func observe(_ documents: [Set<UInt64>]) {
        state.withLock { state in
            for features in documents {
                state.documents += 1
                for hash in features {
                    let bucket = Int(hash & 0xF_FFFF)
                    state.counts[bucket] &+= 1
                }
            }
        }
    }

    /// Per text, the IDF of each of its features; empty dictionaries until a document is observed.
    func weights(for featureSets: [[HashingEmbedder.Feature]]) -> [[UInt64: Float]] {
        state.withLock { state in
            guard state.documents > 0 else { return featureSets.map { _ in [:] } }
            let total = Double(state.documents + 1)
            return featureSets.map { features in
                var idf: [UInt64: Float] = [:]
                for feature in features where idf[feature.hash] == nil {
                    let df = Double(state.counts[Int(feature.hash & 0xF_FFFF)])
                    idf[feature.hash] = Float(1 + _log(total / (df + 1)))
                }
                return idf
            }
        }
    }
}
