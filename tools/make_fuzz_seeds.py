#!/usr/bin/env python3
"""Makes the seed corpora of the fuzz targets, Tests/Fixtures/fuzz/<target>/seeds/.

Every seed is made from the committed fixtures (valid files and slightly broken copies of
them), deterministically: running the script twice gives the same files. It rewrites only
the `seeds/` folders; `crashes/` (inputs that once crashed a target) is never touched.

    python3 tools/make_fuzz_seeds.py [--mien .build/release/mien] [--out Tests/Fixtures/fuzz]

Needs h5py (tools/requirements.txt) for the Keras configs, and a built `mien` for the
`.mien` seeds (`mien export`); without one (`--mien ''`) the `mien` seeds are kept as they are.
See Tests/Fixtures/fuzz/README.md for what each target does with its bytes.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
TARGETS = ["safetensors", "mien", "keras-config", "head", "image", "csv", "detector-manifest"]
MAX_SEED_BYTES = 64 * 1024          # per file; text targets run with -max_len=65536


class Seeds:
    """Collects one target's seeds (name -> bytes), dropping duplicate contents."""

    def __init__(self, target):
        self.target = target
        self.files = {}
        self.digests = set()

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > MAX_SEED_BYTES:
            print(f"  skip {self.target}/{name}: {len(data)} bytes", file=sys.stderr)
            return
        digest = hashlib.sha1(data).hexdigest()
        if digest in self.digests:
            return
        assert name not in self.files, name
        self.digests.add(digest)
        self.files[name] = data

    def write(self, out):
        folder = os.path.join(out, self.target, "seeds")
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        os.makedirs(folder)
        for name, data in sorted(self.files.items()):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        crashes = os.path.join(out, self.target, "crashes")
        os.makedirs(crashes, exist_ok=True)
        keep = os.path.join(crashes, ".gitkeep")
        if not os.path.exists(keep):
            open(keep, "wb").close()
        total = sum(len(d) for d in self.files.values())
        print(f"{self.target}: {len(self.files)} seeds, {total} bytes")
        return total


def read(path):
    with open(path, "rb") as f:
        return f.read()


# --- safetensors ----------------------------------------------------------------------

def split_safetensors(data):
    """(header dict, data buffer) of a safetensors file."""
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def join_safetensors(header, buffer, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    if pad:   # the reference writer pads the header with spaces to a multiple of 8
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + buffer


def dtype_file(dtype, size, shape):
    """A valid one-tensor file of `dtype` (element `size` bytes) with bytes 0, 1, 2, ..."""
    count = 1
    for d in shape:
        count *= d
    buffer = bytes(i % 251 for i in range(count * size))
    header = {"__metadata__": {"format": "pt"},
              "t": {"dtype": dtype, "shape": shape, "data_offsets": [0, len(buffer)]}}
    return join_safetensors(header, buffer)


def safetensors_seeds(mien_files):
    seeds = Seeds("safetensors")
    for path in sorted(glob.glob(os.path.join(FIXTURES, "safetensors", "*.safetensors"))):
        seeds.add(os.path.basename(path), read(path))
    sizes = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
             "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E5M2": 1, "F8_E4M3": 1,
             "F8_E5M2FNUZ": 1, "F8_E4M3FNUZ": 1, "F8_E8M0": 1, "C64": 8}
    for dtype, size in sizes.items():
        seeds.add(f"dtype_{dtype.lower()}.safetensors", dtype_file(dtype, size, [2, 3]))
    # Edge shapes: a scalar, an empty axis, an empty file with only metadata.
    seeds.add("scalar.safetensors", dtype_file("F32", 4, []))
    seeds.add("zero_axis.safetensors", dtype_file("F32", 4, [0, 5]))
    seeds.add("metadata_only.safetensors", join_safetensors({"__metadata__": {"a": "b"}}, b""))
    seeds.add("empty_header.safetensors", join_safetensors({}, b""))
    # Slightly broken copies of the reference writer's file.
    good = read(os.path.join(FIXTURES, "safetensors", "python_mixed.safetensors"))
    seeds.add("python_mixed.cut_last_byte.safetensors", good[:-1])
    seeds.add("python_mixed.extra_byte.safetensors", good + b"\0")
    seeds.add("python_mixed.length_plus_one.safetensors",
              struct.pack("<Q", struct.unpack("<Q", good[:8])[0] + 1) + good[8:])
    header, buffer = split_safetensors(good)
    names = sorted(k for k in header if k != "__metadata__")
    if names:
        swapped = json.loads(json.dumps(header))
        swapped[names[0]]["shape"] = list(reversed(swapped[names[0]]["shape"])) + [1]
        seeds.add("python_mixed.shape_changed.safetensors", join_safetensors(swapped, buffer))
        shifted = json.loads(json.dumps(header))
        lo, hi = shifted[names[0]]["data_offsets"]
        shifted[names[0]]["data_offsets"] = [lo + 1, hi + 1]
        seeds.add("python_mixed.offset_shifted.safetensors", join_safetensors(shifted, buffer))
    # The smallest .mien file: a safetensors file with a model in its metadata.
    if mien_files:
        name, data = min(mien_files.items(), key=lambda kv: len(kv[1]))
        seeds.add(name.replace(".mien", ".mien.safetensors"), data)
    return seeds


# --- .mien ----------------------------------------------------------------------------

# (seed name, model fixture, extra `mien export` options)
MIEN_EXPORTS = [
    ("fer_softmax", "predict/fer_softmax.k3.h5", ["--classes", "angry,fear,happy"]),
    ("fer_sigmoid", "predict/fer_sigmoid.k3.h5", ["--classes", "angry,happy"]),
    ("fer_sigmoid_24", "predict/fer_sigmoid.k3.h5", ["--image-size", "24", "--classes", "angry,happy"]),
    ("sequential_cnn_k3_resize8", "keras/sequential_cnn.k3.h5", ["--image-size", "8", "--scale", "1", "--offset", "-0.5"]),
    ("nested_frozen_k2_gray", "keras/nested_frozen.k2.h5", ["--image-channels", "1", "--classes", "no,yes"]),
    ("fer_softmax_unoptimized", "predict/fer_softmax.k3.h5", ["--no-optimize"]),
    ("dense_mlp_k2", "keras/dense_mlp.k2.h5", []),
    ("dense_mlp_k3", "keras/dense_mlp.k3.h5", []),
    ("sequential_cnn_k2", "keras/sequential_cnn.k2.h5", []),
    ("sequential_cnn_k3", "keras/sequential_cnn.k3.h5", ["--no-optimize"]),
    ("functional_branches_k3", "keras/functional_branches.k3.h5", []),
    ("nested_frozen_k2", "keras/nested_frozen.k2.h5", []),
    ("nested_deep_k3", "keras/nested_deep.k3.h5", ["--no-optimize"]),
    ("pool_reshape_k3", "keras/pool_reshape.k3.h5", []),
    ("preprocessing_k3", "keras/preprocessing.k3.h5", []),
    ("preprocessing_adapted_k2", "keras/preprocessing_adapted.k2.h5", []),
    ("xception_k3", "keras/xception.k3.h5", []),
    ("mbconv_k2", "keras/mbconv.k2.h5", []),
    ("conv_variants_k3", "keras/conv_variants.k3.h5", []),
    ("activations_k2", "keras/activations.k2.h5", []),
]


def export_mien(mien, folder):
    """name -> bytes of the .mien files `mien export` makes from the fixtures (small ones)."""
    files = {}
    for name, model, options in MIEN_EXPORTS:
        out = os.path.join(folder, name + ".mien")
        result = subprocess.run([mien, "export", os.path.join("Tests", "Fixtures", model), "--output", out] + options,
                                cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"  mien export {model} {' '.join(options)}: {result.stderr.strip()}", file=sys.stderr)
            continue
        data = read(out)
        if len(data) <= MAX_SEED_BYTES:
            files[name + ".mien"] = data
        else:
            print(f"  skip {name}.mien: {len(data)} bytes", file=sys.stderr)
    return files


def mien_seeds(files):
    seeds = Seeds("mien")
    for name, data in sorted(files.items()):
        seeds.add(name, data)
    base_name = "fer_sigmoid.mien" if "fer_sigmoid.mien" in files else (min(files) if files else None)
    if base_name is None:
        return seeds
    base = files[base_name]
    stem = base_name[:-len(".mien")]
    header, buffer = split_safetensors(base)
    meta = header["__metadata__"]

    def variant(suffix, edit):
        h = json.loads(json.dumps(header))
        b = edit(h)
        seeds.add(f"{stem}.{suffix}.mien", join_safetensors(h, buffer if b is None else b))

    def set_meta(key, value):
        def edit(h):
            if value is None:
                h["__metadata__"].pop(key, None)
            else:
                h["__metadata__"][key] = value
        return edit

    variant("format_version_2", set_meta("format_version", "2"))
    variant("format_version_3", set_meta("format_version", "3"))

    def mirror(h):
        h["__metadata__"]["format_version"] = "2"
        h["__metadata__"]["test_time_augmentation"] = "mirror"
    variant("test_time_mirror", mirror)
    variant("test_time_unknown", set_meta("test_time_augmentation", "ten_crop"))
    variant("keras_version_1", set_meta("keras_version", "1"))
    variant("no_graph", set_meta("graph", None))
    variant("graph_not_json", set_meta("graph", meta.get("graph", "")[:-1]))
    variant("classes_not_list", set_meta("classes", '"angry"'))
    variant("no_input_adapter", set_meta("input_adapter", None))
    if "input_adapter" in meta:
        adapter = json.loads(meta["input_adapter"])
        for key in list(adapter)[:4]:
            if isinstance(adapter[key], list):
                bad = dict(adapter, **{key: [0] * len(adapter[key])})
                variant(f"adapter_{key}_zero", set_meta("input_adapter", json.dumps(bad)))
            elif isinstance(adapter[key], (int, float)):
                bad = dict(adapter, **{key: -1})
                variant(f"adapter_{key}_negative", set_meta("input_adapter", json.dumps(bad)))
    # A graph with a layer's size changed, and a graph with a layer dropped.
    graph = json.loads(meta.get("graph", "{}"))
    layers = graph.get("config", {}).get("layers", [])
    dense = [i for i, layer in enumerate(layers) if layer.get("class_name") == "Dense"]
    if dense:
        g = json.loads(json.dumps(graph))
        g["config"]["layers"][dense[0]]["config"]["units"] = 2
        variant("dense_units_changed", set_meta("graph", json.dumps(g, separators=(",", ":"))))
    if len(layers) > 2:
        g = json.loads(json.dumps(graph))
        del g["config"]["layers"][1]
        variant("layer_dropped", set_meta("graph", json.dumps(g, separators=(",", ":"))))
    tensors = sorted(k for k in header if k != "__metadata__")
    if tensors:
        variant("tensor_dropped", lambda h: h.pop(tensors[0]) and None)
        variant("tensor_f16", lambda h: h[tensors[-1]].update(dtype="F16") or None)
    seeds.add(f"{stem}.truncated.mien", base[:len(base) - 16])
    return seeds


# --- Keras model_config ---------------------------------------------------------------

def keras_major(path, attrs):
    base = os.path.basename(path)
    if ".k2." in base:
        return 2
    if ".k3." in base:
        return 3
    version = attrs.get("keras_version", b"3")
    if isinstance(version, bytes):
        version = version.decode()
    return 2 if str(version).startswith("2") else 3


def config_text(config, major):
    """The target reads Keras 3 when the first byte is odd ('{'), 2 when even (' ')."""
    text = json.dumps(config, separators=(",", ":"), sort_keys=True)
    return (" " if major == 2 else "") + text


def keras_config_seeds():
    import h5py
    seeds = Seeds("keras-config")
    paths = sorted(glob.glob(os.path.join(FIXTURES, "keras", "*.h5")) +
                   glob.glob(os.path.join(FIXTURES, "keras", "bad", "*.h5")) +
                   glob.glob(os.path.join(FIXTURES, "predict", "*.h5")) +
                   glob.glob(os.path.join(FIXTURES, "export", "*.h5")))
    configs = []
    for path in paths:
        if path.endswith(".io.h5") or "weights" in os.path.basename(path):
            continue
        try:
            with h5py.File(path, "r") as f:
                attrs = dict(f.attrs)
        except OSError:
            continue   # the deliberately broken files of keras/bad
        if "model_config" not in attrs:
            continue
        raw = attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        major = keras_major(path, attrs)
        rel = os.path.relpath(path, FIXTURES).replace(os.sep, "_")
        name = rel[:-len(".h5")].replace("bad_", "bad-")
        configs.append((name, config, major))
        seeds.add(name + ".json", config_text(config, major))
    # One model.to_json() file (the same config, with keras_version and backend around it).
    path = os.path.join(FIXTURES, "keras", "functional_branches.k3.json")
    if os.path.exists(path):
        seeds.add("keras_functional_branches.k3.to_json.json", config_text(json.loads(read(path)), 3))

    # Slightly broken versions of a small Sequential and a Functional model.
    by_name = {name: (config, major) for name, config, major in configs}
    for name in ["keras_dense_mlp.k3", "keras_functional_branches.k2"]:
        if name in by_name:
            config, major = by_name[name]
            text = config_text(config, major)
            seeds.add(name + ".truncated.json", text[:len(text) // 2])
            seeds.add(name + ".other_keras.json", config_text(config, 5 - major))
    for name in ["keras_sequential_cnn.k3"]:
        if name not in by_name:
            continue
        config, major = by_name[name]
        layers = config.get("config", {}).get("layers", [])
        for key, value in [("units", 0), ("filters", -1), ("kernel_size", [0, 0]), ("strides", [100000, 1]),
                           ("pool_size", [4096, 4096]), ("units", 2 ** 31)]:
            for i, layer in enumerate(layers):
                if key in layer.get("config", {}):
                    c = json.loads(json.dumps(config))
                    c["config"]["layers"][i]["config"][key] = value
                    seeds.add(f"{name}.{key}_{json.dumps(value).replace(' ', '').replace(',', 'x')}.json",
                              config_text(c, major))
                    break
        if len(layers) > 2:
            c = json.loads(json.dumps(config))
            c["config"]["layers"].append(c["config"]["layers"][1])
            seeds.add(name + ".duplicate_layer.json", config_text(c, major))
    # JSON edge cases (the parser falls back to JSON5 for NaN and Infinity).
    seeds.add("json5_nan.json", '{"class_name": "Sequential", "config": {"layers": [], "x": NaN}}')
    seeds.add("scalar.json", "42")
    seeds.add("empty_sequential.json", '{"class_name":"Sequential","config":{"name":"s","layers":[]}}')
    return seeds


# --- --head ---------------------------------------------------------------------------

HEADS = [
    "AveragePooling2D(3, strides=2), Flatten, Dense(256, relu), Dropout(0.2)",
    "AveragePooling2D((3, 3), strides=2, padding='same'), Flatten, Dense(256, relu), Dropout(0.3)",
    "AveragePooling2D(4, strides=3), Flatten, Dense(256, relu), Dropout(0.3)",
    "MaxPooling2D(2), GlobalAveragePooling2D, Dense(4, relu), Dense(3), Dropout(0.5)",
    "MaxPooling2D(pool_size=(2, 3), strides=(1, 2), padding=\"valid\"), Flatten",
    "GlobalAveragePooling2D(keepdims=False)",
    "GlobalAveragePooling2D(keepdims=True), Flatten, Dense(8)",
    "GlobalMaxPooling2D, Dense(16, activation=swish), Activation(sigmoid)",
    "Flatten, Dense(32, relu), Dropout(0.25), Dense(8, tanh)",
    "Dense(6, relu), Dropout(0.25)",
    "Dense(4, relu), Dropout(0.2)",
    "Dense(units=4, activation=None), Activation('gelu')",
    "Dropout(0.2)",
    "Dropout(rate=0.0), Dropout(0.99)",
    "Dense(4, activation=swishy)",
    "Dense(4, relu",
    "Dense(0)",
    "Dense(-1, relu)",
    "Flatten, AveragePooling2D(2)",
    "AveragePooling2D(8), Flatten",
    "Conv2D(3, 3)",
    "Dense(4, relu) Dense(2)",
    "Dense(4, name='x'), Dense(4, name='x')",
    "Dense(1e3), Dropout(1.5)",
    "Dense((2, 2)), Dropout(None), Activation(True)",
    "  ",
    "",
]


def head_seeds():
    seeds = Seeds("head")
    for i, text in enumerate(HEADS):
        seeds.add(f"head_{i:02d}.txt", text)
    return seeds


# --- images ---------------------------------------------------------------------------

def image_seeds():
    seeds = Seeds("image")
    paths = sorted(glob.glob(os.path.join(FIXTURES, "images", "*.jpg")) +
                   glob.glob(os.path.join(FIXTURES, "images", "*.png")))
    for path in paths:
        data = read(path)
        if len(data) <= 4096:
            seeds.add(os.path.basename(path), data)
    # Slightly broken: cut in the middle, and a flipped byte in the image data.
    for name in ["color_420.jpg", "progressive.jpg", "rgb.png", "interlaced.png", "palette.png"]:
        path = os.path.join(FIXTURES, "images", name)
        if not os.path.exists(path):
            continue
        data = read(path)
        stem, ext = os.path.splitext(name)
        seeds.add(f"{stem}.cut_half{ext}", data[:len(data) // 2])
        flipped = bytearray(data)
        flipped[len(data) * 2 // 3] ^= 0x5A
        seeds.add(f"{stem}.flipped{ext}", bytes(flipped))
    return seeds


# --- FER-2013 CSV ---------------------------------------------------------------------

def csv_seeds():
    seeds = Seeds("csv")
    for base in ["fer2013.csv", "fer2013_malformed.csv"]:
        lines = read(os.path.join(FIXTURES, "faces", base)).split(b"\n")
        header, rows = lines[0], [line for line in lines[1:] if line]
        stem = base[:-len(".csv")]
        seeds.add(f"{stem}.header_only.csv", header + b"\n")
        for start, count in [(0, 1), (1, 2)]:
            chunk = rows[start:start + count]
            # even/odd length picks all rows / Training only: keep both in the corpus
            seeds.add(f"{stem}.rows_{start}.csv", header + b"\n" + b"\n".join(chunk) + b"\n")
            seeds.add(f"{stem}.rows_{start}.no_newline.csv", header + b"\n" + b"\n".join(chunk))
        if rows:
            seeds.add(f"{stem}.crlf.csv", (header + b"\r\n" + rows[0] + b"\r\n").replace(b"\n\r", b"\r"))
            seeds.add(f"{stem}.cut_row.csv", header + b"\n" + rows[0][: len(rows[0]) // 2] + b"\n")
            seeds.add(f"{stem}.no_header.csv", rows[0] + b"\n")
    seeds.add("quoted.csv", b'emotion,pixels,Usage\n"3","' + b" ".join(b"128" for _ in range(2304)) + b'","Training"\n')
    seeds.add("wrong_columns.csv", b"pixels,emotion\n1 2 3,0\n")
    seeds.add("bad_label.csv", b"emotion,pixels,Usage\n9," + b" ".join(b"7" for _ in range(2304)) + b",PublicTest\n")
    seeds.add("bad_pixel.csv", b"emotion,pixels,Usage\n0," + b" ".join(b"256" for _ in range(2304)) + b",Training\n")
    return seeds


# --- face detector manifests ---------------------------------------------------------

def detector_manifest_seeds():
    seeds = Seeds("detector-manifest")
    bundled = read(os.path.join(ROOT, "Weights", "mtcnn-fer", "detector.json"))
    seeds.add("bundled.json", bundled)
    seeds.add("bundled.cut.json", bundled[: len(bundled) // 2])
    for i, text in enumerate([
        "{}",
        '{"thresholds": [0.6, 0.7, 0.8]}',
        '{"small_faces": {"below": 48, "folder": "/abs/path"}}',
        '{"thresholds": [0.5, 0.2]}',
        '{"thresholds": [0.5, 0.2, 1.0]}',
        '{"thresholds": [0.5, 0.2, -0.1]}',
        '{"thresholds": [0.5, 0.2, 1e400]}',
        '{"thresholds": "0.5,0.2,0.8"}',
        '{"small_faces": {"below": 11, "folder": ".."}}',
        '{"small_faces": {"below": 99999999999999999999, "folder": ".."}}',
        '{"small_faces": {"below": 48}}',
        '{"small_faces": null, "thresholds": null}',
        '[]',
        '{"thresholds": [0.5, 0.2, 0.8], "thresholds": [0.1, 0.1, 0.1]}',
    ]):
        seeds.add(f"manifest_{i:02d}.json", text)
    return seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mien", default=os.path.join(ROOT, ".build", "release", "mien"),
                        help="the built mien tool, for the .mien seeds ('' to keep the existing ones)")
    parser.add_argument("--out", default=os.path.join(FIXTURES, "fuzz"))
    args = parser.parse_args()

    mien_files = {}
    if args.mien:
        if not os.access(args.mien, os.X_OK):
            sys.exit(f"no mien tool at {args.mien}: build it (swift build -c release) or pass --mien ''")
        with tempfile.TemporaryDirectory() as folder:
            mien_files = export_mien(os.path.abspath(args.mien), folder)
    else:
        existing = os.path.join(args.out, "mien", "seeds")
        for path in sorted(glob.glob(os.path.join(existing, "*.mien"))):
            if path.count(".") == 1:   # the exports, not the broken variants
                mien_files[os.path.basename(path)] = read(path)

    total = 0
    for seeds in [safetensors_seeds(mien_files), mien_seeds(mien_files), keras_config_seeds(),
                  head_seeds(), image_seeds(), csv_seeds(), detector_manifest_seeds()]:
        total += seeds.write(args.out)
    print(f"total: {total} bytes in {args.out}")


if __name__ == "__main__":
    main()
