import Foundation

/// Skills, languages, education and experience: the fields spread over the CV's body.
extension CVParser {
    // MARK: Skills

    func findSkills(_ document: CVDocument) -> (names: [String], byCategory: [String: [String]], confidence: Double) {
        var names: [String] = []
        var seen: Set<Int> = []
        var inSkillsContext = false
        for line in document.lines where !line.isHeading {
            let listContext = line.section == .skills || (line.label.map { Lexicon.skillLabels.contains($0) } ?? false)
            for match in taxonomy.skillMatcher.matches(in: line.tokens, listContext: listContext) where seen.insert(match.payload).inserted {
                names.append(taxonomy.skills[match.payload].name)
                if listContext { inSkillsContext = true }
            }
        }
        var byCategory: [String: [String]] = [:]
        for name in names {
            if let category = taxonomy.category(of: name) { byCategory[category, default: []].append(name) }
        }
        return (names, byCategory, names.isEmpty ? 0 : inSkillsContext ? 0.85 : 0.65)
    }

    // MARK: Languages

    func findLanguages(_ document: CVDocument) -> ([String], Double)? {
        var found: [String] = []
        var fromSection = false
        func add(_ index: Int) {
            let name = taxonomy.languages[index]
            if !found.contains(name) { found.append(name) }
        }
        for line in document.lines where !line.isHeading {
            let tokens = line.tokens
            let matches = taxonomy.languageMatcher.matches(in: tokens, listContext: true)
            guard !matches.isEmpty else { continue }
            let labelled = line.label.map { Lexicon.languageLabels.contains($0) } ?? false
            let lower = line.text.lowercased()
            let native = ["mother tongue", "native language", "first language", "langue maternelle", "muttersprache", "other language"]
                .contains { lower.contains($0) }
            if line.section == .languages || labelled || native {
                matches.forEach { add($0.payload) }
                fromSection = true
                continue
            }
            // Elsewhere only with a level ("German (C1)", "French – fluent") or a lead-in ("fluent in German").
            for match in matches {
                let after = tokens[match.end...].prefix(4).filter { !$0.isSeparator || $0.text == "(" }
                let before = tokens[..<match.start].suffix(3)
                let levelAfter = after.prefix(3).contains { Lexicon.languageLevels.contains($0.lower) }
                let leadIn = before.contains { Lexicon.languageLeadIns.contains($0.lower) }
                    || before.last.map { Lexicon.languageLevels.contains($0.lower) && $0.lower != "first" } == true
                    || (before.last?.lower == "in" && before.dropLast().last.map { Lexicon.languageLeadIns.contains($0.lower) } == true)
                if levelAfter || leadIn { add(match.payload) }
            }
        }
        guard !found.isEmpty else { return nil }
        return (found, fromSection ? 0.85 : 0.7)
    }

    // MARK: Education

    func findEducation(_ document: CVDocument, nowMonth: Int) -> ([ParsedCV.Education], Double)? {
        let maxYear = nowMonth / 12 + 6
        var entries: [(ParsedCV.Education, Double)] = []
        let sectionLines = document.lines.filter { $0.section == .education && !$0.isHeading }
        if !sectionLines.isEmpty {
            var current = ParsedCV.Education()
            var years: [Int] = []
            var ongoing = false
            func close() {
                guard current.degree != nil || current.institution != nil else {
                    current = ParsedCV.Education()
                    years = []
                    ongoing = false
                    return
                }
                let distinct = Array(Set(years.filter { $0 >= 1940 && $0 <= maxYear })).sorted()
                if !ongoing { current.endYear = distinct.last }
                if distinct.count >= 2 || (ongoing && !distinct.isEmpty) { current.startYear = distinct.first }
                let confidence = current.degree != nil && current.institution != nil ? 0.85 : 0.7
                entries.append((current, confidence))
                current = ParsedCV.Education()
                years = []
                ongoing = false
            }
            for line in sectionLines {
                let degree = Self.degree(in: line.text)
                let institution = self.institution(in: line.text)
                if (degree != nil && current.degree != nil) || (institution != nil && current.institution != nil && degree == nil)
                    || (degree != nil && current.institution != nil && !years.isEmpty && institution != nil)
                {
                    close()
                }
                if let degree {
                    current.degree = degree.degree
                    if current.fieldOfStudy == nil { current.fieldOfStudy = degree.field }
                }
                if let institution, current.institution == nil { current.institution = institution }
                if degree != nil || institution != nil || current.degree != nil || current.institution != nil {
                    let points = DateScanner.points(in: line.text)
                    years += points.compactMap { $0.month.map { $0 / 12 } }
                    if points.contains(where: { $0.kind == .present }) { ongoing = true }
                }
            }
            close()
        } else {
            for line in document.lines where !line.isHeading {
                guard let degree = Self.degree(in: line.text, strict: true) else { continue }
                let institution = self.institution(in: line.text)
                let years = DateScanner.points(in: line.text).compactMap { $0.month.map { $0 / 12 } }.filter { $0 >= 1940 && $0 <= maxYear }
                guard institution != nil || !years.isEmpty else { continue }
                var entry = ParsedCV.Education(degree: degree.degree, fieldOfStudy: degree.field, institution: institution)
                entry.endYear = years.max()
                if years.count >= 2, let first = years.min(), first != years.max() { entry.startYear = first }
                entries.append((entry, institution != nil ? 0.7 : 0.55))
            }
        }
        guard !entries.isEmpty else { return nil }
        let confidence = entries.map(\.1).reduce(0, +) / Double(entries.count)
        return (Array(entries.prefix(20).map(\.0)), confidence)
    }

    /// The degree written in a line ("MSc", "Master of Science", "Ph.D.") and the field after it.
    static func degree(in text: String, strict: Bool = false) -> (degree: String, field: String?)? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        for (index, word) in words.enumerated() {
            let compact = word.trimmingCharacters(in: CharacterSet(charactersIn: ",;:()|–—")).replacingOccurrences(of: ".", with: "")
                .replacingOccurrences(of: "'s", with: "s").replacingOccurrences(of: "’s", with: "s")
            let key = compact.replacingOccurrences(of: "-", with: "").lowercased()
            guard let _ = Lexicon.degreeWords[key] else { continue }
            if Lexicon.capitalOnlyDegrees.contains(key), compact != compact.uppercased() && compact != "Dr" { continue }
            if key == "dr" && strict { continue }
            if strict, ["master", "diploma", "promotion", "doctor"].contains(key), word.first?.isUppercase != true { continue }
            // "Master of Science", "Bachelor of Business Administration", "Diplôme d'ingénieur".
            var end = index + 1
            if end < words.count, words[end].lowercased() == "of" {
                var probe = end + 1
                while probe < words.count,
                    Lexicon.degreeQualifiers.contains(words[probe].lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ",()")))
                {
                    probe += 1
                }
                if probe > end + 1 { end = probe }
            } else if end < words.count, key == "diplôme" || key == "diplom",
                words[end].lowercased().hasPrefix("d'ing") || words[end].lowercased().hasPrefix("ing")
            {
                end += 1
            }
            // "BEng (Hons)", "BSc Hons".
            if end < words.count, words[end].lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "().,")) == "hons" { end += 1 }
            var degree = words[index..<end].joined(separator: " ").trimmingCharacters(in: CharacterSet(charactersIn: ",;:|–—"))
            if degree.hasPrefix("("), !degree.contains(")") { degree.removeFirst() }
            if degree.hasSuffix(")"), !degree.contains("(") { degree.removeLast() }
            if degree.contains("("), !degree.contains(")") { degree += ")" }
            // The field: what follows ("in Computer Science", "en Informatique", "(Informatik)") up to a separator.
            var fieldWords: [String] = []
            var position = end
            let linking: Set<String> = ["in", "en", "of", "im", "der", "de", "es", "ès", "-", "–", ":"]
            if position < words.count, linking.contains(words[position].lowercased()) { position += 1 }
            while position < words.count {
                let word = words[position]
                let lower = word.lowercased()
                if [",", "|", "–", "—", "-", "at", "@", "à", "chez", "an", "bei", "from", "à l'"].contains(lower) { break }
                let bare = lower.trimmingCharacters(in: CharacterSet(charactersIn: ",()"))
                if word.contains(where: \.isNumber) || Lexicon.institutionWords.contains(bare) { break }
                if Lexicon.institutionAcronyms.contains(word.trimmingCharacters(in: CharacterSet(charactersIn: ",()"))) { break }
                let trimmed = word.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
                let compactWord = word.trimmingCharacters(in: CharacterSet(charactersIn: "(),;:")).replacingOccurrences(of: ".", with: "")
                if Lexicon.degreeWords[compactWord.lowercased()] != nil { break }
                fieldWords.append(trimmed.trimmingCharacters(in: CharacterSet(charactersIn: ",;:")))
                position += 1
                if word.hasSuffix(",") || word.hasSuffix(")") || word.hasSuffix(";") { break }
                if fieldWords.count >= 6 { break }
            }
            while let last = fieldWords.last, last.isEmpty || ["and", "et", "und", "the"].contains(last.lowercased()) { fieldWords.removeLast() }
            let field = fieldWords.joined(separator: " ")
            let usable = !field.isEmpty && field.first?.isUppercase == true && !hasRoleWord(field)
            return (degree, usable ? field : nil)
        }
        return nil
    }

    /// The institution named in a line: a known one, or the segment holding "University", "ETH", ...
    func institution(in text: String) -> String? {
        let tokens = CVToken.tokenize(text)
        if let match = taxonomy.institutionMatcher.matches(in: tokens, listContext: true).first {
            return taxonomy.institutions[match.payload]
        }
        var pieces = [text]
        for separator in [",", "|", " – ", " — ", " - ", "(", ")", "\t", ";", " at ", " @ ", " à ", " chez ", " an der ", " bei "] {
            pieces = pieces.flatMap { $0.components(separatedBy: separator) }
        }
        for piece in pieces {
            let words = piece.split(separator: " ").map(String.init)
            let hasKeyword = words.contains { word in
                let lower = word.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".,"))
                return Lexicon.institutionWords.contains(lower) || Lexicon.institutionAcronyms.contains(word)
                    || lower.hasSuffix("universität") || lower.hasSuffix("hochschule") || lower.hasPrefix("l'univ") || lower.hasPrefix("l'école")
            }
            guard hasKeyword else { continue }
            // Keep "Lyon 1" or "Paris 8"; drop years and dates.
            var kept = words.filter { word in
                let digits = word.filter(\.isNumber)
                return digits.isEmpty || (digits.count <= 2 && word.allSatisfy(\.isNumber))
            }
            // Drop a degree that shares the piece ("MSc ETH Zurich").
            while let first = kept.first, Lexicon.degreeWords[first.replacingOccurrences(of: ".", with: "").lowercased()] != nil {
                kept.removeFirst()
            }
            var name = kept.joined(separator: " ").trimmingCharacters(in: CharacterSet(charactersIn: " .:-–"))
            if name.hasPrefix("l'") || name.hasPrefix("l’") { name = String(name.dropFirst(2)) }
            if !name.isEmpty, name.count <= 120 { return name.prefix(1).uppercased() + name.dropFirst() }
        }
        return nil
    }

    // MARK: Experience

    func findExperienceYears(_ document: CVDocument, nowMonth: Int) -> (Int, Double)? {
        // An explicit claim: "10+ years of experience", "8 ans d'expérience", "über 12 Jahre Berufserfahrung".
        var claimed: Int?
        for line in document.lines where line.section != .education && !line.isHeading {
            let tokens = line.tokens
            for index in tokens.indices where tokens[index].isWord {
                guard let value = Int(tokens[index].text), (1...60).contains(value) else { continue }
                var position = index + 1
                if position < tokens.count, tokens[position].text == "+" { position += 1 }
                guard position < tokens.count, Lexicon.yearWords.contains(tokens[position].lower) else { continue }
                let following = tokens[(position + 1)...].prefix(6)
                guard following.contains(where: { Lexicon.experienceWords.contains($0.lower) }) else { continue }
                claimed = max(claimed ?? 0, value)
            }
        }
        if let claimed { return (claimed, 0.85) }

        // Otherwise the employment ranges, overlaps merged.
        let candidates: [CVDocument.Line]
        if document.lines.contains(where: { $0.section == .experience && !$0.isHeading }) {
            candidates = document.lines.filter { $0.section == .experience && !$0.isHeading }
        } else {
            candidates = document.lines.filter { line in
                line.section != .education && line.section != .header && !line.isHeading
                    && Self.degree(in: line.text, strict: true) == nil && institution(in: line.text) == nil
                    && !["birth", "born", "né ", "née", "geboren", "naissance"].contains { line.text.lowercased().contains($0) }
            }
        }
        var intervals: [(Int, Int)] = []
        for line in candidates {
            for range in DateScanner.ranges(in: line.text, nowMonth: nowMonth) where range.0 >= 1950 * 12 && range.0 <= nowMonth {
                intervals.append((range.0, min(range.1, nowMonth + 1)))
            }
        }
        guard !intervals.isEmpty else { return nil }
        intervals.sort { $0.0 < $1.0 }
        var months = 0
        var current = intervals[0]
        for interval in intervals.dropFirst() {
            if interval.0 <= current.1 {
                current.1 = max(current.1, interval.1)
            } else {
                months += current.1 - current.0
                current = interval
            }
        }
        months += current.1 - current.0
        let years = Int((Double(months) / 12).rounded())
        guard years <= 70 else { return nil }
        return (years, document.hasSections ? 0.7 : 0.55)
    }
}

/// Dates in CV lines: "03/2019", "2019-03", "March 2019", "Mar. 2019", "2019", "present", "heute",
/// "aujourd'hui", and the ranges they form ("2015 – present", "Jan 2012 to Jun 2018", "seit 2020").
enum DateScanner {
    struct Point {
        enum Kind { case month, year, present }
        let kind: Kind
        /// year * 12 + month - 1 (January for a bare year); nil for "present".
        let month: Int?
        let start: Int
        let end: Int
    }

    struct Piece {
        let text: String
        let lower: String
        let spaceBefore: Bool
        var isNumber: Bool { text.allSatisfy(\.isNumber) }
    }

    static func pieces(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var current = ""
        var currentIsNumber = false
        var space = true
        var currentSpace = true
        func flush() {
            if !current.isEmpty { pieces.append(Piece(text: current, lower: current.lowercased(), spaceBefore: currentSpace)) }
            current = ""
        }
        for character in text {
            if character.isNumber || character.isLetter {
                let number = character.isNumber
                if !current.isEmpty, number != currentIsNumber { flush(); space = false }
                if current.isEmpty { currentSpace = space; currentIsNumber = number }
                current.append(character)
                space = false
            } else if character.isWhitespace {
                flush()
                space = true
            } else {
                flush()
                pieces.append(Piece(text: String(character), lower: String(character), spaceBefore: space))
                space = false
            }
        }
        flush()
        return pieces
    }

    static func points(in text: String) -> [Point] {
        let pieces = pieces(text)
        var points: [Point] = []
        var index = 0
        func year(_ piece: Piece) -> Int? {
            guard piece.isNumber, piece.text.count == 4, let value = Int(piece.text), (1940...2100).contains(value) else { return nil }
            return value
        }
        while index < pieces.count {
            let piece = pieces[index]
            // MM/YYYY, MM.YYYY, MM-YYYY
            if piece.isNumber, piece.text.count <= 2, let month = Int(piece.text), (1...12).contains(month), index + 2 < pieces.count,
                ["/", ".", "-"].contains(pieces[index + 1].text), !pieces[index + 1].spaceBefore, !pieces[index + 2].spaceBefore,
                let year = year(pieces[index + 2])
            {
                points.append(Point(kind: .month, month: year * 12 + month - 1, start: index, end: index + 3))
                index += 3
                continue
            }
            if let year = year(piece) {
                // YYYY-MM (but not YYYY-YYYY)
                if index + 2 < pieces.count, ["-", "/", "."].contains(pieces[index + 1].text), !pieces[index + 1].spaceBefore,
                    !pieces[index + 2].spaceBefore, pieces[index + 2].isNumber, pieces[index + 2].text.count <= 2,
                    let month = Int(pieces[index + 2].text), (1...12).contains(month)
                {
                    points.append(Point(kind: .month, month: year * 12 + month - 1, start: index, end: index + 3))
                    index += 3
                    continue
                }
                points.append(Point(kind: .year, month: year * 12, start: index, end: index + 1))
                index += 1
                continue
            }
            // Month name, optional dot, year.
            if let month = Lexicon.months[piece.lower] {
                var next = index + 1
                if next < pieces.count, pieces[next].text == "." { next += 1 }
                if next < pieces.count, let year = year(pieces[next]) {
                    points.append(Point(kind: .month, month: year * 12 + month - 1, start: index, end: next + 1))
                    index = next + 1
                    continue
                }
            }
            if Lexicon.presentWords.contains(piece.lower) {
                points.append(Point(kind: .present, month: nil, start: index, end: index + 1))
            }
            index += 1
        }
        return points
    }

    /// Month intervals [start, end) of the ranges in a line.
    static func ranges(in text: String, nowMonth: Int) -> [(Int, Int)] {
        let pieces = pieces(text)
        let points = points(in: text)
        var ranges: [(Int, Int)] = []
        var index = 0
        while index < points.count {
            let point = points[index]
            guard let start = point.month else {
                index += 1
                continue
            }
            if index + 1 < points.count {
                let next = points[index + 1]
                let between = pieces[point.end..<next.start]
                if between.count <= 3, between.allSatisfy({ Lexicon.rangeWords.contains($0.lower) }) {
                    var end: Int
                    switch next.kind {
                    case .present: end = nowMonth + 1
                    case .month: end = next.month! + 1
                    case .year:
                        end = next.month!
                        if point.kind == .year { end = max(end, start + 6) } else { end += 12 }
                    }
                    if end > start { ranges.append((start, end)) }
                    index += 2
                    continue
                }
            }
            // "since 2019", "seit 03/2020", "depuis 2018".
            if point.start > 0, Lexicon.sinceWords.contains(pieces[point.start - 1].lower) {
                ranges.append((start, nowMonth + 1))
            }
            index += 1
        }
        return ranges
    }
}
