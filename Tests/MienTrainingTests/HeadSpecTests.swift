import MienKerasConfig
import MienNN
@testable import MienTraining
import XCTest

/// `--head`: pooling runs on the frozen map; the rest is trained; the output layer is added.
final class HeadSpecTests: XCTestCase {
    func testPoolingIsSplitFromTheTrainedLayers() throws {
        let spec = try HeadSpec("AveragePooling2D(3, strides=2), Flatten, Dense(16, relu), Dropout(0.3)")
        XCTAssertEqual(spec.pooling.map(\.className), ["AveragePooling2D", "Flatten"])
        XCTAssertEqual(spec.trained.map(\.className), ["Dense", "Dropout"])
        let pooling = try spec.poolingLayers(after: [nil, 7, 7, 8])
        XCTAssertEqual(pooling.map(\.kerasClass), ["AveragePooling2D", "Flatten"])
        let head = try spec.head(features: 3 * 3 * 8, classes: 2, seed: 1)
        XCTAssertEqual(head.layers.map(\.name), ["head_dense", "head_dropout", "head_output"])
        XCTAssertEqual(head.outputUnits, 1)
        XCTAssertEqual((head.layers[2] as? Dense)?.activation, .sigmoid)
        XCTAssertEqual(try spec.head(features: 72, classes: 7, seed: 1).outputUnits, 7)
    }

    /// The default head and `Head.make` draw the same initial weights.
    func testInitialWeightsMatchHeadMake() throws {
        let spec = try HeadSpec("Dense(6, relu), Dropout(0.25)")
        let made = Head.make(features: 20, classes: 4, hidden: 6, dropout: 0, seed: 3)
        let built = try spec.head(features: 20, classes: 4, seed: 3)
        XCTAssertEqual(built.parameters, made.parameters)
    }

    func testAFeatureMapWithoutPoolingGetsGlobalAveragePooling() throws {
        let spec = try HeadSpec("Dropout(0.2)")
        XCTAssertEqual(try spec.poolingLayers(after: [nil, 3, 3, 4]).map(\.kerasClass), ["GlobalAveragePooling2D"])
        XCTAssertTrue(try spec.poolingLayers(after: [nil, 4]).isEmpty)
    }

    func testBadHeadsAreRefused() {
        for (text, shape, message) in [
            ("Dense(4), Flatten", [nil, 3, 3, 4], "Flatten must come before the first Dense"),
            ("MaxPooling2D(3)", [nil, 3, 3, 4], "end it with Flatten or GlobalAveragePooling2D"),
            ("AveragePooling2D(5)", [nil, 3, 3, 4], "does not fit"),
            ("Flatten", [nil, 4], "needs a feature map"),
            ("Dense(4, relu", [nil, 4], "expected ')'"),
        ] as [(String, Shape, String)] {
            XCTAssertThrowsError(try HeadSpec(text).poolingLayers(after: shape), text) { error in
                XCTAssertTrue("\(error)".contains(message), "\(text): \(error)")
            }
        }
        XCTAssertThrowsError(try HeadSpec("Dense(4, activation=swishy)").head(features: 4, classes: 2, seed: 1)) { error in
            XCTAssertTrue("\(error)".contains("swishy"), "\(error)")
        }
    }
}
