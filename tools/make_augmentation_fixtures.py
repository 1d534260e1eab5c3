#!/usr/bin/env python3
"""Generate the fixtures of Mien's image augmentation layers (Tests/Fixtures/augmentation/).

Keras's random layers draw from TensorFlow's RNG, which Mien cannot reproduce, so the
transforms are tested with given parameters:

transforms.h5 -- for each Keras version (groups `k3/`, `k2/`), each case one group with
    attrs     layer, fill_mode, interpolation, fill_value (as used), image ("a" or "b")
    params    the case's parameters (angles in radians, zooms [zx, zy], translations
              [dx, dy] in pixels, flips [h, v], contrast factors, brightness deltas,
              crop starts [top, left])
    matrix    Keras's own projective matrices for the affine cases
    output    Keras's output
  and the inputs `image_a` (3, 7, 9, 2) and `image_b` (2, 5, 4, 3), values in [0, 255].
  Keras 3: each layer's `transform_images(images, transformation)` with an explicit
  transformation (and `_compute_affine_matrix` / `_get_zoom_matrix` /
  `_get_translation_matrix` for the matrices). tf.keras 2: its module's `transform` with
  `get_rotation_matrix` / `get_zoom_matrix` / `get_translation_matrix`, and
  `tf.image.adjust_contrast` clipped to [0, 255] as its RandomContrast does; the crops and
  RandomBrightness are called as layers (deterministic there).

fixed.k2.h5, fixed.k3.json + fixed.k3.weights.h5, fixed.kV.io.h5 -- a model whose random layers have ranges of one value
  (factor (0.1, 0.1), ...), so that Keras's training-mode output is deterministic: the
  whole layer (config, draw, transform) against Keras. io: inputs/0, `output` (inference),
  `training_output` (`model(x, training=True)`).

Usage:
    python3 tools/make_augmentation_fixtures.py [--out Tests/Fixtures/augmentation]
"""

import argparse
import math
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
warnings.filterwarnings("ignore")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras  # noqa: E402
import tf_keras  # noqa: E402
from tf_keras.src.layers.preprocessing import image_preprocessing as ip2  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILL_MODES = ["reflect", "wrap", "constant", "nearest"]
INTERPOLATIONS = ["bilinear", "nearest"]


def images():
    rng = np.random.RandomState(2024)
    a = rng.uniform(0, 255, (3, 7, 9, 2)).astype(np.float32)
    b = rng.uniform(0, 255, (2, 5, 4, 3)).astype(np.float32)
    return {"a": a, "b": b}


# Parameters: angles in radians (one past a half turn), zoom steps (one far out, so that
# reflect and wrap fold several times), translations beyond the image.
ANGLES = np.array([0.3, -1.1, 2.5], dtype=np.float32)
ZOOMS = np.array([[0.7, 1.3], [2.5, 0.4], [1.0, 3.1]], dtype=np.float32)        # [zx, zy]
SHIFTS = np.array([[1.5, -2.25], [11.0, 3.0], [-0.5, -9.5]], dtype=np.float32)   # [dx, dy]


def save(group, name, attrs, params, output, matrix=None):
    g = group.create_group(name)
    for k, v in attrs.items():
        g.attrs[k] = v
    g.create_dataset("params", data=np.asarray(params, dtype=np.float32))
    g.create_dataset("output", data=np.asarray(output, dtype=np.float32))
    if matrix is not None:
        g.create_dataset("matrix", data=np.asarray(matrix, dtype=np.float32))


def keras3_cases(group, imgs):
    L = keras.layers
    x = imgs["a"]
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    for fill in FILL_MODES:
        for interp in INTERPOLATIONS:
            attrs = {"fill_mode": fill, "interpolation": interp, "fill_value": 17.5, "image": "a"}
            rot = L.RandomRotation(0.2, fill_mode=fill, interpolation=interp, fill_value=17.5)
            degrees = ANGLES * np.float32(180 / math.pi)
            zeros, ones = np.zeros(n, np.float32), np.ones(n, np.float32)
            m = rot._compute_affine_matrix(0.5, 0.5, tf.constant(degrees), zeros, zeros, ones, zeros, zeros, h, w)
            out = rot.transform_images(x, {"rotation_matrix": m}, training=True)
            save(group, f"rotation_{fill}_{interp}", {**attrs, "layer": "RandomRotation"}, ANGLES, out, m)

            zoom = L.RandomZoom(0.5, fill_mode=fill, interpolation=interp, fill_value=17.5)
            t = {"width_zoom": ZOOMS[:, :1], "height_zoom": ZOOMS[:, 1:]}
            out = zoom.transform_images(x, t, training=True)
            m = zoom._get_zoom_matrix(tf.constant(ZOOMS), h, w)
            save(group, f"zoom_{fill}_{interp}", {**attrs, "layer": "RandomZoom"}, ZOOMS, out, m)

            shift = L.RandomTranslation(0.5, 0.5, fill_mode=fill, interpolation=interp, fill_value=17.5)
            out = shift.transform_images(x, {"translations": tf.constant(SHIFTS)}, training=True)
            m = shift._get_translation_matrix(tf.constant(SHIFTS))
            save(group, f"translation_{fill}_{interp}", {**attrs, "layer": "RandomTranslation"}, SHIFTS, out, m)

    flips = np.array([True, False, True]).reshape(3, 1, 1, 1)
    for mode in ["horizontal", "vertical", "horizontal_and_vertical"]:
        out = L.RandomFlip(mode).transform_images(x, {"flips": flips}, training=True)
        h_flip, v_flip = mode != "vertical", mode != "horizontal"
        params = [[f and h_flip, f and v_flip] for f in flips.ravel()]
        save(group, f"flip_{mode}", {"layer": "RandomFlip", "mode": mode, "image": "a"}, params, out)

    factors = np.array([0.4, 1.0, 1.7], dtype=np.float32)
    for low, high in [(0, 255), (10, 200)]:
        layer = L.RandomContrast(0.5, value_range=(low, high))
        out = layer.transform_images(x, {"contrast_factor": factors.reshape(3, 1, 1, 1)}, training=True)
        save(group, f"contrast_{low}_{high}", {"layer": "RandomContrast", "value_low": low, "value_high": high,
                                               "image": "a"}, factors, out)

    deltas = np.array([-60.0, 12.5, 200.0], dtype=np.float32)
    for low, high in [(0, 255), (-1, 1)]:
        layer = L.RandomBrightness(0.5, value_range=(low, high))
        d = deltas if high == 255 else deltas / 255
        out = layer.transform_images(x, {"rgb_delta": d.reshape(3, 1, 1, 1)}, training=True)
        save(group, f"brightness_{low}_{high}", {"layer": "RandomBrightness", "value_low": low, "value_high": high,
                                                 "image": "a"}, d, out)

    # RandomCrop in training: a random window of a larger image; Keras 3's slice-and-resize
    # of an image not larger on both sides (starts from smart_resize's box).
    for (ch, cw), starts, img in [((4, 6), (2, 1), "a"), ((7, 5), None, "a"), ((6, 3), None, "b"),
                                  ((3, 6), None, "b"), ((2, 2), (3, 1), "b")]:
        layer = L.RandomCrop(ch, cw)
        xi = imgs[img]
        if starts is None:
            starts = layer.get_random_transformation(xi, training=True)
        out = layer.transform_images(xi, starts, training=True)
        save(group, f"random_crop_{ch}x{cw}_{img}", {"layer": "RandomCrop", "height": ch, "width": cw, "image": img,
                                                     "training": 1}, [int(s) for s in starts], out)
        save(group, f"random_crop_{ch}x{cw}_{img}_inference", {"layer": "RandomCrop", "height": ch, "width": cw,
                                                               "image": img, "training": 0}, [],
             layer(xi, training=False))
    for (ch, cw), img in [((4, 6), "a"), ((7, 9), "a"), ((9, 4), "a"), ((3, 12), "a"), ((6, 6), "b"), ((2, 3), "b")]:
        out = L.CenterCrop(ch, cw)(imgs[img])
        save(group, f"center_crop_{ch}x{cw}_{img}", {"layer": "CenterCrop", "height": ch, "width": cw, "image": img},
             [], out)


def keras2_cases(group, imgs):
    L = tf_keras.layers
    x = imgs["a"]
    h, w = x.shape[1], x.shape[2]
    for fill in FILL_MODES:
        for interp in INTERPOLATIONS:
            attrs = {"fill_mode": fill, "interpolation": interp, "fill_value": 17.5, "image": "a"}
            run = lambda m: ip2.transform(tf.constant(x), m, fill_mode=fill, fill_value=17.5,  # noqa: E731
                                          interpolation=interp)
            m = ip2.get_rotation_matrix(tf.constant(ANGLES), tf.cast(h, tf.float32), tf.cast(w, tf.float32))
            save(group, f"rotation_{fill}_{interp}", {**attrs, "layer": "RandomRotation"}, ANGLES, run(m), m)
            m = ip2.get_zoom_matrix(tf.constant(ZOOMS), tf.cast(h, tf.float32), tf.cast(w, tf.float32))
            save(group, f"zoom_{fill}_{interp}", {**attrs, "layer": "RandomZoom"}, ZOOMS, run(m), m)
            m = ip2.get_translation_matrix(tf.constant(SHIFTS))
            save(group, f"translation_{fill}_{interp}", {**attrs, "layer": "RandomTranslation"}, SHIFTS, run(m), m)

    # RandomContrast: one factor for the batch, tf.image.adjust_contrast, clipped to [0, 255].
    for f in [0.4, 1.7]:
        out = tf.clip_by_value(tf.image.adjust_contrast(tf.constant(x), f), 0, 255)
        save(group, f"contrast_{f}", {"layer": "RandomContrast", "value_low": 0, "value_high": 255, "image": "a"},
             [f] * x.shape[0], out)
    # RandomBrightness with a range of one value is deterministic.
    for factor, (low, high) in [(0.2, (0, 255)), (-0.7, (0, 255)), (0.3, (-1, 1))]:
        layer = L.RandomBrightness((factor, factor), value_range=(low, high))
        out = layer(x if high == 255 else x / 255, training=True)
        delta = np.float32(factor) * np.float32(high - low)
        save(group, f"brightness_{factor}_{low}_{high}", {"layer": "RandomBrightness", "value_low": low,
                                                          "value_high": high, "image": "a" if high == 255 else "a/255"},
             [delta] * x.shape[0], out)
    # RandomCrop: smart_resize at inference, and in training when the image is smaller.
    for (ch, cw), img in [((4, 6), "a"), ((7, 5), "a"), ((6, 3), "b"), ((3, 6), "b"), ((9, 12), "a")]:
        layer = L.RandomCrop(ch, cw)
        save(group, f"random_crop_{ch}x{cw}_{img}_inference", {"layer": "RandomCrop", "height": ch, "width": cw,
                                                               "image": img, "training": 0}, [],
             layer(imgs[img], training=False))
        if imgs[img].shape[1] < ch or imgs[img].shape[2] < cw:
            save(group, f"random_crop_{ch}x{cw}_{img}", {"layer": "RandomCrop", "height": ch, "width": cw,
                                                         "image": img, "training": 1}, [],
                 layer(imgs[img], training=True))
    for (ch, cw), img in [((4, 6), "a"), ((7, 9), "a"), ((9, 4), "a"), ((3, 12), "a"), ((6, 6), "b"), ((2, 3), "b")]:
        out = L.CenterCrop(ch, cw)(imgs[img])
        save(group, f"center_crop_{ch}x{cw}_{img}", {"layer": "CenterCrop", "height": ch, "width": cw, "image": img},
             [], out)


def fixed_model(K, v):
    """Random layers whose ranges hold one value: Keras's training output is deterministic."""
    L = K.layers
    inp = K.Input((7, 9, 2))
    branches = [
        L.RandomRotation((0.1, 0.1), name="rotation_reflect")(inp),
        L.RandomRotation((-0.3, -0.3), fill_mode="nearest", interpolation="nearest", name="rotation_nearest")(inp),
        L.RandomZoom((0.2, 0.2), (-0.1, -0.1), fill_mode="constant", fill_value=3.0, name="zoom_constant")(inp),
        L.RandomZoom((-0.25, -0.25), fill_mode="wrap", name="zoom_wrap")(inp),
        L.RandomTranslation((0.1, 0.1), (-0.2, -0.2), fill_mode="wrap", name="shift_wrap")(inp),
        L.RandomTranslation((-0.3, -0.3), (0.45, 0.45), fill_mode="reflect", interpolation="nearest",
                            name="shift_reflect")(inp),
        L.RandomBrightness((0.1, 0.1), name="brightness")(inp),
    ]
    if v == "k3":
        # tf.keras 2's stateless_random_contrast refuses a range of one value.
        branches.append(L.RandomContrast((0.0, 0.0), name="contrast")(inp))
    out = L.Concatenate(name="concat")(branches)
    return K.Model(inp, out, name="fixed")


def make_fixed(out):
    x = images()["a"]
    for K, v in ((keras, "k3"), (tf_keras, "k2")):
        K.backend.clear_session()
        model = fixed_model(K, v)
        if v == "k3":
            # Keras 3 cannot save RandomBrightness to a legacy .h5 ("cannot pickle 'module'
            # object"): its architecture goes to JSON, the (no) weights to .weights.h5.
            with open(os.path.join(out, "fixed.k3.json"), "w") as fh:
                fh.write(model.to_json())
            model.save_weights(os.path.join(out, "fixed.k3.weights.h5"))
        else:
            model.save(os.path.join(out, "fixed.k2.h5"))
        with h5py.File(os.path.join(out, f"fixed.{v}.io.h5"), "w") as f:
            f.create_dataset("inputs/0", data=x)
            f.create_dataset("output", data=np.asarray(model(x, training=False), dtype=np.float32))
            f.create_dataset("training_output", data=np.asarray(model(x, training=True), dtype=np.float32))
        print(f"fixed.{v}: {model.output_shape}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "augmentation"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(7)
    tf_keras.utils.set_random_seed(7)
    imgs = images()
    with h5py.File(os.path.join(args.out, "transforms.h5"), "w") as f:
        f.attrs["tensorflow"], f.attrs["keras"], f.attrs["tf_keras"] = tf.__version__, keras.__version__, tf_keras.__version__
        for name, value in imgs.items():
            f.create_dataset(f"image_{name}", data=value)
        keras3_cases(f.create_group("k3"), imgs)
        keras2_cases(f.create_group("k2"), imgs)
        print(f"transforms.h5: {len(f['k3'])} Keras 3 cases, {len(f['k2'])} tf.keras 2 cases")
    make_fixed(args.out)


if __name__ == "__main__":
    sys.exit(main())
