#!/usr/bin/env python3
"""Generate the gradient fixtures of Mien's layers (Tests/Fixtures/gradients/).

Keras 3 (TensorFlow backend) is the oracle. For each case a small model is built with
random weights (BatchNormalization statistics randomized too), saved as NAME.h5 (Keras 3,
`model.save`), and run in training mode on a random input under `tf.GradientTape` with the
loss `sum(output * upstream)`, so that the stored gradients are the vector-Jacobian
products of the output gradient `upstream`. NAME.io.h5 holds:

    inputs/0              the input batch
    upstream              the gradient of the output
    output                the training-mode output
    gradients/input       d loss / d input
    gradients/LAYER/W     d loss / d weight (Keras 3 names: kernel, bias, gamma, ...)
    updates/LAYER/W       non-trainable weights after the call (BatchNormalization's
                          moving statistics, which Keras assigns in a training call)

Dropout: Keras's masks come from TensorFlow's RNG, which Mien cannot reproduce. The script
draws the masks Mien draws instead (a Python copy of `SeededGenerator` and of the stream
`TrainingContext.generator(for:)` uses: seed, tag 6, epoch, batch, FNV-1a of the layer's
name) and applies them in place of Keras's Dropout call, so Keras computes the gradient of
exactly the function Mien computes. The attributes `seed`, `epoch`, `batch` give the stream.

Usage:
    python3 tools/make_gradient_fixtures.py [--out Tests/Fixtures/gradients]

Deterministic: seeded numpy generators, `keras.utils.set_random_seed`,
TF_ENABLE_ONEDNN_OPTS=0.
"""

import argparse
import logging
import os
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

tf.get_logger().setLevel("ERROR")

import keras  # noqa: E402
from keras import layers as L  # noqa: E402
from keras.src.applications.convnext import LayerScale  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MASK64 = (1 << 64) - 1
SEED, EPOCH, BATCH = 1234, 2, 3
DROPOUT_TAG = 6   # RandomStream.dropout


# ------------------------------------------------------------- Mien's random streams


from mien_random import SeededGenerator  # noqa: E402


def fnv1a(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def mien_dropout_mask(layer_name, shape, rate):
    """The factors Mien's Dropout multiplies by: 1/(1-rate) where u >= rate, else 0."""
    g = SeededGenerator(SEED, DROPOUT_TAG, EPOCH, BATCH, fnv1a(layer_name))
    count = int(np.prod(shape))
    u = np.array([(g.next() >> 40) * 2.0 ** -24 for _ in range(count)], dtype=np.float32)
    scale = np.float32(1 / (1 - float(rate)))
    return np.where(u >= np.float32(rate), scale, np.float32(0)).astype(np.float32).reshape(shape)


# ------------------------------------------------------------------- the cases


def seq(input_shape, *layers):
    return keras.Sequential([keras.Input(input_shape)] + list(layers))


def cases():
    """name -> (model builder, batch)."""
    c = {}
    c["dense_linear"] = (lambda: seq((7,), L.Dense(5, name="dense")), 4)
    c["dense_3d_relu"] = (lambda: seq((3, 6), L.Dense(4, activation="relu", name="dense")), 2)
    c["dense_nobias_softmax"] = (lambda: seq((6,), L.Dense(5, use_bias=False, activation="softmax", name="dense")), 3)
    for act in ["relu", "relu6", "sigmoid", "tanh", "swish", "gelu", "elu", "selu", "softmax",
                "hard_sigmoid", "hard_silu", "leaky_relu", "softplus", "linear"]:
        c[f"activation_{act}"] = (lambda act=act: seq((3, 4, 5), L.Activation(act, name="act")), 2)
    c["conv_same_stride2_odd"] = (lambda: seq((7, 9, 3), L.Conv2D(4, 3, strides=2, padding="same", name="conv")), 2)
    c["conv_valid_rect_nobias"] = (lambda: seq((6, 5, 4), L.Conv2D(5, (2, 3), use_bias=False, name="conv")), 2)
    c["conv_same_even_kernel_relu"] = (lambda: seq((6, 7, 2), L.Conv2D(3, 4, padding="same", activation="relu", name="conv")), 2)
    c["conv_dilated_same"] = (lambda: seq((8, 8, 3), L.Conv2D(4, 3, dilation_rate=2, padding="same", name="conv")), 2)
    c["conv_pointwise_swish"] = (lambda: seq((5, 5, 6), L.Conv2D(7, 1, activation="swish", name="conv")), 2)
    c["conv_grouped"] = (lambda: seq((5, 6, 4), L.Conv2D(6, 3, groups=2, padding="same", activation="relu", name="conv")), 2)
    c["conv_grouped_depthwise"] = (lambda: seq((5, 6, 4), L.Conv2D(8, 3, strides=2, groups=4, name="conv")), 2)
    c["conv_stem_stride2"] = (lambda: seq((9, 9, 3), L.Conv2D(8, 3, strides=2, padding="valid", name="conv")), 3)
    c["maxpool_valid"] = (lambda: seq((6, 6, 3), L.MaxPooling2D(2, name="pool")), 2)
    c["maxpool_same_odd_stride"] = (lambda: seq((7, 5, 2), L.MaxPooling2D(3, strides=2, padding="same", name="pool")), 2)
    c["avgpool_same_odd"] = (lambda: seq((7, 5, 2), L.AveragePooling2D(3, strides=2, padding="same", name="pool")), 2)
    c["avgpool_valid"] = (lambda: seq((6, 6, 3), L.AveragePooling2D(2, name="pool")), 2)
    c["global_average"] = (lambda: seq((4, 5, 3), L.GlobalAveragePooling2D(name="gap")), 2)
    c["global_average_keepdims"] = (lambda: seq((4, 5, 3), L.GlobalAveragePooling2D(keepdims=True, name="gap")), 2)
    c["global_max"] = (lambda: seq((4, 5, 3), L.GlobalMaxPooling2D(name="gmp")), 2)
    c["flatten_dense"] = (lambda: seq((3, 4, 2), L.Flatten(name="flatten"), L.Dense(3, name="dense")), 2)
    c["reshape_dense"] = (lambda: seq((12,), L.Reshape((3, 4), name="reshape"), L.Dense(2, name="dense")), 2)
    c["dropout_dense"] = (lambda: seq((10,), L.Dropout(0.4, name="dropout"), L.Dense(3, name="dense")), 4)
    c["dropout_noise_shape"] = (lambda: seq((3, 3, 4), L.Dropout(0.5, noise_shape=(None, 1, 1, 1), name="drop"),
                                            L.Conv2D(2, 1, name="conv")), 6)
    c["spatial_dropout"] = (lambda: seq((4, 4, 6), L.SpatialDropout2D(0.5, name="sdrop"),
                                        L.Conv2D(2, 1, name="conv")), 3)
    c["batchnorm_conv"] = (lambda: seq((4, 5, 3), L.BatchNormalization(momentum=0.9, epsilon=1e-3, name="bn")), 3)
    c["batchnorm_dense_noscale"] = (lambda: seq((6,), L.BatchNormalization(scale=False, epsilon=0.01, name="bn")), 5)
    c["batchnorm_frozen"] = (lambda: frozen(seq((4, 5, 3), L.Conv2D(3, 1, name="conv"),
                                                 L.BatchNormalization(name="bn"))), 2)
    c["zeropad_conv"] = (lambda: seq((5, 6, 2), L.ZeroPadding2D(((1, 2), (0, 1)), name="pad"),
                                     L.Conv2D(2, 3, strides=2, name="conv")), 2)
    c["cropping"] = (lambda: seq((6, 7, 2), L.Cropping2D(((1, 2), (2, 0)), name="crop")), 2)
    c["depthwise_same_stride2_odd"] = (lambda: seq((7, 9, 3), L.DepthwiseConv2D(3, strides=2, padding="same", name="dw")), 2)
    c["depthwise_multiplier2_valid_relu6"] = (lambda: seq((6, 5, 2), L.DepthwiseConv2D(
        (2, 3), depth_multiplier=2, activation="relu6", name="dw")), 2)
    c["depthwise_dilated_nobias"] = (lambda: seq((8, 8, 3), L.DepthwiseConv2D(
        3, dilation_rate=2, padding="same", use_bias=False, name="dw")), 2)
    for op in ["add", "subtract", "multiply", "average", "maximum", "minimum"]:
        c[f"merge_{op}"] = (lambda op=op: merge_model(op), 2)
    c["merge_broadcast_se"] = (lambda: squeeze_excite(), 2)
    c["residual"] = (lambda: residual(), 2)
    c["operations"] = (lambda: operations_model(), 2)
    c["preprocess_caffe"] = (lambda: caffe_model(), 2)
    c["concatenate"] = (lambda: concat_model(), 2)
    c["separable_same_stride2_relu"] = (lambda: seq((7, 6, 3), L.SeparableConv2D(
        4, 3, strides=2, padding="same", depth_multiplier=2, activation="relu", name="sep")), 2)
    c["permute"] = (lambda: seq((3, 4, 5), L.Permute((2, 3, 1), name="perm"), L.Dense(2, name="dense")), 2)
    c["upsampling_nearest"] = (lambda: seq((3, 4, 2), L.UpSampling2D((2, 3), name="up")), 2)
    c["rescaling"] = (lambda: seq((4, 4, 3), L.Rescaling(1 / 127.5, offset=-1, name="rescale")), 2)
    c["normalization"] = (lambda: seq((4, 4, 3), L.Normalization(mean=[0.1, -0.2, 0.3], variance=[0.5, 2.0, 1.5],
                                                                 name="norm")), 2)
    c["relu_layer_max_threshold"] = (lambda: seq((3, 4, 5), L.ReLU(max_value=0.8, negative_slope=0.1,
                                                                   threshold=0.2, name="relu")), 2)
    c["relu6_layer"] = (lambda: seq((3, 4, 5), L.ReLU(6.0, name="relu")), 2)
    c["leaky_relu_layer"] = (lambda: seq((3, 4, 5), L.LeakyReLU(negative_slope=0.2, name="leaky")), 2)
    c["elu_layer"] = (lambda: seq((3, 4, 5), L.ELU(alpha=0.7, name="elu")), 2)
    c["softmax_axis1"] = (lambda: seq((3, 4, 5), L.Softmax(axis=1, name="softmax")), 2)
    c["prelu_shared"] = (lambda: seq((3, 4, 5), L.PReLU(shared_axes=[1, 2], name="prelu")), 2)
    # LayerNormalization (ConvNeXt's epsilon 1e-6; trailing axes; without beta or gamma;
    # Keras 3's rms_scaling) and ConvNeXt's LayerScale.
    c["layernorm_last_eps1e6"] = (lambda: seq((4, 5, 6), L.LayerNormalization(epsilon=1e-6, name="ln")), 2)
    c["layernorm_after_dense"] = (lambda: seq((7,), L.Dense(6, name="dense"), L.LayerNormalization(name="ln")), 3)
    c["layernorm_trailing_axes"] = (lambda: seq((3, 4, 5), L.LayerNormalization(axis=[2, 3], name="ln")), 2)
    c["layernorm_no_center"] = (lambda: seq((3, 8), L.LayerNormalization(center=False, name="ln")), 2)
    c["layernorm_no_scale"] = (lambda: seq((3, 8), L.LayerNormalization(scale=False, epsilon=0.1, name="ln")), 2)
    c["layernorm_rms_scaling"] = (lambda: seq((3, 8), L.LayerNormalization(rms_scaling=True, name="ln")), 2)
    c["layer_scale"] = (lambda: seq((4, 4, 6), L.Conv2D(6, 1, name="conv"), LayerScale(0.1, 6, name="ls")), 2)
    # The original project's CNN (smaller input, same layers).
    c["original_cnn"] = (lambda: seq(
        (20, 20, 1),
        L.Conv2D(32, 3, activation="relu", name="conv1"), L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(64, 3, activation="relu", name="conv2"), L.MaxPooling2D(2, name="pool2"),
        L.Conv2D(128, 2, activation="relu", name="conv3"), L.MaxPooling2D(2, name="pool3"),
        L.Dropout(0.25, name="dropout1"), L.Flatten(name="flatten"),
        L.Dense(16, activation="relu", name="dense1"), L.Dropout(0.5, name="dropout2"),
        L.Dense(1, activation="sigmoid", name="output")), 4)
    return c


def frozen(model):
    model.get_layer("bn").trainable = False
    return model


def merge_model(op):
    """Two branches of the input (a Dense each), merged; three inputs for the n-ary ops."""
    x = keras.Input((3, 4))
    branches = [L.Dense(4, name=f"d{i}")(x) for i in range(2 if op == "subtract" else 3)]
    cls = {"add": L.Add, "subtract": L.Subtract, "multiply": L.Multiply, "average": L.Average,
           "maximum": L.Maximum, "minimum": L.Minimum}[op]
    return keras.Model(x, cls(name="merge")(branches))


def squeeze_excite():
    """EfficientNet's squeeze-and-excitation: (N,H,W,C) * (N,1,1,C), plus a residual."""
    x = keras.Input((5, 4, 6))
    s = L.GlobalAveragePooling2D(keepdims=True, name="squeeze")(x)
    s = L.Conv2D(2, 1, activation="swish", name="reduce")(s)
    s = L.Conv2D(6, 1, activation="sigmoid", name="expand")(s)
    y = L.Multiply(name="excite")([x, s])
    return keras.Model(x, L.Add(name="add")([y, x]))


def operations_model():
    """Keras 3's operation layers: every binary operation with a constant on either side,
    a per-channel constant, two tensors, a tensor divided by a tensor, and relu6 as a function."""
    x = keras.Input((3, 4))
    a = L.Dense(4, name="da")(x)
    b = L.Dense(4, name="db")(x)
    ops = keras.ops
    t1 = a / (b * b + 1.5)
    t2 = ops.maximum(a, 0.2) - 2.0 * b
    t3 = ops.minimum(a, b) + (1.0 - a) / 3.0
    t4 = ops.relu6(b * 4.0) * np.array([0.5, -1.0, 2.0, 0.25], dtype=np.float32)
    return keras.Model(x, ops.maximum(t1 + t2, t3 - t4))


def caffe_model():
    """ResNet50's preprocess_input between two Dense layers: GetItem, Stack and Add."""
    x = keras.Input((3, 4))
    h = L.Dense(3, name="d1")(x)
    h = keras.applications.resnet50.preprocess_input(h * 100.0)
    return keras.Model(x, L.Dense(2, name="d2")(h))


def concat_model():
    x = keras.Input((3, 4, 2))
    a = L.Conv2D(3, 1, name="a")(x)
    b = L.Conv2D(2, 1, name="b")(x)
    return keras.Model(x, L.Concatenate(name="concat")([a, x, b]))


def residual():
    """A residual block: the input read by two layers, a BN in between."""
    x = keras.Input((6, 6, 4))
    h = L.Conv2D(4, 3, padding="same", use_bias=False, name="conv1")(x)
    h = L.BatchNormalization(name="bn1")(h)
    h = L.Activation("relu", name="relu1")(h)
    h = L.DepthwiseConv2D(3, padding="same", name="dw")(h)
    h = L.Add(name="add")([h, x])
    return keras.Model(x, L.Conv2D(2, 1, name="head")(h))


# ------------------------------------------------------------------ computing


def randomize(model, rng):
    for layer in model.layers:
        new = []
        for w in layer.weights:
            shape = tuple(w.shape)
            if w.name == "alpha":
                new.append(rng.uniform(0.05, 0.5, shape))
            elif w.name == "moving_variance" or w.name == "gamma":
                new.append(rng.uniform(0.5, 1.5, shape))
            elif w.name == "moving_mean":
                new.append(rng.uniform(-0.3, 0.3, shape))
            else:
                scale = 1 / np.sqrt(max(1, int(np.prod(shape[:-1])))) if len(shape) > 1 else 0.2
                new.append(rng.normal(0, scale, shape))
        if new:
            layer.set_weights([np.asarray(a, dtype=np.float32) for a in new])


def training_forward(model, x):
    """The model in training mode, with Mien's dropout masks in place of Keras's (dropout
    only in Sequential models, whose layers run one after the other here)."""
    if not any(isinstance(layer, L.Dropout) for layer in model.layers):
        return model(x, training=True)
    h = x
    for layer in model.layers:
        if isinstance(layer, L.SpatialDropout2D):
            n, c = h.shape[0], h.shape[-1]
            mask = mien_dropout_mask(layer.name, (n, c), layer.rate)
            h = h * tf.constant(mask.reshape(n, 1, 1, c))
        elif isinstance(layer, L.Dropout):
            # noise_shape: one draw per mask element, broadcast over its axes of 1.
            noise = layer.noise_shape
            shape = tuple(h.shape) if noise is None else tuple(d if n is None else n for n, d in zip(noise, h.shape))
            h = h * tf.constant(mien_dropout_mask(layer.name, shape, layer.rate))
        else:
            h = layer(h, training=True)
    return h


def make(name, build, batch, out):
    keras.backend.clear_session()
    keras.utils.set_random_seed(sum(map(ord, name)))
    model = build()
    rng = np.random.default_rng(sum(map(ord, name)) * 7)
    randomize(model, rng)
    before = {f"{layer.name}/{w.name}": np.array(w.numpy()) for layer in model.layers for w in layer.weights}
    model.save(os.path.join(out, f"{name}.h5"))
    shape = (batch,) + tuple(model.inputs[0].shape[1:])
    x = rng.normal(0, 1, shape).astype(np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = training_forward(model, xt)
        upstream = rng.normal(0, 1, tuple(y.shape)).astype(np.float32)
        loss = tf.reduce_sum(y * upstream)
    variables = [(layer.name, w) for layer in model.layers for w in layer.trainable_weights]
    grads = tape.gradient(loss, [xt] + [w for _, w in variables])
    with h5py.File(os.path.join(out, f"{name}.io.h5"), "w") as f:
        f.attrs["seed"], f.attrs["epoch"], f.attrs["batch"] = SEED, EPOCH, BATCH
        f.create_dataset("inputs/0", data=x)
        f.create_dataset("upstream", data=upstream)
        f.create_dataset("output", data=np.asarray(y, dtype=np.float32))
        f.create_dataset("gradients/input", data=np.asarray(grads[0], dtype=np.float32))
        for (layer_name, w), g in zip(variables, grads[1:]):
            # Keras 3's LayerScale leaves its weight unnamed ("variable"); tf.keras and Mien
            # call it gamma.
            weight = "gamma" if w.name == "variable" else w.name
            f.create_dataset(f"gradients/{layer_name}/{weight}", data=np.asarray(g, dtype=np.float32))
        for layer in model.layers:
            for w in layer.non_trainable_weights:
                key = f"{layer.name}/{w.name}"
                if not np.array_equal(before[key], w.numpy()):
                    f.create_dataset(f"updates/{key}", data=np.asarray(w.numpy(), dtype=np.float32))
    print(f"{name}: input {shape}, output {tuple(y.shape)}, {len(variables)} trainable weights")


# ------------------------------------------------------------------ steps and fit


def fit_models():
    """name -> (builder, loss, classes): models trained by Keras's own fit (no dropout:
    fit's masks would be TensorFlow's)."""
    def cnn_bn(units, activation):
        return lambda: seq((12, 12, 1),
                           L.Conv2D(8, 3, padding="same", use_bias=False, name="conv1"),
                           L.BatchNormalization(momentum=0.9, name="bn1"), L.Activation("relu", name="relu1"),
                           L.MaxPooling2D(2, name="pool1"),
                           L.Conv2D(16, 3, activation="relu", name="conv2"), L.MaxPooling2D(2, name="pool2"),
                           L.Flatten(name="flatten"), L.Dense(units, activation=activation, name="output"))
    return {
        "fit_cnn_sigmoid": (cnn_bn(1, "sigmoid"), "binary", 2),
        "fit_cnn_softmax": (cnn_bn(3, "softmax"), "categorical", 3),
    }


def make_fit(name, build, kind, classes, out, epochs=3, batch=8, n=32):
    """Keras's fit (Adam 1e-3, no shuffling) from saved initial weights: per-epoch losses
    and every weight after, moving statistics included."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(sum(map(ord, name)))
    model = build()
    rng = np.random.default_rng(sum(map(ord, name)) * 7)
    randomize(model, rng)
    model.save(os.path.join(out, f"{name}.h5"))
    x = rng.normal(0, 1, (n,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)
    labels = rng.integers(0, classes, n)
    y = labels.reshape(-1, 1).astype(np.float32) if kind == "binary" else np.eye(classes, dtype=np.float32)[labels]
    loss = keras.losses.BinaryCrossentropy() if kind == "binary" else keras.losses.CategoricalCrossentropy()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    history = model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=False, verbose=0).history["loss"]
    with h5py.File(os.path.join(out, f"{name}.fit.h5"), "w") as f:
        f.attrs["epochs"], f.attrs["batch_size"] = epochs, batch
        f.create_dataset("inputs/0", data=x)
        f.create_dataset("labels", data=labels.astype(np.int64))
        f.create_dataset("losses", data=np.asarray(history, dtype=np.float32))
        for layer in model.layers:
            for w in layer.weights:
                f.create_dataset(f"after/{layer.name}/{w.name}", data=np.asarray(w.numpy(), dtype=np.float32))
    print(f"{name}: fit {epochs} epochs of {n} in batches of {batch}: losses {[round(v, 5) for v in history]}")


def make_adam_step(name, out):
    """One Adam step of the original project's CNN with Mien's dropout masks: the tape's
    gradients of Keras's binary cross-entropy, applied by Keras's Adam."""
    build, batch = cases()["original_cnn"]
    keras.backend.clear_session()
    keras.utils.set_random_seed(sum(map(ord, name)))
    model = build()
    rng = np.random.default_rng(sum(map(ord, name)) * 7)
    randomize(model, rng)
    model.save(os.path.join(out, f"{name}.h5"))
    x = rng.normal(0, 1, (8,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)
    labels = rng.integers(0, 2, 8)
    with tf.GradientTape() as tape:
        p = training_forward(model, tf.constant(x))
        loss = keras.losses.BinaryCrossentropy()(labels.reshape(-1, 1).astype(np.float32), p)
    grads = tape.gradient(loss, model.trainable_weights)
    keras.optimizers.Adam(1e-3).apply_gradients(zip(grads, model.trainable_weights))
    with h5py.File(os.path.join(out, f"{name}.fit.h5"), "w") as f:
        f.attrs["seed"], f.attrs["epoch"], f.attrs["batch"] = SEED, EPOCH, BATCH
        f.create_dataset("inputs/0", data=x)
        f.create_dataset("labels", data=labels.astype(np.int64))
        f.create_dataset("losses", data=np.asarray([float(loss)], dtype=np.float32))
        for layer in model.layers:
            for w in layer.weights:
                f.create_dataset(f"after/{layer.name}/{w.name}", data=np.asarray(w.numpy(), dtype=np.float32))
    print(f"{name}: one Adam step, loss {float(loss):.6f}")


def make_lite0_top(out, cut="block5c_add", size=96, batch=2, classes=3):
    """EfficientNet-Lite0 (Weights/, Keras 3) from block6a to a new softmax head, in training
    mode: BatchNormalization with batch statistics, Dropout rates set to 0 (Keras's masks are
    TensorFlow's; Mien's own are tested elsewhere). The weights stay in Weights/: the fixture
    holds the cut activation, the head's weights, the gradient of every trainable weight as
    its sum of squares, and whole gradients for a few."""
    keras.backend.clear_session()
    backbone = keras.models.load_model(os.path.join(REPO_ROOT, "Weights", "efficientnet_lite0_notop.h5"), compile=False)
    for layer in backbone.layers:
        if isinstance(layer, L.Dropout):
            layer.rate = 0.0
    rng = np.random.default_rng(606)
    images = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    prefix = keras.Model(backbone.inputs, backbone.get_layer(cut).output)
    activation = np.asarray(prefix(images, training=False), dtype=np.float32)
    suffix_input = keras.Input(activation.shape[1:])
    # Re-run the layers after the cut on a new input (the backbone's own graph, by name).
    tensors = {cut: suffix_input}
    config = backbone.get_config()
    order = [entry["name"] for entry in config["layers"]]
    after = order[order.index(cut) + 1:]
    for entry in config["layers"]:
        if entry["name"] not in after:
            continue
        inbound = []
        for node in entry["inbound_nodes"]:
            for arg in node["args"]:
                items = arg if isinstance(arg, list) else [arg]
                inbound += [item["config"]["keras_history"][0] for item in items]
        inputs = [tensors[name] for name in inbound]
        tensors[entry["name"]] = backbone.get_layer(entry["name"])(inputs[0] if len(inputs) == 1 else inputs)
    pooled = L.GlobalAveragePooling2D(name="head_pool")(tensors[order[-1]])
    head = L.Dense(classes, activation="softmax", name="head_output")
    model = keras.Model(suffix_input, head(pooled))
    head.set_weights([rng.normal(0, 0.05, (pooled.shape[-1], classes)).astype(np.float32),
                      rng.normal(0, 0.05, (classes,)).astype(np.float32)])
    x = tf.constant(activation)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=True)
        upstream = rng.normal(0, 1, tuple(y.shape)).astype(np.float32)
        loss = tf.reduce_sum(y * upstream)
    variables = [(layer.name, w) for layer in model.layers for w in layer.trainable_weights]
    grads = tape.gradient(loss, [x] + [w for _, w in variables])
    whole = {"block6a_expand_conv/kernel", "block6a_dwconv/kernel", "block6a_project_bn/gamma",
             "top_bn/beta", "head_output/kernel", "head_output/bias"}
    with h5py.File(os.path.join(out, "lite0_top.grad.h5"), "w") as f:
        f.attrs["cut"], f.attrs["size"] = cut, size
        f.create_dataset("inputs/0", data=activation)
        f.create_dataset("upstream", data=upstream)
        f.create_dataset("output", data=np.asarray(y, dtype=np.float32))
        f.create_dataset("gradients/input", data=np.asarray(grads[0], dtype=np.float32))
        f.create_dataset("head/kernel", data=head.get_weights()[0])
        f.create_dataset("head/bias", data=head.get_weights()[1])
        for (layer_name, w), g in zip(variables, grads[1:]):
            key = f"{layer_name}/{w.name}"
            g = np.asarray(g, dtype=np.float64)
            f.create_dataset(f"norms/{key}", data=np.array([np.sqrt(np.sum(g * g))], dtype=np.float64))
            if key in whole:
                f.create_dataset(f"gradients/{key}", data=g.astype(np.float32))
    print(f"lite0_top: cut {cut} {activation.shape}, {len(variables)} trainable weights")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO_ROOT, "Tests", "Fixtures", "gradients"))
    parser.add_argument("--only", help="one case name")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # Pinned like Tests/MienNNTests/RandomTests.swift: the Python copy must be Mien's generator.
    g = SeededGenerator(42)
    assert [g.next(), g.next(), g.next()] == [1546998764402558742, 6990951692964543102, 12544586762248559009]
    for name, (build, batch) in cases().items():
        if args.only and name != args.only:
            continue
        make(name, build, batch, args.out)
    for name, (build, kind, classes) in fit_models().items():
        if args.only and name != args.only:
            continue
        make_fit(name, build, kind, classes, args.out)
    if not args.only or args.only == "step_original_cnn":
        make_adam_step("step_original_cnn", args.out)
    if not args.only or args.only == "lite0_top":
        make_lite0_top(args.out)


if __name__ == "__main__":
    sys.exit(main())
