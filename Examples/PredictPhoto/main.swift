// Use Mien from Swift: find the faces in a photo and read each one's emotion, as
// `mien predict` does. Depends on the MienInference product alone.
//
//     swift run mien-example-photo Weights/fer7.mien Weights/mtcnn-fer photo.jpg
import Foundation
import MienFaceDetection
import MienImages
import MienModelFile

let arguments = CommandLine.arguments
guard arguments.count == 4 else {
    print("usage: mien-example-photo MODEL.mien DETECTOR_FOLDER PHOTO")
    exit(2)
}
do {
    // Load both once; a PhotoPredictor may then serve any number of threads.
    let predictor = try Predictor(model: try MienFile.read(contentsOf: arguments[1]))
    let photos = try PhotoPredictor(detector: try FaceDetector(folder: arguments[2]), predictor: predictor)
    let photo = try ImageDecoder.decode(contentsOf: arguments[3])
    for result in try photos.predict(photo: photo, source: arguments[3]) {
        let b = result.face.box
        print("\(Int(b.x)),\(Int(b.y)) \(Int(b.width))×\(Int(b.height)): \(result.prediction.label)")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
