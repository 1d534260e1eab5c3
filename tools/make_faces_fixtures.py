#!/usr/bin/env python3
"""Writes the fixtures of Tests/MienFacesTests into Tests/Fixtures/faces/, and Samples/fer2013/.

    python3 -m pip install -r tools/requirements.txt
    python3 tools/make_faces_fixtures.py

Needs numpy, Pillow, h5py, TensorFlow and tf-keras (pinned in tools/requirements.txt); scipy
comes with them (`ImageDataGenerator` resamples with `scipy.ndimage.affine_transform`).

Samples/fer2013/{train,test}/{angry,happy}/: the first 150 (train) and 60 (test) files, in
sorted file-name order, of ../shared/fer2013's angry and happy folders, copied byte for byte
(names kept). When ../shared/fer2013 is missing, the committed copies are kept and the
fixtures are made from them.

Tests/Fixtures/faces/ (see Tests/Fixtures/README.md, "faces/"):

    folder/train/{angry,happy}/    a tiny Kaggle layout: real faces (JPEG), a PNG face, a 64x64
                                   colour JPEG and a 40x40 gray PNG (converted and resized on
                                   load), a truncated JPEG, a text file and a hidden file (ignored)
    folder_expected.json, .raw     what loading `folder/train` must give (order, labels, bytes)
    empty_class/{angry,happy}/     angry/ holds only a hidden .gitkeep
    fer2013.csv                    10 rows, mixed classes and usages, of real faces
    fer2013_malformed.csv          the same with line 5 cut short (2303 pixel values)
    fer2013_expected.json          line, emotion, usage, pixel sum and first pixels of each row
    affine.io.h5                   `input` (a 48x48 face, float32) and `output_K`: Keras's
                                   ImageDataGenerator.apply_transform (tf_keras) of it, with
                                   attributes theta, tx, ty, zx, zy, flip

Deterministic: no randomness except numpy generators with fixed seeds, no timestamps; two
runs give byte-identical files. The script checks tf_keras's transform against Keras 3's
legacy ImageDataGenerator and against apply_affine_transform + a flip, bit for bit.
"""
import io
import json
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "faces")
SAMPLES = os.path.join(ROOT, "Samples", "fer2013")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "fer2013")
SAMPLE_COUNTS = {"train": 150, "test": 60}
SAMPLE_CLASSES = ["angry", "happy"]
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def sorted_images(folder):
    return sorted(f for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))


# --- Samples/ ---------------------------------------------------------------------------

def make_samples():
    if not os.path.isdir(SHARED):
        print(f"{SHARED} not found: keeping the committed Samples/fer2013", file=sys.stderr)
        return
    for split, count in SAMPLE_COUNTS.items():
        for name in SAMPLE_CLASSES:
            src = os.path.join(SHARED, split, name)
            dst = os.path.join(SAMPLES, split, name)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.makedirs(dst)
            files = sorted_images(src)[:count]
            assert len(files) == count, (src, len(files))
            for f in files:
                shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))


def sample_files(split, name):
    folder = os.path.join(SAMPLES, split, name)
    return [os.path.join(folder, f) for f in sorted_images(folder)]


def gray(path):
    return np.asarray(Image.open(path).convert("L"))


# --- the folder layouts --------------------------------------------------------------------

def resize_like_keras(gray_u8):
    """Keras's Resizing (tf.image.resize, bilinear, no antialias) to 48x48, rounded half up."""
    import tensorflow as tf
    x = tf.constant(gray_u8.astype(np.float32)[None, :, :, None])
    y = tf.image.resize(x, (48, 48), method="bilinear", antialias=False).numpy()[0, :, :, 0]
    return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)


def jpeg_bytes(img, **kw):
    buf = io.BytesIO()
    img.save(buf, format="JPEG", **kw)
    return buf.getvalue()


def png_bytes(img):
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_folder():
    base = os.path.join(OUT, "folder")
    if os.path.isdir(base):
        shutil.rmtree(base)
    angry = sample_files("train", "angry")
    happy = sample_files("train", "happy")

    # Real faces, copied.
    for src in angry[:3]:
        write(os.path.join(base, "train", "angry", os.path.basename(src)), open(src, "rb").read())
    for src in happy[:3]:
        write(os.path.join(base, "train", "happy", os.path.basename(src)), open(src, "rb").read())

    # A 64x64 colour JPEG: a face upscaled with a different tint per channel.
    face = Image.open(angry[3]).convert("L").resize((64, 64), Image.BILINEAR)
    f = np.asarray(face).astype(np.float64)
    yy, xx = np.mgrid[0:64, 0:64]
    rgb = np.stack([np.clip(f * 0.9 + 20, 0, 255),
                    np.clip(f * 0.8 + xx, 0, 255),
                    np.clip(f * 0.7 + yy * 1.5, 0, 255)], axis=-1).astype(np.uint8)
    write(os.path.join(base, "train", "angry", "color_64.jpg"),
          jpeg_bytes(Image.fromarray(rgb, "RGB"), quality=92, subsampling=0))

    # A truncated JPEG: the first 60% of a real face.
    data = open(angry[4], "rb").read()
    write(os.path.join(base, "train", "angry", "truncated.jpg"), data[: len(data) * 6 // 10])

    # A gray PNG face and a 40x40 gray PNG (upsampled on load).
    write(os.path.join(base, "train", "happy", "face.png"), png_bytes(Image.open(happy[3]).convert("L")))
    small = Image.open(happy[4]).convert("L").resize((40, 40), Image.BILINEAR)
    write(os.path.join(base, "train", "happy", "small_40.png"), png_bytes(small))

    # Ignored: a text file and a hidden file.
    write(os.path.join(base, "train", "happy", "notes.txt"), b"not an image\n")
    write(os.path.join(base, "train", "happy", ".hidden.jpg"), open(happy[5], "rb").read())

    # What loading folder/train gives: by class, then file name; the truncated file skipped.
    faces, pixels = [], []
    for label, name in enumerate(["angry", "happy"]):
        folder = os.path.join(base, "train", name)
        for fname in sorted_images(folder):
            if fname.startswith("."):
                continue
            path = os.path.join(folder, fname)
            if fname == "truncated.jpg":
                try:
                    Image.open(path).convert("L")
                    raise SystemExit("Pillow loaded the truncated JPEG")
                except OSError:
                    continue
            g = gray(path)
            if g.shape != (48, 48):
                g = resize_like_keras(g)
            faces.append({"file": f"{name}/{fname}", "label": label})
            pixels.append(g.astype(np.uint8).tobytes())
    with open(os.path.join(OUT, "folder_expected.json"), "w") as fp:
        json.dump({"classes": ["angry", "happy"], "faces": faces, "skipped": ["angry/truncated.jpg"],
                   "pixels": "folder_expected.raw (48*48 bytes per face, in this order)"}, fp, indent=1)
        fp.write("\n")
    write(os.path.join(OUT, "folder_expected.raw"), b"".join(pixels))

    # empty_class/: angry/ has only a hidden file; happy/ has one face.
    empty = os.path.join(OUT, "empty_class")
    if os.path.isdir(empty):
        shutil.rmtree(empty)
    write(os.path.join(empty, "angry", ".gitkeep"), b"")
    write(os.path.join(empty, "happy", os.path.basename(happy[6])), open(happy[6], "rb").read())


# --- fer2013.csv ----------------------------------------------------------------------------

CSV_ROWS = [  # (emotion, usage, source split, source class, index)
    (0, "Training", "train", "angry", 10),
    (3, "Training", "train", "happy", 10),
    (3, "PublicTest", "test", "happy", 0),
    (0, "Training", "train", "angry", 11),
    (6, "PrivateTest", "test", "happy", 1),   # labelled neutral: only the label matters here
    (0, "PublicTest", "test", "angry", 0),
    (3, "Training", "train", "happy", 11),
    (2, "PrivateTest", "test", "angry", 1),
    (5, "Training", "train", "happy", 12),
    (1, "Training", "train", "angry", 12),
]


def make_csv():
    lines, rows = ["emotion,pixels,Usage"], []
    for i, (emotion, usage, split, name, index) in enumerate(CSV_ROWS):
        g = gray(sample_files(split, name)[index])
        lines.append(f"{emotion},{' '.join(str(int(v)) for v in g.reshape(-1))},{usage}")
        rows.append({"line": i + 2, "emotion": emotion, "usage": usage,
                     "pixel_sum": int(g.astype(np.int64).sum()), "first_pixels": [int(v) for v in g.reshape(-1)[:4]]})
    write(os.path.join(OUT, "fer2013.csv"), ("\n".join(lines) + "\n").encode())
    bad = list(lines)
    e, p, u = bad[4].split(",")
    bad[4] = ",".join([e, " ".join(p.split(" ")[:-1]), u])      # line 5: 2303 values
    write(os.path.join(OUT, "fer2013_malformed.csv"), ("\n".join(bad) + "\n").encode())
    with open(os.path.join(OUT, "fer2013_expected.json"), "w") as fp:
        json.dump({"header": "emotion,pixels,Usage", "rows": rows, "malformed_line": 5}, fp, indent=1)
        fp.write("\n")


# --- affine.io.h5 -------------------------------------------------------------------------

def f32(v):
    return float(np.float32(v))


# (theta, tx, ty, zx, zy, flip): identity, each parameter alone, combinations, extremes.
FIXED = [
    (0, 0, 0, 1, 1, False),
    (0, 0, 0, 1, 1, True),
    (12.5, 0, 0, 1, 1, False),
    (-30, 0, 0, 1, 1, False),
    (0, 4.75, 0, 1, 1, False),
    (0, 0, -3.25, 1, 1, False),
    (0, 0, 0, 0.875, 1.125, False),
    (8.25, -2.5, 3.75, 0.9375, 1.0625, True),
    (-10, 4.8, -4.8, 1.1, 0.9, False),
    (45, 10, -10, 1.5, 0.6, True),
]


def make_affine():
    from tf_keras.src.preprocessing import image as tfk_image
    from keras.src.legacy.preprocessing import image as k3_image

    x = gray(sample_files("train", "happy")[20]).astype(np.float32)
    params = [tuple(f32(v) for v in p[:5]) + (bool(p[5]),) for p in FIXED]
    # Six draws of the usual FER augmentation, by Keras's own get_random_transform.
    gen = tfk_image.ImageDataGenerator(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                                       zoom_range=0.1, horizontal_flip=True)
    for seed in range(6):
        t = gen.get_random_transform((48, 48, 1), seed=1000 + seed)
        params.append((f32(t["theta"]), f32(t["tx"]), f32(t["ty"]), f32(t["zx"]), f32(t["zy"]),
                       bool(t["flip_horizontal"])))

    plain = tfk_image.ImageDataGenerator()            # fill_mode nearest, interpolation_order 1
    plain3 = k3_image.ImageDataGenerator()
    path = os.path.join(OUT, "affine.io.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("input", data=x)
        f.attrs["count"] = np.int64(len(params))
        for k, (theta, tx, ty, zx, zy, flip) in enumerate(params):
            tp = {"theta": theta, "tx": tx, "ty": ty, "zx": zx, "zy": zy, "flip_horizontal": flip}
            y = plain.apply_transform(x[:, :, None], tp)[:, :, 0]
            # The same through Keras 3's legacy generator and through the bare function.
            y3 = plain3.apply_transform(x[:, :, None], tp)[:, :, 0]
            y2 = tfk_image.apply_affine_transform(x[:, :, None], theta=theta, tx=tx, ty=ty, zx=zx, zy=zy,
                                                  row_axis=0, col_axis=1, channel_axis=2,
                                                  fill_mode="nearest", order=1)[:, :, 0]
            if flip:
                y2 = y2[:, ::-1]
            assert y.dtype == np.float32, y.dtype
            if not (np.array_equal(y, y3) and np.array_equal(y, y2)):
                raise SystemExit(f"output_{k}: tf_keras, Keras 3 and apply_affine_transform disagree")
            d = f.create_dataset(f"output_{k}", data=y.astype(np.float32))
            for name, v in (("theta", theta), ("tx", tx), ("ty", ty), ("zx", zx), ("zy", zy)):
                d.attrs[name] = np.float64(v)
            d.attrs["flip"] = np.int64(flip)


def main():
    make_samples()
    os.makedirs(OUT, exist_ok=True)
    make_folder()
    make_csv()
    make_affine()
    print(f"wrote {OUT} and {SAMPLES}")


if __name__ == "__main__":
    main()
