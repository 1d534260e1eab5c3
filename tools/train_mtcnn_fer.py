#!/usr/bin/env python3
"""Fine-tune MTCNN's networks so the detector finds FER-2013-style faces.

The `mtcnn` package's networks were trained on WIDER FACE: colour faces with hair and
background around them. A FER-2013 face is a tight gray crop. On the composed validation
photos the package's networks at Mien's thresholds (0.5, 0.2, 0.7) find 94.2% of the faces;
lowering P-Net's threshold alone to 0.05 finds 97.5%, at three times the CPU time (R-Net
then scores many more proposals): P-Net is where most are lost, then R-Net and O-Net.
Networks that score such faces higher find them at the usual thresholds and cost.

Training data, never the photos measured or the faces chosen on:
  * faces: FER-2013 train/ without the faces `mien train` holds out for validation
    (mien_split.py), pasted as make_mtcnn.place_faces pastes them (1–3 faces, 48–200 pixels,
    turned by up to ±15° in every other photo, JPEG quality 92);
  * backgrounds: scikit-learn's two sample photos (china.jpg, flower.jpg) cut, scaled, mirrored
    and recoloured at random, and smooth random colour fields; never scikit-image's sample
    photos, on which the measured and validation photos are composed.
Samples follow the MTCNN paper: square windows around each face whose IoU with its box is
≥ 0.65 (face), 0.4–0.65 (part face: box only) and < 0.3 (not a face), random windows
elsewhere (not a face), and for R-Net and O-Net also the fine-tuned P-Net's proposals on
the photo (its false ones are the hard non-faces), each cut as the detector cuts it. A
face's box is MTCNN's box on a FER-2013 crop (0.799 of the square wide, 1.049 tall,
fer_crop.json). Loss: cross-entropy on faces and non-faces plus half the squared error of
the box offsets on faces and part faces, as the paper trains P-Net. R-Net and O-Net instead
keep the package's geometry (O-Net scores the boxes R-Net moves, and the FER-2013 crop was
calibrated on O-Net's boxes and landmarks): their box (and landmark) outputs learn the
package's network's on every sample, mirrored at random. Adam from the package's weights;
the epoch with the lowest loss on held-out photos is kept.

Written, for --net pnet (first: R-Net and O-Net learn from its proposals), rnet, onet:
    OUT/mtcnn_NET_fer.h5              the fine-tuned network (Keras 3 legacy .h5)
    OUT/NET_fer.io.h5                 inputs and its outputs (Golden fixture, MTCNNNetworkTests)
    WEIGHTS/mtcnn-fer/mtcnn_NET.mien  the same by `mien export`: Mien's default detector
They learned faces 48-200 pixels wide and no real photo: alone they lose the small
footballer's face in messi5.jpg, which the package's networks find. So
Weights/mtcnn-fer/detector.json (written by hand, not by this script) hands faces under 48
pixels to the package's networks (Weights/mtcnn_NET.mien) and gives these networks'
thresholds (0.5, 0.5, 0.8, chosen on the validation photos).

    swift build -c release --product mien
    python3 tools/train_mtcnn_fer.py --fer2013 ../shared/fer2013 --mien .build/release/mien --net pnet
    python3 tools/train_mtcnn_fer.py ... --net rnet --photos 2000 --held-out-photos 300 --epochs 4
    python3 tools/train_mtcnn_fer.py ... --net onet --photos 2000 --held-out-photos 300 --epochs 3
"""

import argparse
import io
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from make_mtcnn import REPO_ROOT, export_mien, network_inputs, place_faces, write_io  # noqa: E402
from mien_split import FER_CLASSES, validation_faces  # noqa: E402

BOX_WIDTH, BOX_HEIGHT = 0.799, 1.049  # MTCNN's box on a FER-2013 square (fer_crop.json)


def training_faces(fer2013):
    """(label, path) of train/'s faces that `mien train` does not hold out."""
    held = {p for _, p in validation_faces(os.path.join(fer2013, "train"))}
    folder = os.path.join(fer2013, "train")
    return [(c, os.path.join(folder, c, f)) for c in FER_CLASSES
            for f in sorted(os.listdir(os.path.join(folder, c))) if os.path.join(folder, c, f) not in held]


def training_background(rng, photos):
    """A 640×480 background: a random cut of one of `photos`, or a smooth random colour field."""
    if rng.rand() < 0.75:
        photo = photos[rng.randint(len(photos))]
        scale = rng.uniform(0.5, 1.0)
        w, h = int(photo.width * scale), int(photo.height * scale)
        x, y = rng.randint(0, photo.width - w + 1), rng.randint(0, photo.height - h + 1)
        image = photo.crop((x, y, x + w, y + h)).resize((640, 480), Image.BILINEAR)
        if rng.rand() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        pixels = np.asarray(image, dtype=np.float32)
        pixels = pixels[:, :, rng.permutation(3)] * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30)
    else:
        cells = rng.randint(3, 40)
        field = rng.uniform(0, 255, (cells * 3 // 4 + 1, cells + 1, 3)).astype(np.uint8)
        pixels = np.asarray(Image.fromarray(field).resize((640, 480), Image.BICUBIC), dtype=np.float32)
        pixels += rng.normal(0, rng.uniform(0, 12), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def iou(box, boxes):
    """IoU of one (x1, y1, x2, y2) box with each row of `boxes`."""
    if len(boxes) == 0:
        return np.zeros(0)
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter)


def window(photo, x, y, side, size):
    """The square window (x, y, side) of `photo`, outside it black as the detector pads,
    scaled to size×size by area averaging (P-Net sees an AREA-scaled pyramid) and
    normalized as MTCNN normalizes, (p − 127.5) / 128."""
    crop = photo.crop((int(x), int(y), int(x) + int(side), int(y) + int(side)))
    return (np.asarray(crop.resize((size, size), Image.BOX), dtype=np.float32) - 127.5) / 128


def crop_and_resize(pixels, box, size):
    """The box of normalized `pixels` [H, W, 3] at size×size as the detector crops R-Net's and
    O-Net's inputs (Plane.crop: `tf.image.crop_and_resize` as `mtcnn` calls it, bilinear,
    corners sampled, 0 outside)."""
    h, w = pixels.shape[:2]
    steps = np.arange(size) / (size - 1)
    ys = (box[1] + steps * (box[3] - box[1])) * (h - 1) / h
    xs = (box[0] + steps * (box[2] - box[0])) * (w - 1) / w
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.ceil(ys).astype(int), np.ceil(xs).astype(int)
    dy, dx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    inside = ((ys >= 0) & (ys <= h - 1))[:, None] & ((xs >= 0) & (xs <= w - 1))[None, :]
    y0, y1, x0, x1 = (np.clip(v, 0, n - 1) for v, n in ((y0, h), (y1, h), (x0, w), (x1, w)))
    top = pixels[y0][:, x0] + (pixels[y0][:, x1] - pixels[y0][:, x0]) * dx
    bottom = pixels[y1][:, x0] + (pixels[y1][:, x1] - pixels[y1][:, x0]) * dx
    return (top + (bottom - top) * dy) * inside[:, :, None]


def nms(boxes, threshold):
    """Greedy non-maximum suppression by IoU of rows (x1, y1, x2, y2, score), best first."""
    kept = []
    for i in np.argsort(-boxes[:, 4]):
        if not kept or iou(boxes[i], boxes[kept]).max() <= threshold:
            kept.append(i)
    return boxes[kept]


def proposals(pnet, photo, threshold=0.5, min_face_size=40, factor=0.709):
    """P-Net's squared proposals on `photo`, as FaceDetector.proposals makes them."""
    import tensorflow as tf
    pixels = (np.asarray(photo, dtype=np.float32) - 127.5) / 128
    h, w = pixels.shape[:2]
    scale, found = 12 / min_face_size, []
    while min(h, w) * scale >= 12:
        lh, lw = int(h * scale), int(w * scale)
        level = tf.image.resize(pixels[None], (lh, lw), method="area")
        out = pnet(level).numpy()[0]
        r, c = np.nonzero(out[:, :, 5] > threshold)
        if len(r):
            o = out[r, c]
            boxes = np.stack([(2 * c + 1 + o[:, 0] * 11) / scale, (2 * r + 1 + o[:, 1] * 11) / scale,
                              (2 * c + 12 + o[:, 2] * 11) / scale, (2 * r + 12 + o[:, 3] * 11) / scale, o[:, 5]], 1)
            found.append(nms(boxes, 0.5))
        scale *= factor
    if not found:
        return np.zeros((0, 5))
    boxes = nms(np.concatenate(found), 0.7)
    side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2, boxes[:, 4]], 1)


def pnet_offsets(x, y, side, box):
    """P-Net's regression target, as the detector reads P-Net's output: at scale 12 / side,
    x1 = (1 + 11·o₀) / scale past the window's left edge and x2 = (12 + 11·o₂) / scale."""
    k = 12 / (11 * side)
    return [(box[0] - x) * k - 1 / 11, (box[1] - y) * k - 1 / 11, (box[2] - x) * k - 12 / 11, (box[3] - y) * k - 12 / 11]


def kind_of(candidate, boxes):
    """1 face (IoU ≥ 0.65 with a face's box), 2 part face (0.4–0.65), 0 not a face (< 0.3),
    None between; and the face it overlaps most."""
    if len(boxes) == 0:
        return 0, None
    overlaps = iou(candidate, boxes)
    best = int(np.argmax(overlaps))
    o = overlaps[best]
    return (1 if o >= 0.65 else 2 if o >= 0.4 else 0 if o < 0.3 else None), boxes[best]


def candidates(rng, size, boxes, found, per_face=(6, 6, 4), random_negatives=25, found_negatives=20):
    """Square candidates (x1, y1, x2, y2) with their kind and face: windows jittered around each
    face, P-Net's proposals `found` (the hard ones), and random windows."""
    width, height = size
    rows = []
    for box in boxes:
        bw, bh = box[2] - box[0], box[3] - box[1]
        wanted = {1: per_face[0], 2: per_face[1], 0: per_face[2]}
        for _ in range(200):
            if not any(wanted.values()):
                break
            near = wanted[1] or wanted[2]
            side = max(bw, bh) * (rng.uniform(0.8, 1.25) if near else rng.uniform(0.6, 1.6))
            spread = 0.25 if near else 0.9
            x = box[0] + bw / 2 - side / 2 + rng.uniform(-spread, spread) * side
            y = box[1] + bh / 2 - side / 2 + rng.uniform(-spread, spread) * side
            if side < 12 or x < 0 or y < 0 or x + side > width or y + side > height:
                continue
            kind, face = kind_of([x, y, x + side, y + side], boxes)
            if kind is None or not wanted[kind]:
                continue
            wanted[kind] -= 1
            rows.append(([x, y, x + side, y + side], kind, face))
    negatives = 0
    for i in rng.permutation(len(found)):
        kind, face = kind_of(found[i], boxes)
        if kind == 0:
            if negatives == found_negatives:
                continue
            negatives += 1
        if kind is not None:
            rows.append((list(found[i][:4]), kind, face))
    for _ in range(random_negatives):
        side = rng.uniform(12, min(width, height) / 1.5)
        x, y = rng.uniform(0, width - side), rng.uniform(0, height - side)
        if kind_of([x, y, x + side, y + side], boxes)[0] == 0:
            rows.append(([x, y, x + side, y + side], 0, None))
    return rows


def dataset(net, fer2013, photos, seed, pnet=None):
    """`net`'s samples from `photos` training photos (see the module's docstring): inputs,
    kinds (1 face, 0 not a face, 2 part face) and, for P-Net, box offsets."""
    from sklearn.datasets import load_sample_images
    rng = np.random.RandomState(seed)
    files = training_faces(fer2013)
    backs = [Image.fromarray(p) for p in load_sample_images().images]
    size = {"pnet": 12, "rnet": 24, "onet": 48}[net]
    x, kinds, targets = [], [], []
    for i in range(photos):
        photo, faces = place_faces(rng, training_background(rng, backs), files, 1 + i % 3, turn=bool(i % 2),
                                   sizes=(48, 200))
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=92)
        photo = Image.open(buffer).convert("RGB")
        boxes = []
        for face in faces:
            fx, fy, s, _ = face["box"]
            cx, cy = fx + s / 2, fy + s / 2
            boxes.append([cx - BOX_WIDTH * s / 2, cy - BOX_HEIGHT * s / 2, cx + BOX_WIDTH * s / 2, cy + BOX_HEIGHT * s / 2])
        boxes = np.array(boxes)
        if net == "pnet":
            rows = candidates(rng, photo.size, boxes, [], found_negatives=0)
            pixels = [window(photo, c[0], c[1], c[2] - c[0], size) for c, _, _ in rows]
            offsets = [pnet_offsets(c[0], c[1], c[2] - c[0], f) if k else [0] * 4 for c, k, f in rows]
        else:
            rows = candidates(rng, photo.size, boxes, proposals(pnet, photo), per_face=(4, 4, 2), random_negatives=10)
            normalized = (np.asarray(photo, dtype=np.float32) - 127.5) / 128
            pixels = [crop_and_resize(normalized, c, size) for c, _, _ in rows]
            # R-Net and O-Net fit the package network's box outputs (train's teacher), not offsets.
            offsets = [[0] * 4] * len(rows)
        # float16 halves the memory of R-Net's and O-Net's samples; P-Net trained on float32 ones.
        x += [p.astype(np.float32 if net == "pnet" else np.float16) for p in pixels]
        kinds += [k for _, k, _ in rows]
        targets += offsets
        if (i + 1) % 500 == 0:
            print(f"  {i + 1}/{photos} photos, {len(kinds)} samples", flush=True)
    return np.stack(x), np.array(kinds, dtype=np.int32), np.array(targets, dtype=np.float32)


def train(model, data, held, epochs, learning_rate, teacher=None, batch=256, seed=0):
    """Fine-tune `model` (output [N, …, W]: box offsets, for O-Net landmarks, then two softmax
    scores) on `data`: cross-entropy on faces and non-faces, plus half the squared error of
    the box offsets on faces and part faces; or, given `teacher`, of all its regression
    outputs on every sample (R-Net and O-Net keep the package's boxes and landmarks: O-Net
    scores the boxes R-Net moves, and the FER-2013 crop was calibrated on O-Net's). The epoch
    with the lowest held-out loss is kept."""
    import tensorflow as tf
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    width = model.output_shape[-1]

    def loss_of(x, kind, target, training):
        x = tf.cast(x, tf.float32)
        out = tf.reshape(model(x, training=training), [-1, width])
        labelled = tf.cast(kind < 2, tf.float32)
        face = tf.cast(kind == 1, tf.float32)
        p = tf.clip_by_value(out[:, -1], 1e-7, 1 - 1e-7)
        ce = -(face * tf.math.log(p) + (1 - face) * tf.math.log(1 - p))
        if teacher is None:
            regressed, boxed = out[:, :4], tf.cast(kind > 0, tf.float32)
        else:
            regressed, boxed = out[:, :-2], tf.ones_like(labelled)
            target = tf.reshape(teacher(x, training=False), [-1, width])[:, :-2]
        se = tf.reduce_sum(tf.square(regressed - target), axis=1)
        loss = (tf.reduce_sum(ce * labelled) / tf.maximum(tf.reduce_sum(labelled), 1)
                + 0.5 * tf.reduce_sum(se * boxed) / tf.maximum(tf.reduce_sum(boxed), 1))
        return loss, out

    @tf.function
    def step(x, kind, target):
        if teacher is not None:
            # Faces are nearly symmetric (the detector averages O-Net's score over the crop
            # and its mirror image); the teacher's targets are taken on the flipped crop.
            flip = tf.random.uniform([tf.shape(x)[0], 1, 1, 1]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[2]), x)
        with tf.GradientTape() as tape:
            loss, _ = loss_of(x, kind, target, True)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    def evaluate(x, kind, target):
        losses, scores = [], []
        for i in range(0, len(x), 2048):
            loss, out = loss_of(x[i:i + 2048], kind[i:i + 2048], target[i:i + 2048], False)
            losses.append(float(loss))
            scores.append(out.numpy()[:, -1])
        scores = np.concatenate(scores)
        return float(np.mean(losses)), float(np.mean(scores[kind == 1] > 0.5)), float(np.mean(scores[kind == 0] > 0.5))

    rng = np.random.RandomState(seed)
    loss, found, false = evaluate(*held)
    print(f"package network: held-out loss {loss:.4f}, faces over 0.5 {found:.3f}, non-faces over 0.5 {false:.4f}")
    best, best_weights = loss, model.get_weights()
    x, kind, target = data
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            j = np.sort(order[i:i + batch])
            step(x[j], kind[j], target[j])
        loss, found, false = evaluate(*held)
        print(f"epoch {epoch + 1}/{epochs}: held-out loss {loss:.4f}, faces over 0.5 {found:.3f}, "
              f"non-faces over 0.5 {false:.4f}", flush=True)
        if loss < best:
            best, best_weights = loss, model.get_weights()
    model.set_weights(best_weights)
    return best


def write_fixture(out, net):
    """OUT/{net}_fer.io.h5: inputs and the saved network's outputs, which the bundled .mien
    is tested against (MTCNNNetworkTests)."""
    import keras
    model = keras.models.load_model(os.path.join(out, f"mtcnn_{net}_fer.h5"), compile=False)
    x = network_inputs(np.random.RandomState(17), net)
    write_io(os.path.join(out, f"{net}_fer.io.h5"), x, np.asarray(model(x)), generator="tools/train_mtcnn_fer.py")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer2013", required=True)
    parser.add_argument("--mien", required=True, help="the mien binary that converts the .h5 to .mien")
    parser.add_argument("--net", choices=["pnet", "rnet", "onet"], default="pnet",
                        help="the network to fine-tune; R-Net and O-Net learn from the fine-tuned P-Net's proposals, "
                             "so P-Net comes first")
    parser.add_argument("--photos", type=int, default=4000)
    parser.add_argument("--held-out-photos", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "mtcnn"))
    parser.add_argument("--weights-out", default=os.path.join(REPO_ROOT, "Weights", "mtcnn-fer"))
    args = parser.parse_args()
    import keras
    import tensorflow as tf
    tf.random.set_seed(args.seed)
    package = os.path.join(REPO_ROOT, "Tests", "Fixtures", "mtcnn", f"mtcnn_{args.net}.h5")
    pnet = None
    if args.net != "pnet":
        # Traced once per pyramid level's size (the photos are all 640×480): eager Keras calls
        # would take most of the time.
        pnet = tf.function(keras.models.load_model(os.path.join(args.out, "mtcnn_pnet_fer.h5"), compile=False))
    print(f"composing {args.photos} + {args.held_out_photos} photos", flush=True)
    data = dataset(args.net, args.fer2013, args.photos, args.seed, pnet)
    held = dataset(args.net, args.fer2013, args.held_out_photos, args.seed + 1, pnet)
    for name, (_, kind, _) in [("training", data), ("held-out", held)]:
        print(f"{name}: {np.sum(kind == 1)} faces, {np.sum(kind == 2)} part faces, {np.sum(kind == 0)} non-faces")
    model = keras.models.load_model(package, compile=False)
    teacher = keras.models.load_model(package, compile=False) if args.net != "pnet" else None
    train(model, data, held, args.epochs, args.learning_rate, teacher=teacher, seed=args.seed)
    h5 = os.path.join(args.out, f"mtcnn_{args.net}_fer.h5")
    model.save(h5)
    write_fixture(args.out, args.net)
    os.makedirs(args.weights_out, exist_ok=True)
    export_mien(args.mien, h5, os.path.join(args.weights_out, f"mtcnn_{args.net}.mien"))


if __name__ == "__main__":
    main()
