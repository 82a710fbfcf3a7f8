import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An OpenAI-style embeddings server on a loopback port, for the HTTP embedder tests: it
/// records every request and answers each with the next scripted reply (`.embeddings` once
/// the script is used up). The vector of an input is [count of its characters, 1, 2, ...]
/// before normalization, returned in reverse order with `index` fields.
final class LoopbackEmbeddingsServer: Sendable {
    enum Reply: Sendable {
        case embeddings
        case status(Int, body: String = "{}")
        case raw(String)
    }

    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [String: String]
        var body: [String: any Sendable]

        var inputs: [String] { body["input"] as? [String] ?? [] }
    }

    let dimensions: Int
    let requests = Mutex<[Request]>([])
    private let script: Mutex<[Reply]>
    private let channel: any Channel

    var port: Int { channel.localAddress?.port ?? 0 }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(dimensions: Int, script: [Reply] = []) async throws {
        self.dimensions = dimensions
        self.script = Mutex(script)
        let box = Box()
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(server: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.server.withLock { $0 = self }
    }

    func stop() async {
        try? await channel.close()
    }

    fileprivate func reply(to request: Request) -> (status: Int, body: String) {
        requests.withLock { $0.append(request) }
        let next = script.withLock { $0.isEmpty ? Reply.embeddings : $0.removeFirst() }
        switch next {
        case .status(let status, let body):
            return (status, body)
        case .raw(let body):
            return (200, body)
        case .embeddings:
            let inputs = request.inputs
            let items = inputs.enumerated().reversed().map { index, text in
                let vector = [Double(text.count)] + (1..<dimensions).map(Double.init)
                return "{\"object\":\"embedding\",\"index\":\(index),\"embedding\":[\(vector.map { String($0) }.joined(separator: ","))]}"
            }
            return (200, "{\"object\":\"list\",\"data\":[\(items.joined(separator: ","))],\"model\":\"test\"}")
        }
    }

    /// Lets the handlers reach the server once it exists.
    fileprivate final class Box: Sendable {
        let server = Mutex<LoopbackEmbeddingsServer?>(nil)
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let server: Box
        private var head: HTTPRequestHead?
        private var body: [UInt8] = []

        init(server: Box) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = []
            case .body(let buffer):
                body += buffer.readableBytesView
            case .end:
                guard let head, let server = server.server.withLock({ $0 }) else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
                var sendable: [String: any Sendable] = [:]
                if let model = json["model"] as? String { sendable["model"] = model }
                if let input = json["input"] as? [String] { sendable["input"] = input }
                let answer = server.reply(to: Request(method: "\(head.method)", uri: head.uri, headers: headers, body: sendable))
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "Content-Type", value: "application/json")
                responseHeaders.add(name: "Content-Length", value: String(answer.body.utf8.count))
                responseHeaders.add(name: "Connection", value: "close")
                let responseHead = HTTPResponseHead(
                    version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: responseHeaders)
                context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
            }
        }
    }
}
