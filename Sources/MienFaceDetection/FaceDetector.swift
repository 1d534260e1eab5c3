import Dispatch
import Foundation
import MienImages
import MienModelFile
import MienNN

/// The settings of MTCNN's three stages; the defaults are the `mtcnn` package's except the
/// smallest face and the thresholds (see each).
public struct FaceDetectorOptions: Sendable, Equatable {
    /// The smallest face side, in pixels, the image pyramid looks for. `mtcnn` defaults to
    /// 20 and `fer`'s Haar cascade to 50. 48, FER-2013's own side, skips the largest pyramid
    /// levels (at 40, the largest alone was half of P-Net's work on a 640×480 frame
    /// and sent its candidates through the small-face networks too); smaller real faces,
    /// which the emotion model reads from an upscaled blur, are found with a smaller value.
    public var minFaceSize: Int = 48
    /// Each pyramid level is this fraction of the previous one.
    public var scaleFactor: Float = 0.709
    /// The face score a candidate needs after each stage (P-Net, R-Net, O-Net); nil takes
    /// the detector folder's (its `detector.json`), else `defaultThresholds`.
    public var thresholds: [Float]?
    /// The package's networks' thresholds, chosen on 300 composed photos of the FER-2013
    /// faces `mien train` holds out for validation (`tools/bench_faces.py --faces validation
    /// --seed 11`, 12, 13): 0.5, 0.6, 0.7 found 92.1% of their 597 faces with no false one.
    /// R-Net's 0.2 (the `mtcnn` package's 0.7) is what `mirrorScores` allows: 94.1% found,
    /// 1 false face in the 300 photos. Lower thresholds find more at a cost: 0.2, 0.2, 0.7
    /// found 96.0% (1 false face) for 1.4 times a frame's CPU time, and 0.05, 0.05, 0.72
    /// 97.99% (6 false faces) for 2.8 times.
    public static let defaultThresholds: [Float] = [0.5, 0.2, 0.7]
    /// O-Net's face score is the mean of the crop's and its mirror image's. A face is nearly
    /// symmetric and the textures MTCNN takes for faces seldom are: on 100 composed photos,
    /// R-Net at 0.2 let 29 false faces through O-Net alone and 1 through the mean.
    public var mirrorScores = true
    /// A face whose box lies this much (intersection over the smaller box's area) inside a
    /// more confident face's box is taken for the same face and dropped. `mtcnn` has 0.7; on
    /// the validation photos every false face the default detector gave at 0.7 (2 in 300
    /// photos) was a second box on a found face covering 0.60–0.66 of it, and 0.5 drops
    /// them with every face still found (`bench_faces.py --faces validation`, seeds 11–13).
    public var duplicateOverlap: Float = 0.5

    public init(minFaceSize: Int = 48, scaleFactor: Float = 0.709, thresholds: [Float]? = nil, mirrorScores: Bool = true,
                duplicateOverlap: Float = 0.5) {
        self.minFaceSize = minFaceSize
        self.scaleFactor = scaleFactor
        self.thresholds = thresholds
        self.mirrorScores = mirrorScores
        self.duplicateOverlap = duplicateOverlap
    }

    /// Ranges a caller (or a command-line option) must respect; a message names the setting.
    public func validate() throws {
        guard (12...16_384).contains(minFaceSize) else {
            throw FaceDetectionError(path: "minFaceSize", "must be 12...16384 pixels, got \(minFaceSize)")
        }
        guard scaleFactor.isFinite, scaleFactor >= 0.1, scaleFactor <= 0.95 else {
            throw FaceDetectionError(path: "scaleFactor", "must be 0.1...0.95, got \(scaleFactor)")
        }
        if let thresholds { try Self.check(thresholds: thresholds, path: "thresholds") }
        guard duplicateOverlap.isFinite, duplicateOverlap > 0, duplicateOverlap <= 1 else {
            throw FaceDetectionError(path: "duplicateOverlap", "must be in (0, 1], got \(duplicateOverlap)")
        }
    }

    static func check(thresholds: [Float], path: String) throws {
        guard thresholds.count == 3, thresholds.allSatisfy({ $0.isFinite && $0 >= 0 && $0 < 1 }) else {
            throw FaceDetectionError(path: path, "must be three scores in 0..<1, got \(thresholds)")
        }
    }
}

/// MTCNN (Zhang et al. 2016), the face detector of the `fer` and `mtcnn` packages: a
/// proposal network (P-Net) slides over an image pyramid, a refinement network (R-Net)
/// re-scores each proposal's 24×24 crop, and an output network (O-Net) gives the final
/// box and five landmarks from a 48×48 crop. The networks are the `mtcnn` 1.0.0 package's
/// trained weights (MIT licence), converted by `tools/make_mtcnn.py` to Keras `.h5` and then
/// to `.mien`, and run by Mien's own layers, or (the default, `defaultFolder`) those weights
/// fine-tuned on FER-2013-style faces, with the package's for small faces (`smallFaces`).
/// The stages follow the package (thresholds, box regression, squaring), with greedy
/// non-maximum suppression as in the MTCNN paper.
public final class FaceDetector: Sendable {
    public let options: FaceDetectorOptions
    /// The thresholds in use: the options', else the folder's, else the defaults.
    public let thresholds: [Float]
    let networks: MTCNNNetworks
    /// Networks for faces narrower than `below` pixels: P-Net levels whose 12-pixel window
    /// spans less than that use its P-Net, and their candidates its R-Net and O-Net.
    let smallFaces: (networks: MTCNNNetworks, below: Float)?

    /// The networks' file names in a weights folder (`Weights/` holds them).
    public static let fileNames = MTCNNNetworks.fileNames
    /// The subfolder of a weights folder that holds the default detector: the networks
    /// fine-tuned on FER-2013-style faces (`tools/train_mtcnn_fer.py`), with the package's
    /// networks (in the weights folder itself) for faces under 48 pixels, by its `detector.json`.
    public static let defaultFolder = "mtcnn-fer"

    /// The detector from `folder`'s `mtcnn_{pnet,rnet,onet}.mien` and, when the folder holds
    /// one, its `detector.json` (`DetectorManifest`: its thresholds and networks for small faces).
    public convenience init(folder: String, options: FaceDetectorOptions = FaceDetectorOptions()) throws {
        let manifest = try DetectorManifest.read(folder: folder)
        let small = try manifest?.smallFaces.map { (networks: try MTCNNNetworks(folder: $0.path(from: folder)), below: Float($0.below)) }
        try self.init(networks: MTCNNNetworks(folder: folder), smallFaces: small, thresholds: manifest?.thresholds, options: options)
    }

    /// The detector from its three networks (see `MTCNNNetworks`).
    public convenience init(pnet: Graph, rnet: Graph, onet: Graph, options: FaceDetectorOptions = FaceDetectorOptions()) throws {
        try self.init(networks: MTCNNNetworks(pnet: pnet, rnet: rnet, onet: onet), options: options)
    }

    /// The detector from `networks`, with `smallFaces`' networks for faces narrower than its
    /// `below` pixels; `thresholds` stand when the options give none.
    public init(networks: MTCNNNetworks, smallFaces: (networks: MTCNNNetworks, below: Float)? = nil, thresholds: [Float]? = nil,
                options: FaceDetectorOptions = FaceDetectorOptions()) throws {
        try options.validate()
        if let thresholds { try FaceDetectorOptions.check(thresholds: thresholds, path: "thresholds") }
        self.networks = networks
        self.smallFaces = smallFaces
        self.thresholds = options.thresholds ?? thresholds ?? FaceDetectorOptions.defaultThresholds
        self.options = options
    }

    /// The largest photo searched: 2^24 pixels (4096×4096), whose pyramid takes ~300 MB.
    public static let maxPixels = 1 << 24

    /// The faces in `image` (named `source` in errors), most confident first; an empty list
    /// when there are none. A photo of more than `maxPixels` is refused.
    public func detect(_ image: Image, source: String = "image", cores: Int = BatchRunner.cores) throws -> [DetectedFace] {
        guard image.width * image.height <= Self.maxPixels else {
            throw FaceDetectionError(path: source, "\(image.width)×\(image.height) is more than the \(Self.maxPixels) pixels (4096×4096) the face detector takes; scale it down")
        }
        guard image.width >= 12, image.height >= 12 else { return [] }
        // The stages split their own work across cores; OpenBLAS's threads (R-Net's and
        // O-Net's dense layers) would only spin beside them: a third of a frame's CPU time.
        return try BLASKernels.singleThreaded {
            let plane = Plane(image)
            var boxes = try proposals(plane, cores: cores)
            boxes = try refine(plane, boxes, cores: cores)
            return try output(plane, boxes, cores: cores)
        }
    }

    /// A candidate: corners in pixels, score, and (after O-Net) ten landmark coordinates.
    struct Candidate {
        var x1, y1, x2, y2, score: Float
        var landmarks: [Float] = []
        /// Proposed by the small faces' P-Net, and so refined by their R-Net and O-Net.
        var small = false
        var area: Float { (x2 - x1) * (y2 - y1) }

        /// The square of the larger side around the same centre (`mtcnn`'s `resize_to_square`).
        var squared: Candidate {
            let w = x2 - x1, h = y2 - y1, side = max(w, h)
            var c = self
            c.x1 = x1 + w * 0.5 - side * 0.5
            c.y1 = y1 + h * 0.5 - side * 0.5
            c.x2 = c.x1 + side
            c.y2 = c.y1 + side
            return c
        }

        /// The box moved by a network's offsets, in units of its size (`adjust_bboxes`).
        func adjusted(_ o: UnsafeBufferPointer<Float>) -> Candidate {
            let w = x2 - x1 + 1, h = y2 - y1 + 1
            var c = self
            c.x1 += o[0] * w
            c.y1 += o[1] * h
            c.x2 += o[2] * w
            c.y2 += o[3] * h
            return c
        }
    }

    /// The pyramid's scales: from 12 / minFaceSize down while the shorter side is ≥ 12.
    func scales(width: Int, height: Int) -> [Float] {
        var scale = 12 / Float(options.minFaceSize)
        var side = Float(min(width, height)) * scale
        var result: [Float] = []
        while side >= 12, result.count < 64 {
            result.append(scale)
            scale *= options.scaleFactor
            side *= options.scaleFactor
        }
        return result
    }

    /// P-Net over the pyramid (levels on separate cores), each level's proposals reduced by
    /// NMS at IoU 0.5, then all at 0.7; squared.
    func proposals(_ plane: Plane, cores: Int) throws -> [Candidate] {
        let levels = scales(width: plane.width, height: plane.height)
        let results = ConcurrentResults<[Candidate]>(count: levels.count)
        let run: @Sendable (Int) -> Void = { i in
            results.set(i, Result { try self.proposals(plane, scale: levels[i]) })
        }
        if cores > 1, levels.count > 1 {
            // In order, so the largest level (as much work as all the others) starts first.
            DispatchQueue.concurrentPerform(iterations: levels.count, execute: run)
        } else {
            levels.indices.forEach(run)
        }
        var all: [Candidate] = []
        for i in levels.indices { all += try results.get(i).get() }
        return Self.suppress(all, threshold: 0.7, byMinimum: false).map(\.squared)
    }

    func proposals(_ plane: Plane, scale: Float) throws -> [Candidate] {
        let w = Int(Float(plane.width) * scale), h = Int(Float(plane.height) * scale)
        guard w >= 12, h >= 12 else { return [] }
        let level = plane.areaResized(width: w, height: h)
        let small = smallFaces.map { 12 / scale < $0.below } ?? false
        let out = try networks(small: small).pnet.forward([Tensor(shape: [1, h, w, 3], scalars: level)])
        let (rows, cols) = (out.shape[1], out.shape[2])
        let threshold = thresholds[0]
        var found: [Candidate] = []
        out.scalars.withUnsafeBufferPointer { o in
            for r in 0..<rows {
                for c in 0..<cols {
                    let v = UnsafeBufferPointer(rebasing: o[((r * cols + c) * 6)..<((r * cols + c) * 6 + 6)])
                    guard v[5] > threshold, v[0].isFinite, v[1].isFinite, v[2].isFinite, v[3].isFinite else { continue }
                    // Cell (r, c) sees the 12×12 window at (2c, 2r); `mtcnn` counts from 1.
                    let (x1, y1) = (Float(2 * c + 1), Float(2 * r + 1))
                    let (x2, y2) = (Float(2 * c + 12), Float(2 * r + 12))
                    found.append(Candidate(x1: (x1 + v[0] * 11) / scale, y1: (y1 + v[1] * 11) / scale,
                                           x2: (x2 + v[2] * 11) / scale, y2: (y2 + v[3] * 11) / scale, score: v[5], small: small))
                }
            }
        }
        return Self.suppress(found, threshold: 0.5, byMinimum: false)
    }

    /// R-Net on each proposal's 24×24 crop: re-scored, moved, NMS at 0.7, squared.
    func refine(_ plane: Plane, _ boxes: [Candidate], cores: Int) throws -> [Candidate] {
        var kept: [Candidate] = []
        for (box, v) in zip(boxes, try outputs(of: \.rnet, size: 24, plane, boxes, cores: cores)) {
            guard v[5] > thresholds[1], (0..<4).allSatisfy({ v[$0].isFinite }) else { continue }
            var moved = v.withUnsafeBufferPointer { box.adjusted($0) }
            moved.score = v[5]
            kept.append(moved)
        }
        return Self.suppress(kept, threshold: 0.7, byMinimum: false).map(\.squared)
    }

    /// O-Net on each 48×48 crop: final score (with `mirrorScores`, the mean of the crop's
    /// and its mirror's), box and landmarks (the crop's); NMS by the smaller area at
    /// `duplicateOverlap`.
    func output(_ plane: Plane, _ boxes: [Candidate], cores: Int) throws -> [DetectedFace] {
        let threshold = thresholds[2]
        var rows = zip(boxes, try outputs(of: \.onet, size: 48, plane, boxes, cores: cores)).map { (box: $0, v: $1, score: $1[15]) }
        if options.mirrorScores {
            // The mean passes only if the crop alone scores above 2·threshold − 1: O-Net sees
            // the mirror images of those alone (most candidates score far lower).
            let open = rows.indices.filter { rows[$0].score > 2 * threshold - 1 }
            let scored = try outputs(of: \.onet, size: 48, plane, open.map { rows[$0].box }, cores: cores, mirrored: true)
            for (i, v) in zip(open, scored) { rows[i].score = (rows[i].score + v[15]) / 2 }
        }
        var kept: [Candidate] = []
        for (box, v, score) in rows {
            // Not finite only from a network whose weights are (a damaged detector file).
            guard score > threshold, (0..<14).allSatisfy({ v[$0].isFinite }) else { continue }
            let w = box.x2 - box.x1 + 1, h = box.y2 - box.y1 + 1
            var moved = v.withUnsafeBufferPointer { box.adjusted($0) }
            moved.score = score
            moved.landmarks = (0..<5).map { w * v[4 + $0] + box.x1 - 1 } + (0..<5).map { h * v[9 + $0] + box.y1 - 1 }
            kept.append(moved)
        }
        let maxX = Float(plane.width - 1), maxY = Float(plane.height - 1)
        return Self.suppress(kept, threshold: options.duplicateOverlap, byMinimum: true).map { c in
            // Boxes are kept inside the image, as `mtcnn`'s `fit_to_image`; landmarks are not.
            let x1 = min(max(c.x1, 0), maxX), y1 = min(max(c.y1, 0), maxY)
            let x2 = min(max(c.x2, 0), maxX), y2 = min(max(c.y2, 0), maxY)
            let l = c.landmarks
            func point(_ i: Int) -> FacePoint { FacePoint(x: l[i], y: l[5 + i]) }
            return DetectedFace(box: FaceBox(x: x1, y: y1, width: x2 - x1, height: y2 - y1), confidence: c.score,
                                landmarks: FaceLandmarks(leftEye: point(0), rightEye: point(1), nose: point(2),
                                                         mouthLeft: point(3), mouthRight: point(4)))
        }
    }

    func networks(small: Bool) -> MTCNNNetworks { small ? smallFaces?.networks ?? networks : networks }

    /// Each box's output row from `network` of the networks that proposed it (see `smallFaces`).
    private func outputs(of network: KeyPath<MTCNNNetworks, Graph>, size: Int, _ plane: Plane, _ boxes: [Candidate], cores: Int,
                         mirrored: Bool = false) throws -> [[Float]] {
        var rows = [[Float]](repeating: [], count: boxes.count)
        for small in [false, true] {
            let chosen = boxes.indices.filter { boxes[$0].small == small }
            guard !chosen.isEmpty else { continue }
            var next = 0
            try forEachOutput(of: networks(small: small)[keyPath: network], size: size, plane, chosen.map { boxes[$0] },
                              cores: cores, mirrored: mirrored) { _, v in
                rows[chosen[next]] = Array(v)
                next += 1
            }
        }
        return rows
    }

    /// Runs `network` on the `size`×`size` crops of `boxes`, or with `mirrored` on their
    /// mirror images (in batches of at most 256, split across cores), and calls `body` with
    /// each box and its output row.
    private func forEachOutput(of network: Graph, size: Int, _ plane: Plane, _ boxes: [Candidate], cores: Int,
                               mirrored: Bool = false, _ body: (Candidate, UnsafeBufferPointer<Float>) -> Void) throws {
        let crop = size * size * Plane.channels
        for start in stride(from: 0, to: boxes.count, by: 256) {
            let batch = boxes[start..<min(boxes.count, start + 256)]
            var input = Tensor(shape: [batch.count, size, size, Plane.channels], repeating: 0)
            // The crops split across cores as the batch is: cut on one, they were a tenth of R-Net's time.
            let cropped = Array(batch), parts = max(1, min(cores, cropped.count / 4))
            input.scalars.withUnsafeMutableBufferPointer { p in
                nonisolated(unsafe) let out = p.baseAddress!
                let cut: @Sendable (Int) -> Void = { part in
                    for i in (part * cropped.count / parts)..<((part + 1) * cropped.count / parts) {
                        let b = cropped[i]
                        plane.crop(x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, size: size, into: out + i * crop)
                    }
                }
                if parts > 1 { DispatchQueue.concurrentPerform(iterations: parts, execute: cut) } else { cut(0) }
            }
            let out = try BatchRunner.forward(network, mirrored ? input.mirrored() : input, cores: cores)
            let width = out.shape[1]
            out.scalars.withUnsafeBufferPointer { o in
                for (i, b) in batch.enumerated() { body(b, UnsafeBufferPointer(rebasing: o[(i * width)..<((i + 1) * width)])) }
            }
        }
    }

    /// Greedy non-maximum suppression: the most confident box first, then each next one that
    /// overlaps no kept box by more than `threshold` (IoU, or by `byMinimum` the intersection
    /// over the smaller area, which drops a box inside another).
    static func suppress(_ boxes: [Candidate], threshold: Float, byMinimum: Bool) -> [Candidate] {
        let sorted = boxes.sorted { $0.score > $1.score }
        var kept: [Candidate] = []
        for b in sorted {
            let overlaps = kept.contains { k in
                let w = min(b.x2, k.x2) - max(b.x1, k.x1), h = min(b.y2, k.y2) - max(b.y1, k.y1)
                let inter = max(0, w) * max(0, h)
                let base = byMinimum ? min(b.area, k.area) : b.area + k.area - inter
                return base > 0 && inter / base > threshold
            }
            if !overlaps { kept.append(b) }
        }
        return kept
    }
}

/// MTCNN's three networks, their shapes checked and prepared for inference: P-Net
/// `[N, H, W, 3] → [N, H', W', 6]`, R-Net `[N, 24, 24, 3] → [N, 6]`, O-Net
/// `[N, 48, 48, 3] → [N, 16]` (box offsets, then for O-Net ten landmark coordinates, then
/// the two softmax scores).
public struct MTCNNNetworks: Sendable {
    let pnet: Graph
    let rnet: Graph
    let onet: Graph

    /// The networks' file names in a weights folder (`Weights/` holds them).
    public static let fileNames = ["mtcnn_pnet.mien", "mtcnn_rnet.mien", "mtcnn_onet.mien"]

    /// `folder`'s `mtcnn_{pnet,rnet,onet}.mien`.
    public init(folder: String) throws {
        let graphs = try Self.fileNames.map { name -> Graph in
            try MienFile.read(contentsOf: (folder as NSString).appendingPathComponent(name)).fullGraph()
        }
        try self.init(pnet: graphs[0], rnet: graphs[1], onet: graphs[2])
    }

    public init(pnet: Graph, rnet: Graph, onet: Graph) throws {
        func check(_ graph: Graph, _ name: String, input: Shape, output: Shape) throws {
            let shape = try graph.outputShape(for: [input])
            guard shape.count == output.count, zip(shape, output).allSatisfy({ $1 == nil || $0 == $1 }) else {
                throw FaceDetectionError(path: name, "expected an output \(output.kerasDescription) for input \(input.kerasDescription), got \(shape.kerasDescription)")
            }
        }
        try check(pnet, Self.fileNames[0], input: [1, 12, 12, 3], output: [1, 1, 1, 6])
        try check(rnet, Self.fileNames[1], input: [nil, 24, 24, 3], output: [nil, 6])
        try check(onet, Self.fileNames[2], input: [nil, 48, 48, 3], output: [nil, 16])
        self.pnet = try pnet.optimizedForInference(forRunning: true)
        self.rnet = try rnet.optimizedForInference(forRunning: true)
        self.onet = try onet.optimizedForInference(forRunning: true)
    }
}
