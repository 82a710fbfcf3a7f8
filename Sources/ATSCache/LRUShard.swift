import Foundation

/// One shard of a `MemoryCache`: its entries in a dictionary from key to slot, a doubly
/// linked recency list threaded through an array of slots (head: most recently used; tail:
/// the next victim), its share of the budgets, its generations, its running loads and its
/// counters. Every operation is O(1) (amortized for the dictionary). Not thread-safe: the
/// cache keeps each shard behind its own `Mutex`.
struct LRUShard {
    /// One entry, or a free slot (empty key and value) waiting for reuse.
    struct Slot {
        var key: String
        var value: [UInt8]
        var cost: Int
        /// Clock reading from which `get` no longer returns the value (`UInt64.max`: never).
        var expiresAt: UInt64
        /// Clock reading from which the entry is dead; after `expiresAt` only for fetched
        /// entries, which `fetch` may serve while a refresh runs.
        var staleUntil: UInt64
        /// The loader's measured duration (XFetch's delta); 0 for entries stored by `set`.
        var loadNanos: UInt64
        var previous: Int
        var next: Int
    }

    /// What `fetch` does after one look under the lock.
    enum FetchStep {
        case hit([UInt8])
        /// Return the value and run `Flight` in the background (early or stale refresh).
        case hitAndRefresh([UInt8], Flight)
        /// Wait for another caller's load.
        case wait(Flight)
        /// Run the loader (this caller started `Flight`) and wait for it.
        case lead(Flight)
    }

    static let none = -1

    let maxBytes: Int
    let maxEntries: Int
    /// The largest entry cost this shard stores.
    let maxEntryCost: Int

    private(set) var index: [String: Int] = [:]
    private(set) var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private(set) var head = LRUShard.none
    private(set) var tail = LRUShard.none
    private(set) var bytes = 0
    private var generations: [String: UInt64] = [:]
    /// The load in progress per key. A load stores its result only while it is still the one
    /// registered here: `set`, `delete` and `removeAll` unregister it.
    private var flights: [String: Flight] = [:]
    private(set) var counters = CacheFigures()
    var random = FastRandom()

    init(maxBytes: Int, maxEntries: Int, maxEntryCost: Int) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
        self.maxEntryCost = maxEntryCost
    }

    var figures: CacheFigures {
        var figures = counters
        figures.entries = index.count
        figures.bytes = bytes
        figures.maxBytes = maxBytes
        figures.maxEntries = maxEntries
        return figures
    }

    // MARK: - Entries

    mutating func get(_ key: String, now: UInt64) -> [UInt8]? {
        guard let slot = index[key] else {
            counters.misses += 1
            return nil
        }
        if now >= slots[slot].expiresAt {
            if now >= slots[slot].staleUntil { expire(slot) }
            counters.misses += 1
            return nil
        }
        touch(slot)
        counters.hits += 1
        return slots[slot].value
    }

    /// Stores an entry (replacing the key's), evicting from the tail first so the budgets hold
    /// at every moment. An entry the shard will not hold removes the key's older one.
    mutating func set(
        _ key: String, _ value: [UInt8], cost: Int, expiresAt: UInt64, staleUntil: UInt64, loadNanos: UInt64, now: UInt64
    ) {
        flights.removeValue(forKey: key)
        store(key, value, cost: cost, expiresAt: expiresAt, staleUntil: staleUntil, loadNanos: loadNanos, now: now)
    }

    private mutating func store(
        _ key: String, _ value: [UInt8], cost: Int, expiresAt: UInt64, staleUntil: UInt64, loadNanos: UInt64, now: UInt64
    ) {
        if let old = index[key] { unlinkAndFree(old) }
        guard cost <= maxEntryCost, expiresAt > now, maxEntries > 0 else { return }
        while tail != LRUShard.none && (bytes + cost > maxBytes || index.count + 1 > maxEntries) {
            if now >= slots[tail].expiresAt { expire(tail) } else { evict(tail) }
        }
        let entry = Slot(
            key: key, value: value, cost: cost, expiresAt: expiresAt, staleUntil: staleUntil, loadNanos: loadNanos,
            previous: LRUShard.none, next: head)
        let slot: Int
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
        if head != LRUShard.none { slots[head].previous = slot }
        head = slot
        if tail == LRUShard.none { tail = slot }
        index[key] = slot
        bytes += cost
    }

    /// True when a live entry was removed. An expired one is removed too, but counted as an
    /// expiration and reported absent.
    mutating func delete(_ key: String, now: UInt64) -> Bool {
        flights.removeValue(forKey: key)
        guard let slot = index[key] else { return false }
        if now >= slots[slot].expiresAt {
            expire(slot)
            return false
        }
        unlinkAndFree(slot)
        return true
    }

    mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        head = LRUShard.none
        tail = LRUShard.none
        bytes = 0
        generations.removeAll()
        flights.removeAll()
    }

    // MARK: - Generations

    mutating func generation(_ key: String, bump: Bool) -> UInt64 {
        // Below 2^62: billions of bumps stay far from wrapping around.
        var value = generations[key] ?? UInt64.random(in: 1...(1 << 62))
        if bump { value &+= 1 }
        generations[key] = value
        return value
    }

    // MARK: - Fetch

    /// One look for `fetch`: a fresh value (maybe starting an XFetch refresh), a stale value
    /// within its grace (starting a refresh unless one runs), or a load to join or start.
    mutating func beginFetch(
        _ key: String, now: UInt64, beta: Double, draw: (@Sendable () -> Double)?
    ) -> FetchStep {
        if let slot = index[key] {
            let expiresAt = slots[slot].expiresAt
            if now < expiresAt {
                touch(slot)
                counters.hits += 1
                let value = slots[slot].value
                if flights[key] == nil,
                   refreshesEarly(now: now, expiresAt: expiresAt, loadNanos: slots[slot].loadNanos, beta: beta, draw: draw)
                {
                    counters.earlyRefreshes += 1
                    return .hitAndRefresh(value, startFlight(key))
                }
                return .hit(value)
            }
            if now < slots[slot].staleUntil {
                touch(slot)
                counters.hits += 1
                counters.staleServed += 1
                let value = slots[slot].value
                if flights[key] == nil { return .hitAndRefresh(value, startFlight(key)) }
                return .hit(value)
            }
            expire(slot)
        }
        counters.misses += 1
        if let flight = flights[key] {
            counters.coalesced += 1
            return .wait(flight)
        }
        return .lead(startFlight(key))
    }

    /// Records the end of a load; stores its value only when `flight` is still the key's
    /// current load (no set/delete/removeAll came in between). nil drops the cached value.
    mutating func finishFetch(
        _ key: String, flight: Flight, outcome: Result<[UInt8]?, any Error>, cost: Int, expiresAt: UInt64,
        staleUntil: UInt64, loadNanos: UInt64, now: UInt64
    ) {
        counters.loads += 1
        guard flights[key] === flight else {
            if case .failure = outcome { counters.loadFailures += 1 }
            return
        }
        flights.removeValue(forKey: key)
        switch outcome {
        case .failure:
            counters.loadFailures += 1
        case .success(nil):
            if let slot = index[key] { unlinkAndFree(slot) }
        case .success(let value?):
            store(key, value, cost: cost, expiresAt: expiresAt, staleUntil: staleUntil, loadNanos: loadNanos, now: now)
        }
    }

    private mutating func startFlight(_ key: String) -> Flight {
        let flight = Flight()
        flights[key] = flight
        return flight
    }

    /// XFetch (Vattani, Chierichetti, Lowenstein, "Optimal Probabilistic Cache Stampede
    /// Prevention", VLDB 2015): refresh when `now - delta * beta * ln(u) >= expiry`, u uniform
    /// in (0, 1]. The closer the expiry and the slower the loader, the likelier; one caller
    /// among many usually refreshes well before the value expires.
    private mutating func refreshesEarly(
        now: UInt64, expiresAt: UInt64, loadNanos: UInt64, beta: Double, draw: (@Sendable () -> Double)?
    ) -> Bool {
        guard beta > 0, loadNanos > 0, expiresAt != UInt64.max else { return false }
        let remaining = Double(expiresAt - now)
        let scale = Double(loadNanos) * beta
        // -ln(u) is at most 36.8 for a 53-bit u: far from expiry, skip the draw.
        if remaining > scale * 37 { return false }
        let u = draw?() ?? random.nextUnitInterval()
        guard u > 0 else { return true }
        return remaining <= scale * -log(min(u, 1))
    }

    // MARK: - The list

    private mutating func touch(_ slot: Int) {
        guard slot != head else { return }
        unlink(slot)
        slots[slot].previous = LRUShard.none
        slots[slot].next = head
        if head != LRUShard.none { slots[head].previous = slot }
        head = slot
        if tail == LRUShard.none { tail = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let previous = slots[slot].previous
        let next = slots[slot].next
        if previous != LRUShard.none { slots[previous].next = next } else { head = next }
        if next != LRUShard.none { slots[next].previous = previous } else { tail = previous }
    }

    private mutating func unlinkAndFree(_ slot: Int) {
        unlink(slot)
        index.removeValue(forKey: slots[slot].key)
        bytes -= slots[slot].cost
        slots[slot] = Slot(
            key: "", value: [], cost: 0, expiresAt: 0, staleUntil: 0, loadNanos: 0,
            previous: LRUShard.none, next: LRUShard.none)
        freeSlots.append(slot)
    }

    private mutating func expire(_ slot: Int) {
        counters.expirations += 1
        unlinkAndFree(slot)
    }

    private mutating func evict(_ slot: Int) {
        counters.evictions += 1
        unlinkAndFree(slot)
    }

    // MARK: - Checks

    /// The invariants, for tests: the list and the dictionary hold the same slots, the byte
    /// count is the sum of the costs, and both budgets hold. Returns what is broken, if anything.
    func brokenInvariant() -> String? {
        var seen = 0
        var sum = 0
        var slot = head
        var previous = LRUShard.none
        while slot != LRUShard.none {
            seen += 1
            if seen > index.count { return "the list is longer than the index (a cycle?)" }
            if slots[slot].previous != previous { return "slot \(slot) has a wrong back link" }
            if index[slots[slot].key] != slot { return "slot \(slot) is not indexed under its key" }
            sum += slots[slot].cost
            previous = slot
            slot = slots[slot].next
        }
        if previous != tail { return "the tail is not the list's last slot" }
        if seen != index.count { return "the list holds \(seen) slots, the index \(index.count)" }
        if sum != bytes { return "bytes \(bytes) but the costs add up to \(sum)" }
        if bytes > maxBytes { return "bytes \(bytes) over the budget \(maxBytes)" }
        if index.count > maxEntries { return "\(index.count) entries over the budget \(maxEntries)" }
        return nil
    }
}
