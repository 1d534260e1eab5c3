import MienHDF5
@testable import MienKeras
@testable import MienKerasConfig
import MienNN
import MienTestSupport
import XCTest

/// Models with the augmentation layers, LayerNormalization and LayerScale, saved by each Keras
/// (`tools/make_keras_fixtures.py`: augmented_backbone, crops, layer_norm, convnext_block;
/// `tools/make_augmentation_fixtures.py`: fixed). Outputs within `kerasTolerance` (1e-4 of
/// the output's scale) of Keras's `predict`.
final class AugmentationImportTests: XCTestCase {
    func check(_ fixture: String, summary: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> KerasModel {
        let golden = try Golden("keras/\(fixture).io.h5")
        let model = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).h5"))
        let output = try model.predict(try golden.inputs)
        let expected = try golden.tensor()
        XCTAssertEqual(output.shape, expected.shape, "\(fixture): output shape", file: file, line: line)
        if let bad = mismatch(output, expected, kerasTolerance) { XCTFail("\(fixture): \(bad)", file: file, line: line) }
        if summary {
            let counts = try golden.parameterCounts
            XCTAssertEqual(model.summary.totalParams, counts.total, "\(fixture): total params", file: file, line: line)
            XCTAssertEqual(model.summary.trainableParams, counts.trainable, "\(fixture): trainable", file: file, line: line)
            XCTAssertEqual(model.summary.rows.map(\.outputShape.kerasDescription), try golden.strings("layer_output_shapes"),
                           "\(fixture): layer output shapes", file: file, line: line)
        }
        return model
    }

    /// Keras's transfer-learning tutorial: a nested Sequential of RandomFlip("horizontal"),
    /// RandomRotation(0.1), RandomZoom(0.1), RandomTranslation(0.1, 0.1), RandomContrast(0.2)
    /// (and, tf.keras 2 only, RandomBrightness(0.2): Keras 3 cannot save it to .h5), Rescaling,
    /// a frozen backbone, GlobalAveragePooling2D, Dropout, Dense.
    func testTutorialModelWithAugmentationMatchesPredict() throws {
        for version in ["k2", "k3"] {
            let model = try check("augmented_backbone.\(version)")
            let augmentation = try XCTUnwrap(model.graph.layers.first { $0.name == "augmentation" } as? Graph)
            let random = augmentation.layers.filter { $0.kerasClass.hasPrefix("Random") }
            XCTAssertEqual(random.count, version == "k2" ? 6 : 5)
            XCTAssertTrue(random.allSatisfy { $0.isIdentityAtInference && $0.usesTrainingFlag })
            // The inference rewrite drops them; training runs them (the backbone is frozen).
            let optimized = try model.graph.flattened().optimizedForInference()
            XCTAssertFalse(optimized.layers.contains { $0.kerasClass.hasPrefix("Random") })
            XCTAssertTrue(model.graph.canTrain, "\(String(describing: model.graph.untrainableLayer))")
            let x = try Golden("keras/augmented_backbone.\(version).io.h5").inputs[0]
            let context = TrainingContext(seed: 5, epoch: 1, batch: 2)
            let a = try model.graph.forwardTraining([x], context: context)
            let b = try model.graph.forwardTraining([x], context: context)
            XCTAssertEqual(a.output, b.output, "a seeded training step is reproducible")
            var other = context
            other.batch = 3
            XCTAssertNotEqual(try model.graph.forwardTraining([x], context: other).output, a.output)
        }
    }

    /// Exported to a tf.keras 2-style .h5 and imported again: the same predictions. A Keras 3
    /// model whose RandomContrast draws per image has no tf.keras 2 form: refused by name.
    func testExportKeepsTheLayersOrRefusesThem() throws {
        let folder = try makeTemporaryFolder()
        for name in ["augmented_backbone.k2", "convnext_block.k3", "layer_norm.k2", "crops.k2"] {
            let model = try KerasModel(contentsOf: Fixtures.path("keras/\(name).h5"))
            let path = folder.appendingPathComponent("\(name).h5").path
            try KerasExport.write(model.graph, to: path)
            let x = try Golden("keras/\(name).io.h5").inputs
            XCTAssertEqual(try KerasModel(contentsOf: path).predict(x), try model.predict(x), name)
        }
        let k3 = try KerasModel(contentsOf: Fixtures.path("keras/augmented_backbone.k3.h5"))
        XCTAssertThrowsError(try KerasExport.write(k3.graph, to: folder.appendingPathComponent("k3.h5").path)) { error in
            XCTAssertTrue("\(error)".contains("random_contrast") && "\(error)".contains("Keras 3's definition"), "\(error)")
        }
    }

    func testLayerNormalizationAndConvNeXtBlockMatchPredict() throws {
        for version in ["k2", "k3"] {
            _ = try check("layer_norm.\(version)")
            let block = try check("convnext_block.\(version)")
            XCTAssertTrue(block.graph.layers.contains { $0 is LayerScale })
            XCTAssertEqual((block.graph.layers.first { $0 is LayerNormalization } as? LayerNormalization)?.epsilon, 1e-6)
        }
    }

    /// CenterCrop crops (and smart_resizes when the image is smaller); RandomCrop at inference
    /// smart_resizes in tf.keras 2 and passes the whole image in Keras 3, whose declared
    /// output shape (24, 20) is not what flows: the summary's shapes are not compared there.
    func testCropsMatchPredict() throws {
        _ = try check("crops.k2")
        let k3 = try check("crops.k3", summary: false)
        let crop = try XCTUnwrap(k3.graph.layers.first { $0 is RandomCrop })
        XCTAssertEqual(try crop.outputShape(for: [[nil, 30, 26, 3]]), [nil, 30, 26, 3])
    }

    /// Random layers whose ranges hold one value (factor (0.1, 0.1), ...): Keras's training
    /// output is deterministic, so the whole layer — config, draw, transform — is compared in
    /// training mode. Mien's matrices are a float32 ulp from Keras's (see
    /// AugmentationTransformTests): 1e-5 of the output's scale (255).
    func testFixedRandomLayersInTrainingMatchKeras() throws {
        let models = [
            ("k2", try KerasModel(contentsOf: Fixtures.path("augmentation/fixed.k2.h5"))),
            ("k3", try KerasModel(architecture: Fixtures.path("augmentation/fixed.k3.json"),
                                  weights: Fixtures.path("augmentation/fixed.k3.weights.h5"))),
        ]
        for (version, model) in models {
            let golden = try Golden("augmentation/fixed.\(version).io.h5")
            let x = try golden.inputs[0]
            XCTAssertEqual(try model.predict([x]), try golden.tensor("output"), "\(version): inference passes the input")
            let training = try model.graph.forwardTraining([x], context: TrainingContext(seed: 9))
            if let bad = mismatch(training.output, try golden.tensor("training_output"), Tolerance(relative: 1e-5)) {
                XCTFail("\(version): training output: \(bad)")
            }
        }
    }
}
