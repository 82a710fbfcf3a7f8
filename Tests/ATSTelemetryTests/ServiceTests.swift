import Logging
import ServiceLifecycle
import Testing
import Tracing

@testable import ATSTelemetry

@Suite("Exporter service")
struct ServiceTests {
    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownFlushesWhatIsQueued() async throws {
        let sink = RecordingSink()
        let tracer = makeTracer(sink: sink) { $0.flushInterval = .seconds(3600) }
        let group = ServiceGroup(services: [tracer], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for _ in 0..<3 { tracer.startSpan("queued", context: .topLevel).end() }
            // Nothing is exported before the (hour-long) interval...
            try await Task.sleep(for: .milliseconds(50))
            #expect(tracer.figures.spansExported == 0)
            // ...but a graceful shutdown flushes before run() returns.
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(tracer.figures.spansExported == 3)
        #expect(sink.spans.count == 3)
        // After the loop stopped, flush() exports by itself.
        tracer.startSpan("late", context: .topLevel).end()
        await tracer.flush()
        #expect(tracer.figures.spansExported == 4)
    }
}
