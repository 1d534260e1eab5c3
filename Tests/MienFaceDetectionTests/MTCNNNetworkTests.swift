@testable import MienFaceDetection
import MienKeras
import MienModelFile
import MienNN
import MienTestSupport
import XCTest

/// MTCNN's three networks, converted from the `mtcnn` package by `tools/make_mtcnn.py`, against
/// Keras's outputs on the same inputs (`Tests/Fixtures/mtcnn/*.io.h5`): the `.h5` through the
/// importer, and the bundled `Weights/mtcnn_*.mien` the detector loads; and the same
/// networks fine-tuned on FER-2013-style faces by `tools/train_mtcnn_fer.py`
/// (`mtcnn_*_fer.h5`, `*_fer.io.h5`, bundled as `Weights/mtcnn-fer/mtcnn_*.mien`).
final class MTCNNNetworkTests: XCTestCase {
    /// Small networks (at most ~1,200 terms per sum) on inputs in [−1, 1]: float32
    /// reordering stays far below 1e-5 of the output's scale.
    static let tolerance = Tolerance(relative: 1e-5, absolute: 1e-6)

    func check(_ kind: String, fineTuned: Bool = false) throws {
        let golden = try Golden(fineTuned ? "mtcnn/\(kind)_fer.io.h5" : "mtcnn/\(kind).io.h5")
        let expected = try golden.tensor()
        let keras = try KerasModel(contentsOf: Fixtures.path(fineTuned ? "mtcnn/mtcnn_\(kind)_fer.h5" : "mtcnn/mtcnn_\(kind).h5"))
        let folder = fineTuned ? "Weights/mtcnn-fer" : "Weights"
        let bundled = try MienFile.read(contentsOf: Fixtures.packageRoot.appendingPathComponent("\(folder)/mtcnn_\(kind).mien").path)
        let graphs = [("h5", keras.graph), (".mien", try bundled.fullGraph()),
                      ("running", try bundled.fullGraph().optimizedForInference(forRunning: true))]
        for (label, graph) in graphs {
            try everyKernelBuild { build in
                let output = try graph.forward(try golden.inputs)
                XCTAssertEqual(output.shape, expected.shape, "\(kind) \(label)")
                if let bad = mismatch(output, expected, Self.tolerance) { XCTFail("\(folder) \(kind) \(label) \(build): \(bad)") }
            }
        }
    }

    /// P-Net takes any image size: PReLU's slopes are shared over the unknown height and
    /// width, and the 'same' max pooling of the odd 35×51 map pads its bottom and right.
    func testPNetEqualsKeras() throws { try check("pnet") }

    /// R-Net and O-Net end in Permute → Flatten → Dense → PReLU and a softmax head.
    func testRNetEqualsKeras() throws { try check("rnet") }
    func testONetEqualsKeras() throws { try check("onet") }

    /// The fine-tuned networks: the same layers, other weights.
    func testFineTunedNetworksEqualKeras() throws {
        for kind in ["pnet", "rnet", "onet"] { try check(kind, fineTuned: true) }
    }
}
