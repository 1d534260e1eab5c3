import ArgumentParser
import Dispatch
import Foundation
import MienFaceDetection
import MienModelFile
import MienNN
import MienServe

/// `mien serve`: the model and the face detector over HTTP and WebSocket, with the live page.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over HTTP: POST /predict, a WebSocket at /ws for camera frames, and a live page at /.",
        discussion: """
        POST /predict takes a JPEG or PNG photo and answers the faces in it as JSON (as mien \
        predict does for a photo). /ws takes each camera frame as a binary message and answers \
        it; frames that come while one is being processed are dropped but the newest. \
        GET / is a page that opens the camera and draws each face's box and emotion over the \
        video. GET /stats counts frames, drops, requests and errors. Ctrl-C or SIGTERM stops \
        the server after the requests in flight.
        """)

    @Argument(help: "A .mien model, or a Keras .h5 or .keras (see the input options).")
    var model: String

    @OptionGroup var options: ModelOptions

    @OptionGroup var detection: DetectorOptions

    @Option(help: "The address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).")
    var host: String = "127.0.0.1"

    @Option(parsing: .unconditional, help: "The port, 0...65535 (0: any free port, printed at start).")
    var port: Int = 8080

    @Option(parsing: .unconditional, help: "The largest upload or frame in bytes, 1024...268435456.")
    var maxUploadBytes: Int = 8 << 20

    @Option(parsing: .unconditional, help: "Requests that may wait for a free core, 0...4096; more are answered 503.")
    var queueLength: Int = 16

    @Option(parsing: .unconditional, help: "For one sigmoid output: the score from which a face is the second class, 0...1.")
    var threshold: Float = 0.5

    func validate() throws {
        try OptionCheck.range("--port", port, 0...65535)
        try OptionCheck.range("--max-upload-bytes", maxUploadBytes, 1024...(256 << 20))
        try OptionCheck.range("--queue-length", queueLength, 0...4096)
        try OptionCheck.threshold(threshold)
    }

    func run() throws {
        try reportingErrors {
            let predictor = try Predictor(model: try options.load(model), threshold: threshold)
            let photos = try PhotoPredictor(detector: try detection.load(model: model), predictor: predictor)
            let server = FaceServer(predictor: photos, options: ServerOptions(
                host: host, port: port, maxUploadBytes: maxUploadBytes, queueLength: queueLength))
            let (host, model) = (host, model)
            let result = ConcurrentResults<Bool>(count: 1)
            let done = DispatchSemaphore(value: 0)
            Task {
                result.set(0, await Result {
                    try await server.run { port in
                        // The one line a script waits for (stdout, written at once).
                        FileHandle.standardOutput.write(Data("serving \(model) at http://\(host):\(port)/\n".utf8))
                    }
                    return true
                })
                done.signal()
            }
            done.wait()
            _ = try result.get(0).get()
        }
    }
}

extension Result where Failure == Error {
    /// The result of an async throwing body.
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
