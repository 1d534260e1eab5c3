import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdWSClient
import Logging
import MienFaceDetection
import MienImages
import MienModelFile
@testable import MienServe
import MienTestSupport
import NIOCore
import XCTest

/// `mien serve`'s server on a free port of this machine: photos posted, camera frames over a
/// WebSocket, bad input, several clients at once.
final class FaceServerTests: XCTestCase {
    static let weights = Fixtures.packageRoot.appendingPathComponent("Weights").path

    func photo(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mtcnn/photos/\(name)"))))
    }

    /// Starts a server, runs `body` with its base URL, and stops it.
    func withServer(_ options: ServerOptions = ServerOptions(port: 0),
                    _ body: (String) async throws -> Void) async throws {
        let predictor = try PhotoPredictor(detector: try FaceDetector(folder: Self.weights),
                                           predictor: try Predictor(contentsOf: Self.weights + "/fer7.mien"))
        let server = FaceServer(predictor: predictor, options: options)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run { continuation.yield($0) } }
        defer { task.cancel() }
        var iterator = ports.makeAsyncIterator()
        let first = await iterator.next()
        let port = try XCTUnwrap(first)
        try await body("127.0.0.1:\(port)")
        task.cancel()
        _ = await task.result
    }

    func request(_ url: String, method: String = "GET", body: [UInt8]? = nil) async throws -> (Int, [String: Any], String) {
        var request = URLRequest(url: URL(string: "http://\(url)")!)
        request.httpMethod = method
        if let body { request.httpBody = Data(body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        let text = String(decoding: data, as: UTF8.self)
        return (status, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:], text)
    }

    func testPredictAnswersFacesAndRefusesBadUploads() async throws {
        try await withServer(ServerOptions(port: 0, maxUploadBytes: 200_000)) { base in
            let (status, json, _) = try await request("\(base)/predict", method: "POST", body: try photo("composed_05.jpg"))
            XCTAssertEqual(status, 200)
            let faces = try XCTUnwrap(json["faces"] as? [[String: Any]])
            XCTAssertEqual(faces.count, 3)
            XCTAssertEqual((faces[0]["top"] as? [Any])?.count, 7)
            XCTAssertEqual((faces[0]["box"] as? [Double])?.count, 4)

            let (bad, badJSON, _) = try await request("\(base)/predict", method: "POST", body: Array("not an image".utf8))
            XCTAssertEqual(bad, 400)
            XCTAssertTrue((badJSON["error"] as? String ?? "").hasPrefix("upload: "), "\(badJSON)")

            let (large, largeJSON, _) = try await request("\(base)/predict", method: "POST", body: [UInt8](repeating: 0, count: 300_000))
            XCTAssertEqual(large, 413)
            XCTAssertTrue((largeJSON["error"] as? String ?? "").contains("200000 bytes"), "\(largeJSON)")

            let (page, _, html) = try await request(base + "/")
            XCTAssertEqual(page, 200)
            XCTAssertTrue(html.contains("getUserMedia") && html.contains("/ws"))
            XCTAssertFalse(html.contains("<script src") || html.contains("<link") || html.contains("@import"),
                           "the page loads nothing from elsewhere")

            let (_, stats, _) = try await request(base + "/stats")
            XCTAssertEqual(stats["requests"] as? Int, 3)
            XCTAssertEqual(stats["errors"] as? Int, 2)
        }
    }

    /// Frames sent faster than they are answered: the newest waits, older ones are dropped
    /// (counted), each answer names its frame; a text message or a broken image is answered
    /// with an error and the connection goes on.
    func testWebSocketAnswersFramesAndDropsStaleOnes() async throws {
        try await withServer { base in
            let frame = try photo("composed_06.jpg")
            let replies = try await exchange(base, messages: Array(repeating: .binary(frame), count: 9))
            let numbers = replies.compactMap { $0["frame"] as? Int }
            XCTAssertEqual(numbers, numbers.sorted(), "answers in order")
            XCTAssertEqual(numbers.last, 9)
            let dropped = replies.last?["dropped"] as? Int ?? 0
            XCTAssertGreaterThan(dropped, 0, "stale frames dropped")
            XCTAssertEqual(replies.count + dropped, 9, "every frame answered or dropped")
            XCTAssertTrue(replies.allSatisfy { ($0["faces"] as? [Any])?.count == 1 }, "\(replies)")

            let text = try await exchange(base, messages: [.text("hello")])
            XCTAssertEqual(text.first?["error"] as? String, "frame 1: expected a binary message holding a JPEG or PNG image")
            let broken = try await exchange(base, messages: [.binary([0xFF, 0xD8, 0xFF, 1, 2, 3]), .binary(frame)])
            XCTAssertTrue((broken.first?["error"] as? String ?? "").hasPrefix("frame 1: "), "\(broken)")
            XCTAssertEqual((broken.last?["faces"] as? [Any])?.count, 1, "the connection goes on")
        }
    }

    /// A client that sends a frame and hangs up before the answer: the server finishes the
    /// frame, drops the answer, and answers the next client.
    func testClientThatLeavesMidFrame() async throws {
        try await withServer { base in
            let frame = try photo("composed_06.jpg")
            try await WebSocketClient.connect(url: "ws://\(base)/ws", configuration: .init(maxFrameSize: 1 << 22),
                                              logger: Logger(label: "test")) { _, outbound, _ in
                try await outbound.write(.binary(ByteBuffer(bytes: frame)))
                try await outbound.close(.goingAway, reason: nil)
            }
            try await Task.sleep(nanoseconds: 1_500_000_000)
            let replies = try await exchange(base, messages: [.binary(frame)])
            XCTAssertEqual((replies.first?["faces"] as? [Any])?.count, 1)
            let (status, _, _) = try await request(base + "/stats")
            XCTAssertEqual(status, 200)
        }
    }

    /// Eight clients at once, each sending frames as fast as it is answered: no error, and
    /// the server still answers afterwards.
    func testEightClientsAtOnce() async throws {
        try await withServer { base in
            let frame = try photo("composed_00.jpg")
            try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask { try await Self.exchangeTexts(base, messages: Array(repeating: .binary(frame), count: 3)) }
                }
                for try await texts in group {
                    let replies = texts.compactMap { Self.object($0) }
                    XCTAssertFalse(replies.isEmpty)
                    XCTAssertTrue(replies.allSatisfy { $0["error"] == nil }, "\(replies)")
                }
            }
            let (status, stats, _) = try await request(base + "/stats")
            XCTAssertEqual(status, 200)
            XCTAssertEqual(stats["errors"] as? Int, 0)
        }
    }

    enum Message: Sendable { case binary([UInt8]), text(String) }

    static func object(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    /// `exchangeTexts`, the answers as JSON objects.
    func exchange(_ base: String, messages: [Message]) async throws -> [[String: Any]] {
        try await Self.exchangeTexts(base, messages: messages).compactMap { Self.object($0) }
    }

    /// Sends `messages` back to back, then reads answers until the last message's, and
    /// closes. Returns the answers' texts.
    static func exchangeTexts(_ base: String, messages: [Message]) async throws -> [String] {
        let collected = Replies()
        let count = messages.count
        try await WebSocketClient.connect(url: "ws://\(base)/ws", configuration: .init(maxFrameSize: 1 << 22),
                                          logger: Logger(label: "test")) { inbound, outbound, _ in
            for message in messages {
                switch message {
                case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                case .text(let text): try await outbound.write(.text(text))
                }
            }
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message, let object = Self.object(text) else { continue }
                await collected.append(text)
                if object["frame"] as? Int == count { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        return await collected.texts
    }
}

actor Replies {
    var texts: [String] = []
    func append(_ text: String) { texts.append(text) }
}
