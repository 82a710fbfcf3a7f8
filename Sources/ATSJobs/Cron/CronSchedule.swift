import Foundation

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week) in UTC:
/// `*`, lists, ranges, steps, month and weekday names, and `@hourly`, `@daily`, `@weekly`,
/// `@monthly`, `@yearly`. As in Vixie cron, when both day fields are restricted a day matching
/// either one fires.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public let expression: String
    let minutes: UInt64
    let hours: UInt64
    let days: UInt64
    let months: UInt64
    let weekdays: UInt64
    let daysRestricted: Bool
    let weekdaysRestricted: Bool

    static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses the expression; `JobQueueError(.invalidRequest)` says what is wrong.
    public init(_ expression: String) throws {
        let trimmed = expression.trimmingCharacters(in: .whitespaces)
        let text = Self.macros[trimmed.lowercased()] ?? trimmed
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw JobQueueError(.invalidRequest, "a cron schedule has 5 fields (minute hour day month weekday)")
        }
        self.expression = trimmed
        minutes = try Self.field(fields[0], 0...59, names: [], label: "minute")
        hours = try Self.field(fields[1], 0...23, names: [], label: "hour")
        days = try Self.field(fields[2], 1...31, names: [], label: "day of month")
        months = try Self.field(fields[3], 1...12, names: Self.monthNames, label: "month", nameBase: 1)
        var weekdays = try Self.field(fields[4], 0...7, names: Self.dayNames, label: "day of week")
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays | 1) & ~(UInt64(1) << 7) }
        self.weekdays = weekdays
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
        guard next(after: Date(timeIntervalSince1970: 0)) != .distantFuture else {
            throw JobQueueError(.invalidRequest, "the cron schedule \"\(trimmed)\" never fires")
        }
    }

    public var description: String { expression }

    static func field(
        _ text: String, _ bounds: ClosedRange<Int>, names: [String], label: String, nameBase: Int = 0
    ) throws -> UInt64 {
        func bad() -> JobQueueError { JobQueueError(.invalidRequest, "bad cron \(label) field \"\(text.prefix(40))\"") }
        func value(_ part: Substring) throws -> Int {
            if let number = Int(part) {
                guard bounds.contains(number) else { throw bad() }
                return number
            }
            if let index = names.firstIndex(of: part.uppercased()) { return index + nameBase }
            throw bad()
        }
        var mask: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let rangeText = pieces.first, !rangeText.isEmpty else { throw bad() }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1, parsed <= bounds.upperBound + 1 else { throw bad() }
                step = parsed
            }
            var low: Int
            var high: Int
            if rangeText == "*" {
                low = bounds.lowerBound
                high = bounds.upperBound
                // `*` for weekdays means 0-6 (7 is Sunday again).
                if names == dayNames { high = 6 }
            } else if let dash = rangeText.firstIndex(of: "-") {
                low = try value(rangeText[..<dash])
                high = try value(rangeText[rangeText.index(after: dash)...])
                guard low <= high else { throw bad() }
            } else {
                low = try value(rangeText)
                high = pieces.count == 2 ? bounds.upperBound : low
            }
            for number in stride(from: low, through: high, by: step) { mask |= 1 << UInt64(number) }
        }
        guard mask != 0 else { throw bad() }
        return mask
    }

    /// The first firing time strictly after `date` (whole minutes, UTC); `.distantFuture` if none
    /// within about eight years.
    public func next(after date: Date) -> Date {
        var seconds = time_t((date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        for _ in 0..<20_000 {
            if months & (1 << UInt64(parts.tm_mon + 1)) == 0 {
                parts.tm_mon += 1
                parts.tm_mday = 1
                parts.tm_hour = 0
                parts.tm_min = 0
            } else if !dayMatches(parts) {
                parts.tm_mday += 1
                parts.tm_hour = 0
                parts.tm_min = 0
            } else if hours & (1 << UInt64(parts.tm_hour)) == 0 {
                parts.tm_hour += 1
                parts.tm_min = 0
            } else if minutes & (1 << UInt64(parts.tm_min)) == 0 {
                parts.tm_min += 1
            } else {
                return Date(timeIntervalSince1970: Double(timegm(&parts)))
            }
            // Normalizes overflow (minute 60, day 32 ...) and fills in the weekday.
            seconds = timegm(&parts)
            gmtime_r(&seconds, &parts)
            if parts.tm_year > 8099 { break }
        }
        return .distantFuture
    }

    func dayMatches(_ parts: tm) -> Bool {
        let day = days & (1 << UInt64(parts.tm_mday)) != 0
        let weekday = weekdays & (1 << UInt64(parts.tm_wday)) != 0
        switch (daysRestricted, weekdaysRestricted) {
        case (true, true): return day || weekday
        case (true, false): return day
        case (false, true): return weekday
        case (false, false): return true
        }
    }
}
