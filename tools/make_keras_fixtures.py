#!/usr/bin/env python3
"""Generate golden Keras fixtures for the Mien Swift importer.

Every model is built twice, once with tf_keras (Keras 2, "k2") and once with
Keras 3 ("k3"), its weights are randomised deterministically, and it is saved
as a legacy HDF5 model (`NAME.V.h5`) next to an "io" file (`NAME.V.io.h5`)
holding the inputs, Keras's own output and the parameter counts / layer
summary.  The models of KERAS_ZIPS are also saved as `.keras` zips
(`NAME.V.keras`), and bad/zip/ gets damaged copies of one of them.
Afterwards every file is reloaded with the Keras that wrote it and the
reloaded output is compared with the stored output.

Usage:
    python3 tools/make_keras_fixtures.py [--out Tests/Fixtures/keras]
    python3 tools/make_keras_fixtures.py --zips-only   # only the .keras files

Pinned versions: see tools/requirements.txt.  See Tests/Fixtures/README.md for
the list of files.
"""

import argparse
import json
import logging
import os
import shutil
import struct
import sys
import warnings
import zipfile
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Plain Eigen kernels instead of oneDNN: fewer platform-specific roundings.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

warnings.filterwarnings("ignore")
logging.getLogger("absl").setLevel(logging.ERROR)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")

import tf_keras  # noqa: E402  (Keras 2, "tf.keras 2.x")
import keras  # noqa: E402  (Keras 3)

EXPECTED_VERSIONS = {
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "tf_keras": "2.21.0",
    "h5py": "3.14.0",
    "numpy": "2.4.6",
}

KERAS = {"k2": tf_keras, "k3": keras}
BATCH = 2
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STR = h5py.string_dtype("utf-8")


def check_versions():
    found = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf_keras": tf_keras.__version__,
        "h5py": h5py.__version__,
        "numpy": np.__version__,
    }
    for k, v in EXPECTED_VERSIONS.items():
        if found[k] != v:
            print(f"WARNING: {k} {found[k]} != pinned {v}; fixtures will differ",
                  file=sys.stderr)


def seed_of(text):
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


def reset(K, seed):
    """Fresh layer-name counters and seeded RNGs for one model build."""
    K.backend.clear_session()
    np.random.seed(seed)
    tf.random.set_seed(seed)
    K.utils.set_random_seed(seed)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def normal_inputs(name, shapes, scale=1.0):
    """Standard normal inputs; identical for k2 and k3 (seeded by name)."""
    rng = np.random.RandomState(seed_of("inputs/" + name))
    return [(rng.standard_normal((BATCH,) + tuple(s)) * scale).astype(np.float32)
            for s in shapes]


def uniform_inputs(name, shapes, low, high):
    rng = np.random.RandomState(seed_of("inputs/" + name))
    return [rng.uniform(low, high, (BATCH,) + tuple(s)).astype(np.float32)
            for s in shapes]


# --------------------------------------------------------------------------
# Weight randomisation
# --------------------------------------------------------------------------

# Normalization weights written by adapt(); they are kept as adapted.
ADAPTED = {"mean", "variance", "count"}


def all_layers(model):
    """All layers, recursing into nested models."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def randomize_weights(model, seed):
    """Give every variable a deterministic non-initial value.

    kernels: LeCun normal, N(0, 1/fan_in) (fan_in = true receptive fan-in,
    i.e. kh*kw for depthwise kernels); biases N(0, 0.1); BN gamma U(0.5, 1.5),
    beta N(0, 0.1), moving_mean N(0, 0.2), moving_variance U(0.5, 2.0);
    PReLU alpha U(0.05, 0.6); custom-layer "scale" U(0.5, 1.5).
    """
    rng = np.random.RandomState(seed)
    # Keras 3 calls a DepthwiseConv2D's kernel "kernel" (tf_keras:
    # "depthwise_kernel"), so find those by layer class.
    depthwise = set()
    for layer in all_layers(model):
        if type(layer).__name__ == "DepthwiseConv2D":
            depthwise.add(id(layer.weights[0]))
    for v in model.weights:
        short = v.name.split("/")[-1].split(":")[0]
        shape = tuple(int(d) for d in v.shape)
        if id(v) in depthwise:
            short = "depthwise_kernel"
        if short == "kernel":
            fan_in = int(np.prod(shape[:-1]))
            val = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif short == "depthwise_kernel":
            fan_in = int(np.prod(shape[:-2]))
            val = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif short == "pointwise_kernel":
            fan_in = int(np.prod(shape[:-1]))
            val = rng.standard_normal(shape) / np.sqrt(fan_in)
        elif short == "bias":
            val = rng.standard_normal(shape) * 0.1
        elif short == "gamma":
            val = rng.uniform(0.5, 1.5, shape)
        elif short == "beta":
            val = rng.standard_normal(shape) * 0.1
        elif short == "moving_mean":
            val = rng.standard_normal(shape) * 0.2
        elif short == "moving_variance":
            val = rng.uniform(0.5, 2.0, shape)
        elif short == "alpha":
            val = rng.uniform(0.05, 0.6, shape)
        elif short in ("scale", "variable"):
            # "variable": Keras 3's LayerScale leaves its gamma unnamed.
            val = rng.uniform(0.5, 1.5, shape)
        elif short in ADAPTED:
            continue
        else:
            raise ValueError(f"don't know how to randomise weight {v.name}")
        v.assign(val.astype(np.float32))


# --------------------------------------------------------------------------
# Model builders.  Each takes (K, v) and returns (model, list of inputs).
# --------------------------------------------------------------------------

def leaky(K, v, slope, **kw):
    if v == "k2":
        return K.layers.LeakyReLU(alpha=slope, **kw)
    return K.layers.LeakyReLU(negative_slope=slope, **kw)


def build_sequential_cnn(K, v):
    L = K.layers
    model = K.Sequential([
        K.Input((16, 16, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu"),
        L.BatchNormalization(),
        L.MaxPooling2D(2),
        L.Conv2D(8, 3, strides=2, padding="valid", use_bias=False),
        L.Dropout(0.5),
        L.Flatten(),
        L.Dense(10, activation="softmax"),
    ])
    return model, normal_inputs("sequential_cnn", [(16, 16, 3)])


def build_functional_branches(K, v):
    L = K.layers
    a_in = K.Input((12, 12, 3), name="input_a")
    b_in = K.Input((12, 12, 3), name="input_b")
    a = L.Conv2D(6, 3, padding="same", activation="relu")(a_in)
    b = L.Conv2D(6, 3, padding="same")(b_in)
    b1 = L.Conv2D(6, 1)(b_in)
    added = L.Add()([a, b])
    sub = L.Subtract()([a, b])
    mul = L.Multiply()([a, b1])
    avg = L.Average()([added, sub, mul])
    mx = L.Maximum()([sub, mul])
    cat = L.Concatenate(axis=-1)([added, avg, mx, a_in])
    x = L.GlobalAveragePooling2D()(cat)
    out = L.Dense(4)(x)
    model = K.Model([a_in, b_in], out, name="branches")
    return model, normal_inputs("functional_branches", [(12, 12, 3), (12, 12, 3)])


def make_backbone(K, v):
    L = K.layers
    inp = K.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same")(inp)
    x = L.BatchNormalization()(x)
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("swish")(x)
    x = L.Conv2D(8, 1)(x)
    return K.Model(inp, x, name="backbone")


def nested(mode):
    def build(K, v):
        L = K.layers
        inner = make_backbone(K, v)
        if mode == "frozen":
            inner.trainable = False
        elif mode == "mixed":
            bns = [l for l in inner.layers if isinstance(l, L.BatchNormalization)]
            convs = [l for l in inner.layers if type(l) is L.Conv2D]
            bns[0].trainable = False      # BN after the first Conv2D
            convs[-1].trainable = False   # final 1x1 Conv2D
        model = K.Sequential([
            inner,
            L.GlobalAveragePooling2D(),
            L.Dropout(0.2),
            L.Dense(1, activation="sigmoid"),
        ])
        return model, normal_inputs("nested_" + mode, [(16, 16, 3)])
    return build


def nested_deep(clash):
    """outer (Functional) > middle (Sequential) > inner (Functional).

    Layer names "conv" and "bn" exist both in `outer` and in `inner`, "proj"
    both in `outer` and in `middle`.  With clash=True, `middle` also has its
    own "conv"/"bn" (Keras 3 only: tf_keras cannot save that, see README).
    """
    def build(K, v):
        L = K.layers
        i = K.Input((12, 12, 4))
        x = L.Conv2D(6, 3, padding="same", name="conv")(i)
        x = L.BatchNormalization(name="bn")(x)
        x = L.Activation("relu", name="act")(x)
        inner = K.Model(i, x, name="inner")
        mid_layers = [K.Input((12, 12, 4)), inner,
                      L.Conv2D(5, 1, name="conv" if clash else "proj")]
        if clash:
            mid_layers.append(L.BatchNormalization(name="bn"))
        mid_layers.append(L.MaxPooling2D(2, name="pool"))
        middle = K.Sequential(mid_layers, name="middle")
        inp = K.Input((12, 12, 3))
        x = L.Conv2D(4, 3, padding="same", name="conv")(inp)
        x = L.BatchNormalization(name="bn")(x)
        x = middle(x)
        x = L.Conv2D(4, 1, name="proj")(x)
        x = L.GlobalAveragePooling2D(name="gap")(x)
        out = L.Dense(3, name="dense")(x)
        model = K.Model(inp, out, name="outer")
        return model, normal_inputs("nested_deep", [(12, 12, 3)])
    return build


def build_mbconv(K, v):
    L = K.layers
    inp = K.Input((16, 16, 8))

    # Block 1: stride 2, explicit ZeroPadding + valid depthwise, SE with keepdims.
    x = L.Conv2D(16, 1, use_bias=False, name="b1_expand_conv")(inp)
    x = L.BatchNormalization(name="b1_expand_bn")(x)
    x = L.Activation("swish", name="b1_expand_act")(x)
    x = L.ZeroPadding2D(padding=((0, 1), (0, 1)), name="b1_dw_pad")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid", use_bias=False,
                          name="b1_dwconv")(x)
    x = L.BatchNormalization(name="b1_bn")(x)
    x = L.Activation("swish", name="b1_act")(x)
    se = L.GlobalAveragePooling2D(keepdims=True, name="b1_se_squeeze")(x)
    se = L.Conv2D(2, 1, activation="swish", name="b1_se_reduce")(se)
    se = L.Conv2D(16, 1, activation="sigmoid", name="b1_se_expand")(se)
    x = L.Multiply(name="b1_se_excite")([x, se])
    x = L.Conv2D(8, 1, use_bias=False, name="b1_project_conv")(x)
    x = L.BatchNormalization(name="b1_project_bn")(x)
    b1 = L.Dropout(0.2, name="b1_drop")(x)

    # Block 2: stride 1, same-padded depthwise, SE with GAP + Reshape, residual.
    x = L.Conv2D(16, 1, use_bias=False, name="b2_expand_conv")(b1)
    x = L.BatchNormalization(name="b2_expand_bn")(x)
    x = L.Activation("swish", name="b2_expand_act")(x)
    x = L.DepthwiseConv2D(3, strides=1, padding="same", use_bias=False,
                          name="b2_dwconv")(x)
    x = L.BatchNormalization(name="b2_bn")(x)
    x = L.Activation("swish", name="b2_act")(x)
    se = L.GlobalAveragePooling2D(name="b2_se_squeeze")(x)
    se = L.Reshape((1, 1, 16), name="b2_se_reshape")(se)
    se = L.Conv2D(2, 1, activation="swish", name="b2_se_reduce")(se)
    se = L.Conv2D(16, 1, activation="sigmoid", name="b2_se_expand")(se)
    x = L.Multiply(name="b2_se_excite")([x, se])
    x = L.Conv2D(8, 1, use_bias=False, name="b2_project_conv")(x)
    x = L.BatchNormalization(name="b2_project_bn")(x)
    x = L.Dropout(0.2, name="b2_drop")(x)
    out = L.Add(name="b2_add")([x, b1])
    model = K.Model(inp, out, name="mbconv")
    return model, normal_inputs("mbconv", [(16, 16, 8)])


def build_xception(K, v):
    L = K.layers
    inp = K.Input((17, 17, 4))
    x = L.SeparableConv2D(8, 3, padding="same")(inp)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.SeparableConv2D(8, 3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    r = L.Conv2D(8, 1, strides=2, padding="same")(inp)
    r = L.BatchNormalization()(r)
    out = L.Add()([x, r])
    model = K.Model(inp, out, name="xception_block")
    return model, normal_inputs("xception", [(17, 17, 4)])


ACTIVATION_NAMES = ["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "tanh",
                    "softmax", "swish", "silu", "elu", "selu", "gelu", "softplus"]


def build_activations(K, v):
    L = K.layers
    inp = K.Input((6, 6, 4))
    branches = [L.Activation(a, name="act_" + a)(inp) for a in ACTIVATION_NAMES]
    branches += [
        L.ReLU(max_value=6.0, name="relu_max6")(inp),
        L.ReLU(negative_slope=0.1, threshold=0.5, name="relu_slope_thresh")(inp),
        leaky(K, v, 0.3, name="leaky_03")(inp),
        leaky(K, v, 0.1, name="leaky_01")(inp),
        L.PReLU(name="prelu")(inp),
        L.PReLU(shared_axes=[1, 2], name="prelu_shared")(inp),
        L.Softmax(axis=-1, name="softmax_last")(inp),
        L.Softmax(axis=1, name="softmax_axis1")(inp),
        L.ELU(alpha=0.7, name="elu_layer")(inp),
        L.Conv2D(4, 3, padding="same", activation="selu", name="conv_selu")(inp),
        L.Conv2D(4, 1, activation="hard_sigmoid", name="conv_hard_sigmoid")(inp),
        L.Conv2D(4, 1, activation="gelu", name="conv_gelu")(inp),
        L.Conv2D(4, 3, padding="same", activation="relu6", name="conv_relu6")(inp),
    ]
    cat = L.Concatenate(axis=-1, name="concat_maps")(branches)
    flat_maps = L.Flatten(name="flatten_maps")(cat)
    flat_in = L.Flatten(name="flatten_in")(inp)
    dense = [
        L.Dense(6, activation="swish", name="dense_swish")(flat_in),
        L.Dense(6, activation="softmax", name="dense_softmax")(flat_in),
        L.Dense(6, activation="elu", name="dense_elu")(flat_in),
        L.Dense(6, activation="sigmoid", name="dense_sigmoid")(flat_in),
    ]
    out = L.Concatenate(axis=-1, name="concat_all")([flat_maps] + dense)
    model = K.Model(inp, out, name="activations")
    return model, normal_inputs("activations", [(6, 6, 4)], scale=3.0)


def build_pool_reshape(K, v):
    L = K.layers
    inp = K.Input((12, 12, 3))
    avg_same = L.AveragePooling2D(3, strides=2, padding="same", name="avg_same")(inp)
    avg_valid = L.AveragePooling2D(3, strides=2, padding="valid", name="avg_valid")(inp)
    max_valid = L.MaxPooling2D(2, strides=3, padding="valid", name="max_valid")(inp)
    gmax = L.GlobalMaxPooling2D(name="gmax")(inp)
    gmax_keep = L.GlobalMaxPooling2D(keepdims=True, name="gmax_keep")(inp)
    crop = L.Cropping2D(((1, 0), (0, 2)), name="crop")(inp)
    up_nearest = L.UpSampling2D(2, name="up_nearest")(inp)
    up_bilinear = L.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(inp)
    zpad = L.ZeroPadding2D(2, name="zpad")(inp)
    perm = L.Permute((2, 1, 3), name="permute")(crop)          # (10, 11, 3)
    resh = L.Reshape((10, 33), name="reshape")(perm)
    dense = L.Dense(5, name="dense")(L.Flatten(name="flat_reshape")(resh))
    resh2 = L.Reshape((-1, 3), name="reshape_infer")(avg_same)  # (36, 3)
    parts = [avg_same, avg_valid, max_valid, gmax_keep, crop, up_nearest,
             up_bilinear, zpad, perm, resh2]
    flats = [L.Flatten()(p) for p in parts]
    out = L.Concatenate(axis=-1, name="concat")(flats + [gmax, dense])
    model = K.Model(inp, out, name="pool_reshape")
    return model, normal_inputs("pool_reshape", [(12, 12, 3)])


def build_conv_variants(K, v):
    L = K.layers
    even = K.Input((16, 16, 4), name="input_even")
    odd = K.Input((15, 15, 4), name="input_odd")
    outs = [
        L.Conv2D(4, 3, dilation_rate=2, padding="same", name="dil_same")(even),
        L.Conv2D(4, 3, dilation_rate=2, padding="valid", name="dil_valid")(even),
        L.Conv2D(4, 3, strides=2, padding="same", name="s2_same_even")(even),
        L.Conv2D(4, (1, 3), strides=(2, 1), padding="valid", name="k13_s21_valid")(even),
        L.Conv2D(4, (1, 3), strides=(2, 1), padding="same", name="k13_s21_same")(even),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw_mult2")(even),
        L.DepthwiseConv2D(3, strides=2, padding="same", name="dw_s2_even")(even),
        L.SeparableConv2D(6, 3, depth_multiplier=2, padding="same", name="sep_mult2")(even),
        L.BatchNormalization(center=False, scale=False, epsilon=0.1, name="bn_noaffine_eps01")(even),
        L.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn_eps1e5")(even),
        L.Conv2D(4, 3, strides=2, padding="same", name="s2_same_odd")(odd),
        L.Conv2D(4, 4, strides=2, padding="same", name="k4_s2_same_odd")(odd),
        L.Conv2D(4, 2, padding="same", name="k2_same_odd")(odd),
        L.DepthwiseConv2D(3, strides=2, padding="same", name="dw_s2_odd")(odd),
        L.AveragePooling2D(2, padding="same", name="avg2_same_odd")(odd),
        L.MaxPooling2D(2, padding="same", name="max2_same_odd")(odd),
    ]
    flats = [L.Flatten()(o) for o in outs]
    out = L.Concatenate(axis=-1, name="concat")(flats)
    model = K.Model([even, odd], out, name="conv_variants")
    return model, normal_inputs("conv_variants", [(16, 16, 4), (15, 15, 4)])


def build_preprocessing(K, v):
    L = K.layers
    inp = K.Input((10, 10, 3))
    x = L.Rescaling(scale=[1 / 255.0, 2 / 255.0, 3 / 255.0], offset=-0.5,
                    name="rescale")(inp)
    x = L.Normalization(mean=[0.1, 0.4, 0.9], variance=[0.09, 0.36, 1.21],
                        name="normalize")(x)
    x = L.GaussianNoise(0.5, name="noise")(x)
    x = L.SpatialDropout2D(0.3, name="spatial_dropout")(x)
    outs = [
        L.Resizing(14, 14, interpolation="bilinear", name="resize_bilinear_up")(x),
        L.Resizing(7, 7, interpolation="nearest", name="resize_nearest_down")(x),
        L.Resizing(7, 7, interpolation="bilinear", name="resize_bilinear_down")(x),
        L.Resizing(13, 13, interpolation="nearest", name="resize_nearest_up")(x),
    ]
    flats = [L.Flatten()(o) for o in outs]
    out = L.Concatenate(axis=-1, name="concat")(flats)
    model = K.Model(inp, out, name="preprocessing")
    return model, uniform_inputs("preprocessing", [(10, 10, 3)], 0.0, 255.0)


def build_preprocessing_adapted(K, v):
    L = K.layers
    rng = np.random.RandomState(seed_of("adapt/preprocessing_adapted"))
    adapt_data = (rng.standard_normal((32, 10, 10, 3)) * [0.5, 1.0, 2.0]
                  + [0.3, -0.2, 1.0]).astype(np.float32)
    norm = L.Normalization(axis=-1, name="normalize_adapted")
    norm.adapt(adapt_data)
    inp = K.Input((10, 10, 3))
    x = L.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(inp)
    x = norm(x)
    x = L.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = L.Flatten(name="flatten")(x)
    out = L.Dense(3, name="dense")(x)
    model = K.Model(inp, out, name="preprocessing_adapted")
    return model, uniform_inputs("preprocessing_adapted", [(10, 10, 3)], 0.0, 255.0)


def build_operations(K, v):
    """Tensor arithmetic written as expressions: Keras 3 saves operation layers
    (keras.src.ops: TrueDivide, Subtract, Add with constants), tf.keras TFOpLambda layers.
    Constants on either side, a per-channel constant, two tensors, the same tensor twice,
    MobileNetV3's hard-sigmoid and an activation called as a function."""
    L = K.layers
    if v == "k3":
        ops = keras.ops
        maximum, minimum, relu6 = ops.maximum, ops.minimum, ops.relu6
        const = lambda values: np.array(values, dtype=np.float32)
        bias_add = lambda t, b: t + const(b)
    else:
        maximum, minimum, relu6 = tf.maximum, tf.minimum, tf.nn.relu6
        const = lambda values: tf.constant(values, dtype=tf.float32)
        bias_add = lambda t, b: tf.nn.bias_add(t, b)
    inp = K.Input((6, 6, 3))
    x = inp / 127.5 - 1.0                        # preprocess_input's "tf" mode
    x = L.Conv2D(4, 3, padding="same", name="conv")(x)
    a = 2.0 - x                                   # constant first
    b = maximum(x, 0.25) * (1.0 / 6.0)
    c = minimum(a, const([0.5, 1.0, 1.5, 2.0]))  # per-channel constant
    d = x + c                                     # two tensors
    e = 1.0 / (d * d + 1.0)                       # the same tensor twice; constant / tensor
    hs = L.ReLU(6.0, name="hard_relu")(x + 3.0) * (1.0 / 6.0)   # MobileNetV3's hard sigmoid
    f = relu6(bias_add(e - b, [0.1, -0.2, 0.3, -0.4])) + hs
    model = K.Model(inp, L.Flatten(name="flat")(f), name="operations")
    return model, uniform_inputs("operations", [(6, 6, 3)], 0.0, 255.0)


def build_preprocess_caffe(K, v):
    """ResNet50's preprocess_input inside the model ("caffe" mode: RGB to BGR, minus the
    ImageNet means): tf.keras saves x[..., ::-1] (SlicingOpLambda) and tf.nn.bias_add,
    Keras 3 three GetItem operations, a Stack and an Add with a constant tensor."""
    L = K.layers
    inp = K.Input((5, 5, 3))
    x = K.applications.resnet50.preprocess_input(inp)
    x = L.Conv2D(2, 3, name="conv")(x)
    model = K.Model(inp, L.Flatten(name="flat")(x), name="preprocess_caffe")
    return model, uniform_inputs("preprocess_caffe", [(5, 5, 3)], 0.0, 255.0)


def build_grouped_conv(K, v):
    """Conv2D with groups: ConvNeXt's one group per channel (7x7) and RegNet's groups of 8."""
    L = K.layers
    inp = K.Input((9, 9, 16))
    x = L.Conv2D(16, 7, padding="same", groups=16, name="depthwise_like")(inp)
    x = L.Conv2D(24, 3, strides=2, padding="same", groups=2, activation="relu", name="grouped")(x)
    x = L.Conv2D(48, 1, groups=24, use_bias=False, name="multiplier2")(x)
    model = K.Model(inp, x, name="grouped_conv")
    return model, normal_inputs("grouped_conv", [(9, 9, 16)])


def build_dense_mlp(K, v):
    L = K.layers
    model = K.Sequential([
        K.Input((20,)),
        L.Dense(16, activation="relu"),
        L.Dense(8, use_bias=False, activation="tanh"),
        L.Dense(3, activation="softmax"),
    ])
    return model, normal_inputs("dense_mlp", [(20,)])


# name -> (builder, versions, write weights-only + json variants)
def layer_scale_class(v):
    """ConvNeXt's LayerScale, from the Keras that saves the model."""
    if v == "k2":
        from tf_keras.src.applications.convnext import LayerScale
    else:
        from keras.src.applications.convnext import LayerScale
    return LayerScale


def build_augmented_backbone(K, v):
    """Keras's transfer-learning tutorial: augmentation (a nested Sequential, as there) in
    front of a frozen backbone."""
    L = K.layers
    inp = K.Input((32, 32, 3))
    augmentation = [L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1),
                    L.RandomTranslation(0.1, 0.1), L.RandomContrast(0.2)]
    if v == "k2":
        # Keras 3 cannot save RandomBrightness to .h5 ("cannot pickle 'module' object").
        augmentation.append(L.RandomBrightness(0.2))
    x = K.Sequential(augmentation, name="augmentation")(inp)
    x = L.Rescaling(1 / 127.5, offset=-1)(x)
    b_in = K.Input((32, 32, 3))
    b = L.Conv2D(8, 3, strides=2, padding="same")(b_in)
    b = L.BatchNormalization()(b)
    b = L.DepthwiseConv2D(3, padding="same")(b)
    b = L.BatchNormalization()(b)
    b = L.Activation("swish")(b)
    b = L.Conv2D(16, 1)(b)
    backbone = K.Model(b_in, b, name="backbone")
    backbone.trainable = False
    x = backbone(x, training=False)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dropout(0.2)(x)
    out = L.Dense(3)(x)
    return K.Model(inp, out, name="augmented_backbone"), uniform_inputs("augmented_backbone", [(32, 32, 3)], 0, 255)


def build_crops(K, v):
    """CenterCrop (a crop; a smart_resize when smaller) and RandomCrop at inference
    (tf.keras 2: smart_resize; Keras 3: the whole image, whatever its declared shape)."""
    L = K.layers
    inp = K.Input((30, 26, 3))
    a = L.CenterCrop(20, 24, name="center_crop")(inp)
    b = L.CenterCrop(34, 20, name="center_resize")(inp)
    c = L.RandomCrop(24, 20, name="random_crop")(inp)
    feats = [L.GlobalAveragePooling2D()(L.Conv2D(4, 3)(t)) for t in (a, b, c)]
    out = L.Dense(3)(L.Concatenate()(feats))
    return K.Model(inp, out, name="crops"), uniform_inputs("crops", [(30, 26, 3)], 0, 255)


def build_layer_norm(K, v):
    L = K.layers
    inp = K.Input((5, 6, 8))
    parts = [
        L.LayerNormalization(epsilon=1e-6, name="ln_last")(inp),
        L.LayerNormalization(axis=[3], center=False, name="ln_list")(inp),
        L.LayerNormalization(scale=False, epsilon=0.01, name="ln_noscale")(inp),
    ]
    if v == "k2":
        # Keras 3's .h5 loader drops an axis list of more than one axis (legacy
        # saving_utils.model_from_config), so Keras 3 cannot reload such a file; Keras 3's
        # trailing axes are checked by the gradient fixture layernorm_trailing_axes.
        parts += [L.LayerNormalization(axis=[1, 2, 3], name="ln_all")(inp),
                  L.LayerNormalization(axis=[-2, -1], center=False, name="ln_two")(inp)]
    else:
        parts.append(L.LayerNormalization(rms_scaling=True, name="ln_rms")(inp))
    flats = [L.Flatten()(t) for t in parts]
    dense = L.LayerNormalization(name="ln_dense")(L.Dense(7)(L.Flatten()(inp)))
    out = L.Concatenate()(flats + [dense])
    return K.Model(inp, out, name="layer_norm"), normal_inputs("layer_norm", [(5, 6, 8)], scale=2.0)


def build_convnext_block(K, v):
    """One ConvNeXt block as keras.applications.convnext builds it, except its depthwise
    convolution: the application writes Conv2D(groups=16), which Mien does not read yet."""
    L = K.layers
    inp = K.Input((8, 8, 16))
    x = L.DepthwiseConv2D(7, padding="same", name="dwconv")(inp)
    x = L.LayerNormalization(epsilon=1e-6, name="layernorm")(x)
    x = L.Dense(64, name="pwconv1")(x)
    x = L.Activation("gelu", name="gelu")(x)
    x = L.Dense(16, name="pwconv2")(x)
    x = layer_scale_class(v)(1e-6, 16, name="layer_scale")(x)
    out = L.Add(name="add")([inp, x])
    return K.Model(inp, out, name="convnext_block"), normal_inputs("convnext_block", [(8, 8, 16)])


MODELS = [
    ("sequential_cnn", build_sequential_cnn, ("k2", "k3"), False),
    ("functional_branches", build_functional_branches, ("k2", "k3"), True),
    ("nested_unfrozen", nested("unfrozen"), ("k2", "k3"), True),
    ("nested_frozen", nested("frozen"), ("k2", "k3"), False),
    ("nested_mixed", nested("mixed"), ("k2", "k3"), False),
    ("nested_deep", nested_deep(False), ("k2", "k3"), False),
    ("nested_deep_clash", nested_deep(True), ("k3",), False),
    ("mbconv", build_mbconv, ("k2", "k3"), False),
    ("xception", build_xception, ("k2", "k3"), False),
    ("activations", build_activations, ("k2", "k3"), False),
    ("pool_reshape", build_pool_reshape, ("k2", "k3"), False),
    ("conv_variants", build_conv_variants, ("k2", "k3"), False),
    ("preprocessing", build_preprocessing, ("k2", "k3"), False),
    ("preprocessing_adapted", build_preprocessing_adapted, ("k2", "k3"), False),
    ("dense_mlp", build_dense_mlp, ("k2", "k3"), False),
    ("operations", build_operations, ("k2", "k3"), False),
    ("preprocess_caffe", build_preprocess_caffe, ("k2", "k3"), False),
    ("grouped_conv", build_grouped_conv, ("k2", "k3"), False),
    ("augmented_backbone", build_augmented_backbone, ("k2", "k3"), False),
    ("crops", build_crops, ("k2", "k3"), False),
    ("layer_norm", build_layer_norm, ("k2", "k3"), False),
    ("convnext_block", build_convnext_block, ("k2", "k3"), False),
]


# The models also saved as `.keras` zips (model.save("NAME.V.keras")): Keras 3's
# format, and tf_keras's own v3 format (same entries; its weights file has no
# groups for weightless layers and no `name` attributes).
KERAS_ZIPS = [
    ("functional_branches", "k3"),
    ("nested_deep", "k3"),
    ("mbconv", "k3"),
    ("nested_deep", "k2"),
]

# --------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DATE_SAVED = "2026-01-01@00:00:00"


def save_keras(model, path):
    """model.save(path) as a `.keras` zip, then the parts that differ from run
    to run made fixed, so that a regeneration gives the same bytes: the save
    time (metadata.json's date_saved, the entries' zip times) and Keras 3's
    `shared_object_id`s (Python object ids), renumbered 1, 2, ... in order of
    appearance.  Everything else stays as Keras wrote it (entries stored)."""
    model.save(path)
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    ids = {}

    def renumber(obj):
        if isinstance(obj, dict):
            if "shared_object_id" in obj:
                obj["shared_object_id"] = ids.setdefault(obj["shared_object_id"], len(ids) + 1)
            for v in obj.values():
                renumber(v)
        elif isinstance(obj, list):
            for v in obj:
                renumber(v)

    with zipfile.ZipFile(path, "w") as z:
        for info, data in entries:
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = FIXED_DATE_SAVED
                data = json.dumps(meta).encode()
            elif info.filename == "config.json":
                config = json.loads(data)
                renumber(config)
                data = json.dumps(config).encode()
            info.date_time = FIXED_ZIP_TIME
            z.writestr(info, data)


def to_numpy(t):
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t)


def run_model(model, xs):
    arg = xs if len(xs) > 1 else xs[0]
    out = model(arg, training=False)
    if isinstance(out, (list, tuple)):
        raise ValueError("fixtures must have a single output")
    return to_numpy(out).astype(np.float32)


def shape_str(layer):
    out = layer.output
    if isinstance(out, (list, tuple)):
        return "[" + ", ".join(_shape_tuple_str(o.shape) for o in out) + "]"
    return _shape_tuple_str(out.shape)


def _shape_tuple_str(shape):
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return str(tuple(None if d is None else int(d) for d in dims))


def param_count(weights):
    return int(sum(int(np.prod([int(d) for d in w.shape])) for w in weights))


def write_io(path, K, model, xs, y):
    with h5py.File(path, "w") as f:
        for i, x in enumerate(xs):
            f.create_dataset(f"inputs/{i}", data=x.astype(np.float32))
        f.create_dataset("output", data=y.astype(np.float32))
        f.attrs["total_params"] = np.int64(model.count_params())
        f.attrs["trainable_params"] = np.int64(param_count(model.trainable_weights))
        f.attrs["non_trainable_params"] = np.int64(param_count(model.non_trainable_weights))
        f.attrs["keras_version"] = str(K.__version__)
        f.attrs["model_name"] = str(model.name)
        layers = model.layers
        f.attrs.create("layer_names", [l.name for l in layers], dtype=STR)
        f.attrs.create("layer_classes", [type(l).__name__ for l in layers], dtype=STR)
        f.attrs.create("layer_params",
                       np.array([l.count_params() for l in layers], dtype=np.int64))
        f.attrs.create("layer_output_shapes", [shape_str(l) for l in layers], dtype=STR)
        f.attrs.create("input_names", [_tensor_name(t) for t in model.inputs], dtype=STR)


def _tensor_name(t):
    if hasattr(t, "_keras_history"):
        return t._keras_history[0].name
    return str(t.name).split(":")[0]


def build(name, builder, v):
    K = KERAS[v]
    reset(K, seed_of(f"build/{name}"))
    model, xs = builder(K, v)
    randomize_weights(model, seed_of(f"weights/{name}/{v}"))
    return K, model, xs


def generate_model(out_dir, name, builder, versions, weights_variants, log):
    for v in versions:
        K, model, xs = build(name, builder, v)
        y = run_model(model, xs)
        base = os.path.join(out_dir, f"{name}.{v}")
        model.save(base + ".h5")
        write_io(base + ".io.h5", K, model, xs, y)
        log.append(base + ".h5")
        log.append(base + ".io.h5")
        if (name, v) in KERAS_ZIPS:
            save_keras(model, base + ".keras")
            log.append(base + ".keras")
        if weights_variants:
            with open(base + ".json", "w") as fh:
                fh.write(model.to_json())
            log.append(base + ".json")
            if v == "k2":
                model.save_weights(base + ".savedweights.h5")
                log.append(base + ".savedweights.h5")
            else:
                model.save_weights(base + ".weights.h5")
                log.append(base + ".weights.h5")
        print(f"  {name}.{v}: output {y.shape}, params {model.count_params()}, "
              f"|y| max {np.abs(y).max():.4g}")


def generate_zips(out_dir, log):
    """Only the `.keras` files: each model of KERAS_ZIPS built as for its
    `.h5` (same seeds, so the same weights and the same `.io.h5`)."""
    builders = {name: builder for name, builder, _, _ in MODELS}
    for name, v in KERAS_ZIPS:
        _, model, _ = build(name, builders[name], v)
        save_keras(model, os.path.join(out_dir, f"{name}.{v}.keras"))
        log.append(os.path.join(out_dir, f"{name}.{v}.keras"))
        print(f"  {name}.{v}.keras")


# --------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------

def _write_zip(path, entries, deflate=()):
    """A zip of (name, bytes) entries at fixed times, as save_keras leaves them;
    the entries named in `deflate` compressed."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            z.writestr(info, data)


def _central_records(data):
    """(offset, name) of each central directory record of the zip `data`."""
    end = data.rindex(b"PK\x05\x06")
    _, cd_size, cd_offset = struct.unpack("<HII", data[end + 10:end + 20])
    at = cd_offset
    while at < cd_offset + cd_size:
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[at + 28:at + 34])
        yield at, bytes(data[at + 46:at + 46 + name_length])
        at += 46 + name_length + extra_length + comment_length


def _patch_sizes(path, entry, size, stored=None):
    """Sets the uncompressed size (and, if given, the stored size) that the
    local header and the central record declare for `entry`; its data stays."""
    data = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(entry).header_offset
    central = next(at for at, name in _central_records(data) if name == entry.encode())
    # Local header: stored size at 18, uncompressed at 22; central record: 20 and 24.
    data[local + 22:local + 26] = data[central + 24:central + 28] = struct.pack("<I", size)
    if stored is not None:
        data[local + 18:local + 22] = data[central + 20:central + 24] = struct.pack("<I", stored)
    open(path, "wb").write(data)


def _zip64_huge_offset(path, entry):
    """Gives `entry`'s central record a ZIP64 local-header offset beyond 2^63
    (ZIPFoundation 0.9.20 converts it to off_t and traps)."""
    data = bytearray(open(path, "rb").read())
    end = data.rindex(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack("<HII", data[end + 10:end + 20])
    records, at = bytearray(), cd_offset
    while at < cd_offset + cd_size:
        name_length, extra_length, comment_length = struct.unpack("<HHH", data[at + 28:at + 34])
        head = bytearray(data[at:at + 46])
        name = data[at + 46:at + 46 + name_length]
        extra = data[at + 46 + name_length:at + 46 + name_length + extra_length]
        comment = data[at + 46 + name_length + extra_length:at + 46 + name_length + extra_length + comment_length]
        if name == entry.encode():
            head[42:46] = struct.pack("<I", 0xFFFFFFFF)
            extra = extra + struct.pack("<HHQ", 1, 8, 0xFFFFFFFFFFFFFF00)
            head[30:32] = struct.pack("<H", len(extra))
        records += head + name + extra + comment
        at += 46 + name_length + extra_length + comment_length
    out = data[:cd_offset] + records
    out += b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, len(records), cd_offset, 0)
    open(path, "wb").write(out)


# The smallest `.keras` fixture, which bad/zip/ damages.
BAD_ZIP_BASE = "functional_branches.k3.keras"


def generate_bad_zips(out_dir, log):
    """bad/zip/: damaged copies of BAD_ZIP_BASE, one thing wrong in each,
    and expected.json (a fragment of the error each must give)."""
    folder = os.path.join(out_dir, "bad", "zip")
    os.makedirs(folder, exist_ok=True)
    with zipfile.ZipFile(os.path.join(out_dir, BAD_ZIP_BASE)) as z:
        parts = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    whole = open(os.path.join(out_dir, BAD_ZIP_BASE), "rb").read()
    expected = {}

    def p(name, fragment):
        expected[name] = fragment
        log.append(os.path.join(folder, name))
        return os.path.join(folder, name)

    with open(p("not_a_zip.keras", "nor a zip archive"), "w") as fh:
        fh.write("A text file named like a Keras model.\n")
    with open(p("truncated.keras", "not a complete zip archive"), "wb") as fh:
        fh.write(whole[: int(len(whole) * 0.6)])
    _write_zip(p("missing_weights.keras", "no model.weights.h5"),
               [(n, d) for n, d in parts if n != "model.weights.h5"])
    _write_zip(p("missing_metadata.keras", "no metadata.json"),
               [(n, d) for n, d in parts if n != "metadata.json"])
    _write_zip(p("bad_weights.keras", "model.weights.h5: "),
               [(n, d[: len(d) // 2] if n == "model.weights.h5" else d) for n, d in parts])
    _write_zip(p("text_weights.keras", "model.weights.h5: not an HDF5 file"),
               [(n, b"not HDF5\n" * 100 if n == "model.weights.h5" else d) for n, d in parts])
    _write_zip(p("duplicate_config.keras", "two entries named 'config.json'"),
               parts + [("config.json", b"{}")])
    _write_zip(p("deflated.keras", "is compressed"), parts, deflate={n for n, _ in parts})
    # A zip bomb: 128 MiB of zeros in about 128 KiB.
    _write_zip(p("zip_bomb.keras", "model.weights.h5: is compressed"),
               [(n, bytes(128 << 20) if n == "model.weights.h5" else d) for n, d in parts],
               deflate={"model.weights.h5"})
    name = p("huge_config.keras", "config.json: declares 3000000000 bytes, more than the 67108864-byte limit")
    shutil.copyfile(os.path.join(out_dir, BAD_ZIP_BASE), name)
    _patch_sizes(name, "config.json", 3_000_000_000)
    name = p("huge_weights.keras", "model.weights.h5: declares 4000000000 bytes")
    shutil.copyfile(os.path.join(out_dir, BAD_ZIP_BASE), name)
    _patch_sizes(name, "model.weights.h5", 4_000_000_000, stored=4_000_000_000)
    name = p("short_config.keras", "config.json: declares 20 bytes but stores")
    shutil.copyfile(os.path.join(out_dir, BAD_ZIP_BASE), name)
    _patch_sizes(name, "config.json", 20)
    _write_zip(p("bad_metadata.keras", "metadata.json does not name a keras_version"),
               [(n, b"{}" if n == "metadata.json" else d) for n, d in parts])
    # ZIPFoundation traps on it: only the command line (a child process) survives it.
    name = p("zip64_offset.keras", "a failed check")
    shutil.copyfile(os.path.join(out_dir, BAD_ZIP_BASE), name)
    _zip64_huge_offset(name, "config.json")
    with open(os.path.join(folder, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=2, sort_keys=True)
        fh.write("\n")
    log.append(os.path.join(folder, "expected.json"))


@keras.saving.register_keras_serializable(package="Mien")
class MyScale(keras.layers.Layer):
    """Custom layer for bad/custom_layer.k3.h5 (per-channel scale * factor)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                     name="scale")

    def call(self, x):
        return x * self.scale * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def build_lambda(K, v):
    L = K.layers
    inp = K.Input((6, 6, 3))
    x = L.Conv2D(2, 1)(inp)
    # Compiled with a fixed pseudo file name so that the marshalled bytecode
    # stored in the config does not depend on where this script lives.
    fn = eval(compile("lambda t: t * 2.0 + 1.0", "<mien-fixture>", "eval"))
    x = L.Lambda(fn, name="my_lambda")(x)
    x = L.Flatten()(x)
    out = L.Dense(2)(x)
    return K.Model(inp, out), normal_inputs("lambda", [(6, 6, 3)])


def build_custom_layer(K, v):
    L = K.layers
    inp = K.Input((6, 6, 3))
    x = L.Conv2D(2, 1)(inp)
    x = MyScale(factor=3.0, name="my_scale")(x)
    out = L.Dense(2)(L.Flatten()(x))
    return K.Model(inp, out), normal_inputs("custom_layer", [(6, 6, 3)])


def build_channels_first(K, v):
    L = K.layers
    inp = K.Input((3, 8, 8))
    x = L.Conv2D(4, 3, data_format="channels_first")(inp)
    out = L.Dense(2)(L.Flatten()(x))
    return K.Model(inp, out), None


def _find_layer_weight(f, layer_prefix, which, last=False):
    """(group, dataset name) of weight `which` of the first/last layer whose
    name starts with `layer_prefix` in a legacy full-model h5 file."""
    g = f["model_weights"]
    names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["layer_names"]]
    cands = [n for n in names if n.startswith(layer_prefix)]
    lname = cands[-1] if last else cands[0]
    lg = g[lname]
    wnames = [n.decode() if isinstance(n, bytes) else n for n in lg.attrs["weight_names"]]
    wname = [w for w in wnames if w.split("/")[-1].split(":")[0] == which][0]
    return lg, wname


def generate_bad(out_dir, log):
    bad = os.path.join(out_dir, "bad")
    os.makedirs(bad, exist_ok=True)

    def p(n):
        log.append(os.path.join(bad, n))
        return os.path.join(bad, n)

    with open(p("not_hdf5.h5"), "w") as fh:
        fh.write("This is a plain text file, not HDF5.\n"
                 "It only pretends to be a Keras model by its extension.\n")
    open(p("empty.h5"), "wb").close()

    with open(os.path.join(out_dir, "sequential_cnn.k2.h5"), "rb") as fh:
        data = fh.read()
    with open(p("truncated.h5"), "wb") as fh:
        fh.write(data[: int(len(data) * 0.6)])

    with h5py.File(p("no_model.h5"), "w") as f:
        f.create_dataset("measurements", data=np.arange(12, dtype=np.float64).reshape(3, 4))
        f.attrs["description"] = "valid HDF5, but not a Keras model"

    for v in ("k2", "k3"):
        K = KERAS[v]
        reset(K, seed_of("build/lambda"))
        model, _ = build_lambda(K, v)
        randomize_weights(model, seed_of(f"weights/lambda/{v}"))
        model.save(p(f"lambda.{v}.h5"))

    reset(keras, seed_of("build/custom_layer"))
    model, _ = build_custom_layer(keras, "k3")
    randomize_weights(model, seed_of("weights/custom_layer/k3"))
    model.save(p("custom_layer.k3.h5"))

    reset(keras, seed_of("build/channels_first"))
    model, _ = build_channels_first(keras, "k3")
    randomize_weights(model, seed_of("weights/channels_first/k3"))
    model.save(p("channels_first.k3.h5"))

    shutil.copyfile(os.path.join(out_dir, "sequential_cnn.k2.h5"), p("missing_weight.k2.h5"))
    with h5py.File(os.path.join(bad, "missing_weight.k2.h5"), "a") as f:
        lg, wname = _find_layer_weight(f, "dense", "bias", last=True)
        print(f"  missing_weight.k2.h5: deleting {lg.name}/{wname}")
        del lg[wname]

    shutil.copyfile(os.path.join(out_dir, "sequential_cnn.k3.h5"), p("wrong_shape.k3.h5"))
    with h5py.File(os.path.join(bad, "wrong_shape.k3.h5"), "a") as f:
        lg, wname = _find_layer_weight(f, "conv2d", "kernel")
        print(f"  wrong_shape.k3.h5: replacing {lg.name}/{wname} "
              f"{lg[wname].shape} -> (5, 5, 3, 8)")
        del lg[wname]
        rng = np.random.RandomState(seed_of("bad/wrong_shape"))
        lg.create_dataset(wname, data=rng.standard_normal((5, 5, 3, 8)).astype(np.float32))

    write_keras1(p("keras1.h5"))


def write_keras1(path):
    """Imitation of a Keras 1.2.2 Sequential file (TF dim ordering)."""
    rng = np.random.RandomState(seed_of("bad/keras1"))
    config = {
        "class_name": "Sequential",
        "config": [
            {"class_name": "Convolution2D", "config": {
                "name": "c", "trainable": True,
                "batch_input_shape": [None, 8, 8, 3], "input_dtype": "float32",
                "nb_filter": 4, "nb_row": 3, "nb_col": 3,
                "init": "glorot_uniform", "activation": "relu",
                "border_mode": "valid", "subsample": [1, 1],
                "dim_ordering": "tf", "bias": True,
                "W_regularizer": None, "b_regularizer": None,
                "activity_regularizer": None,
                "W_constraint": None, "b_constraint": None}},
            {"class_name": "Flatten", "config": {"name": "f", "trainable": True}},
            {"class_name": "Dense", "config": {
                "name": "d", "trainable": True, "output_dim": 2, "input_dim": 144,
                "init": "glorot_uniform", "activation": "linear", "bias": True,
                "W_regularizer": None, "b_regularizer": None,
                "activity_regularizer": None,
                "W_constraint": None, "b_constraint": None}},
        ],
    }
    with h5py.File(path, "w") as f:
        # Keras 1 wrote fixed-length byte strings.
        f.attrs["keras_version"] = np.bytes_(b"1.2.2")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode())
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"c", b"f", b"d"])
        c = mw.create_group("c")
        c.attrs["weight_names"] = np.array([b"c_W", b"c_b"])
        c.create_dataset("c_W", data=(rng.standard_normal((3, 3, 3, 4)) * 0.3).astype(np.float32))
        c.create_dataset("c_b", data=(rng.standard_normal(4) * 0.1).astype(np.float32))
        fl = mw.create_group("f")
        fl.attrs["weight_names"] = np.array([], dtype="S1")
        d = mw.create_group("d")
        d.attrs["weight_names"] = np.array([b"d_W", b"d_b"])
        d.create_dataset("d_W", data=(rng.standard_normal((144, 2)) * 0.1).astype(np.float32))
        d.create_dataset("d_b", data=(rng.standard_normal(2) * 0.1).astype(np.float32))


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------

def load_full(v, path):
    custom = {"LayerScale": layer_scale_class(v)}
    if v == "k2":
        return tf_keras.models.load_model(path, compile=False, custom_objects=custom)
    return keras.models.load_model(path, compile=False, safe_mode=False, custom_objects=custom)


def read_io(path):
    with h5py.File(path, "r") as f:
        n = len(f["inputs"])
        xs = [f[f"inputs/{i}"][...] for i in range(n)]
        y = f["output"][...]
        attrs = {k: f.attrs[k] for k in f.attrs}
    return xs, y, attrs


def compare(label, got, want, failures):
    if got.shape != want.shape:
        failures.append(f"{label}: shape {got.shape} != {want.shape}")
        print(f"  FAIL {label}: shape {got.shape} != {want.shape}")
        return
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    if np.array_equal(got, want):
        print(f"  ok   {label}: bit-identical")
    elif diff <= 1e-6:
        print(f"  ok   {label}: max |diff| {diff:.3g}")
    else:
        failures.append(f"{label}: max |diff| {diff:.3g}")
        print(f"  FAIL {label}: max |diff| {diff:.3g}")


# Keras 3.15 saves its operation layers (TrueDivide, ...) to .h5 but cannot load them back
# ("Unknown layer: 'TrueDivide'").
KERAS_CANNOT_RELOAD_H5 = {("operations", "k3"), ("preprocess_caffe", "k3")}


def verify(out_dir, models, check_bad, failures):
    for name, _builder, versions, weights_variants in models:
        for v in versions:
            K = KERAS[v]
            base = os.path.join(out_dir, f"{name}.{v}")
            xs, y, attrs = read_io(base + ".io.h5")
            K.backend.clear_session()
            if (name, v) in KERAS_CANNOT_RELOAD_H5:
                # Mien is checked against the in-memory model's output instead.
                try:
                    load_full(v, base + ".h5")
                    failures.append(f"{name}.{v}.h5: Keras now reloads it; drop it from KERAS_CANNOT_RELOAD_H5")
                except ValueError as e:
                    print(f"  note {name}.{v}.h5: Keras cannot reload its own file ({str(e)[:60]}...)")
                continue
            model = load_full(v, base + ".h5")
            compare(f"{name}.{v}.h5 reload", run_model(model, xs), y, failures)
            counts = (model.count_params(), param_count(model.trainable_weights),
                      param_count(model.non_trainable_weights))
            stored = (int(attrs["total_params"]), int(attrs["trainable_params"]),
                      int(attrs["non_trainable_params"]))
            if counts != stored:
                failures.append(f"{name}.{v}: param counts {counts} != {stored}")
                print(f"  FAIL {name}.{v}: reloaded param counts {counts} != io {stored}")
            if weights_variants:
                with open(base + ".json") as fh:
                    js = fh.read()
                K.backend.clear_session()
                m2 = K.models.model_from_json(js)
                wfile = base + (".savedweights.h5" if v == "k2" else ".weights.h5")
                m2.load_weights(wfile)
                compare(f"{name}.{v} json+{os.path.basename(wfile)}",
                        run_model(m2, xs), y, failures)

    if not check_bad:
        return
    # The bad files that Keras itself can still load.
    bad = os.path.join(out_dir, "bad")
    for v, fname, builder in (("k2", "lambda.k2.h5", build_lambda),
                              ("k3", "lambda.k3.h5", build_lambda),
                              ("k3", "custom_layer.k3.h5", build_custom_layer)):
        try:
            KERAS[v].backend.clear_session()
            m = load_full(v, os.path.join(bad, fname))
            _, xs = builder(KERAS[v], v)
            run_model(m, xs)
            print(f"  ok   bad/{fname}: loads in its own Keras (expected)")
        except Exception as e:  # pragma: no cover - informational only
            print(f"  note bad/{fname}: own Keras cannot load it: {e!r:.200}")
    for fname in ("not_hdf5.h5", "empty.h5", "truncated.h5"):
        try:
            h5py.File(os.path.join(bad, fname), "r").close()
            failures.append(f"bad/{fname} opened as HDF5")
            print(f"  FAIL bad/{fname}: h5py opened it")
        except OSError:
            print(f"  ok   bad/{fname}: h5py refuses it")


def verify_zips(out_dir, pairs, failures):
    """Each `.keras` reloaded with the Keras that wrote it gives the stored output."""
    for name, v in pairs:
        base = os.path.join(out_dir, f"{name}.{v}")
        xs, y, _ = read_io(base + ".io.h5")
        KERAS[v].backend.clear_session()
        compare(f"{name}.{v}.keras reload", run_model(load_full(v, base + ".keras"), xs), y, failures)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "keras"),
                    help="output directory (default: Tests/Fixtures/keras)")
    ap.add_argument("--only", nargs="*", help="only these model names (no bad/ files)")
    ap.add_argument("--zips-only", action="store_true",
                    help="only the .keras files (KERAS_ZIPS and bad/zip/)")
    ap.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()

    check_versions()
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    log = []
    print(f"Writing fixtures to {out_dir}")
    selected = [m for m in MODELS if not args.only or m[0] in args.only]
    if args.zips_only:
        selected = []
        generate_zips(out_dir, log)
    for name, builder, versions, wv in selected:
        generate_model(out_dir, name, builder, versions, wv, log)
    if not args.only:
        print("Bad-input fixtures:")
        if not args.zips_only:
            generate_bad(out_dir, log)
        generate_bad_zips(out_dir, log)
    zips = [(n, v) for n, v in KERAS_ZIPS
            if args.zips_only or any(n == m[0] and v in m[2] for m in selected)]

    failures = []
    if not args.no_verify:
        print("Verifying:")
        verify(out_dir, selected, not args.only and not args.zips_only, failures)
        verify_zips(out_dir, zips, failures)
    total = sum(os.path.getsize(f) for f in log)
    print(f"{len(log)} files, {total / 1024:.1f} KiB")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
