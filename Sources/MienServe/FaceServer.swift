import Dispatch
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MienFaceDetection
import MienImages
import MienNN
import NIOCore

/// What `mien serve` listens on and how much it takes.
public struct ServerOptions: Sendable {
    public var host: String = "127.0.0.1"
    /// 0 picks a free port (`FaceServer.run` reports it).
    public var port: Int = 8080
    /// The largest upload or WebSocket frame, in bytes.
    public var maxUploadBytes: Int = 8 << 20
    /// `POST /predict` requests that may wait for a free core; more are answered 503 at once.
    public var queueLength: Int = 16

    public init(host: String = "127.0.0.1", port: Int = 8080, maxUploadBytes: Int = 8 << 20, queueLength: Int = 16) {
        self.host = host
        self.port = port
        self.maxUploadBytes = maxUploadBytes
        self.queueLength = queueLength
    }
}

/// `mien serve`: one model and one detector, loaded once, answering over HTTP.
///
/// - `GET /`: the live page (camera, boxes and emotions drawn over the video; no external
///   scripts or fonts).
/// - `POST /predict`: a JPEG or PNG in the body; the faces and scores out, as `mien predict`'s
///   JSON for one photo. 400 for a body that is not an image, 413 above the size limit, 503
///   when the queue is full.
/// - `GET /ws` (WebSocket): binary messages, each a JPEG or PNG frame; each answered with a
///   text message `{"frame", "faces", "milliseconds", "dropped"}`, or `{"frame", "error"}`.
///   Frames that arrive while one is being processed wait in a one-frame mailbox: a newer
///   frame replaces an older one (counted in `dropped`), so a slow server never falls behind.
/// - `GET /stats`: frames answered and dropped, requests, errors (JSON).
///
/// SIGINT and SIGTERM stop it cleanly: requests in flight are answered first.
public final class FaceServer: Sendable {
    public let predictor: PhotoPredictor
    public let options: ServerOptions
    let gate: Gate
    let counters = Counters()

    public init(predictor: PhotoPredictor, options: ServerOptions = ServerOptions()) {
        self.predictor = predictor
        self.options = options
        gate = Gate(slots: BatchRunner.cores, queueLength: options.queueLength)
    }

    /// Serves until SIGINT or SIGTERM; `onStarted` gets the port once the server listens.
    public func run(onStarted: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "mien.serve")
        logger.logLevel = .warning
        let router = Router()
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: LivePage.html)))
        }
        router.get("/stats") { _, _ in self.json(await self.counters.snapshot()) }
        router.post("/predict") { request, _ -> Response in
            await self.counters.add(requests: 1)
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: self.options.maxUploadBytes)
            } catch is NIOTooManyBytesError {
                return await self.failure(.contentTooLarge, "the upload is larger than \(self.options.maxUploadBytes) bytes")
            }
            do {
                let faces = try await self.predict(Array(buffer: body), source: "upload")
                return self.json(["faces": faces])
            } catch is Gate.Full {
                return await self.failure(.serviceUnavailable, "busy: \(self.options.queueLength) requests are waiting; try again")
            } catch {
                return await self.failure(.badRequest, "\(error)")
            }
        }
        let sockets = Router(context: BasicWebSocketRequestContext.self)
        sockets.ws("/ws") { inbound, outbound, _ in
            try await self.serveFrames(inbound, outbound)
        }
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: sockets,
                                           configuration: .init(ws: .init(maxFrameSize: options.maxUploadBytes))),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "mien"),
            onServerRunning: { channel in onStarted(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    /// One WebSocket connection: a reader that keeps only the newest frame, and a worker that
    /// answers frames one at a time.
    func serveFrames(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter) async throws {
        let mailbox = Mailbox()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { Task { await mailbox.close() } }
                var number = 0
                for try await message in inbound.messages(maxSize: self.options.maxUploadBytes) {
                    number += 1
                    await mailbox.put(Frame(number: number, message: message))
                }
            }
            group.addTask {
                while let frame = await mailbox.take() {
                    let reply: [String: Any]
                    let start = ContinuousClock.now
                    switch frame.message {
                    case .binary(let buffer):
                        do {
                            let faces = try await self.predict(Array(buffer: buffer), source: "frame \(frame.number)")
                            let elapsed = ContinuousClock.now - start
                            await self.counters.add(frames: 1)
                            reply = ["frame": frame.number, "faces": faces, "dropped": await mailbox.dropped,
                                     "milliseconds": Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000]
                        } catch {
                            await self.counters.add(errors: 1)
                            reply = ["frame": frame.number, "error": "\(error)"]
                        }
                    case .text:
                        await self.counters.add(errors: 1)
                        reply = ["frame": frame.number, "error": "frame \(frame.number): expected a binary message holding a JPEG or PNG image"]
                    }
                    try await outbound.write(.text(Self.text(reply)))
                }
            }
            try await group.waitForAll()
        }
        await counters.add(dropped: await mailbox.dropped)
    }

    /// Decodes and predicts one image on a free core (waiting in the bounded queue).
    func predict(_ bytes: [UInt8], source: String) async throws -> [[String: Any]] {
        // Alone, a frame uses every core; with others running, a share of them.
        let running = try await gate.enter()
        defer { Task { await gate.leave() } }
        let predictor = predictor, cores = max(1, BatchRunner.cores / running)
        let results = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[FaceResult], Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let image = try ImageDecoder.decode(bytes, path: source)
                    return try predictor.predict(photo: image, source: source, cores: cores)
                })
            }
        }
        // Every class ranked (`top`), for the page's bar chart.
        return results.map { $0.jsonObject(top: Int.max) }
    }

    func failure(_ status: HTTPResponse.Status, _ message: String) async -> Response {
        await counters.add(errors: 1)
        var response = json(["error": message])
        response.status = status
        return response
    }

    func json(_ object: [String: Any]) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: Self.text(object))))
    }

    static func text(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

struct Frame: Sendable {
    var number: Int
    var message: WebSocketMessage
}

/// A one-frame mailbox: `put` replaces a frame not yet taken (and counts it dropped).
actor Mailbox {
    private var frame: Frame?
    private var waiter: CheckedContinuation<Frame?, Never>?
    private var closed = false
    private(set) var dropped = 0

    func put(_ new: Frame) {
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: new)
            return
        }
        if frame != nil { dropped += 1 }
        frame = new
    }

    func take() async -> Frame? {
        if let frame {
            self.frame = nil
            return frame
        }
        if closed { return nil }
        return await withCheckedContinuation { waiter = $0 }
    }

    func close() {
        closed = true
        waiter?.resume(returning: nil)
        waiter = nil
    }
}

/// At most `slots` predictions at once, at most `queueLength` waiting; more are refused.
actor Gate {
    struct Full: Error {}
    let slots: Int
    let queueLength: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(slots: Int, queueLength: Int) {
        self.slots = max(1, slots)
        self.queueLength = max(0, queueLength)
    }

    /// Waits for a slot; returns how many predictions run with this one.
    func enter() async throws -> Int {
        if running < slots {
            running += 1
            return running
        }
        guard waiting.count < queueLength else { throw Full() }
        await withCheckedContinuation { waiting.append($0) }
        return running
    }

    func leave() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}

actor Counters {
    private var frames = 0, dropped = 0, requests = 0, errors = 0

    func add(frames: Int = 0, dropped: Int = 0, requests: Int = 0, errors: Int = 0) {
        self.frames += frames
        self.dropped += dropped
        self.requests += requests
        self.errors += errors
    }

    func snapshot() -> [String: Int] {
        ["frames": frames, "dropped": dropped, "requests": requests, "errors": errors]
    }
}
