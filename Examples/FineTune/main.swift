// Use Mien from Swift: fine-tune a Keras backbone on a folder of faces (one subfolder per
// class, FER-2013's layout), then predict with the model it wrote. Depends on the
// MienTraining and MienInference products.
//
//     swift run mien-example-fine-tune Weights/efficientnet_lite0_notop.h5 fer2013/train out.mien
import Foundation
import MienImages
import MienModelFile
import MienTraining

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    print("usage: mien-example-fine-tune BACKBONE.h5 FACES_FOLDER OUTPUT.mien")
    exit(2)
}
do {
    // Keras's transfer-learning recipe: the backbone frozen, a new head trained on its
    // features, then the top blocks unfrozen and fine-tuned at a lower learning rate.
    let settings = FineTuneSettings(
        backbone: arguments[1], inputSize: 64, classes: ["angry", "happy"], epochs: 2, batchSize: 16,
        validationSplit: 0.25, head: "Dropout(0.2)",
        fineTune: FineTuneStage(from: "block6a_expand_conv", learningRate: 1e-5, epochs: 1))
    let job = FineTuneJob(settings: settings, data: arguments[2], usage: nil, strict: false,
                          output: arguments[3], resume: false)
    try job.run { event in
        switch event {
        case .epoch(let record, let epochs, _):
            print("epoch \(record.epoch)/\(epochs): val_accuracy \(record.valAccuracy.map { "\($0)" } ?? "-")")
        case .finished(_, let path):
            print("wrote \(path)")
        default:
            break
        }
    }
    let predictor = try Predictor(model: try MienFile.read(contentsOf: arguments[3]))
    print("classes: \(predictor.model.classes)")
} catch {
    print("error: \(error)")
    exit(1)
}
