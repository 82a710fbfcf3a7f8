import ATSDomain
import Foundation

/// Name, contact details, title and location: the header fields.
extension CVParser {
    struct NameGuess {
        let first: String
        let last: String
        let confidence: Double
    }

    // MARK: Email

    func findEmail(_ document: CVDocument) -> (String, Double)? {
        var fallback: String?
        for line in document.lines where line.text.contains("@") {
            for email in Self.emails(in: line.text) {
                if line.section == .header || line.section == .contact { return (email, 0.95) }
                if fallback == nil { fallback = email }
            }
        }
        return fallback.map { ($0, 0.9) }
    }

    static func emails(in text: String) -> [String] {
        let characters = Array(text)
        var found: [String] = []
        func isLocal(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || "._%+-'".contains(c)) }
        func isDomain(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-") }
        for index in characters.indices where characters[index] == "@" {
            var start = index
            while start > 0, isLocal(characters[start - 1]) { start -= 1 }
            var end = index + 1
            while end < characters.count, isDomain(characters[end]) { end += 1 }
            var local = String(characters[start..<index])
            var domain = String(characters[(index + 1)..<end])
            while local.first == "." || local.first == "'" { local.removeFirst() }
            while domain.last == "." || domain.last == "-" { domain.removeLast() }
            let email = local + "@" + domain
            guard let tld = domain.split(separator: ".").last, tld.count >= 2, tld.allSatisfy(\.isLetter),
                Normalize.isEmail(email)
            else { continue }
            found.append(email)
        }
        return found
    }

    // MARK: Phone

    func findPhone(_ document: CVDocument) -> (String, Double)? {
        var best: (String, Double)?
        for line in document.lines where line.text.contains(where: \.isNumber) {
            let lower = line.text.lowercased()
            let labelled = line.label.map { Lexicon.phoneLabels.contains($0) } ?? false
                || ["phone", "tel", "mobile", "natel", "handy", "portable", "telefon", "cell", "mob."].contains { lower.contains($0) }
            for candidate in Self.phones(in: line.text) {
                var score: Double
                if labelled {
                    score = 0.9
                } else if candidate.hasPrefix("+") || candidate.hasPrefix("00") {
                    score = 0.85
                } else if line.section == .header || line.section == .contact {
                    score = 0.7
                } else {
                    score = 0.5
                }
                if line.section != .header, line.section != .contact, !labelled { score -= 0.1 }
                if best == nil || score > best!.1 { best = (candidate, score) }
            }
        }
        return best
    }

    static func phones(in text: String) -> [String] {
        let characters = Array(text)
        var found: [String] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            guard character == "+" || character == "(" || (character.isASCII && character.isNumber) else {
                index += 1
                continue
            }
            if index > 0, characters[index - 1].isLetter || characters[index - 1].isNumber {
                // Part of a word or of a longer code (an IBAN, "CH-8001").
                index += 1
                while index < characters.count, characters[index].isLetter || characters[index].isNumber { index += 1 }
                continue
            }
            var end = index
            while end < characters.count {
                let c = characters[end]
                if c.isASCII && c.isNumber { end += 1; continue }
                if c == "+" { if end == index { end += 1; continue } else { break } }
                if " ()-./".contains(c) { end += 1; continue }
                break
            }
            var candidate = String(characters[index..<end])
            let followedByLetter = end < characters.count && characters[end].isLetter
            index = max(end, index + 1)
            while let last = candidate.last, " -./(".contains(last) { candidate.removeLast() }
            if candidate.filter({ $0 == "(" }).count != candidate.filter({ $0 == ")" }).count {
                candidate = candidate.replacingOccurrences(of: "(", with: "").replacingOccurrences(of: ")", with: "")
                    .trimmingCharacters(in: .whitespaces)
            }
            guard !followedByLetter || candidate.last == " " || candidate.count > 10 else { continue }
            let digits = candidate.filter(\.isNumber).count
            guard (7...16).contains(digits), Normalize.isPhone(candidate), !looksLikeDates(candidate) else { continue }
            found.append(candidate)
        }
        return found
    }

    /// "2015 - 2018", "03/2015 – 05/2018", "12.03.1990": numbers that are dates, not a phone.
    static func looksLikeDates(_ text: String) -> Bool {
        if text.hasPrefix("+") || text.hasPrefix("00") || text.hasPrefix("(") { return false }
        let groups = text.split(whereSeparator: { !$0.isNumber })
        guard groups.contains(where: { $0.count == 4 }) else { return false }
        return groups.allSatisfy { group in
            if group.count == 4, let year = Int(group) { return (1940...2100).contains(year) }
            if group.count <= 2, let value = Int(group) { return value <= 31 }
            return false
        }
    }

    // MARK: Name

    func findName(_ document: CVDocument, email: String?) -> NameGuess? {
        // "First name: Jane" / "Last name: Doe" (a form or a table).
        let firsts = document.labelledValues(Lexicon.firstNameLabels)
        let lasts = document.labelledValues(Lexicon.lastNameLabels)
        if let first = firsts.first, let last = lasts.first,
            let firstWords = nameWords(first.value, minimum: 1), let lastWords = nameWords(last.value, minimum: 1)
        {
            return NameGuess(
                first: firstWords.map(Self.normalisedCapitals).joined(separator: " "),
                last: lastWords.map(Self.normalisedCapitals).joined(separator: " "), confidence: 0.9)
        }
        // "Name: Jane Doe" / "Name: Doe, Jane" / "Curriculum Vitae: Jane Doe".
        for line in document.lines.prefix(40) {
            guard let label = line.label, let value = line.value else { continue }
            let isDocumentTitle = label.split(separator: " ").allSatisfy { Lexicon.documentTitleWords.contains(String($0)) }
            guard Lexicon.nameLabels.contains(label) || isDocumentTitle else { continue }
            let parts = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let last = nameWords(parts[0], minimum: 1), let first = nameWords(parts[1], minimum: 1),
                !isDocumentTitle
            {
                return NameGuess(
                    first: first.map(Self.normalisedCapitals).joined(separator: " "),
                    last: last.map(Self.normalisedCapitals).joined(separator: " "), confidence: 0.9)
            }
            if let words = nameWords(parts[0], minimum: 2) {
                let (first, last) = Self.split(words)
                return NameGuess(first: first, last: last, confidence: isDocumentTitle ? 0.8 : 0.9)
            }
        }
        // The first segment near the top that looks like a name.
        var candidates = Array(document.header.prefix(6))
        if candidates.isEmpty || document.header.count < 2 {
            candidates += document.lines.prefix(6).filter { !$0.isHeading }
        }
        candidates += document.lines.filter { $0.section == .contact }.prefix(6)
        for (position, line) in candidates.enumerated() where !line.isHeading {
            if let label = line.label, line.value != nil,
                !label.split(separator: " ").allSatisfy({ Lexicon.documentTitleWords.contains(String($0)) })
            {
                continue
            }
            for segment in CVDocument.segments(line.text) {
                guard let words = nameWords(Self.withoutDocumentTitle(segment), minimum: 2) else { continue }
                let (first, last) = Self.split(words)
                var confidence = position == 0 ? 0.75 : 0.65
                if taxonomy.firstNames.contains(first.split(separator: " ").first.map { $0.lowercased() } ?? "") {
                    confidence += 0.1
                }
                if let email, let local = email.split(separator: "@").first?.lowercased(),
                    local.contains(last.lowercased().filter(\.isLetter)) || local.contains(first.lowercased().filter(\.isLetter))
                {
                    confidence += 0.05
                }
                return NameGuess(first: first, last: last, confidence: min(confidence, 0.9))
            }
        }
        // A sidebar layout puts the name after the contact column: a name line followed by a job title.
        for line in document.lines.prefix(80) where !line.isHeading && line.label == nil {
            guard line.index + 1 < document.lines.count else { break }
            let next = document.lines[line.index + 1]
            guard !next.isHeading, Self.hasRoleWord(next.text), next.text.split(separator: " ").count <= 8,
                let words = nameWords(line.text, minimum: 2)
            else { continue }
            let (first, last) = Self.split(words)
            return NameGuess(first: first, last: last, confidence: 0.7)
        }
        // Last resort: "jane.doe@..." .
        if let email, let local = email.split(separator: "@").first {
            let parts = local.split(whereSeparator: { ".-_".contains($0) })
            if parts.count == 2, parts.allSatisfy({ $0.count >= 2 && $0.allSatisfy(\.isLetter) }) {
                return NameGuess(first: parts[0].capitalized, last: parts[1].capitalized, confidence: 0.4)
            }
        }
        return nil
    }

    static func withoutDocumentTitle(_ segment: String) -> String {
        var words = segment.split(separator: " ")
        var dropped = false
        while let first = words.first,
            Lexicon.documentTitleWords.contains(first.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ":-")))
        {
            words.removeFirst()
            dropped = true
        }
        return dropped ? words.joined(separator: " ").trimmingCharacters(in: CharacterSet(charactersIn: " :-–")) : segment
    }

    /// The words of `text` if it reads as a person's name (capitalised words, particles allowed, no digits,
    /// no role, place, skill or heading words), honorifics and trailing degrees removed, capitals normalised.
    func nameWords(_ text: String, minimum: Int) -> [String]? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        while let first = words.first, Lexicon.honorifics.contains(first.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))) {
            words.removeFirst()
        }
        while let last = words.last, Lexicon.degreeWords[last.replacingOccurrences(of: ".", with: "").lowercased()] != nil, words.count > minimum {
            words.removeLast()
        }
        guard words.count >= minimum, words.count <= 5, text.count <= 60 else { return nil }
        var significant = 0
        for word in words {
            let lower = word.lowercased()
            guard word.contains(where: \.isLetter), word.allSatisfy({ $0.isLetter || "-'’.".contains($0) }) else { return nil }
            if Lexicon.nameParticles.contains(lower), word.first?.isLowercase == true { continue }
            guard word.first?.isUppercase == true else { return nil }
            guard !Lexicon.notNameWords.contains(lower), !Lexicon.roleWords.contains(lower), Lexicon.headings[lower] == nil,
                Lexicon.months[lower] == nil,
                !Lexicon.germanRoleStems.contains(where: { lower.hasSuffix($0) })
            else { return nil }
            significant += 1
        }
        guard significant >= minimum else { return nil }
        if Lexicon.headings[text.lowercased()] != nil { return nil }
        // Not a skill, a place or a language ("Machine Learning", "New York", "Swiss German").
        let tokens = CVToken.tokenize(text)
        let wordCount = tokens.filter(\.isWord).count
        var covered = 0
        for matcher in [taxonomy.skillMatcher, taxonomy.cityMatcher, taxonomy.countryMatcher, taxonomy.languageMatcher] {
            for match in matcher.matches(in: tokens, listContext: true) {
                covered += tokens[match.start..<match.end].filter(\.isWord).count
            }
        }
        guard covered * 2 <= wordCount || (minimum == 1 && wordCount == 1 && covered == 0) else { return nil }
        if minimum == 1, covered > 0, wordCount == 1 { return nil }
        return words
    }

    /// First and last name: words in capitals are the surname ("DUPONT Jean"), a particle starts it
    /// ("Anna van der Berg"), otherwise the last word is; capitals are then normalised ("Dupont").
    static func split(_ words: [String]) -> (String, String) {
        guard words.count > 1 else { return (words.first.map(normalisedCapitals) ?? "", "") }
        let capitals = words.map { $0.count > 1 && $0 == $0.uppercased() && $0.contains(where: \.isLetter) }
        var first: [String], last: [String]
        if capitals.contains(true), capitals.contains(false) {
            first = zip(words, capitals).filter { !$0.1 }.map(\.0)
            last = zip(words, capitals).filter { $0.1 }.map(\.0)
        } else if let particle = words.indices.dropFirst().first(where: {
            Lexicon.nameParticles.contains(words[$0].lowercased()) && words[$0].first?.isLowercase == true
        }) {
            first = Array(words[..<particle])
            last = Array(words[particle...])
        } else {
            first = Array(words.dropLast())
            last = [words.last!]
        }
        return (first.map(normalisedCapitals).joined(separator: " "), last.map(normalisedCapitals).joined(separator: " "))
    }

    static func normalisedCapitals(_ word: String) -> String {
        guard word.count > 1, word == word.uppercased(), word.contains(where: \.isLetter) else { return word }
        var result = ""
        var startOfPart = true
        for character in word {
            result += startOfPart ? String(character).uppercased() : String(character).lowercased()
            startOfPart = "-'’".contains(character)
        }
        return result
    }

    // MARK: Title

    func findTitle(_ document: CVDocument, name: String) -> (String, Double)? {
        for (value, _) in document.labelledValues(Lexicon.titleLabels) {
            if let title = Self.cleanTitle(value), title.count <= 120 { return (title, 0.85) }
        }
        for line in document.header.prefix(8) where line.label == nil || Lexicon.titleLabels.contains(line.label ?? "") {
            for segment in CVDocument.segments(line.text) where segment != name && !segment.contains("@") {
                guard Self.hasRoleWord(segment), segment.split(separator: " ").count <= 8,
                    segment.filter(\.isNumber).count < 3, let title = Self.cleanTitle(segment)
                else { continue }
                return (title, 0.75)
            }
        }
        // The line right under the name (a sidebar layout's name comes after the contact column).
        if !name.isEmpty, let line = document.lines.first(where: { !$0.isHeading && $0.text.hasPrefix(name) }),
            line.index + 1 < document.lines.count
        {
            let next = document.lines[line.index + 1]
            if !next.isHeading, next.label == nil, Self.hasRoleWord(next.text), next.text.split(separator: " ").count <= 8,
                !next.text.contains("@"), let title = Self.cleanTitle(CVDocument.segments(next.text).first ?? next.text)
            {
                return (title, 0.7)
            }
        }
        // "Senior Backend Engineer with 8 years of experience ..." opening the profile.
        if let opening = document.lines.first(where: { $0.section == .profile && !$0.isHeading }) {
            var phrase = opening.text
            for stop in [" with ", " avec ", " mit ", " who ", " qui ", " der ", ",", ".", " specialising", " specializing", " focused", " based "] {
                if let range = phrase.range(of: stop) { phrase = String(phrase[..<range.lowerBound]) }
            }
            var words = phrase.split(separator: " ").map(String.init)
            let fillers: Set<String> = [
                "a", "an", "the", "i", "am", "i'm", "experienced", "passionate", "seasoned", "motivated", "dedicated",
                "results-driven", "highly", "skilled", "accomplished", "dynamic", "innovative", "creative", "enthusiastic",
                "proactive", "versatile", "driven", "curious", "un", "une", "ein", "eine", "erfahrener", "erfahrene",
                "passionné", "passionnée", "engagierter", "engagierte",
            ]
            while let first = words.first, fillers.contains(first.lowercased()) { words.removeFirst() }
            let candidate = words.joined(separator: " ")
            if words.count <= 7, Self.hasRoleWord(candidate), let title = Self.cleanTitle(candidate) {
                return (title.prefix(1).uppercased() + title.dropFirst(), 0.6)
            }
        }
        // The most recent job: the first role line of the experience section.
        let experience = document.lines.filter { $0.section == .experience && !$0.isHeading }.prefix(4)
        for line in experience {
            var pieces = [line.text]
            for separator in [" at ", " @ ", " chez ", " bei ", " | ", " – ", " — ", " - ", ",", "(", "\t", " / "] {
                pieces = pieces.flatMap { $0.components(separatedBy: separator) }
            }
            if let piece = pieces.first(where: { Self.hasRoleWord($0) && $0.split(separator: " ").count <= 8 }),
                let title = Self.cleanTitle(piece)
            {
                return (title, 0.6)
            }
        }
        return nil
    }

    static func hasRoleWord(_ text: String) -> Bool {
        for word in text.lowercased().split(whereSeparator: { !($0.isLetter || $0 == "-") }) {
            let word = String(word)
            if Lexicon.roleWords.contains(word) { return true }
            for part in word.split(separator: "-") where Lexicon.roleWords.contains(String(part)) { return true }
            if Lexicon.germanRoleStems.contains(where: { word.hasSuffix($0) }) { return true }
        }
        return false
    }

    /// A title without dates, gender markers ("(m/w/d)") or stray punctuation.
    static func cleanTitle(_ text: String) -> String? {
        var title = text
        for marker in ["(m/w/d)", "(w/m/d)", "(m/f/d)", "(f/m/d)", "(h/f)", "(f/h)", "(m/w)", "(w/m)"] {
            title = title.replacingOccurrences(of: marker, with: "", options: .caseInsensitive)
        }
        // Drop a leading date range ("01/2016–Present Financial Controller"), then one that follows the title.
        var tokens = title.split(separator: " ")
        func isDateWord(_ token: Substring) -> Bool {
            let lower = token.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".,:;()"))
            return token.contains(where: \.isNumber) || Lexicon.months[lower] != nil || Lexicon.presentWords.contains(lower)
                || Lexicon.sinceWords.contains(lower) || Lexicon.rangeWords.contains(lower)
                || lower.split(whereSeparator: { "–—-/".contains($0) }).contains { Lexicon.presentWords.contains(String($0)) }
        }
        if tokens.count > 1, isDateWord(tokens[0]) {
            while let first = tokens.first, isDateWord(first) { tokens.removeFirst() }
            title = tokens.joined(separator: " ")
        }
        if let cut = tokens.firstIndex(where: { token in
            let digits = token.filter(\.isNumber)
            let month = Lexicon.months[token.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".,"))]
            return digits.count == 4 || (month != nil && tokens.count > 2)
        }), cut > 0 {
            title = tokens[..<cut].joined(separator: " ")
        }
        title = title.trimmingCharacters(in: CharacterSet(charactersIn: " \t-–—|,:;()•"))
        guard !title.isEmpty, title.count <= 200, title.contains(where: \.isLetter) else { return nil }
        return title
    }

    // MARK: Location

    struct LocationGuess {
        let city: String?
        let country: String?
        let confidence: Double
    }

    func findLocation(_ document: CVDocument) -> LocationGuess? {
        for (value, _) in document.labelledValues(Lexicon.locationLabels) {
            if let found = place(in: value, known: 0.85, unknown: 0.6) { return found }
        }
        for line in document.header.prefix(10) + document.lines.filter({ $0.section == .contact }).prefix(10) {
            if let found = place(in: line.text, known: 0.75, unknown: nil) { return found }
        }
        for line in document.header.prefix(10) + document.lines.filter({ $0.section == .contact }).prefix(10) where !line.text.contains("@") {
            if let found = place(in: line.text, known: 0.75, unknown: 0.55, requireCountry: true) { return found }
        }
        for line in document.lines {
            let tokens = line.tokens
            for phrase in Lexicon.locationPhrases {
                for start in tokens.indices where start + phrase.count <= tokens.count {
                    guard zip(tokens[start..<(start + phrase.count)], phrase).allSatisfy({ $0.lower == $1 }) else { continue }
                    let rest = tokens[(start + phrase.count)...].prefix(6)
                    let text = rest.map(\.text).joined(separator: " ")
                    if let found = place(in: text, known: 0.7, unknown: nil) { return found }
                }
            }
        }
        return nil
    }

    /// A known city (its country from the taxonomy unless the text names another), or, when `unknown` is
    /// given, an unknown place name next to a known country ("Winterthur, Switzerland").
    func place(in text: String, known: Double, unknown: Double?, requireCountry: Bool = false) -> LocationGuess? {
        let tokens = CVToken.tokenize(text)
        let cities = taxonomy.cityMatcher.matches(in: tokens)
        let countries = taxonomy.countryMatcher.matches(in: tokens).filter { match in
            // Two-letter country codes only as list items ("Zurich, CH"), never inside prose.
            let word = tokens[match.start]
            return word.text.count > 2 || match.start > 0
        }
        let explicitCountry = countries.first.map { taxonomy.countries[$0.payload] }
        if let city = cities.first {
            let place = taxonomy.places[city.payload]
            return LocationGuess(city: place.city, country: explicitCountry ?? place.country, confidence: known)
        }
        guard let unknown, explicitCountry != nil || !requireCountry else { return nil }
        // An unknown city: the piece after a postcode ("6900 Lugano"), else the one before the country, else the
        // first place-like piece; never a street ("Via Roma 1").
        let pieces = CVDocument.segments(text)
        var cityPiece: String?
        var bestScore = 0
        for (index, piece) in pieces.enumerated() {
            let words = piece.split(separator: " ")
            guard let first = words.first else { continue }
            let postcode = words.count > 1 && (4...5).contains(first.count) && first.allSatisfy(\.isNumber)
            if !postcode, words.contains(where: { $0.contains(where: \.isNumber) }) { continue }
            let kept = postcode ? Array(words.dropFirst()) : words
            let placeLike = (1...3).contains(kept.count) && kept.allSatisfy { word in
                word.first?.isUppercase == true && word.allSatisfy { $0.isLetter || "-.'".contains($0) }
                    && !Lexicon.streetWords.contains(word.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")))
            }
            let name = kept.joined(separator: " ")
            guard placeLike, taxonomy.countryMatcher.matches(in: CVToken.tokenize(name)).isEmpty,
                taxonomy.languageMatcher.matches(in: CVToken.tokenize(name)).isEmpty, !Self.hasRoleWord(name)
            else { continue }
            let beforeCountry = index + 1 < pieces.count && !taxonomy.countryMatcher.matches(in: CVToken.tokenize(pieces[index + 1])).isEmpty
            let score = postcode ? 3 : beforeCountry ? 2 : 1
            if score > bestScore {
                bestScore = score
                cityPiece = name
            }
        }
        if explicitCountry == nil && cityPiece == nil { return nil }
        return LocationGuess(city: cityPiece, country: explicitCountry, confidence: unknown)
    }
}
