"""Hostile and unsupported Keras files for the import tests (Tests/Fixtures/hostile/).

Real Keras writes the models; h5py then spoils one thing in a copy, so each file differs
from a valid one in exactly the way its name says. Mien must refuse every one of them with
an error naming the file and the layer (Tests/MienKerasTests/HostileImportTests.swift,
Tests/MienCLITests/HostileInputTests.swift), never crash, hang or run it wrongly.

    python3 tools/make_hostile_fixtures.py [--out Tests/Fixtures/hostile]

Files:
  mean_operation.k3.h5      `keras.ops.mean(x + 3.0)`: an operation Mien does not compute
                            (the `x + 3.0` it does).
  training_dropout.k3.h5    `Dropout(0.5)(x, training=True)`: Monte Carlo dropout, random
                            even in `predict`.
  reduce_mean_tfop.k2.h5    tf.keras `tf.reduce_mean(x / 127.5 - 1)`: a TFOpLambda layer of a
                            TensorFlow function Mien does not compute.
  zero_strides.k3.h5        a Conv2D whose config says strides (0, 0) (division by zero).
  negative_dilation.k3.h5   dilation_rate (-1, -1) (read outside the C kernel's buffer).
  huge_filters.k3.h5        filters 1e9 (20 GB of weights before the file's shapes).
  huge_input.k3.h5          an input of 100000 x 100000 pixels.
  huge_weight.k3.h5         the conv kernel replaced by a dataset that claims 2^31 floats
                            (8 GiB, never written: the file stays small).
  unknown_option.k3.h5      a Conv2D config relabelled MaxPooling2D: its filters, kernel_size
                            and activation would be silently dropped.
  null_padding.k3.h5        padding: null (Keras refuses it; Mien used to take 'valid').
  nan_output.k3.h5          a valid model whose kernel holds NaN: Keras predicts NaN, and so
                            must Mien (JSON null), never a made-up label; not in expected.json.
  heap_flip.k3.h5           Tests/Fixtures/predict/fer_softmax.k3.h5 with one byte of the
                            HDF5 global heap that holds the model config changed: libhdf5
                            1.10 segfaults in H5HG_read when it reads the config.
  expected.json             what each file must be refused for (a fragment of the message).
"""
import argparse
import json
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import h5py  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def save(model, path):
    keras.utils.set_random_seed(1)
    model.save(path)


def patch_config(path, patch):
    """Rewrites the model_config attribute of `path` with `patch(config)` applied."""
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        patch(config)
        f.attrs["model_config"] = json.dumps(config)


def layer(config, name):
    return next(l for l in config["config"]["layers"] if l["config"].get("name") == name)


def conv_model(path):
    x = keras.Input((8, 8, 1), name="image")
    y = keras.layers.Conv2D(2, 3, padding="same", name="conv")(x)
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    save(keras.Model(x, y, name="conv_model"), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "Tests/Fixtures/hostile"))
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    expected = {}

    def path(name):
        return os.path.join(out, name)

    keras.backend.clear_session()
    # Operations Mien does not compute: refused, naming the operation (Keras 3's `x + 3.0`,
    # `keras.ops.maximum(x, c)` and tf.keras's `x / 127.5 - 1` are computed: see
    # tools/make_keras_fixtures.py's operations and preprocess_caffe models).
    x = keras.Input((4,), name="features")
    save(keras.Model(x, keras.layers.Dense(2, name="dense")(keras.ops.mean(x + 3.0, axis=-1, keepdims=True))),
         path("mean_operation.k3.h5"))
    expected["mean_operation.k3.h5"] = "the Keras 3 operation Mean is not supported"

    keras.backend.clear_session()
    x = keras.Input((4,), name="features")
    y = keras.layers.Dropout(0.5, name="mc_dropout")(x, training=True)
    save(keras.Model(x, keras.layers.Dense(2, name="dense")(y)), path("training_dropout.k3.h5"))
    expected["training_dropout.k3.h5"] = "training=True"

    tf_keras.backend.clear_session()
    x = tf_keras.Input((8, 8, 3), name="image")
    y = tf_keras.layers.Dense(2, name="dense")(tf.reduce_mean(x / 127.5 - 1, axis=[1, 2]))
    tf_keras.Model(x, y).save(path("reduce_mean_tfop.k2.h5"))
    expected["reduce_mean_tfop.k2.h5"] = "the TensorFlow operation tf.math.reduce_mean is not supported"

    for name, key, value, message in [
        ("zero_strides.k3.h5", "strides", [0, 0], "'strides'"),
        ("negative_dilation.k3.h5", "dilation_rate", [-1, -1], "'dilation_rate'"),
        ("huge_filters.k3.h5", "filters", 1000000000, "'filters'"),
    ]:
        keras.backend.clear_session()
        conv_model(path(name))
        patch_config(path(name), lambda c, key=key, value=value: layer(c, "conv")["config"].__setitem__(key, value))
        expected[name] = message

    keras.backend.clear_session()
    conv_model(path("unknown_option.k3.h5"))
    patch_config(path("unknown_option.k3.h5"), lambda c: layer(c, "conv").__setitem__("class_name", "MaxPooling2D"))
    expected["unknown_option.k3.h5"] = "MaxPooling2D option 'activation'"

    keras.backend.clear_session()
    conv_model(path("null_padding.k3.h5"))
    patch_config(path("null_padding.k3.h5"), lambda c: layer(c, "conv")["config"].__setitem__("padding", None))
    expected["null_padding.k3.h5"] = "padding is null"

    keras.backend.clear_session()
    conv_model(path("huge_weight.k3.h5"))
    with h5py.File(path("huge_weight.k3.h5"), "r+") as f:
        group = f["model_weights/conv/conv"]
        del group["kernel"]
        group.create_dataset("kernel", shape=(2**31,), dtype="float32", chunks=(1024,))
    expected["huge_weight.k3.h5"] = "has shape [2147483648]"

    keras.backend.clear_session()
    conv_model(path("nan_output.k3.h5"))
    with h5py.File(path("nan_output.k3.h5"), "r+") as f:
        kernel = f["model_weights/conv/conv/kernel"]
        kernel[...] = float("nan")

    keras.backend.clear_session()
    conv_model(path("huge_input.k3.h5"))
    patch_config(path("huge_input.k3.h5"),
                 lambda c: layer(c, "image")["config"].__setitem__("batch_shape", [None, 100000, 100000, 1]))
    expected["huge_input.k3.h5"] = "values per image"

    source = os.path.join(ROOT, "Tests/Fixtures/predict/fer_softmax.k3.h5")
    data = bytearray(open(source, "rb").read())
    heap = data.find(b"GCOL")
    assert heap >= 0, "no global heap in " + source
    # The first heap object's 8-byte size starts 24 bytes into the collection; its top byte
    # set to 0xFF makes H5HG_read copy ~2^63 bytes.
    data[heap + 31] = 0xFF
    open(path("heap_flip.k3.h5"), "wb").write(bytes(data))
    expected["heap_flip.k3.h5"] = "HDF5 library crashed"

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(expected)} files to {out}")


if __name__ == "__main__":
    main()
