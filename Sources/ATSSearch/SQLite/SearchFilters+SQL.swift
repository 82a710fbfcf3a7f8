import GRDB

/// A WHERE fragment over `search_docs AS d` and its arguments.
struct SQLFragment {
    var sql: String
    var arguments: StatementArguments
}

extension SearchFilters {
    /// The filters as SQL conditions on `d` (joined with AND, each starting with " AND "), so
    /// they restrict the match set inside the query rather than a page after it.
    func sqlConditions() -> SQLFragment {
        var sql = ""
        var arguments = StatementArguments()
        let statuses = Array(Set(status.map(SearchValue.fold))).sorted()
        if !statuses.isEmpty {
            sql += " AND d.status IN (" + Array(repeating: "?", count: statuses.count).joined(separator: ", ") + ")"
            arguments += StatementArguments(statuses)
        }
        func attribute(_ attr: String, _ value: String) {
            sql += " AND EXISTS (SELECT 1 FROM search_attrs a WHERE a.attr = '\(attr)' AND a.value = ? AND a.doc = d.doc)"
            arguments += [value]
        }
        for tag in Set(tags.map(SearchValue.fold)).sorted() { attribute("tag", tag) }
        for skill in Set(skills.map(SearchValue.fold)).sorted() { attribute("skill", skill) }
        if let location, !SearchValue.fold(location).isEmpty {
            // Case- and accent-insensitive: "zur" finds "Zürich".
            sql += " AND d.location_key LIKE ? ESCAPE '\\'"
            arguments += ["%" + SearchValue.escapeLike(TextNormalizer.fold(SearchValue.fold(location))) + "%"]
        }
        if let minExperience {
            sql += " AND d.experience >= ?"
            arguments += [minExperience]
        }
        if let maxExperience {
            sql += " AND d.experience <= ?"
            arguments += [maxExperience]
        }
        if let availableBy {
            sql += " AND d.available_from IS NOT NULL AND d.available_from <= ?"
            arguments += [availableBy]
        }
        if let clientID {
            sql += " AND d.client_id = ?"
            arguments += [clientID]
        }
        let stageValue = stage.map(SearchValue.fold).flatMap { $0.isEmpty ? nil : $0 }
        switch (jobID, stageValue) {
        case (let job?, let stage?): attribute("jobstage", SearchValue.jobStage(job, stage))
        case (let job?, nil): attribute("job", job)
        case (nil, let stage?): attribute("stage", stage)
        case (nil, nil): break
        }
        return SQLFragment(sql: sql, arguments: arguments)
    }
}

/// How attribute values are stored, so filters and documents agree.
enum SearchValue {
    /// Case-folded, trimmed, inner whitespace collapsed.
    static func fold(_ value: String) -> String {
        value.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    static func jobStage(_ job: String, _ stage: String) -> String { job + "\u{1F}" + stage }

    static func escapeLike(_ text: String) -> String {
        var out = ""
        for ch in text {
            if ch == "%" || ch == "_" || ch == "\\" { out.append("\\") }
            out.append(ch)
        }
        return out
    }
}
