import ATSDomain
import ATSStore
import Foundation

extension DemoGenerator {
    /// Applications asked for, capped at half of all candidate x job pairs so free pairs stay easy to find.
    func plannedApplications() -> Int {
        let open = jobs.filter { $0.status != "draft" }.count
        let pairs = candidates.count * open
        return min(configuration.applications, pairs / 2)
    }

    private static let stageWeights = WeightedTable([28, 22, 20, 15, 6, 9])
    private static let interviewStage = 3

    /// The next `count` applications with their stage histories; their interviews wait in `pendingInterviews`.
    mutating func makeApplications(count: Int) throws -> DemoBatch {
        var random = applicationRandom
        defer { applicationRandom = random }
        let jobWeights = WeightedTable(
            jobs.map { job in
                switch job.status {
                case "active": 10
                case "closed": 8
                case "paused": 5
                default: 0
                }
            })
        var batch = DemoBatch(label: "applications")
        guard !jobWeights.isEmpty, !candidates.isEmpty else { return batch }
        var interviews: [Record] = []
        var made = 0
        var misses = 0
        while made < count, misses < 1_000 {
            let jobIndex = jobWeights.pick(&random)
            let job = jobs[jobIndex]
            let sameFamily = candidatesByFamily[job.family]
            let candidateIndex =
                !sameFamily.isEmpty && random.chance(0.75)
                ? Int(sameFamily[random.below(sameFamily.count)]) : random.below(candidates.count)
            let candidate = candidates[candidateIndex]
            let pair = Int64(candidateIndex) * Int64(jobs.count) + Int64(jobIndex)
            let limit = job.closed ?? now
            let low = max(candidate.created, job.created) + 3_600
            let high = limit - 3_600
            guard candidate.available, high > low, !pairs.contains(pair) else {
                misses += 1
                continue
            }
            pairs.insert(pair)
            made += 1
            misses = 0
            let record = try makeApplication(
                &random, candidateIndex: candidateIndex, jobIndex: jobIndex, window: (low, high), limit: limit,
                events: &batch.stageEvents, interviews: &interviews)
            batch.records.append(record)
        }
        pendingInterviews = interviews
        interviewCount += interviews.count
        return batch
    }

    private mutating func makeApplication(
        _ random: inout DemoRandom, candidateIndex: Int, jobIndex: Int, window: (Int64, Int64), limit: Int64,
        events: inout [StageEvent], interviews: inout [Record]
    ) throws -> Record {
        let job = jobs[jobIndex]
        let candidate = candidates[candidateIndex]
        // Early in the window, so there is time to move on.
        let created = time(&random, window.0, window.1, skew: 0.6)
        let id = makeID(at: created, &random)
        let actor = "user:\(job.owner)"

        var target = Self.stageWeights.pick(&random)
        if target == stages.count - 1, jobs[jobIndex].hires >= job.openings { target = stages.count - 2 }
        var times = [created]
        var moment = created
        for _ in 0..<target {
            let gapHours = 6 + Int64(pow(random.unit(), 2) * 14 * 24)
            let next = moment + gapHours * 3_600 + Int64(random.below(3_600))
            if next >= limit - 60 { break }
            moment = next
            times.append(moment)
        }
        let stage = times.count - 1
        var previous: String?
        for (position, at) in times.enumerated() {
            events.append(
                StageEvent(
                    id: makeID(at: at, &random), applicationID: id, fromStage: previous, toStage: stages[position],
                    actor: actor, at: stamp(at)))
            previous = stages[position]
        }

        var status = "active"
        var reason: String?
        if stage == stages.count - 1 {
            status = "hired"
            jobs[jobIndex].hires += 1
        } else if job.closed != nil {
            status = random.chance(0.85) ? "rejected" : "withdrawn"
            reason = status == "rejected" ? "Position filled" : random.pick(reference.texts.withdrawalReasons)
        } else {
            let roll = random.below(100)
            if roll < 22 {
                status = "rejected"
                reason =
                    stage <= 1 && random.chance(0.4)
                    ? "Candidate not responsive" : random.pick(reference.texts.rejectionReasons)
            } else if roll < 28 {
                status = "withdrawn"
                reason = random.pick(reference.texts.withdrawalReasons)
            }
        }
        let lastMove = times[stage]
        let updated = status == "active" || status == "hired" ? lastMove : min(limit - 1, lastMove + Int64(random.int(0...432_000)))
        let noise = random.int(-15...15)
        let score = max(0, min(100, 38 + stage * 9 + noise - (status == "rejected" ? 10 : 0)))
        var fields: JSONObject = [
            "candidateId": .string(candidate.id),
            "jobId": .string(job.id),
            "stage": .string(stages[stage]),
            "status": .string(status),
            "source": .string(random.pick(["Sourced", "Sourced", "Applied", "Referral", "Agency database", "LinkedIn"])),
            "score": .int(Int64(score)),
            "ownerId": .string(job.owner),
        ]
        if stage >= 2, random.chance(0.7) {
            fields["rating"] = .int(Int64(max(1, min(5, 2 + stage / 2 + random.int(-1...1)))))
        }
        if let reason {
            fields["rejectionReason"] = .string(status == "withdrawn" ? "Withdrawn: \(reason)" : reason)
        }
        jobs[jobIndex].applications += 1
        applications.append(ApplicationInfo(id: id, candidate: candidateIndex, job: jobIndex, created: created, owner: job.owner))

        if stage >= Self.interviewStage {
            let end = stage > Self.interviewStage ? times[Self.interviewStage + 1] : (status == "active" ? now + 10 * 86_400 : updated)
            try makeInterviews(
                applicationID: id, candidateIndex: candidateIndex, jobIndex: jobIndex, from: times[Self.interviewStage],
                to: end, rounds: stage == Self.interviewStage ? 1 + interviewRandom.below(2) : 2 + interviewRandom.below(2),
                rejectedAtInterview: stage == Self.interviewStage && status == "rejected", into: &interviews)
        }
        return Record(
            kind: .application, id: id, createdAt: stamp(created), updatedAt: stamp(updated),
            fields: try validated(.application, fields, readOnly: ["stageChangedAt": .string(stamp(lastMove))]))
    }

    private static let roundTypes = [["phone", "video"], ["technical", "onsite", "video"], ["panel", "onsite"]]

    /// Interviews between entering the Interview stage and leaving it (or the days ahead, for live ones).
    private mutating func makeInterviews(
        applicationID: String, candidateIndex: Int, jobIndex: Int, from: Int64, to: Int64, rounds: Int,
        rejectedAtInterview: Bool, into records: inout [Record]
    ) throws {
        var random = interviewRandom
        defer { interviewRandom = random }
        let job = jobs[jobIndex]
        let client = clients[job.client]
        let span = max(3_600, to - from)
        for round in 0..<rounds {
            // Rounds spread evenly over the window, at office hours.
            let slot = from + span * Int64(round + 1) / Int64(rounds + 1)
            var scheduled = slot - slot % 86_400 + Int64(random.int(8...16)) * 3_600 + Int64(random.pick([0, 1_800]))
            if scheduled <= from || scheduled + 7_200 >= from + span { scheduled = slot }
            let type = random.pick(Self.roundTypes[min(round, Self.roundTypes.count - 1)])
            let duration: Int
            switch type {
            case "phone": duration = 30
            case "video": duration = random.pick([45, 60])
            case "technical": duration = 90
            case "panel": duration = 60
            default: duration = random.pick([60, 120])
            }
            let location: String
            switch type {
            case "phone": location = "Phone"
            case "onsite", "panel": location = "\(client.name), \(client.city)"
            default: location = random.pick(reference.texts.meetingLocations)
            }
            var interviewers = [job.owner]
            if round > 0, let manager = job.hiringManagers.first { interviewers.append(manager) }
            let created = max(from, min(now, scheduled - Int64(random.int(1...6)) * 86_400))
            var fields: JSONObject = [
                "applicationId": .string(applicationID),
                "scheduledAt": .string(stamp(scheduled)),
                "durationMinutes": .int(Int64(duration)),
                "type": .string(type),
                "location": .string(location),
                "interviewerIds": .array(interviewers.map(JSONValue.string)),
            ]
            var updated = created
            let finished = scheduled + Int64(duration) * 60
            if finished > now {
                fields["status"] = .string("scheduled")
            } else {
                let last = round == rounds - 1
                let roll = random.below(100)
                if !last, roll < 4 {
                    fields["status"] = .string(roll < 2 ? "cancelled" : "no_show")
                    updated = min(now, scheduled)
                } else {
                    var fill = Fill()
                    fill[.skill1] = job.skills.first ?? job.title
                    fill[.skill2] = job.skills.dropFirst().first ?? fill[.skill1]
                    let negative = last && rejectedAtInterview
                    fields["status"] = .string("completed")
                    fields["feedback"] = .string(random.pick(negative ? texts.negativeFeedback : texts.positiveFeedback).render(fill))
                    let rating = negative ? random.int(1...2) : random.int(3...5)
                    fields["rating"] = .int(Int64(rating))
                    fields["recommendation"] = .string(
                        rating == 1 ? "strong_no" : rating == 2 ? "no" : rating == 5 ? "strong_yes" : "yes")
                    updated = min(now, finished + Int64(random.int(600...86_400)))
                }
            }
            let candidate = candidates[candidateIndex]
            records.append(
                Record(
                    kind: .interview, id: makeID(at: created, &random), createdAt: stamp(created),
                    updatedAt: stamp(max(created, updated)),
                    fields: try validated(
                        .interview, fields,
                        readOnly: ["candidateId": .string(candidate.id), "jobId": .string(job.id)])))
        }
    }

    /// Notes and activities on candidates, applications and jobs.
    mutating func makeNotes(count: Int) throws -> DemoBatch {
        var random = noteRandom
        defer { noteRandom = random }
        var batch = DemoBatch(label: "notes")
        let openJobs = jobs.indices.filter { jobs[$0].status != "draft" }
        for _ in 0..<count {
            notesMade += 1
            let roll = random.below(100)
            var fill = Fill()
            var fields: JSONObject = [:]
            let note: CompiledTexts.Note
            let targetCreated: Int64
            var author = random.pick(users.recruiters)
            if roll < 35, !applications.isEmpty {
                let application = applications[random.below(applications.count)]
                let candidate = candidates[application.candidate]
                let job = jobs[application.job]
                note = random.pick(texts.applicationNotes)
                fill[.first] = candidate.firstName
                fill[.client] = clients[job.client].name
                fill[.job] = job.title
                fill[.skill1] = job.skills.first ?? job.title
                fill[.skill2] = job.skills.dropFirst().first ?? fill[.skill1]
                fill[.salary] = candidate.salary
                fields["applicationId"] = .string(application.id)
                targetCreated = application.created
                if random.chance(0.8) { author = application.owner }
            } else if roll < 50, !openJobs.isEmpty {
                let job = jobs[random.pick(openJobs)]
                note = random.pick(texts.jobNotes)
                fill[.client] = clients[job.client].name
                fill[.job] = job.title
                fill[.skill1] = job.skills.first ?? job.title
                fill[.skill2] = job.skills.dropFirst().first ?? fill[.skill1]
                fill[.remote] = reference.texts.remote["en"]?[job.remote] ?? job.remote
                fill[.count] = String(job.applications)
                fields["jobId"] = .string(job.id)
                targetCreated = job.created
                if random.chance(0.8) { author = job.owner }
            } else if !candidates.isEmpty {
                let candidate = candidates[random.below(candidates.count)]
                // English, or the candidate's own language.
                let fitting = texts.candidateNotes.filter { $0.language == "en" || $0.language == candidate.language }
                note = random.pick(fitting.isEmpty ? texts.candidateNotes : fitting)
                fill[.first] = candidate.firstName
                fill[.family] = reference.families[candidate.family].name.lowercased()
                fill[.title] = candidate.title
                fill[.salary] = candidate.salary
                fill[.days] = String(random.pick([7, 14, 30, 60, 90]))
                fill[.city] = candidate.city
                fill[.skill1] = candidate.topSkills.first ?? candidate.title
                fill[.remote] = reference.texts.remote[note.language]?[candidate.remoteMode] ?? candidate.remoteMode
                fill[.weeks] = String(candidate.noticeWeeks)
                fields["candidateId"] = .string(candidate.id)
                targetCreated = candidate.created
                if random.chance(0.7) { author = candidate.owner }
            } else {
                continue
            }
            fields["body"] = .string(note.template.render(fill))
            fields["type"] = .string(note.type)
            fields["pinned"] = .bool(random.chance(0.05))
            let created = time(&random, targetCreated + 60, now, skew: 0.7)
            batch.records.append(
                Record(
                    kind: .note, id: makeID(at: created, &random), createdAt: stamp(created),
                    updatedAt: stamp(created),
                    fields: try validated(.note, fields, readOnly: ["authorId": .string(author)])))
        }
        return batch
    }
}
