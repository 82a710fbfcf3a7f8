import ServiceLifecycle

extension ApplianceTracer {
    /// The exporter loop: exports every `flushInterval`, when a batch fills, or when asked
    /// (`forceFlush`, `flush`). On graceful shutdown (or cancellation) it exports what is
    /// queued, closes the sink and returns.
    public func run() async throws {
        exportState.withLock { $0.loopRunning = true }
        let interval = configuration.flushInterval
        let wake = self.wake
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do {
                        try await Task.sleep(for: interval)
                    } catch {
                        return
                    }
                    wake.yield()
                }
            }
            await withGracefulShutdownHandler {
                for await _ in wakeUps {
                    await exportQueued()
                }
            } onGracefulShutdown: {
                wake.finish()
            }
            group.cancelAll()
        }
        await exportQueued()
        let waiters = exportState.withLock { state in
            state.loopRunning = false
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for waiter in waiters { waiter.resume() }
        await closeSink()
    }

    /// Waits until every span that ended before the call has been written or dropped.
    /// Without a running exporter loop it exports them itself.
    public func flush() async {
        guard hasSink else { return }
        let (target, running) = exportState.withLock { ($0.offered, $0.loopRunning) }
        guard running else {
            await exportQueued()
            return
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = exportState.withLock { state -> Bool in
                if state.isDone(through: target) || !state.loopRunning { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if done {
                continuation.resume()
            } else {
                wake.yield()
            }
        }
    }
}
