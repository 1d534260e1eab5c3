@testable import MienKerasConfig
import MienNN
import XCTest

/// `--head` text: Keras constructor calls become the configs Keras itself would write.
final class LayerSpecTests: XCTestCase {
    func testPositionalAndKeywordArgumentsUseKerasKeys() throws {
        let specs = try LayerSpec.parse("AveragePooling2D((3, 3), strides=2, padding='same'), Flatten, Dense(256, relu), Dropout(0.3)")
        XCTAssertEqual(specs, [
            LayerSpec(className: "AveragePooling2D", config: ["pool_size": [3, 3], "strides": 2, "padding": "same"]),
            LayerSpec(className: "Flatten"),
            LayerSpec(className: "Dense", config: ["units": 256, "activation": "relu"]),
            LayerSpec(className: "Dropout", config: ["rate": .number(0.3)]),
        ])
        XCTAssertEqual(try LayerSpec.parse("  "), [])
        XCTAssertEqual(try LayerSpec.parse("GlobalAveragePooling2D(keepdims=False)"),
                       [LayerSpec(className: "GlobalAveragePooling2D", config: ["keepdims": false])])
    }

    func testMistakesAreNamedWhereTheyAre() {
        for (text, message) in [
            ("Dense(64, rel", "expected ')' at the end"),
            ("Conv2D(3)", "'Conv2D' is not a layer a head can use"),
            ("Dropout(0.2, 0.3)", "Dropout takes at most 1 positional argument(s) (rate) at ')'"),
            ("Dense(1e400)", "'1e400' is not a number"),
            ("Dense(8) Dropout(0.1)", "expected ',' between layers at 'Dropout(0.1)'"),
            ("Dense(8),", "expected a layer such as Dense(256, relu) at the end"),
            // Hostile-input classes 7 and 8: an argument given twice, a name that cannot be stored.
            ("Dense(4, units=5)", "Dense got argument 'units' twice"),
            ("Dense(units=4, units=5)", "Dense got argument 'units' twice"),
            ("Dense(4, name=\"a/b\")", "Dense's name must be a non-empty string without '/'"),
            ("Dense(4, name=\"\")", "Dense's name must be a non-empty string without '/'"),
            ("Dense(4, name=3)", "Dense's name must be a non-empty string without '/'"),
            // Found by fuzzing: each nested tuple was a recursion, and 4,500 overflowed the stack.
            ("AveragePooling2D(" + String(repeating: "(", count: 100_000), "values nested deeper than 32 levels"),
        ] {
            XCTAssertThrowsError(try LayerSpec.parse(text), text) { error in
                XCTAssertTrue("\(error)".contains(message), "\(text): \(error)")
            }
        }
    }

    /// Built through the importer's builders, with Keras's default names.
    func testSequentialConfigBuildsWithKerasNames() throws {
        let specs = try LayerSpec.parse("MaxPooling2D(2), GlobalAveragePooling2D, Dense(4, relu), Dense(3), Dropout(0.5)")
        let config = LayerSpec.sequentialConfig(specs, inputShape: [nil, 6, 6, 5], name: "head", prefix: "")
        let graph = try ModelBuilder(file: "--head", kerasMajor: 3).buildModel(config)
        XCTAssertEqual(graph.layers.dropFirst().map(\.name),
                       ["max_pooling2d", "global_average_pooling2d", "dense", "dense_1", "dropout"])
        XCTAssertEqual(graph.outputShape, [nil, 3])
        XCTAssertEqual((graph.layers[3] as? Dense)?.kernel.shape, [5, 4])
    }
}
