/// Where encoded batches go: a file, an OTLP/HTTP collector, or a test double.
///
/// Contract: `write` never throws and never crashes on I/O trouble; it returns false when the
/// batch could not be delivered (after whatever retries the sink does), and the tracer counts
/// the batch's spans as dropped. Only the tracer's exporter loop calls `write`, one at a time.
protocol SpanSink: Sendable {
    /// Delivers one `ExportTraceServiceRequest` JSON object.
    func write(_ body: [UInt8], spanCount: Int) async -> Bool
    /// Releases files or connections; called once, when the exporter loop ends.
    func close() async
}
