import MienNN
import MienTestSupport
import XCTest

/// The FER input adapter: 48×48 grayscale → backbone size, three channels.
final class InputAdapterTests: XCTestCase {
    /// Against Keras's `Resizing(bilinear)` followed by repeating the channel
    /// (`tools/make_efficientnet_lite0.py`). The resize was verified bit-for-bit against
    /// TensorFlow, so only float rounding may differ: 1e-6 of the pixel scale.
    func testMatchesKerasResizingAndRepeat() throws {
        let golden = try Golden("efficientnet/resize_gray.io.h5")
        let faces = try golden.inputs[0]
        for size in [96, 224] {
            let expected = try golden.tensor("output_\(size)")
            let adapter = InputAdapter.fer(size: size)
            var input = faces
            if expected.shape[0] < faces.shape[0] {
                // The 224 output is stored for the first face only, to keep fixtures small.
                input = Tensor(shape: [expected.shape[0]] + Array(faces.shape.dropFirst()),
                               scalars: Array(faces.scalars.prefix(expected.shape[0] * 48 * 48)))
            }
            let output = try adapter.forward([input])
            XCTAssertEqual(output.shape, expected.shape)
            if let bad = mismatch(output, expected, Tolerance(relative: 1e-6)) { XCTFail("size \(size): \(bad)") }
        }
    }

    func testReplicatesGrayIntoEveryChannelAndScales() throws {
        let adapter = InputAdapter(inputSize: [2, 2, 1], outputSize: [2, 2, 3], scale: 0.5, offset: -1)
        let y = try adapter.forward([Tensor(shape: [1, 2, 2, 1], scalars: [0, 2, 4, 6])])
        XCTAssertEqual(y.shape, [1, 2, 2, 3])
        XCTAssertEqual(y.scalars, [-1, -1, -1, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    }

    func testPrependedModelTakesRawFaces() throws {
        let backbone = try Graph(name: "backbone", layers: [InputLayer(name: "in", shape: [nil, nil, nil, 3]),
                                                            GlobalAveragePooling2D(name: "gap")],
                                 nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0])],
                                 inputNodes: [0], outputNode: 1)
        let model = try InputAdapter.fer(size: 96).prepended(to: backbone)
        XCTAssertEqual(model.inputShapes, [[nil, 48, 48, 1]])
        XCTAssertEqual(model.outputShape, [nil, 3])
        let faces = Tensor(shape: [2, 48, 48, 1], repeating: 7)
        XCTAssertEqual(try model.forward([faces]).scalars, [Float](repeating: 7, count: 6))
    }

    func testRejectsColourInputAndBadSizes() {
        assertLayerError("input_adapter", try InputAdapter.fer(size: 96).forward([Tensor(zeros: [1, 48, 48, 3])]))
        assertLayerError("input_adapter", try InputAdapter(inputSize: [48, 48, 2], outputSize: [96, 96, 3])
            .outputShape(for: [[nil, 48, 48, 2]]))
        assertLayerError("input_adapter", try InputAdapter.fer(size: 0).outputShape(for: [[nil, 48, 48, 1]]))
    }

    func testIsCodableForModelFiles() throws {
        let adapter = InputAdapter.fer(size: 224, scale: 1 / 255)
        let data = try JSONEncoder().encode(adapter)
        XCTAssertEqual(try JSONDecoder().decode(InputAdapter.self, from: data), adapter)
    }
}
