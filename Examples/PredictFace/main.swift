// Use Mien from Swift: predict the emotion of a face with a `.mien` model.
// Depends on the MienInference product alone (no libhdf5, no CSV parser).
//
//     swift run mien-example-predict Weights/fer_happy_angry.mien face.png
import Foundation
import MienImages
import MienModelFile

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: mien-example-predict MODEL.mien IMAGE")
    exit(2)
}
do {
    // The file carries the classes, the input adapter (48×48 gray faces → the backbone's
    // input) and the test-time augmentation it was trained with.
    let model = try MienFile.read(contentsOf: arguments[1])
    let predictor = try Predictor(model: model)
    let face = try ImageDecoder.decode(contentsOf: arguments[2])
    let prediction = try predictor.predict(image: face)
    print(prediction.label)
    for (label, score) in prediction.ranked {
        print("  \(label): \(score)")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
