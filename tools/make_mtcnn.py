#!/usr/bin/env python3
"""Convert MTCNN's face detector (PyPI `mtcnn` 1.0.0, MIT licence) to Keras `.h5` files that
Mien imports, and make the fixtures that test Mien's detector against the package.

The package defines its three networks (P-Net, R-Net, O-Net) as subclassed tf.keras models
with two or three outputs and ships their trained weights as joblib files. Mien reads
functional Keras models with one output, so each network is rebuilt here as a functional
Keras 3 model with the same layers and names, whose heads are concatenated into one output:

    P-Net: [N, H, W, 3]  -> [N, H', W', 6]   box offsets (4), softmax face score (2)
    R-Net: [N, 24, 24, 3] -> [N, 6]          box offsets (4), softmax face score (2)
    O-Net: [N, 48, 48, 3] -> [N, 16]         box offsets (4), landmarks (10), face score (2)

and the rebuilt model's outputs are checked to equal the package's (bit for bit) before
anything is written. Inputs are MTCNN's normalized pixels, (p - 127.5) / 128.

Written (with --out, default Tests/Fixtures/mtcnn, and --weights-out, default Weights/):
    OUT/mtcnn_{pnet,rnet,onet}.h5        the networks, as Keras 3 legacy .h5
    OUT/{pnet,rnet,onet}.io.h5           inputs and Keras's outputs (Golden fixtures)
    WEIGHTS/mtcnn_{pnet,rnet,onet}.mien  the same networks converted by `mien export` (the
                                         binary given by --mien), which the detector loads
    OUT/photos/*.jpg, OUT/photos.json    photos composed from FER-2013 *test* faces (each also
                                         saved as photos/face_*.png) pasted at
                                         known boxes on real backgrounds (scikit-image's
                                         sample photos) plus scikit-image's astronaut, with
                                         the package's detections on each (never trained on)
    docs/group.jpg                       the README's group photo (two happy, two angry faces)
    OUT/fer_crop.json                    where FER-2013's crop lies relative to MTCNN's
                                         landmarks and box, measured on FER-2013 *train*
                                         faces: the constants of Mien's face alignment

Usage:
    swift build -c release --product mien
    python3 tools/make_mtcnn.py --fer2013 ../shared/fer2013 --mien .build/release/mien [--photos 8]
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
warnings.filterwarnings("ignore")
logging.getLogger("absl").setLevel(logging.ERROR)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from PIL import Image  # noqa: E402

tf.get_logger().setLevel("ERROR")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L = keras.layers


def package_networks():
    """The package's three trained networks (subclassed models, weights loaded)."""
    from mtcnn.stages import StagePNet, StageRNet, StageONet
    return StagePNet().model, StageRNet().model, StageONet().model


def functional(package_model, kind):
    """The same network as a functional Keras model with one (concatenated) output."""
    m = package_model
    prelu = lambda layer: L.PReLU(shared_axes=layer.shared_axes, name=layer.name)  # noqa: E731
    conv = lambda layer: L.Conv2D(layer.filters, layer.kernel_size, strides=layer.strides,  # noqa: E731
                                  padding=layer.padding, activation=layer.activation, name=layer.name)
    pool = lambda layer: L.MaxPooling2D(layer.pool_size, strides=layer.strides,  # noqa: E731
                                        padding=layer.padding, name=layer.name)
    if kind == "pnet":
        x = inputs = keras.Input((None, None, 3), name="input")
        x = pool(m.maxpool1)(prelu(m.prelu1)(conv(m.conv1)(x)))
        x = prelu(m.prelu2)(conv(m.conv2)(x))
        x = prelu(m.prelu3)(conv(m.conv3)(x))
        heads = [conv(m.conv4_1)(x), conv(m.conv4_2)(x)]
    elif kind == "rnet":
        x = inputs = keras.Input((24, 24, 3), name="input")
        x = pool(m.maxpool1)(prelu(m.prelu1)(conv(m.conv1)(x)))
        x = pool(m.maxpool2)(prelu(m.prelu2)(conv(m.conv2)(x)))
        x = prelu(m.prelu3)(conv(m.conv3)(x))
        x = L.Flatten(name=m.flatten.name)(L.Permute(m.permute.dims, name=m.permute.name)(x))
        x = L.PReLU(name=m.prelu4.name)(L.Dense(m.fc4.units, name=m.fc4.name)(x))
        heads = [L.Dense(4, name=m.fc5_1.name)(x), L.Dense(2, activation="softmax", name=m.fc5_2.name)(x)]
    else:
        x = inputs = keras.Input((48, 48, 3), name="input")
        x = pool(m.maxpool1)(prelu(m.prelu1)(conv(m.conv1)(x)))
        x = pool(m.maxpool2)(prelu(m.prelu2)(conv(m.conv2)(x)))
        x = pool(m.maxpool3)(prelu(m.prelu3)(conv(m.conv3)(x)))
        x = prelu(m.prelu4)(conv(m.conv4)(x))
        x = L.Flatten(name=m.flatten.name)(L.Permute(m.permute.dims, name=m.permute.name)(x))
        x = L.PReLU(name=m.prelu5.name)(L.Dense(m.fc5.units, name=m.fc5.name)(x))
        heads = [L.Dense(4, name=m.fc6_1.name)(x), L.Dense(10, name=m.fc6_2.name)(x),
                 L.Dense(2, activation="softmax", name=m.fc6_3.name)(x)]
    model = keras.Model(inputs, L.Concatenate(name="outputs")(heads), name=f"mtcnn_{kind}")
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(m.get_layer(layer.name).get_weights())
    return model


def check_equal(package_model, model, x):
    expected = np.concatenate([np.asarray(t) for t in package_model(x)], axis=-1)
    actual = np.asarray(model(x))
    if not np.array_equal(expected, actual):
        sys.exit(f"{model.name}: the functional model differs from the package's by "
                 f"{np.abs(expected - actual).max()}")


def export_mien(mien, h5, path):
    """`mien export` of a network's .h5 to `path`. The detector normalizes the pixels itself:
    the exported model takes them as they are."""
    subprocess.run([mien, "export", h5, "--scale", "1", "--offset", "0", "-o", path], check=True)


def network_inputs(rng, kind):
    """Inputs for a network's fixture: pixels 0…255 normalized as the detector does, so
    activations have their real range; P-Net at odd sizes, whose 'same' max pooling of an
    odd map pads bottom/right."""
    shape = {"pnet": (2, 37, 53, 3), "rnet": (5, 24, 24, 3), "onet": (5, 48, 48, 3)}[kind]
    return ((rng.randint(0, 256, size=shape) - 127.5) / 128).astype(np.float32)


def write_io(path, x, y, generator="tools/make_mtcnn.py"):
    with h5py.File(path, "w") as f:
        f.create_dataset("inputs/0", data=x.astype(np.float32))
        f.create_dataset("output", data=y.astype(np.float32))
        f.attrs["generator"] = generator


def make_networks(out):
    rng = np.random.RandomState(16)
    for package_model, kind in zip(package_networks(), ["pnet", "rnet", "onet"]):
        model = functional(package_model, kind)
        x = network_inputs(rng, kind)
        check_equal(package_model, model, x)
        path = os.path.join(out, f"mtcnn_{kind}.h5")
        model.save(path)
        reloaded = keras.models.load_model(path)
        y = np.asarray(model(x))
        if not np.array_equal(np.asarray(reloaded(x)), y):
            sys.exit(f"{path}: reloaded model differs")
        write_io(os.path.join(out, f"{kind}.io.h5"), x, y)
        print(f"wrote {path} ({model.count_params()} parameters) and {kind}.io.h5")


def rotate_face(face, size, angle):
    """A square FER face scaled to `size` and rotated by `angle` degrees (RGB, with a mask)."""
    img = Image.fromarray(face).convert("RGB").resize((size, size), Image.BICUBIC)
    mask = Image.new("L", (size, size), 255)
    if angle:
        img = img.rotate(angle, resample=Image.BICUBIC, expand=True)
        mask = mask.rotate(angle, resample=Image.BICUBIC, expand=True)
    return img, mask


def backgrounds():
    import skimage.data as data
    for name in ["coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina"]:
        yield name, Image.fromarray(getattr(data, name)()).convert("RGB").resize((640, 480), Image.BILINEAR)


def compose_photos(fer2013, photos_dir, count, seed=2026, save_faces=True, faces="test", every_face=False):
    """`count` 640×480 photos, each with 1–3 FER-2013 faces (56–180 pixels, turned by up to ±15°
    in every other photo) pasted where they do not overlap, on scikit-image's sample photos.
    Returns one record per photo: its file and each face's box, angle and label. The faces are
    `test/`'s (for measured figures) or, with `faces="validation"`, those of `train/` that
    `mien train` holds out for validation (for choosing settings; see mien_split.py). Faces are
    drawn at random (some twice, most not at all); with `every_face`, `count` is ignored and
    each face of the set is placed exactly once, in a seeded order, so that accuracy is that of
    the whole set, not of a sample."""
    rng = np.random.RandomState(seed)
    if faces == "validation":
        from mien_split import validation_faces
        files = validation_faces(os.path.join(fer2013, "train"))
    else:
        classes = sorted(os.listdir(os.path.join(fer2013, "test")))
        files = [(c, os.path.join(fer2013, "test", c, f)) for c in classes
                 for f in sorted(os.listdir(os.path.join(fer2013, "test", c)))]
    os.makedirs(photos_dir, exist_ok=True)
    records = []
    bgs = list(backgrounds())
    groups = None   # with every_face, photo i's faces: the next 1 + i % 3 of a seeded order
    if every_face:
        order, groups, start = rng.permutation(len(files)), [], 0
        while start < len(order):
            groups.append(list(order[start:start + 1 + len(groups) % 3]))
            start += len(groups[-1])
        count = len(groups)
    for i in range(count):
        bg_name, bg = bgs[i % len(bgs)]
        photo, faces = place_faces(rng, bg, files, 1 + i % 3, turn=bool(i % 2),
                                   picks=None if groups is None else groups[i])
        for k, face in enumerate(faces):
            face["source"] = os.path.relpath(face.pop("path"), fer2013)
            face["face"] = f"face_{i:02d}_{k}.png"
            if save_faces:
                Image.open(os.path.join(fer2013, face["source"])).convert("L").save(os.path.join(photos_dir, face["face"]))
        name = f"composed_{i:02d}.jpg"
        photo.save(os.path.join(photos_dir, name), quality=92)
        records.append({"file": name, "background": bg_name, "faces": faces})
    return records


def place_faces(rng, background, files, count, turn, sizes=(56, 180), picks=None):
    """`background` (640×480) with `count` of `files`' (label, path) faces pasted where they do
    not overlap, `sizes` pixels, turned by up to ±15° when `turn`; the photo and each face's
    box (the unturned square), angle, label and path. `picks` (indices into `files`) names the
    faces; without it they are drawn at random."""
    if picks is not None:
        count = len(picks)
    photo = background.copy()
    faces = []
    # Any face gives a turned face's extent; the first is read once for all the attempts.
    first = np.asarray(Image.open(files[0][1]))
    for _ in range(count):
        for _attempt in range(50):
            size = int(rng.randint(*sizes))
            angle = float(rng.uniform(-15, 15)) if turn else 0.0
            img, mask = rotate_face(first, size, angle)
            x, y = int(rng.randint(0, photo.width - img.width)), int(rng.randint(0, photo.height - img.height))
            box = [x + (img.width - size) / 2, y + (img.height - size) / 2, size, size]
            if all(_overlap(box, f["box"]) == 0 for f in faces):
                break
        label, path = files[rng.randint(len(files)) if picks is None else picks[len(faces)]]
        img, mask = rotate_face(np.asarray(Image.open(path).convert("L")), size, angle)
        photo.paste(img, (x, y), mask)
        faces.append({"box": box, "angle": angle, "label": label, "path": path})
    return photo, faces


def make_group_photo(fer2013, path, seed=5):
    """The README's group photo: two happy and two angry FER-2013 *test* faces, side by side."""
    rng = np.random.RandomState(seed)
    photo = dict(backgrounds())["coffee"].copy()
    for k, label in enumerate(["happy", "angry", "happy", "angry"]):
        folder = os.path.join(fer2013, "test", label)
        name = sorted(os.listdir(folder))[rng.randint(len(os.listdir(folder)))]
        size = int(rng.randint(100, 130))
        img, mask = rotate_face(np.asarray(Image.open(os.path.join(folder, name)).convert("L")), size,
                                float(rng.uniform(-8, 8)))
        photo.paste(img, (20 + k * 155, 150 + int(rng.randint(-60, 60))), mask)
    photo.save(path, quality=92)
    print(f"wrote {path}")


def make_photos(fer2013, out, count):
    """The fixture photos, scikit-image's astronaut, and the `mtcnn` package's detections."""
    from mtcnn import MTCNN
    detector = MTCNN()
    photos_dir = os.path.join(out, "photos")
    records = compose_photos(fer2013, photos_dir, count)
    import skimage.data as data
    Image.fromarray(data.astronaut()).save(os.path.join(photos_dir, "astronaut.jpg"), quality=92)
    records.append({"file": "astronaut.jpg", "background": "scikit-image astronaut (NASA, public domain)",
                    "faces": None})
    for record in records:
        pixels = np.asarray(Image.open(os.path.join(photos_dir, record["file"])).convert("RGB"))
        found = detector.detect_faces(pixels)
        record["mtcnn"] = [{"box": [float(v) for v in f["box"]], "confidence": float(f["confidence"]),
                            "keypoints": {k: [float(c) for c in v] for k, v in f["keypoints"].items()}}
                           for f in found]
    with open(os.path.join(out, "photos.json"), "w") as f:
        json.dump({"generator": "tools/make_mtcnn.py", "mtcnn": "1.0.0", "photos": records}, f, indent=1)
    print(f"wrote {len(records)} photos")


def calibrate_crop(fer2013, out, count=400, seed=0):
    """Where a FER-2013 crop lies relative to what MTCNN finds in it.

    Each face (from train/, 48×48) is upscaled 3× and pasted in the middle of a gray canvas
    twice its size; the package's detections give the eye centre E, the mouth centre M and
    the box. The crop's centre is E + along·(M − E) + across·perp(M − E) and its side
    side·|M − E|; the box's width and height are fractions of the crop's side. Medians.
    """
    from mtcnn import MTCNN
    detector = MTCNN()
    root = os.path.join(fer2013, "train")
    files = [os.path.join(root, c, f) for c in sorted(os.listdir(root)) for f in sorted(os.listdir(os.path.join(root, c)))]
    rows = []
    for i in np.random.RandomState(seed).choice(len(files), count, replace=False):
        face = Image.open(files[i]).convert("L").resize((144, 144), Image.BICUBIC)
        canvas = Image.new("L", (288, 288), 128)
        canvas.paste(face, (72, 72))
        found = detector.detect_faces(np.asarray(canvas.convert("RGB")))
        if len(found) != 1:
            continue
        k = {n: np.asarray(v, float) for n, v in found[0]["keypoints"].items()}
        eyes, mouth = (k["left_eye"] + k["right_eye"]) / 2, (k["mouth_left"] + k["mouth_right"]) / 2
        d = np.linalg.norm(mouth - eyes)
        u = (mouth - eyes) / d
        v = np.array([-u[1], u[0]])
        centre = np.array([144.0, 144.0])
        rows.append([np.dot(centre - eyes, u) / d, np.dot(centre - eyes, v) / d, 144 / d,
                     found[0]["box"][2] / 144, found[0]["box"][3] / 144])
    a = np.median(np.array(rows), axis=0)
    result = {"generator": "tools/make_mtcnn.py", "faces": count, "detected_once": len(rows),
              "along": round(float(a[0]), 3), "across": round(float(a[1]), 3), "side": round(float(a[2]), 3),
              "box_width": round(float(a[3]), 3), "box_height": round(float(a[4]), 3)}
    with open(os.path.join(out, "fer_crop.json"), "w") as f:
        json.dump(result, f, indent=1)
    print("FER crop:", result)


def _overlap(a, b):
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer2013", required=True, help="FER-2013 in the Kaggle layout (its test/ is used)")
    parser.add_argument("--weights-out", default=os.path.join(REPO_ROOT, "Weights"))
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "mtcnn"))
    parser.add_argument("--mien", required=True, help="the mien binary that converts the .h5 to .mien")
    parser.add_argument("--photos", type=int, default=8)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    make_networks(args.out)
    for kind in ["pnet", "rnet", "onet"]:
        export_mien(args.mien, os.path.join(args.out, f"mtcnn_{kind}.h5"), os.path.join(args.weights_out, f"mtcnn_{kind}.mien"))
    calibrate_crop(args.fer2013, args.out)
    make_photos(args.fer2013, args.out, args.photos)
    make_group_photo(args.fer2013, os.path.join(REPO_ROOT, "docs", "group.jpg"))


if __name__ == "__main__":
    main()
