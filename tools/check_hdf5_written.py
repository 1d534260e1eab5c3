#!/usr/bin/env python3
"""Check files written by Mien's HDF5Writer with h5py and Keras.

The Swift tests leave their output in a folder when run with
MIEN_HDF5_WRITER_KEEP set:

    MIEN_HDF5_WRITER_KEEP=/tmp/h5w swift test --filter HDF5WriterTests
    python3 tools/check_hdf5_written.py /tmp/h5w

Checks:
  * roundtrip.h5: every attribute has the same HDF5 type and dataspace as
    h5py gives the same Python value (`attrs[k] = "str"`, `= ["a", "b"]`,
    `= []`, `= 42`, `= 2.5`), reads back as the same Python type, and every
    dataset is contiguous, unfiltered little-endian float32.
  * NAME.k2.h5 / NAME.k3.h5 (copies of the Keras fixtures): load with
    tf_keras / Keras 3 `load_model` and reproduce the golden output stored in
    Tests/Fixtures/keras/NAME.V.io.h5 bit for bit.
  * NAME.k2.savedweights.h5: model_from_json(NAME.k2.json) + load_weights,
    same golden output.
Exits non-zero on any mismatch. Versions: tools/requirements.txt.
"""

import glob
import os
import sys
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # as when the fixtures were made
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
warnings.filterwarnings("ignore")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(REPO_ROOT, "Tests", "Fixtures", "keras")

failures = []


def check(ok, message):
    print(("ok    " if ok else "FAIL  ") + message)
    if not ok:
        failures.append(message)


def describe(attr_id):
    """Type class, size/vlen, charset, shape of a low-level attribute."""
    t = attr_id.get_type()
    text = f"class={t.get_class()} size={t.get_size()}"
    if isinstance(t, h5py.h5t.TypeStringID):
        text += f" vlen={t.is_variable_str()} cset={t.get_cset()} pad={t.get_strpad()}"
    elif t.get_class() in (h5py.h5t.INTEGER, h5py.h5t.FLOAT):
        text += f" order={t.get_order()}"
    return text + f" shape={attr_id.shape}"


def check_roundtrip(path):
    # What the Swift test wrote, in Python terms.
    expected = {
        "s": "héllo wörld ✓ 日本",
        "empty_string": "",
        "names": ["a", "bé", "", "dense/kernel:0"],
        "one_name": ["only"],
        "no_names": [],
        "i": 42,
        "i_min": -(2 ** 63),
        "i_max": 2 ** 63 - 1,
        "d": 2.5,
        "d_tiny": 5e-324,
        "d_neg_inf": float("-inf"),
    }
    with tempfile.TemporaryDirectory() as tmp, h5py.File(path, "r") as f, \
            h5py.File(os.path.join(tmp, "ref.h5"), "w") as ref:
        for key, value in expected.items():
            ref.attrs[key] = value  # h5py's own choice of type for this value
            ours, theirs = f.attrs.get_id(key), ref.attrs.get_id(key)
            same = ours.get_type() == theirs.get_type() and ours.shape == theirs.shape
            check(same, f"attr {key!r}: {describe(ours)} (h5py writes {describe(theirs)})")
            got, want = f.attrs[key], ref.attrs[key]
            equal = type(got) is type(want) and getattr(got, "dtype", None) == getattr(want, "dtype", None) \
                and np.array_equal(np.asarray(got), np.asarray(want))
            check(equal, f"attr {key!r} reads as {type(got).__name__} "
                         f"{getattr(got, 'dtype', '')} {got!r:.60}")
            if isinstance(got, np.ndarray) and got.dtype == object:
                info = h5py.check_string_dtype(got.dtype)
                check(info is not None and (info.encoding, info.length) == ("utf-8", None), f"attr {key!r}: {info}")

        big = f.attrs["big"]
        check(isinstance(big, str) and len(big.encode()) >= 1 << 20,
              f"attr 'big': {type(big).__name__} of {len(big.encode())} UTF-8 bytes")

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                layout = obj.id.get_create_plist().get_layout()
                ok = obj.dtype == np.dtype("<f4") and layout == h5py.h5d.CONTIGUOUS \
                    and obj.compression is None and obj.chunks is None
                check(ok, f"dataset {obj.name}: dtype {obj.dtype.str} shape {obj.shape} "
                          f"contiguous={layout == h5py.h5d.CONTIGUOUS}")
        f.visititems(visit)
        shapes = {n: f[n].shape for n in ["model_weights/dense/scalar", "model_weights/dense/empty",
                                          "model_weights/dense/dense/bias:0", "model_weights/dense/dense/kernel:0"]}
        check(list(shapes.values()) == [(), (0,), (3,), (2, 3, 4, 5)], f"shapes {shapes}")


def golden(name):
    """Inputs and output stored beside the fixture NAME.V.h5."""
    with h5py.File(os.path.join(FIXTURES, name.replace(".h5", ".io.h5")), "r") as io:
        inputs = [io["inputs"][k][()] for k in sorted(io["inputs"], key=int)]
        return inputs, io["output"][()]


def check_keras(path):
    name = os.path.basename(path)
    version = "k2" if ".k2." in name else "k3"
    import tf_keras
    import keras
    kr = tf_keras if version == "k2" else keras
    if name.endswith(".savedweights.h5"):
        base = name.replace(".savedweights.h5", "")
        with open(os.path.join(FIXTURES, base + ".json")) as j:
            model = kr.models.model_from_json(j.read())
        model.load_weights(path)
        inputs, want = golden(base + ".h5")
    else:
        model = kr.models.load_model(path, compile=False)
        inputs, want = golden(name)
    got = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    got = np.asarray(got)
    check(got.shape == want.shape and np.array_equal(got, want),
          f"{name}: {kr.__name__} {kr.__version__} reproduces the golden output {want.shape} bit for bit")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    roundtrip = os.path.join(folder, "roundtrip.h5")
    if os.path.exists(roundtrip):
        check_roundtrip(roundtrip)
    else:
        check(False, f"{roundtrip} missing")
    for path in sorted(glob.glob(os.path.join(folder, "*.k[23].h5")) +
                       glob.glob(os.path.join(folder, "*.savedweights.h5"))):
        check_keras(path)
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
