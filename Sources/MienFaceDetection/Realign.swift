import MienImages

extension FaceDetector {
    /// A face crop (a FER-2013 48×48 face, or any picture a face fills) cut again the way
    /// `PhotoPredictor` cuts faces out of photos: found by the detector, squared and turned by
    /// the landmarks (`FaceCrop`), in gray at `size`×`size`. A model trained on crops realigned
    /// so sees faces framed as they will be in photos, not as each dataset happened to crop
    /// them (FER-2013's squares vary by a fifth in scale around the face).
    ///
    /// A face that fills its picture leaves MTCNN nothing around it, so the crop is scaled
    /// 3× to 144 pixels on its longer side and placed in the middle of a mid-gray canvas twice
    /// as large, as `tools/make_mtcnn.py` did when it measured where FER-2013's square lies
    /// (`FaceCrop`'s constants); what the new square takes from outside the crop is that gray.
    /// Returns nil when no face is found whose centre lies in the crop.
    public func realign(crop: Image, size: Int) throws -> (image: Image, face: DetectedFace)? {
        guard crop.width > 0, crop.height > 0, size > 0 else { return nil }
        let inner = Self.realignSide, canvasSide = 2 * inner
        let scaled = FaceCrop.whole(crop).cut(from: crop, size: inner)
        var canvas = [UInt8](repeating: 128, count: canvasSide * canvasSide)
        let offset = (canvasSide - inner) / 2
        for row in 0..<inner {
            let to = (offset + row) * canvasSide + offset
            canvas.replaceSubrange(to..<(to + inner), with: scaled.pixels[(row * inner)..<((row + 1) * inner)])
        }
        let picture = Image(width: canvasSide, height: canvasSide, channels: 1, pixels: canvas)
        let inside = Float(offset)...Float(offset + inner)
        // One picture is small: the batch's pictures run on separate cores instead.
        guard let face = try detect(picture, cores: 1).first(where: {
            inside.contains($0.box.x + $0.box.width / 2) && inside.contains($0.box.y + $0.box.height / 2)
        }) else { return nil }
        return (FaceCrop(face).cut(from: picture, size: size), face)
    }

    /// The side a crop is scaled to before realigning (FER-2013's 48 × 3).
    static let realignSide = 144
}
