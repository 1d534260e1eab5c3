#!/usr/bin/env python3
"""Mutation harness for the `mien` command-line tool.

Runs `mien` on mutated input files and on odd command-line values, each run in a fresh
process with a wall-clock timeout, a memory guard and its peak memory measured, and
classifies every run. Run it from anywhere (it changes to the repository root, so that
fixture paths are relative to it):

    python3 tools/fuzz_cli.py --mien .build/release/mien --runs 1500 [--seed 1]
        [--kinds h5,mien,image,csv,options,special] [--out out/fuzz_cli]
        [--timeout 20] [--memory-limit-mb 2048] [--jobs 2] [--keep 3] [--no-gdb]

The runs are deterministic from `--seed` (which mutations, which files, which values: run
N always gets the same case); timing and memory naturally vary a little. Before the fuzz
runs, every seed is run unmutated ("seed checks", numbered from 90000): a seed on which mien
and the oracle disagree is reported (wrong-result, mutation "pristine") and its mutants are then
only judged on accept/refuse, not on scores. The seed checks count in the tables.

Output (in `--out`, default `out/fuzz_cli`, emptied first):
  summary.json   counts per kind and per class, the distinct findings grouped by cause
                 signature (count, details, reproducer folders), seed checks, notes
  runs.jsonl     one line per run: kind, command, mutation, class, exit, peak memory, ...
  findings/NNNNN/ one folder per kept finding (at most --keep per signature): the mutated
                 input file(s), command.txt (runnable from the repository root), stdout.txt,
                 stderr.txt and result.json (class, reason, signature, oracle answer)
  seeds/         the .mien seeds made at start-up (s.mien: fer_softmax exported with classes
                 angry,fear,happy; g.mien: fer_sigmoid, angry,happy; t.mien: trained on
                 Samples/fer2013/train with fer_softmax as backbone); reproducers refer to them
  oracle.log     the Keras/Pillow oracle process's own stderr
A progress line is printed to stderr every ~50 runs and a one-screen table at the end.
Exit status 0 when no run was a (hard) finding, 1 otherwise (2: the harness itself failed).

Kinds of input
  h5       Keras models from Tests/Fixtures/{keras,predict,export} (full `model.save` files,
           and architecture + weights-only pairs with --weights). Structure-aware mutations of
           the `model_config` JSON (numbers set to 0, negatives, 1e9, 2**31, 2**62, floats,
           strings, null, lists; keys deleted; class names changed; Keras 3 and tf.keras
           inbound nodes given kwargs, constants, dangling references and cycles; layers
           removed, duplicated, swapped; deep nesting), of the weight datasets (shape, dtype,
           deleted, renamed, huge lazily-allocated, soft links, NaN values, weight_names /
           layer_names attributes), byte flips aimed at the HDF5 global heap holding the
           model_config text (before/inside/after it, the GCOL header, the attribute
           message), and plain byte-level mutations. Commands: predict, inspect, export.
  mien     `.mien` files made at start-up with `mien export`/`mien train` from the fixtures,
           plus Weights/fer_happy_angry.mien. The safetensors header is parsed and rewritten
           (header length updated): the `graph` metadata mutated as model_config above, the
           `input_adapter` (sizes 0, -1, 2**62, 100000, ...), `classes`, `training`, `format`,
           `format_version`, `test_time_augmentation`, tensor shapes / dtypes / data_offsets, the header length, the
           header text; plus byte flips in the header and in the weights. Commands: predict,
           export, evaluate, bench.
  image    JPEG/PNG fixtures and a few FER samples: byte flips, truncation, JPEG SOF fields
           (width/height 0 or 65535, precision, components), PNG IHDR fields (0, 2**31-1, ...)
           and chunks with the CRC recomputed, IDAT scanline filter bytes (recompressed).
           Commands: predict, and evaluate on a class folder holding the image.
  csv      Tests/Fixtures/faces/fer2013.csv: wrong field counts, bad emotion or Usage values
           (also in rows of a usage other than the selected one), pixel counts off by one,
           values 256/-1, non-digits, quoting, line endings, very long lines, empty file,
           header only, BOM, NUL and invalid UTF-8. Commands: evaluate, train.
  options  Each command's numeric and text options with values such as -1, 0, 1e9, 2**63,
           nan, inf, -inf, '', 'abc' (both as `--opt value` and `--opt=value`), and legal
           values that must be accepted (e.g. `--offset -1`). A validity table per option says
           which values are valid, invalid, either (both answers acceptable) or slow.
  special  A FIFO, a symlink to /dev/zero, a self-looping or dangling symlink, a directory,
           an empty file and an unreadable file (skipped when running as root, where chmod
           000 does not stop reads), used as image, class-folder member, model, weights,
           --data, --backbone and --output.

Classes (hard findings make the exit status 1; soft ones are listed but do not)
  ok                exit 0 and the oracle agrees (or no oracle applies)
  clean-error       exit status non-zero (not a signal), exactly one `error:` line on stderr
                    that names the mutated file or the option at fault (ArgumentParser's
                    `Error: ...` line naming the option counts for option runs), and nothing
                    half-written (export/train: no output file, no stray temporary files)
  crash             killed by a signal (SIGILL is a Swift trap), or exit 132/133/134/135/136/139;
                    the signature is the first Mien source location of the crashed thread in
                    Swift's backtrace, else the "Fatal error" text, else (C code, e.g. libhdf5) the
                    innermost named frame and Mien line from a rerun under gdb (gdb.txt)
  hang              the wall-clock timeout was reached (except for values marked slow)
  memory            peak RSS of the mien process or of any process it started (wait4's and
                    RUSAGE_CHILDREN's ru_maxrss) above --memory-limit-mb
                    (also when the run then died on the RLIMIT_AS guard)
  messy-error       non-zero exit without exactly one error line naming the culprit, a Swift
                    "Fatal error" text, or files left behind by a failed export/train
  accepted-corrupt  exit 0 on an input the oracle refuses
  wrong-result      exit 0 but the output disagrees with the oracle (scores beyond 1e-4 of the
                    output scale, parameter counts, supports), or is missing/unparseable
  accepted-invalid  exit 0 with an option value the validity table calls invalid
  refused-valid     non-zero exit for an option value the table calls valid, or for a CSV the
                    strict oracle calls valid
  lenient-image     (soft) exit 0 on an image Pillow refuses, but Pillow's lenient decoding
                    (LOAD_TRUNCATED_IMAGES) gives the same scores
  stricter-image    (soft) mien refuses or skips an image that Pillow decodes
  lenient-hdf5      (soft) exit 0 on an .h5 that h5py's libhdf5 1.14 refuses for an integrity
                    check Debian's libhdf5 1.10 does not make (a heap object length, an
                    object header's message count or flags), when what mien read is exactly
                    the seed model (the same .mien export, byte for byte; the same scores)

Oracles (in a separate process, restarted if a corrupt file crashes it, with its own memory
limit): `.h5` files are loaded with the Keras that wrote them (keras.models.load_model for
Keras 3 files, tf_keras for tf.keras 2 files, compile=False; model_from_json + load_weights for
pairs) and `model(x)` is compared with `mien predict` on face images (Pillow-decoded, resized
with tf.image.resize bilinear as Keras's Resizing, x/255), `inspect`'s total_params with
count_params(). `.mien` files are rebuilt in Keras 3 from the `graph` metadata
(legacy model_from_config), their tensors assigned by key path (tensor names must match the
graph's weights one to one), the `input_adapter` replayed (bilinear resize, channel
replication, x*scale+offset); exit 0 on a file the oracle cannot rebuild is accepted-corrupt
only when the mutation touched something structural. Images: Pillow
(`Image.open(p).convert('L')`, LOAD_TRUNCATED_IMAGES False) plus Keras on fer_softmax.k3.h5.
CSV: a strict Python check of every row, of every usage. Options: the validity table, and
Keras's scores for accepted predict runs.

Limits: every run gets RLIMIT_AS (default max(8 GB, 4x --memory-limit-mb)), RLIMIT_FSIZE
512 MB and no core files; the oracle process gets RLIMIT_AS 8 GB. Peak memory is the
largest of mien's process tree (mien re-executes itself once with the same PID, and reads
.h5 files in a child process first).
The oracles are not perfect judges: Keras accepts some configs Mien rightly refuses (these
are clean errors, not findings); exit 0 where Keras refuses is accepted-corrupt (Mien now
refuses what Keras cannot load: unknown config keys, bad dtypes, a missing entry-level
"name", ...), apart from the soft classes above; reordered weight_names/layer_names are not held
against Mien (Keras loads legacy weights by order, Mien by name); libjpeg-turbo and Pillow
differ on some damage (the soft classes); values such as `--threshold 1.5` are "either".
Signatures: class and command, then the Swift source line (crashes), the normalized first
stderr line (messy errors; paths, numbers and quoted names normalized, so two causes with
the same message shape share a signature), the mutation family (accepted-corrupt,
wrong-result, hang, memory) or the option and the kind of value (option runs). Python code
lives only in tools/; the harness needs tensorflow, keras, tf_keras, h5py, safetensors,
Pillow and numpy (and uses gdb when installed).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import dataclasses
import io
import json
import math
import os
import tempfile
import random
import re
import resource
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# mien runs get the environment the harness was started with (minus Python's own variables).
MIEN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
# h5py in the harness (mutations, oracle): no HDF5 file locks, which a concurrently forked
# subprocess can briefly inherit and so make the next open of a mutated copy fail.
os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
FIXTURES = Path("Tests/Fixtures")
FER_SOFTMAX = "Tests/Fixtures/predict/fer_softmax.k3.h5"
FER_SIGMOID = "Tests/Fixtures/predict/fer_sigmoid.k3.h5"
NOTOP = "Weights/efficientnet_lite0_notop.h5"
BUNDLED_MIEN = "Weights/fer_happy_angry.mien"
FER_CSV = "Tests/Fixtures/faces/fer2013.csv"
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
USAGES = ["Training", "PublicTest", "PrivateTest"]

HARD_CLASSES = ["crash", "hang", "memory", "messy-error", "accepted-corrupt", "wrong-result",
                "accepted-invalid", "refused-valid"]
SOFT_CLASSES = ["lenient-image", "stricter-image", "lenient-hdf5"]
BENIGN_CLASSES = ["ok", "clean-error"]
ALL_CLASSES = BENIGN_CLASSES + HARD_CLASSES + SOFT_CLASSES
KINDS = ["h5", "mien", "image", "csv", "options", "special"]
# Share of the runs per kind (normalized over the kinds selected).
KIND_WEIGHTS = {"h5": 0.30, "mien": 0.20, "image": 0.15, "csv": 0.12, "options": 0.18, "special": 0.05}
SCORE_TOLERANCE = 1e-4
CRASH_EXIT_CODES = {132: "SIGILL", 133: "SIGTRAP", 134: "SIGABRT", 135: "SIGBUS", 136: "SIGFPE", 139: "SIGSEGV"}


# ----------------------------------------------------------------------------------------
# Small helpers


def rel(path) -> str:
    """A path as it goes on a command line: relative to the repository root when inside it."""
    p = os.path.abspath(path)
    root = str(ROOT) + os.sep
    return p[len(root):] if p.startswith(root) else p


def read_head(path, limit=1 << 20) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def short(text, n=300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def weighted_choice(rng: random.Random, items):
    """items: list of (weight, value)."""
    total = sum(w for w, _ in items)
    x = rng.uniform(0, total)
    for w, v in items:
        x -= w
        if x <= 0:
            return v
    return items[-1][1]


# ----------------------------------------------------------------------------------------
# Byte-level mutations

INTERESTING_8 = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE]
INTERESTING_32 = [0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 1, 0xFFFF, 0x10000, 0x40000000]
INTERESTING_64 = [0, 2**64 - 1, 2**63 - 1, 2**63, 2**62, 2**32, 1]


def mutate_bytes(data: bytes, rng: random.Random, region=None, ops=None) -> tuple[bytes, str]:
    """One byte-level mutation, optionally inside region (lo, hi). Returns (data, description)."""
    b = bytearray(data)
    lo, hi = region if region else (0, len(b))
    lo, hi = max(0, min(lo, len(b))), max(0, min(hi, len(b)))
    if hi <= lo:
        lo, hi = 0, len(b)
    if not b:
        return bytes(rng.randbytes(rng.randint(1, 16))), "filled an empty file with random bytes"
    op = rng.choice(ops or ["bitflip", "byteset", "int8", "int32", "int64", "insert", "delete",
                            "duplicate", "truncate", "copy"])
    at = rng.randrange(lo, hi) if hi > lo else 0
    if op == "bitflip":
        n = rng.choice([1, 1, 2, 4, 8])
        spots = []
        for _ in range(n):
            i = rng.randrange(lo, hi)
            bit = rng.randrange(8)
            b[i] ^= 1 << bit
            spots.append(f"{i}.{bit}")
        return bytes(b), f"bit flips at {','.join(spots)}"
    if op == "byteset":
        n = rng.choice([1, 2, 4, 8])
        for i in range(at, min(at + n, len(b))):
            b[i] = rng.randrange(256)
        return bytes(b), f"{n} random bytes at {at}"
    if op == "int8":
        v = rng.choice(INTERESTING_8)
        b[at] = v
        return bytes(b), f"byte {v:#x} at {at}"
    if op in ("int32", "int64"):
        width = 4 if op == "int32" else 8
        v = rng.choice(INTERESTING_32 if width == 4 else INTERESTING_64)
        order = rng.choice(["little", "big"])
        at = min(at, max(0, len(b) - width))
        b[at:at + width] = v.to_bytes(width, order)[: len(b) - at]
        return bytes(b), f"{width * 8}-bit {v:#x} ({order}) at {at}"
    if op == "insert":
        n = rng.choice([1, 4, 16, 256, 4096])
        chunk = rng.randbytes(n) if rng.random() < 0.5 else bytes([rng.choice(INTERESTING_8)]) * n
        b[at:at] = chunk
        return bytes(b), f"inserted {n} bytes at {at}"
    if op == "delete":
        n = min(rng.choice([1, 4, 16, 256, 4096]), len(b) - at)
        del b[at:at + n]
        return bytes(b), f"deleted {n} bytes at {at}"
    if op == "duplicate":
        n = min(rng.choice([4, 16, 256, 1024]), len(b) - at)
        b[at:at] = b[at:at + n]
        return bytes(b), f"duplicated {n} bytes at {at}"
    if op == "truncate":
        return bytes(b[:at]), f"truncated to {at} of {len(b)} bytes"
    # copy: overwrite a chunk with bytes from elsewhere
    n = rng.choice([4, 16, 64])
    src = rng.randrange(len(b))
    piece = b[src:src + n]
    b[at:at + len(piece)] = piece
    return bytes(b[: len(data)] if len(b) > len(data) else b), f"copied {len(piece)} bytes from {src} to {at}"


# Fixtures Keras saved but cannot load back, so the oracle has no answer for them: Keras 3's
# operation layers in .h5 ("Unknown layer: 'TrueDivide'") and ConvNeXt's LayerScale. The
# Swift tests check Mien on them against the outputs Keras gave in memory.
KERAS_CANNOT_RELOAD = {"operations.k3.h5", "preprocess_caffe.k3.h5", "convnext_block.k2.h5", "convnext_block.k3.h5"}

# ----------------------------------------------------------------------------------------
# Keras model_config mutations (shared by .h5 files, architecture JSON and .mien graphs)

EVIL_NUMBERS = [0, -1, -2, 1, 2, 1000000000, 2**31, 2**31 - 1, 2**32, 2**62, 2**63 - 1, -2**63, 2**64,
                1e9, 1.5, 0.5, -0.5, 1e308, "3", "abc", "", None, [], {}, True, [0], [1, 2, 3]]
NUMERIC_KEYS = ["filters", "units", "kernel_size", "strides", "pool_size", "dilation_rate", "padding",
                "cropping", "size", "height", "width", "batch_shape", "batch_input_shape", "rate", "axis",
                "target_shape", "dims", "depth_multiplier", "epsilon", "momentum", "max_value",
                "negative_slope", "threshold", "alpha", "shared_axes", "groups", "stddev", "scale",
                "offset", "mean", "variance", "keepdims", "use_bias", "n", "input_dim"]
CLASS_NAMES = ["Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "Activation",
               "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Flatten", "Reshape", "Add",
               "Concatenate", "Dropout", "ZeroPadding2D", "Resizing", "Rescaling", "Permute", "UpSampling2D",
               "Cropping2D", "Lambda", "Conv3D", "LSTM", "Embedding", "conv2d", "", "Functional", "Sequential",
               "InputLayer", "Model", "TFOpLambda", "Softmax"]
ACTIVATIONS = ["nope", "", None, 5, "softmax_v2", "RELU", "relu6", "hard_sigmoid", "linear", ["relu"],
               {"class_name": "ReLU", "config": {}}]


def config_layers(node, found=None):
    """Every layer entry (dict with class_name and config) inside any config.layers list."""
    if found is None:
        found = []
    if isinstance(node, dict):
        cfg = node.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("layers"), list):
            for entry in cfg["layers"]:
                if isinstance(entry, dict):
                    found.append((entry, cfg))
                    config_layers(entry, found)
    return found


def evil_value(rng: random.Random, current):
    if isinstance(current, list) and current and rng.random() < 0.5:
        new = json.loads(json.dumps(current))
        i = rng.randrange(len(new))
        if isinstance(new[i], list) and new[i] and rng.random() < 0.6:
            new[i][rng.randrange(len(new[i]))] = rng.choice(EVIL_NUMBERS)
        else:
            new[i] = rng.choice(EVIL_NUMBERS)
        return new
    if isinstance(current, list) and rng.random() < 0.3:
        return rng.choice([current[:-1], current + current[-1:], [], current * 3])
    return rng.choice(EVIL_NUMBERS)


def _keras_history_refs(nodes):
    """The mutable [name, node, tensor] lists inside inbound_nodes (both formats)."""
    refs = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("class_name") == "__keras_tensor__" and isinstance(x.get("config"), dict):
                h = x["config"].get("keras_history")
                if isinstance(h, list):
                    refs.append(h)
                return
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            if len(x) >= 3 and isinstance(x[0], str) and all(isinstance(v, int) for v in x[1:3]):
                refs.append(x)
                return
            for v in x:
                walk(v)
    walk(nodes)
    return refs


def mutate_keras_config(text: str, rng: random.Random) -> tuple[str, str, str]:
    """Mutates a model_config JSON text. Returns (new text, family, detail)."""
    cfg = json.loads(text)
    layers = config_layers(cfg)
    if not layers:
        return text[: len(text) // 2], "config.truncate", "no layers found; truncated the JSON"
    functional = [(e, c) for e, c in layers if "inbound_nodes" in e and e.get("inbound_nodes")]
    ops = [(5, "number"), (2, "delete_key"), (2, "class_name"), (1, "activation"), (1, "padding_mode"),
           (1, "layers_list"), (1, "type_confusion"), (1, "name"), (0.5, "deep_nesting"), (0.5, "text"),
           (0.5, "data_format")]
    if functional:
        ops += [(1, "inbound_kwargs"), (1, "inbound_const"), (1.5, "inbound_dangling"), (1, "inbound_cycle"),
                (0.5, "inbound_empty"), (0.5, "io_layers")]
    op = weighted_choice(rng, ops)
    entry, container = rng.choice(layers)
    lcfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    lname = lcfg.get("name", entry.get("name", "?"))
    cls = entry.get("class_name")
    deep = None
    if op == "number":
        # Prefer a layer that has one of the numeric keys.
        candidates = [(e, k) for e, _ in layers if isinstance(e.get("config"), dict)
                      for k in NUMERIC_KEYS if k in e["config"]]
        if candidates:
            entry, key = rng.choice(candidates)
            lcfg = entry["config"]
            lname, cls = lcfg.get("name", "?"), entry.get("class_name")
        else:
            key = rng.choice(NUMERIC_KEYS)
        old = lcfg.get(key, "(absent)")
        lcfg[key] = evil_value(rng, old)
        detail = f"{cls} '{lname}': {key} {json.dumps(old)} -> {json.dumps(lcfg[key])}"
        family = f"config.number:{cls}.{key}" if old != "(absent)" else "config.unknown_key"
    elif op == "delete_key":
        if rng.random() < 0.3:
            key = rng.choice(["class_name", "config", "inbound_nodes", "name"])
            entry.pop(key, None)
            detail, family = f"deleted layer entry key {key} of '{lname}'", f"config.delete_entry_key:{key}"
        else:
            keys = list(lcfg)
            key = rng.choice(keys) if keys else "name"
            lcfg.pop(key, None)
            detail, family = f"deleted {cls} '{lname}' config key {key}", f"config.delete_key:{cls}.{key}"
    elif op == "class_name":
        new = rng.choice(CLASS_NAMES)
        entry["class_name"] = new
        detail, family = f"'{lname}' class {cls} -> {new!r}", "config.class_name"
    elif op in ("activation", "padding_mode", "data_format"):
        key = {"activation": "activation", "padding_mode": "padding", "data_format": "data_format"}[op]
        new = rng.choice({"activation": ACTIVATIONS, "padding_mode": ["full", "causal", "SAME", "", 5, None, "reflect"],
                          "data_format": ["channels_first", "x", None, ""]}[op])
        # Prefer a layer that has the key: a key the layer does not take is an unknown argument.
        having = [e for e, _ in layers if isinstance(e.get("config"), dict) and key in e["config"]]
        if having and rng.random() < 0.8:
            entry = rng.choice(having)
            lcfg = entry["config"]
            lname, cls = lcfg.get("name", "?"), entry.get("class_name")
        known = key in lcfg
        lcfg[key] = new
        detail = f"{cls} '{lname}' {key} -> {json.dumps(new)}" + ("" if known else " (a key it does not take)")
        family = f"config.{op}" if known else "config.unknown_key"
    elif op == "layers_list":
        lst = container["layers"]
        how = rng.choice(["remove", "duplicate", "swap", "empty", "reverse"])
        i = rng.randrange(len(lst))
        if how == "remove":
            del lst[i]
        elif how == "duplicate":
            lst.insert(i, json.loads(json.dumps(lst[i])))
        elif how == "swap" and len(lst) > 1:
            j = rng.randrange(len(lst))
            lst[i], lst[j] = lst[j], lst[i]
        elif how == "empty":
            lst.clear()
        else:
            lst.reverse()
        detail, family = f"layers list: {how} (index {i} of {container.get('name', '?')})", f"config.layers_list:{how}"
    elif op == "type_confusion":
        target = rng.choice(["config", "layers", "top"])
        new = rng.choice([[], "x", 5, None, {}])
        if target == "config":
            entry["config"] = new
        elif target == "layers":
            container["layers"] = new if not isinstance(new, list) else {}
        else:
            cfg["config"] = new
        detail, family = f"{target} of '{lname}' replaced by {json.dumps(new)}", f"config.type_confusion:{target}"
    elif op == "name":
        first_cfg = layers[0][0].get("config")
        duplicate = first_cfg.get("name", "dup") if isinstance(first_cfg, dict) else "dup"
        new = rng.choice(["a/b", "", "x" * 5000, "é\u0000", "../../etc", duplicate])
        lcfg["name"] = new
        if "name" in entry:
            entry["name"] = new
        detail, family = f"{cls} '{lname}' renamed to {json.dumps(new)[:40]}", "config.name"
    elif op == "deep_nesting":
        key = rng.choice(["kernel_size", "units", "axis", "extra"])
        lcfg[key] = "__MIEN_FUZZ_DEEP__"
        deep = rng.choice([1000, 100000, 1000000])
        detail, family = f"{cls} '{lname}' {key} -> {deep}-deep nested list", "config.deep_nesting"
    elif op == "text":
        out = json.dumps(cfg)
        how = rng.choice(["truncate", "garbage", "nan", "number", "utf8"])
        if how == "truncate":
            out = out[: rng.randrange(1, len(out))]
        elif how == "garbage":
            i = rng.randrange(len(out))
            out = out[:i] + rng.choice(["}", "]", ",", "\"", "\\", "\u0000", "{{"]) + out[i:]
        elif how == "nan":
            out = out.replace("1", "NaN", 1) if "1" in out else out + "NaN"
        elif how == "number":
            out = rng.choice(["5", "null", "[]", "\"x\"", "{}"])
        else:
            out = out.replace("\"name\"", "\"na\udcffme\"", 1)   # a raw 0xFF byte once encoded
        return out, f"config.text:{how}", f"JSON text {how}"
    elif op == "inbound_kwargs":
        e, _ = rng.choice(functional)
        nodes = e["inbound_nodes"]
        kwargs = rng.choice([{"training": True}, {"mask": None}, {"foo": 1}, {"alpha": 3.0}, {"scale": "x"}])
        node = nodes[0]
        if isinstance(node, dict):
            node.setdefault("kwargs", {}).update(kwargs)
        elif isinstance(node, list) and node and isinstance(node[0], list):
            if len(node[0]) >= 4 and isinstance(node[0][3], dict):
                node[0][3].update(kwargs)
            else:
                node[0].append(kwargs)
        detail, family = f"inbound kwargs {json.dumps(kwargs)} on '{e.get('name')}'", "config.inbound_kwargs"
    elif op == "inbound_const":
        e, _ = rng.choice(functional)
        node = e["inbound_nodes"][0]
        const = rng.choice([5, 0.5, "x", None, [1, 2], {"class_name": "__keras_tensor__", "config": {}}])
        if isinstance(node, dict):
            args = node.setdefault("args", [])
            if isinstance(args, list):
                args.append(const)
        elif isinstance(node, list):
            node.append(const if rng.random() < 0.5 else ["__const__", 0, 0, {}])
        detail, family = f"constant argument {json.dumps(const)} added to '{e.get('name')}'", "config.inbound_const"
    elif op == "inbound_dangling":
        e, _ = rng.choice(functional)
        refs = _keras_history_refs(e["inbound_nodes"])
        if refs:
            ref = rng.choice(refs)
            how = rng.choice(["name", "node", "tensor", "negative", "type"])
            if how == "name":
                ref[0] = rng.choice(["no_such_layer", "", e.get("name", "x") + "_"])
            elif how == "node":
                ref[1] = rng.choice([1, 5, 2**31, 2**62])
            elif how == "tensor":
                ref[2] = rng.choice([1, 7, 2**31])
            elif how == "negative":
                ref[rng.choice([1, 2])] = -1
            else:
                ref[1] = rng.choice(["0", None, 0.5])
            detail = f"inbound reference of '{e.get('name')}' -> {json.dumps(ref)}"
            family = f"config.inbound_dangling:{how}"
        else:
            e["inbound_nodes"] = [[["no_such_layer", 0, 0, {}]]]
            detail, family = f"inbound of '{e.get('name')}' -> no_such_layer", "config.inbound_dangling:name"
    elif op == "inbound_cycle":
        e, cont = rng.choice(functional)
        refs = _keras_history_refs(e["inbound_nodes"])
        names = [x.get("name") or (x.get("config") or {}).get("name") for x in cont.get("layers", [])
                 if isinstance(x, dict)]
        target = rng.choice([e.get("name"), names[-1] if names else e.get("name")])
        if refs:
            rng.choice(refs)[0] = target
        detail, family = f"inbound of '{e.get('name')}' -> '{target}' (cycle)", "config.inbound_cycle"
    elif op == "inbound_empty":
        e, _ = rng.choice(functional)
        e["inbound_nodes"] = rng.choice([[], [[]], [{}], None, [{"args": [], "kwargs": {}}]])
        detail = f"inbound_nodes of '{e.get('name')}' -> {json.dumps(e['inbound_nodes'])}"
        family = "config.inbound_empty"
    else:  # io_layers
        c = rng.choice([c for _, c in functional])
        key = rng.choice(["input_layers", "output_layers"])
        c[key] = rng.choice([[], [["no_such_layer", 0, 0]], ["no_such_layer", 0, 0], [[None, 0, 0]],
                             None, [[c.get("layers", [{}])[-1].get("name", "x"), 3, 0]]])
        detail, family = f"{key} -> {json.dumps(c[key])}", f"config.io_layers:{key}"
    out = json.dumps(cfg)
    if deep is not None:
        out = out.replace('"__MIEN_FUZZ_DEEP__"', "[" * deep + "]" * deep)
    return out, family, detail


# ----------------------------------------------------------------------------------------
# HDF5 mutations (h5py on a pristine copy; byte flips aimed at the global heap)


def h5_datasets(f):
    import h5py
    names = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def h5_weight_groups(f):
    import h5py
    groups = []
    f.visititems(lambda n, o: groups.append(n) if isinstance(o, h5py.Group) and "weight_names" in o.attrs else None)
    return groups


def mutate_h5_weights(path: str, rng: random.Random) -> tuple[str, str]:
    """Structure-aware mutation of the weights in an HDF5 file. Returns (family, detail)."""
    import h5py
    import numpy as np
    with h5py.File(path, "r+") as f:
        names = h5_datasets(f)
        groups = h5_weight_groups(f)
        ops = ["reshape", "dtype", "delete", "nan", "huge", "rename", "group", "softlink"]
        if groups:
            ops += ["weight_names", "weight_names"]
        if "layer_names" in f.attrs or ("model_weights" in f and "layer_names" in f["model_weights"].attrs):
            ops.append("layer_names")
        if not names:
            ops = [o for o in ops if o in ("weight_names", "layer_names")] or ["layer_names"]
        op = rng.choice(ops)
        if op in ("reshape", "dtype", "delete", "nan", "huge", "rename", "group", "softlink"):
            name = rng.choice(names)
            data = f[name][()]
            if op == "reshape":
                shape = data.shape
                choices = [shape[::-1], shape + (1,), shape[1:] or (1,), (0,), (), (data.size,),
                           tuple(d + 1 if i == 0 else d for i, d in enumerate(shape)) or (2,),
                           tuple(max(d - 1, 0) if i == len(shape) - 1 else d for i, d in enumerate(shape)) or (0,)]
                new_shape = rng.choice([c for c in choices if c != shape] or [(0,)])
                if new_shape == ():
                    new = np.asarray(data.flat[0] if data.size else 0, dtype=data.dtype)
                else:
                    new = np.resize(data, new_shape) if data.size else np.zeros(new_shape, data.dtype)
                del f[name]
                f.create_dataset(name, data=new)
                return "h5.weights.reshape", f"{name}: shape {shape} -> {new_shape}"
            if op == "dtype":
                dt = rng.choice(["f8", "f2", "i4", "i1", "u1", "?", "S8", "c8"])
                new = data.astype(dt) if dt != "S8" else np.char.mod("%g", data.astype("f8")).astype("S8")
                del f[name]
                f.create_dataset(name, data=new)
                return "h5.weights.dtype", f"{name}: dtype {data.dtype} -> {dt}"
            if op == "delete":
                del f[name]
                return "h5.weights.delete", f"deleted {name}"
            if op == "nan":
                new = np.array(data, dtype=data.dtype, copy=True)
                if new.size and new.dtype.kind == "f":
                    new.flat[rng.randrange(new.size)] = rng.choice([np.nan, np.inf, -np.inf, 3e38])
                f[name][...] = new
                return "h5.weights.nonfinite", f"{name}: a NaN/inf/3e38 value"
            if op == "huge":
                shape = rng.choice([(1 << 20, 1 << 20), (1 << 31,), (1 << 14,) * 3,
                                    tuple(d * 65536 if i == 0 else d for i, d in enumerate(data.shape)) or (1 << 30,)])
                del f[name]
                f.create_dataset(name, shape=shape, dtype="f4", chunks=tuple(min(s, 64) for s in shape), fillvalue=1.0)
                return "h5.weights.huge", f"{name}: lazily allocated shape {shape}"
            if op == "rename":
                f.move(name, name + "_renamed")
                return "h5.weights.rename", f"{name} -> {name}_renamed"
            if op == "group":
                del f[name]
                f.create_group(name)
                return "h5.weights.group", f"{name} is now a group"
            target = rng.choice(["/no/such/thing", "/" + name, "/"])
            del f[name]
            f[name] = h5py.SoftLink(target)
            return "h5.weights.softlink", f"{name} -> soft link to {target}"
        if op == "weight_names":
            g = f[rng.choice(groups)]
            old = [x.decode() if isinstance(x, bytes) else str(x) for x in g.attrs["weight_names"]]
            how = rng.choice(["drop", "add", "reverse", "empty", "ints", "rename"])
            if how == "ints":
                g.attrs["weight_names"] = np.arange(len(old) + 1)
            else:
                new = {"drop": old[:-1], "add": old + ["no_such_weight:0"], "reverse": old[::-1], "empty": [],
                       "rename": [o + "x" for o in old]}[how]
                g.attrs["weight_names"] = np.array([s.encode() for s in new], dtype="S") if new else np.array([], "S1")
            return f"h5.weight_names:{how}", f"{g.name} weight_names {how} (was {old})"
        holder = f if "layer_names" in f.attrs else f["model_weights"]
        old = [x.decode() if isinstance(x, bytes) else str(x) for x in holder.attrs["layer_names"]]
        how = rng.choice(["drop", "add", "reverse", "empty"])
        new = {"drop": old[1:], "add": old + ["no_such_layer"], "reverse": old[::-1], "empty": []}[how]
        holder.attrs["layer_names"] = np.array([s.encode() for s in new], dtype="S") if new else np.array([], "S1")
        return f"h5.layer_names:{how}", f"{holder.name} layer_names {how}"


def mutate_h5_attrs(path: str, rng: random.Random) -> tuple[str, str]:
    import h5py
    import numpy as np
    with h5py.File(path, "r+") as f:
        how = rng.choice(["keras_version", "backend", "delete_config", "config_bytes", "config_int", "config_array"])
        if how == "keras_version":
            v = rng.choice(["1.2.2", "", "99.0", "abc", "2", "3"])
            f.attrs["keras_version"] = v
            return "h5.attr.keras_version", f"keras_version -> {v!r}"
        if how == "backend":
            f.attrs["backend"] = rng.choice(["theano", "", "jax"])
            return "h5.attr.backend", "backend changed"
        if "model_config" not in f.attrs:
            f.attrs["keras_version"] = "1.0"
            return "h5.attr.keras_version", "keras_version -> 1.0"
        text = f.attrs["model_config"]
        text = text.decode() if isinstance(text, bytes) else str(text)
        if how == "delete_config":
            del f.attrs["model_config"]
            return "h5.attr.model_config_deleted", "model_config attribute deleted"
        if how == "config_bytes":
            f.attrs["model_config"] = np.bytes_(text.encode())
            return "h5.attr.model_config_fixed_length", "model_config as a fixed-length byte string (same JSON)"
        if how == "config_int":
            f.attrs["model_config"] = 5
            return "h5.attr.model_config_int", "model_config is the integer 5"
        f.attrs["model_config"] = np.array([text.encode(), b"{}"], dtype=object)
        return "h5.attr.model_config_array", "model_config is an array of two strings"


def set_h5_config(path: str, text: str):
    """Stores a (mutated) model_config as Keras does, a variable-length string; text that is not
    valid UTF-8 (surrogate escapes) or holds NUL is stored as raw bytes."""
    import h5py
    import numpy as np
    with h5py.File(path, "r+") as f:
        try:
            if "\x00" in text:
                raise ValueError("NUL")
            text.encode("utf-8")
            f.attrs["model_config"] = text
        except (ValueError, UnicodeEncodeError):
            raw = text.encode("utf-8", "surrogateescape")
            if b"\x00" in raw:
                # Variable-length strings cannot hold NUL: a fixed-length one can.
                f.attrs["model_config"] = np.bytes_(raw)
            else:
                f.attrs.create("model_config", np.array(raw, dtype=object), dtype=h5py.string_dtype("ascii"))


def heap_flip(data: bytes, rng: random.Random) -> tuple[bytes, str, str]:
    """Byte flips near the model_config text in the file (the HDF5 global heap)."""
    start = data.find(b'{"class_name"')
    if start < 0:
        start = data.find(b"model_config")
    if start < 0:
        out, detail = mutate_bytes(data, rng)
        return out, "h5.heap:not_found", "no model_config text found; " + detail
    depth, end = 0, start
    for i in range(start, min(len(data), start + 4_000_000)):
        c = data[i]
        if c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth -= 1
            if depth == 0:
                end = i + 1
                break
    gcol = data.rfind(b"GCOL", 0, start)
    attr = data.find(b"model_config")
    where = rng.choice(["before", "before", "inside", "after", "gcol", "attribute_message"])
    if where == "before":
        region = (max(0, start - 16), start)
    elif where == "inside":
        region = (start, max(start + 1, end))
    elif where == "after":
        region = (end, min(len(data), end + 48))
    elif where == "gcol" and gcol >= 0:
        region = (gcol, gcol + 24)
    elif attr >= 0:
        where = "attribute_message"
        region = (attr, min(len(data), attr + 80))
    else:
        where, region = "before", (max(0, start - 16), start)
    b = bytearray(data)
    spots = []
    for _ in range(rng.choice([1, 1, 2, 4])):
        i = rng.randrange(region[0], max(region[0] + 1, region[1]))
        i = min(i, len(b) - 1)
        how = rng.choice(["flip", "ff", "zero", "random"])
        b[i] = {"flip": b[i] ^ (1 << rng.randrange(8)), "ff": 0xFF, "zero": 0, "random": rng.randrange(256)}[how]
        spots.append(f"{i}:{how}")
    detail = f"model_config text at {start}..{end}, GCOL at {gcol}; bytes {', '.join(spots)}"
    return bytes(b), f"h5.heap:{where}", detail


# ----------------------------------------------------------------------------------------
# Safetensors (.mien) mutations


def parse_safetensors(data: bytes):
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    return n, header, data[8 + n:]


def build_safetensors(header: dict, body: bytes, text: str | None = None) -> bytes:
    raw = (text if text is not None else json.dumps(header, separators=(",", ":"))).encode("utf-8", "surrogateescape")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def mutate_adapter(text: str, rng: random.Random) -> tuple[str, str]:
    try:
        a = json.loads(text)
    except ValueError:
        return "{", "adapter JSON truncated"
    if not isinstance(a, dict):
        return "5", "adapter replaced by 5"
    how = rng.choice(["size", "size", "size", "scale", "interp", "delete", "type", "channels"])
    if how in ("size", "channels"):
        key = rng.choice(["inputSize", "outputSize"])
        val = a.get(key) if isinstance(a.get(key), list) else [48, 48, 1]
        i = 2 if how == "channels" else rng.randrange(len(val) or 1)
        new = rng.choice([0, -1, 2**62, 100000, 1, 2, 3, 4, 1.5, "x", None, 2**31, 65536])
        if rng.random() < 0.15:
            val = rng.choice([[], [48, 48], [48, 48, 1, 1], None, "48"])
            a[key] = val
            return json.dumps(a), f"adapter {key} -> {json.dumps(val)}"
        if i < len(val):
            val[i] = new
        a[key] = val
        return json.dumps(a), f"adapter {key}[{i}] -> {json.dumps(new)}"
    if how == "scale":
        key = rng.choice(["scale", "offset"])
        new = rng.choice([0, -1, 1e38, 1e39, "nan", "x", None, 2**64])
        a[key] = new if new != "nan" else float("nan")
        return json.dumps(a), f"adapter {key} -> {new}"
    if how == "interp":
        new = rng.choice(["nearest", "bicubic", "", "area", None, 3])
        a["interpolation"] = new
        return json.dumps(a), f"adapter interpolation -> {json.dumps(new)}"
    if how == "delete":
        key = rng.choice(list(a) or ["scale"])
        a.pop(key, None)
        return json.dumps(a), f"adapter key {key} deleted"
    new = rng.choice(["[]", "null", "\"x\"", "{}", "{\"inputSize\":"])
    return new, f"adapter JSON -> {new}"


def mutate_mien(data: bytes, rng: random.Random) -> tuple[bytes, str, str, bool]:
    """Returns (new data, family, detail, structural)."""
    n, header, body = parse_safetensors(data)
    meta = header.get("__metadata__", {})
    tensors = [k for k in header if k != "__metadata__"]
    family = weighted_choice(rng, [(4, "graph"), (2, "adapter"), (1, "classes"), (1.5, "meta"), (2.5, "tensor"),
                                   (0.7, "header_len"), (0.8, "header_text"), (1.5, "data"), (1.5, "bytes")])
    if family == "graph":
        text, fam, detail = mutate_keras_config(meta["graph"], rng)
        meta["graph"] = text
        return build_safetensors(header, body), "mien.graph/" + fam, detail, True
    if family == "adapter":
        meta["input_adapter"], detail = mutate_adapter(meta.get("input_adapter", "{}"), rng)
        return build_safetensors(header, body), "mien.adapter", detail, True
    if family == "classes":
        new = rng.choice(["[]", "[\"a\"]", "[\"a\",\"b\",\"c\",\"d\",\"e\"]", "not json", "[1,2,3]", "[null]",
                          "[\"a\",\"a\",\"b\"]", "{}", json.dumps(["c%d" % i for i in range(100000)]), "[\"\",\"\"]"])
        meta["classes"] = new
        return build_safetensors(header, body), "mien.classes", f"classes -> {new[:60]}", True
    if family == "meta":
        key = rng.choice(["format", "format_version", "format_version", "keras_version", "source", "training",
                          "training", "test_time_augmentation", "__metadata__", "not_string"])
        if key == "__metadata__":
            if rng.random() < 0.5:
                header.pop("__metadata__", None)
                return build_safetensors(header, body), "mien.meta:deleted", "__metadata__ deleted", True
            header["__metadata__"] = rng.choice([[], "x", None])
            return build_safetensors(header, body), "mien.meta:type", "__metadata__ not an object", True
        if key == "not_string":
            k = rng.choice(list(meta))
            meta[k] = rng.choice([5, None, [1], {"a": 1}])
            return build_safetensors(header, body), "mien.meta:not_string", f"metadata {k} not a string", True
        values = {"format": ["mienx", "", "safetensors", "MIEN"],
                  "format_version": ["3", "2", "0", "", "1.0", "-1", "x", "99999999999999999999", None],
                  "test_time_augmentation": ["mirror", "none", "flip", "", "Mirror", None],
                  "keras_version": ["1", "", "2", "x"],
                  "source": ["", "x" * 100000, "../../etc/passwd"],
                  "training": ["garbage", "{}", "[]", "{\"history\": 5}", "[" * 100000 + "]" * 100000,
                               "{\"history\":{\"bestEpoch\":-1,\"epochs\":[]}}"]}[key]
        new = rng.choice(values)
        if new is None:
            meta.pop(key, None)
        else:
            meta[key] = new
        structural = key in ("format", "format_version", "test_time_augmentation")
        return (build_safetensors(header, body), f"mien.meta:{key}",
                f"{key} -> {'deleted' if new is None else repr(new[:40])}", structural)
    if family == "tensor":
        name = rng.choice(tensors)
        t = header[name]
        how = rng.choice(["shape", "shape", "dtype", "offsets", "offsets", "delete", "add", "rename", "dupkey"])
        if how == "shape":
            shape = list(t["shape"])
            choice = rng.choice(["zero", "neg", "huge", "plus", "extra", "drop", "empty", "swap", "float"])
            if choice == "zero" and shape:
                shape[rng.randrange(len(shape))] = 0
            elif choice == "neg" and shape:
                shape[rng.randrange(len(shape))] = -1
            elif choice == "huge" and shape:
                shape[rng.randrange(len(shape))] = rng.choice([2**62, 2**63 - 1, 2**64 + 3, 2**32])
            elif choice == "plus" and shape:
                shape[-1] += 1
            elif choice == "extra":
                shape.append(1)
            elif choice == "drop" and shape:
                shape.pop()
            elif choice == "empty":
                shape = []
            elif choice == "swap" and len(shape) > 1:
                shape = shape[::-1]
            else:
                shape = [float(s) + 0.5 for s in shape] or [1.5]
            t["shape"] = shape
            return build_safetensors(header, body), f"mien.tensor.shape:{choice}", f"{name} shape -> {shape}", True
        if how == "dtype":
            new = rng.choice(["F16", "F64", "I32", "BF16", "U8", "X9", "", "f32", 5])
            t["dtype"] = new
            return build_safetensors(header, body), "mien.tensor.dtype", f"{name} dtype -> {new}", True
        if how == "offsets":
            b, e = t["data_offsets"]
            choice = rng.choice(["swap", "past_end", "negative", "huge", "overlap", "gap", "shift", "float"])
            new = {"swap": [e, b], "past_end": [b, len(body) + 4], "negative": [-4, e], "huge": [b, 2**64 - 1],
                   "overlap": [max(0, b - 4), e - 4], "gap": [b + 4, e + 4], "shift": [b + 1, e + 1],
                   "float": [b + 0.5, e]}[choice]
            t["data_offsets"] = new
            return (build_safetensors(header, body), f"mien.tensor.offsets:{choice}", f"{name} data_offsets -> {new}",
                    True)
        if how == "delete":
            del header[name]
            return build_safetensors(header, body), "mien.tensor.delete", f"tensor {name} entry deleted", True
        if how == "add":
            header["extra/unused"] = {"dtype": "F32", "shape": [0], "data_offsets": [len(body), len(body)]}
            return build_safetensors(header, body), "mien.tensor.add", "extra empty tensor extra/unused", True
        if how == "rename":
            header[name + "x"] = header.pop(name)
            return build_safetensors(header, body), "mien.tensor.rename", f"{name} -> {name}x", True
        text = json.dumps(header, separators=(",", ":"))
        dup = json.dumps({name: header[name]}, separators=(",", ":"))[1:-1]
        text = text[:-1] + "," + dup.replace("\"data_offsets\":[", "\"data_offsets\":[0,0,", 1) + "}"
        return build_safetensors(header, body, text), "mien.tensor.dupkey", f"duplicate key {name} in header", True
    if family == "header_len":
        new = rng.choice([0, 1, 7, n - 1, n + 1, n + 8, len(data), len(data) + 1, 2**63, 2**64 - 1, 2**32])
        return struct.pack("<Q", new) + data[8:], "mien.header_len", f"header length {n} -> {new}", True
    if family == "header_text":
        raw = data[8:8 + n]
        how = rng.choice(["truncate", "utf8", "padding", "deep", "nul", "bom"])
        if how == "truncate":
            raw2 = raw[: rng.randrange(1, max(2, len(raw)))]
            return (struct.pack("<Q", len(raw2)) + raw2 + body, "mien.header_text:truncate", "header JSON truncated",
                    True)
        if how == "utf8":
            i = rng.randrange(len(raw))
            raw2 = raw[:i] + b"\xff\xfe" + raw[i:]
        elif how == "padding":
            raw2 = raw + b" " * rng.choice([8, 4096, 1 << 20])
        elif how == "deep":
            d = rng.choice([10000, 1000000])
            raw2 = raw.rstrip()[:-1] + b",\"deep\":" + b"[" * d + b"]" * d + b"}"
        elif how == "nul":
            raw2 = raw + b"\x00" * 8
        else:
            raw2 = b"\xef\xbb\xbf" + raw
        return (struct.pack("<Q", len(raw2)) + raw2 + body, f"mien.header_text:{how}", f"header text {how}",
                how != "padding")
    if family == "data":
        if not body:
            return data, "mien.data", "no data", False
        out, detail = mutate_bytes(data, rng, region=(8 + n, len(data)), ops=["bitflip", "byteset", "int8", "int32"])
        return out, "mien.data", "weights region: " + detail, False
    region = (0, 8 + n) if rng.random() < 0.7 else None
    out, detail = mutate_bytes(data, rng, region=region)
    return out, "mien.bytes" + (":header" if region else ""), detail, True


# ----------------------------------------------------------------------------------------
# Image mutations


def jpeg_segments(data: bytes):
    """(marker, offset of the marker, segment length) up to SOS."""
    segs = []
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        segs.append((marker, i, length))
        if marker == 0xDA:
            break
        i += 2 + length
    return segs


def mutate_jpeg(data: bytes, rng: random.Random) -> tuple[bytes, str, str]:
    segs = jpeg_segments(data)
    sofs = [s for s in segs if 0xC0 <= s[0] <= 0xCF and s[0] not in (0xC4, 0xC8, 0xCC)]
    b = bytearray(data)
    how = rng.choice(["size", "size", "precision", "components", "sampling", "table", "segment_length", "sos"])
    if not sofs:
        out, detail = mutate_bytes(data, rng)
        return out, "jpeg.no_sof", detail
    _, at, _ = sofs[0]
    if how == "size":
        field = rng.choice(["height", "width", "both"])
        v = rng.choice([0, 1, 65535, 65500, 16385, 2, 48 * 100])
        if field in ("height", "both"):
            b[at + 5:at + 7] = struct.pack(">H", v)
        if field in ("width", "both"):
            b[at + 7:at + 9] = struct.pack(">H", v)
        return bytes(b), f"jpeg.sof.{field}", f"SOF {field} -> {v}"
    if how == "precision":
        v = rng.choice([0, 12, 16, 255])
        b[at + 4] = v
        return bytes(b), "jpeg.sof.precision", f"SOF precision -> {v}"
    if how == "components":
        v = rng.choice([0, 2, 4, 255])
        b[at + 9] = v
        return bytes(b), "jpeg.sof.components", f"SOF component count -> {v}"
    if how == "sampling":
        v = rng.choice([0x00, 0x44, 0xFF, 0x13, 0x31])
        b[at + 11] = v
        return bytes(b), "jpeg.sof.sampling", f"SOF first component sampling -> {v:#x}"
    if how == "table":
        v = rng.choice([3, 4, 255])
        b[at + 12] = v
        return bytes(b), "jpeg.sof.quant_table", f"SOF first component quant table -> {v}"
    if how == "segment_length":
        marker, sat, length = rng.choice(segs)
        v = rng.choice([0, 1, 2, 65535, length + 1, max(0, length - 1)])
        b[sat + 2:sat + 4] = struct.pack(">H", v)
        return bytes(b), "jpeg.segment_length", f"segment {marker:#x} length {length} -> {v}"
    sos = [s for s in segs if s[0] == 0xDA]
    if sos:
        _, sat, _ = sos[0]
        v = rng.choice([0, 2, 4, 255])
        b[sat + 4] = v
        return bytes(b), "jpeg.sos.components", f"SOS component count -> {v}"
    out, detail = mutate_bytes(data, rng)
    return out, "jpeg.bytes", detail


def png_chunks(data: bytes):
    chunks = []
    i = 8
    while i + 8 <= len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        ctype = data[i + 4:i + 8]
        body = data[i + 8:i + 8 + length]
        chunks.append([ctype, body])
        i += 12 + length
        if ctype == b"IEND":
            break
    return chunks


def png_build(chunks, fix_crc=True) -> bytes:
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    for ctype, body in chunks:
        out += struct.pack(">I", len(body)) + ctype + body
        crc = zlib.crc32(ctype + body) & 0xFFFFFFFF
        out += struct.pack(">I", crc if fix_crc else crc ^ 0x1)
    return bytes(out)


def mutate_png(data: bytes, rng: random.Random) -> tuple[bytes, str, str]:
    chunks = png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) < 13:
        out, detail = mutate_bytes(data, rng)
        return out, "png.bytes", detail
    ihdr = bytearray(chunks[0][1])
    how = rng.choice(["size", "size", "size", "depth", "color", "method", "idat_filter", "idat_short", "idat_extra",
                      "chunk_drop", "chunk_dup", "crc"])
    if how == "size":
        field = rng.choice(["width", "height", "both"])
        v = rng.choice([0, 1, 2**31 - 1, 2**31, 0xFFFFFFFF, 100000, 16385, 20000])
        if field in ("width", "both"):
            ihdr[0:4] = struct.pack(">I", v)
        if field in ("height", "both"):
            ihdr[4:8] = struct.pack(">I", v)
        chunks[0][1] = bytes(ihdr)
        return png_build(chunks), f"png.ihdr.{field}", f"IHDR {field} -> {v} (CRC fixed)"
    if how == "depth":
        v = rng.choice([0, 3, 7, 16, 32, 255])
        ihdr[8] = v
        chunks[0][1] = bytes(ihdr)
        return png_build(chunks), "png.ihdr.bit_depth", f"IHDR bit depth -> {v}"
    if how == "color":
        v = rng.choice([1, 5, 7, 255, 3, 4, 6, 0, 2])
        ihdr[9] = v
        chunks[0][1] = bytes(ihdr)
        return png_build(chunks), "png.ihdr.color_type", f"IHDR color type -> {v}"
    if how == "method":
        i = rng.choice([10, 11, 12])
        ihdr[i] = rng.choice([1, 2, 255])
        chunks[0][1] = bytes(ihdr)
        return png_build(chunks), "png.ihdr.method", f"IHDR byte {i} -> {ihdr[i]}"
    idats = [i for i, c in enumerate(chunks) if c[0] == b"IDAT"]
    if how.startswith("idat") and idats:
        raw = b"".join(chunks[i][1] for i in idats)
        try:
            plain = bytearray(zlib.decompress(raw))
        except zlib.error:
            plain = None
        if plain:
            width, height = struct.unpack(">II", bytes(ihdr[:8]))
            depth, color = ihdr[8], ihdr[9]
            channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color, 1)
            stride = 1 + (width * channels * depth + 7) // 8
            if how == "idat_filter":
                rows = max(1, len(plain) // max(stride, 1))
                row = rng.randrange(rows)
                v = rng.choice([5, 6, 127, 255])
                if row * stride < len(plain):
                    plain[row * stride] = v
                detail = f"scanline {row} filter byte -> {v} (recompressed)"
            elif how == "idat_short":
                cut = rng.choice([1, stride, stride * 2, len(plain) // 2])
                plain = plain[: max(0, len(plain) - cut)]
                detail = f"decompressed data {cut} bytes short (recompressed)"
            else:
                plain += bytes(rng.choice([1, stride, 1 << 20]))
                detail = "extra decompressed data (recompressed)"
            new = zlib.compress(bytes(plain))
            first = idats[0]
            chunks = [c for i, c in enumerate(chunks) if i not in idats[1:]]
            chunks[first][1] = new
            return png_build(chunks), f"png.{how}", detail
    if how == "chunk_drop" and len(chunks) > 1:
        i = rng.randrange(len(chunks))
        name = chunks[i][0].decode("latin-1")
        del chunks[i]
        return png_build(chunks), f"png.chunk_drop:{name}", f"chunk {name} removed"
    if how == "chunk_dup":
        i = rng.randrange(len(chunks))
        chunks.insert(i, list(chunks[i]))
        return png_build(chunks), "png.chunk_dup", f"chunk {chunks[i][0].decode('latin-1')} duplicated"
    return png_build(chunks, fix_crc=False), "png.crc", "all CRCs wrong"


# ----------------------------------------------------------------------------------------
# CSV mutations and the strict oracle


def csv_mutate(text: str, rng: random.Random) -> tuple[bytes, str, str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        data, detail = mutate_bytes(text.encode("utf-8", "surrogateescape"), rng)
        return data, "csv.bytes", detail
    header, rows = lines[0], lines[1:]
    op = weighted_choice(rng, [(1, "fields"), (1.5, "emotion"), (1.5, "usage"), (1.5, "pixel_count"),
                               (1.5, "pixel_value"), (0.7, "pixel_sep"), (1, "quote"), (0.6, "line_endings"),
                               (0.5, "long_line"), (0.4, "empty"), (0.4, "header_only"), (0.8, "header"),
                               (0.4, "bom"), (0.4, "nul"), (0.5, "utf8"), (0.3, "blank_lines"),
                               (0.3, "no_final_newline"), (0.3, "duplicate_rows"), (1, "bytes")])
    r = rng.randrange(len(rows))
    fields = rows[r].split(",")
    while len(fields) < 3:          # a row already cut short by an earlier mutation
        fields.append("")
    usage = fields[2] if len(fields) > 2 else "?"
    where = f"line {r + 2} ({usage})"

    def done(new_rows, detail, hdr=header, end="\n"):
        return (end.join([hdr] + new_rows) + end).encode("utf-8", "surrogateescape"), f"csv.{op}", detail

    if op == "fields":
        if rng.random() < 0.5:
            rows[r] += ",x"
            return done(rows, f"{where}: extra field")
        rows[r] = ",".join(fields[:2])
        return done(rows, f"{where}: Usage field missing")
    if op == "emotion":
        v = rng.choice(["7", "-1", "", "x", "3.0", "99999999999999999999", "+3", " 3 ", "\u0663", "0x3", "03"])
        fields[0] = v
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: emotion -> {v!r}")
    if op == "usage":
        v = rng.choice(["Trainin", "", "training", "Unknown", "PublicTest ", "Private Test", "PrivateTest\u0001",
                        "Test"])
        fields[2] = v
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: Usage -> {v!r}")
    if op == "pixel_count":
        px = fields[1].split(" ")
        px = px[:-1] if rng.random() < 0.5 else px + ["7"]
        fields[1] = " ".join(px)
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: {len(px)} pixels")
    if op == "pixel_value":
        px = fields[1].split(" ")
        i = rng.randrange(len(px))
        v = rng.choice(["256", "-1", "1e2", "abc", "12a", "999999999999", "0256", "25 5", "\u0661\u0662", "+5", "",
                        "1000", "255.0"])
        px[i] = v
        fields[1] = " ".join(px)
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: pixel {i} -> {v!r}")
    if op == "pixel_sep":
        how = rng.choice(["double", "tab", "leading", "trailing", "comma"])
        px = fields[1].split(" ")
        fields[1] = {"double": "  ".join(px), "tab": "\t".join(px), "leading": " " + fields[1],
                     "trailing": fields[1] + " ", "comma": ";".join(px)}[how]
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: pixel separators {how}")
    if op == "quote":
        how = rng.choice(["quoted", "unbalanced", "middle", "newline", "escaped"])
        if how == "quoted":
            fields[1] = '"' + fields[1] + '"'
        elif how == "unbalanced":
            fields[1] = '"' + fields[1]
        elif how == "middle":
            fields[1] = fields[1][:10] + '"' + fields[1][10:]
        elif how == "newline":
            px = fields[1].split(" ")
            fields[1] = '"' + " ".join(px[:1000]) + "\n" + " ".join(px[1000:]) + '"'
        else:
            fields[1] = '"' + fields[1] + '"""'
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: quoting {how}")
    if op == "line_endings":
        end = rng.choice(["\r\n", "\r"])
        return done(rows, f"line endings {end!r}", end=end)
    if op == "long_line":
        if rng.random() < 0.5:
            fields[1] = fields[1] + " 1" * 200000
            rows[r] = ",".join(fields)
            return done(rows, f"{where}: 202304 pixels")
        fields[1] = fields[1].replace(" ", " " * 2000, 1)
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: 2000 spaces between two pixels")
    if op == "empty":
        return b"", "csv.empty", "empty file"
    if op == "header_only":
        return (header + "\n").encode(), "csv.header_only", "header only"
    if op == "header":
        how = rng.choice(["missing", "case", "reordered", "no_usage", "extra", "typo"])
        if how == "missing":
            return done(rows[1:], "no header", hdr=rows[0])
        if how == "case":
            return done(rows, "header Emotion,Pixels,Usage", hdr="Emotion,Pixels,Usage")
        if how == "reordered":
            new = [",".join([f[2], f[1], f[0]]) for f in (x.split(",") for x in rows)]
            return done(new, "header Usage,pixels,emotion (rows reordered to match)", hdr="Usage,pixels,emotion")
        if how == "no_usage":
            new = [",".join(x.split(",")[:2]) for x in rows]
            return done(new, "no Usage column", hdr="emotion,pixels")
        if how == "extra":
            new = [x + ",1" for x in rows]
            return done(new, "extra column", hdr=header + ",extra")
        return done(rows, "header emotoin,pixels,Usage", hdr="emotoin,pixels,Usage")
    if op == "bom":
        return b"\xef\xbb\xbf" + done(rows, "")[0], "csv.bom", "UTF-8 BOM"
    if op == "nul":
        fields[1] = fields[1][:20] + "\x00" + fields[1][20:]
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: NUL byte in the pixels")
    if op == "utf8":
        field = rng.choice([1, 2])
        fields[field] = fields[field][:5] + "\udcff" + fields[field][5:]
        rows[r] = ",".join(fields)
        return done(rows, f"{where}: invalid UTF-8 byte in field {field}")
    if op == "blank_lines":
        rows.insert(r, "")
        return done(rows + [""], "blank lines")
    if op == "no_final_newline":
        return ("\n".join([header] + rows).encode("utf-8", "surrogateescape"), "csv.no_final_newline",
                "no final newline")
    if op == "duplicate_rows":
        rows.insert(r, rows[r])
        return done(rows, f"{where}: duplicated")
    data, detail = mutate_bytes(done(rows, "")[0], rng)
    return data, "csv.bytes", detail


def csv_oracle(data: bytes, usage: str | None, classes: list[str]) -> dict:
    """Strict check of every row of a fer2013.csv. verdict: valid | corrupt | ambiguous."""
    problems, ambiguous = [], []
    if data.startswith(b"\xef\xbb\xbf"):
        ambiguous.append("UTF-8 BOM")
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return {"verdict": "corrupt", "problems": [f"not UTF-8: {e}"], "counts": None}
    if "\x00" in text:
        problems.append("NUL byte")
    if "\r" in text.replace("\r\n", ""):
        ambiguous.append("bare CR line endings")
    csv.field_size_limit(1 << 30)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        return {"verdict": "corrupt", "problems": [f"CSV syntax: {e}"], "counts": None}
    if not rows:
        return {"verdict": "corrupt", "problems": ["empty file"], "counts": None}
    raw_header = rows[0]
    header = [h.strip().lower() for h in raw_header]
    if raw_header != ["emotion", "pixels", "Usage"]:
        if ("emotion" in header and "pixels" in header and len(set(header)) == len(header)
                and (usage is None or "usage" in header)):
            ambiguous.append(f"non-standard header {raw_header}")
        else:
            problems.append(f"header {raw_header}")
            return {"verdict": "corrupt", "problems": problems, "counts": None}
    ie, ip = header.index("emotion"), header.index("pixels")
    iu = header.index("usage") if "usage" in header else None
    counts = [0] * len(classes)
    label = {FER_CLASSES.index(c): i for i, c in enumerate(classes) if c in FER_CLASSES}
    for n, row in enumerate(rows[1:], start=2):
        if row == [] or row == [""]:
            continue
        where = f"row {n}"
        if len(row) != len(header):
            problems.append(f"{where}: {len(row)} fields")
            continue
        e = row[ie]
        if not re.fullmatch(r"[0-6]", e):
            if re.fullmatch(r"\s*\+?0*[0-6]\s*", e):
                ambiguous.append(f"{where}: emotion {e!r}")
            else:
                problems.append(f"{where}: emotion {e!r}")
                continue
        emotion = int(e.strip())
        row_usage = None
        if iu is not None:
            u = row[iu]
            if u.strip() not in USAGES:
                problems.append(f"{where}: usage {u!r}")
                continue
            if u != u.strip():
                ambiguous.append(f"{where}: usage {u!r}")
            row_usage = u.strip()
        px = row[ip]
        stray = re.search(r"[^0-9 \t]", px)
        if stray:
            problems.append(f"{where}: pixels hold {stray.group()!r}")
            continue
        tokens = px.split()
        if px != " ".join(tokens):
            ambiguous.append(f"{where}: pixel separators")
        bad = [t for t in tokens if int(t) > 255]
        if bad:
            problems.append(f"{where}: pixel value {bad[0]}")
            continue
        if any(len(t) > 3 for t in tokens):
            ambiguous.append(f"{where}: leading zeros")
        if len(tokens) != 48 * 48:
            problems.append(f"{where}: {len(tokens)} pixels")
            continue
        if (usage is None or row_usage == usage) and emotion in label:
            counts[label[emotion]] += 1
    if problems:
        return {"verdict": "corrupt", "problems": problems[:5], "counts": counts}
    if sum(counts) == 0:
        return {"verdict": "corrupt", "problems": ["no faces of the classes for this usage"], "counts": counts}
    return {"verdict": "ambiguous" if ambiguous else "valid", "problems": ambiguous[:5], "counts": counts}


# ----------------------------------------------------------------------------------------
# Option values and the validity table

INT_POOL = ["-1", "0", "1", "2", "3", "7", "64", "1000000000", "2147483648", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "", "abc", "1.5", "1e9", "nan", "+4", " 4", "0x10", "007"]
UINT_POOL = ["0", "1", "42", "18446744073709551615", "18446744073709551616", "-1", "", "abc", "1e3", "+7"]
FLOAT_POOL = ["-1", "0", "1", "0.5", "0.00784", "-0.5", "2", "1e9", "1e38", "1e39", "-1e39", "1e-45", "nan", "-nan",
              "inf", "-inf", "infinity", "", "abc", "0x1p-2", "1,5", "9223372036854775808", "0.2", "1e-9"]
BAD, UNSURE = object(), object()


def swift_int(s: str, lo=-2**63, hi=2**63 - 1):
    if re.fullmatch(r"[+-]?[0-9]+", s):
        v = int(s)
        return v if lo <= v <= hi else BAD
    if s.strip() != s and re.fullmatch(r"[+-]?[0-9]+", s.strip()):
        return UNSURE
    return BAD


def swift_float(s: str, f32=True):
    t = s.lower()
    if t in ("nan", "+nan", "-nan"):
        return math.nan
    if t in ("inf", "+inf", "infinity", "+infinity"):
        return math.inf
    if t in ("-inf", "-infinity"):
        return -math.inf
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
        v = float(s)
        limit = 3.4028235e38 if f32 else 1.7976931348623157e308
        return math.copysign(math.inf, v) if abs(v) > limit else v
    if re.fullmatch(r"[+-]?0x[0-9a-f.]+(p[+-]?\d+)?", t):
        return UNSURE
    return BAD


def _int_rule(lo, hi_valid, slow_above=None, signed=True):
    """Integers: below lo invalid, up to hi_valid valid (None: no bound), above either; slow above slow_above."""
    def rule(s):
        v = swift_int(s, lo=-2**63 if signed else 0, hi=2**63 - 1 if signed else 2**64 - 1)
        if v is BAD:
            return "invalid"
        if v is UNSURE:
            return "either"
        if v < lo:
            return "invalid"
        if slow_above is not None and v > slow_above:
            return "slow"
        return "valid" if hi_valid is None or v <= hi_valid else "either"
    return rule


def _float_rule(lo=None, hi=None, lo_open=False, outside="invalid", slow_above=None, f32=True):
    def rule(s):
        v = swift_float(s, f32)
        if v is BAD:
            return "invalid"
        if v is UNSURE:
            return "either"
        if math.isnan(v) or math.isinf(v):
            return "invalid"
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return outside
        if hi is not None and v > hi:
            return outside
        if slow_above is not None and v > slow_above:
            return "slow"
        return "valid"
    return rule


def _set_rule(valid=(), either=()):
    def rule(s):
        if s in valid:
            return "valid"
        if s in either:
            return "either"
        return "invalid"
    return rule


def _classes_rule(n):
    def rule(s):
        names = [x.strip() for x in s.split(",")]
        if "\n" in s:
            return "either"
        if len(names) == n and all(names) and len(set(names)) == n:
            return "valid"
        return "invalid"
    return rule


def _face_thresholds_rule(s):
    """Three comma-separated scores in [0, 1) (each as a Swift Float, surrounding spaces trimmed)."""
    parts = s.split(",")
    if len(parts) != 3:
        return "invalid"
    verdicts = []
    for part in parts:
        v = swift_float(part.strip(" "), True)
        if v is BAD:
            return "invalid"
        if v is not UNSURE and math.isfinite(v):
            v = struct.unpack("f", struct.pack("f", v))[0]  # as Float: 0.9999999999 is 1
        verdicts.append("either" if v is UNSURE else "valid" if 0 <= v < 1 else "invalid")
    return "invalid" if "invalid" in verdicts else "either" if "either" in verdicts else "valid"


def _image_channels_rule(s):
    v = swift_int(s)
    return "valid" if v == 1 else "either" if v == 3 or v is UNSURE else "invalid"


def _fixed_backbone_input_size_rule(s):
    """fer_softmax.k3.h5 takes 48x48 only: other sizes of at least 32 may be refused."""
    v = swift_int(s)
    if v == 48:
        return "valid"
    return "either" if v is UNSURE or (isinstance(v, int) and v >= 32) else "invalid"


def _learning_rate_rule(s):
    v = swift_float(s)
    if v is BAD or (isinstance(v, float) and not math.isfinite(v)):
        return "invalid"
    if v is UNSURE:
        return "either"
    return "invalid" if v < 0 else "either" if v == 0 or v > 10 else "valid"


def _validation_split_rule(s):
    v = swift_float(s, f32=False)
    if v is BAD or (isinstance(v, float) and not math.isfinite(v)):
        return "invalid"
    if v is UNSURE:
        return "either"
    if not 0 <= v < 1:
        return "invalid"
    return "valid" if v == 0 or 0.01 <= v <= 0.9 else "either"


def _notop_input_size_rule(hi_valid):
    """EfficientNet-Lite0 without top: 32..hi_valid works; 1..31 may be too small for its 'valid'
    depthwise convolutions after the fifth stride 2 (Keras fails there too)."""
    def rule(s):
        v = swift_int(s)
        if v is BAD:
            return "invalid"
        if v is UNSURE:
            return "either"
        if v < 1:
            return "invalid"
        return "valid" if 32 <= v <= hi_valid else "either"
    return rule


def _known_classes_rule(valid_sets):
    def rule(s):
        names = [x.strip() for x in s.split(",")]
        return "valid" if names in valid_sets else "invalid"
    return rule


HEADS_VALID = ["Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D, Dense(8, relu)",
               "AveragePooling2D(2), Flatten, Dense(16), Dropout(0.5)", "MaxPooling2D(3, strides=2), Flatten",
               "Dense(4, activation=\"tanh\")", "Dropout(0)", "Activation(relu)", "Flatten, Dense(1)"]
HEADS_INVALID = ["Dense(0)", "AveragePooling2D(0)", "Dense(4, units=5)", "Dense(4, name=\"a/b\")", "Dropout(2)",
                 "Dropout(-0.1)", "Dropout(1)", "Dense(-3)", "Dense(4", "Dense(4))", "Conv2D(3)",
                 "Dense(4, activation=\"nope\")", "AveragePooling2D(2, strides=0)", "MaxPooling2D(100)",
                 "Dense(4, foo=1)", ",,", "Dense(2147483648)", "Dense(9223372036854775807)", "Dense(1e9)",
                 "Dropout(nan)", "AveragePooling2D(2, padding=\"nope\")", "Dense(4), GlobalAveragePooling2D",
                 "Dense(4, name=\"\")", "Dropout(inf)", "Dense(4, relu, relu)", "MaxPooling2D(-2)"]
HEADS_EITHER = ["", "dense(4)", "Dense( 4 )", "Dense(4,)", "Dense(units=4)", "Dense(4, name=\"head_output\")",
                "Flatten, Flatten", "Dense(100000)"]

# Base commands for option runs: positionals, then (option, value) pairs; {out} is the run's folder.
FACE_IMAGES = ["Tests/Fixtures/images/face_10019449.jpg", "Tests/Fixtures/images/face_10046809.jpg",
               "Tests/Fixtures/images/face_10066226.jpg"]
TRAIN_FAST = [("--backbone", FER_SOFTMAX), ("--features-from", "bn"), ("--input-size", "48"), ("--epochs", "1")]


def option_bases(seeds) -> dict:
    return {
        "predict": (["predict", FER_SOFTMAX, FACE_IMAGES[0], FACE_IMAGES[1]], []),
        "predict-sigmoid": (["predict", FER_SIGMOID, FACE_IMAGES[0], FACE_IMAGES[1]], []),
        "predict-notop": (["predict", NOTOP, FACE_IMAGES[0]], [("--scale", "1")]),
        # A photo, not a crop: faces are found (the detector's options).
        "predict-photo": (["predict", "Weights/fer7.mien", "Tests/Fixtures/mtcnn/photos/composed_06.jpg"], []),
        # A folder of crops cut again as faces in photos are.
        "align": (["align", "Samples/fer2013/test"], [("--output", "{out}/aligned")]),
        "evaluate-folder": (["evaluate", seeds["g.mien"]], [("--data", "Samples/fer2013/test"), ("--format", "json")]),
        "evaluate-csv": (["evaluate", seeds["s.mien"]], [("--data", FER_CSV), ("--format", "json")]),
        "train": (["train"], [("--data", "Samples/fer2013/train")] + TRAIN_FAST + [("--output", "{out}/model.mien")]),
        "train-eff": (["train"], [("--data", "Samples/fer2013/train"), ("--epochs", "1"), ("--fine-tune-epochs", "1"),
                                  ("--input-size", "96"),
                                  ("--head", "GlobalAveragePooling2D"), ("--output", "{out}/model.mien")]),
        "train-csv": (["train"], [("--data", FER_CSV)] + TRAIN_FAST + [("--output", "{out}/model.mien")]),
        "bench": (["bench", FER_SOFTMAX], [("--seconds", "0.05")]),
        "bench-notop": (["bench", NOTOP], [("--seconds", "0.05"), ("--batch-size", "2")]),
    }


# (base, option, pool, rule, extra flags). Upper bounds are mien's documented ranges (`--help`):
# a value above one may be refused ("either").
OPTION_TABLE = [
    ("predict", "--top", INT_POOL, _int_rule(1, 2**31 - 1), []),
    ("predict-sigmoid", "--threshold", FLOAT_POOL, _float_rule(0, 1, outside="either"), []),
    ("predict", "--batch-size", INT_POOL, _int_rule(1, 4096), []),
    ("predict", "--repeat", INT_POOL, _int_rule(1, 100_000, slow_above=2000), ["--timing"]),
    ("predict", "--scale", FLOAT_POOL, _float_rule(), []),
    ("predict", "--offset", FLOAT_POOL, _float_rule(), []),
    ("predict", "--image-size", INT_POOL, _int_rule(1, 1024), []),
    ("predict", "--image-channels", INT_POOL, _image_channels_rule, []),
    ("predict-notop", "--input-size", INT_POOL, _notop_input_size_rule(512), []),
    ("predict-photo", "--min-face-size", INT_POOL, _int_rule(12, 16_384), []),
    ("predict-photo", "--face-thresholds", ["0.5,0.2,0.7", "0,0,0", " 0.5 , 0.2 , 0.7 ", "0.5,0.6", "0.5,0.6,0.7,0.8",
                                            "1,0.5,0.5", "-0.1,0.5,0.5", "nan,0.5,0.5", "inf,0.5,0.5", "", "a,b,c",
                                            "0.5,,0.7", "0.99,0.99,0.99", "1e-3,2e-1,0.7", "0.9999999999,0.5,0.5"],
     _face_thresholds_rule, []),
    # A detector folder: the three networks, and optionally a detector.json (a folder of
    # manifests without networks, a file, a device, nothing: refused).
    ("predict-photo", "--detector", ["Weights", "Weights/mtcnn-fer", "Weights/mtcnn-fer/", "nowhere", "", "Weights/fer7.mien",
                                     "/dev/null", "/", "Tests/Fixtures/fuzz/detector-manifest/seeds",
                                     "Weights/mtcnn-fer/detector.json"],
     _set_rule(valid=("Weights", "Weights/mtcnn-fer", "Weights/mtcnn-fer/")), []),
    ("align", "--size", INT_POOL, _int_rule(8, 1024), []),
    ("align", "--unfound", ["keep", "skip", "", "Keep", "drop", "keep,skip"], _set_rule(valid=("keep", "skip")), []),
    ("align", "--min-face-size", INT_POOL, _int_rule(12, 16_384), []),
    ("predict", "--classes", ["a,b,c", "a", "a,b", "a,b,c,d", "", "a,,b", "a,a,b", " a , b , c", "\u00e4,\u00f6,\u00fc",
                              "a b,c,d", ",,", "x" * 10000 + ",b,c", "a\"b,c,d", "a\nb,c,d", "-a,b,c"],
     _classes_rule(3), []),
    ("evaluate-folder", "--threshold", FLOAT_POOL, _float_rule(0, 1, outside="either"), []),
    ("evaluate-folder", "--classes", ["angry,happy", "happy,angry", "angry", "angry,angry", "sad,happy", "",
                                      "a,b,c", "angry,happy,fear", " happy , angry "],
     _known_classes_rule([["angry", "happy"], ["happy", "angry"]]), []),
    ("evaluate-folder", "--usage", ["Training", "PublicTest", "", "x"], _set_rule(either=("PublicTest",)), []),
    ("evaluate-csv", "--usage", ["Training", "PublicTest", "PrivateTest", "training", "", "Test", "PublicTest ",
                                 "Private Test", "x" * 1000],
     _set_rule(valid=("Training", "PublicTest", "PrivateTest"), either=("PublicTest ",)), []),
    ("evaluate-csv", "--classes", ["angry,fear,happy", "happy,fear,angry", "angry,happy,fear,sad", "angry,fear",
                                   "x,y,z", "", "angry,angry,fear"],
     lambda s: "valid" if sorted(x.strip() for x in s.split(",")) == ["angry", "fear", "happy"] else "invalid", []),
    ("train", "--epochs", INT_POOL, _int_rule(1, None, slow_above=30), []),
    ("train", "--batch-size", INT_POOL, _int_rule(1, 65536), []),
    ("train", "--input-size", INT_POOL, _fixed_backbone_input_size_rule, []),
    ("train-eff", "--input-size", INT_POOL, _int_rule(32, 96, slow_above=2000), []),
    ("train", "--learning-rate", FLOAT_POOL, _learning_rate_rule, []),
    ("train", "--momentum", FLOAT_POOL, _float_rule(0, 1, outside="either"), ["--optimizer", "sgd"]),
    ("train", "--cached-views", INT_POOL, _int_rule(1, 8, slow_above=64), ["--augment"]),
    ("train", "--validation-split", FLOAT_POOL, _validation_split_rule, []),
    ("train", "--patience", INT_POOL, _int_rule(0, 100_000), []),
    ("train", "--head", HEADS_VALID + HEADS_INVALID + HEADS_EITHER,
     _set_rule(valid=HEADS_VALID, either=HEADS_EITHER), []),
    ("train", "--classes", ["angry,happy", "happy,angry", "happy", "unknown,happy", "angry,angry", "", ",",
                            "angry,happy,sad", "angry,,happy"],
     _known_classes_rule([["angry", "happy"], ["happy", "angry"]]), []),
    ("train", "--usage", ["Training", "PublicTest", "", "x"], _set_rule(either=("Training",)), []),
    ("train-csv", "--usage", ["Training", "PublicTest", "PrivateTest", "training", "", "x"],
     _set_rule(valid=("Training",), either=("PublicTest", "PrivateTest")), []),
    ("train", "--seed", UINT_POOL, _int_rule(0, None, signed=False), []),
    # The same faces framed anew: a folder of class folders whose files share --data's names
    # (--data itself, whose faces are unchanged, holds none; test/'s names differ).
    ("train", "--realigned", ["Samples/fer2013/train", "Samples/fer2013/test", "Samples/fer2013", "nowhere", "", "/",
                              "/dev/null", "Weights", "Samples/fer2013/train/angry"],
     _set_rule(either=("Samples/fer2013/test",)), []),
    ("train-eff", "--fine-tune-from", ["block6a_expand_conv", "block5a_expand_conv", "none", "block6b_expand_conv",
                                       "block6b_dwconv", "nope", "", "top_conv", "head_output"],
     _set_rule(valid=("block6a_expand_conv", "block5a_expand_conv", "none", "block6b_expand_conv"),
               either=("top_conv",)), []),
    ("train-eff", "--fine-tune-learning-rate", FLOAT_POOL, _learning_rate_rule, []),
    ("train-eff", "--fine-tune-epochs", INT_POOL, _int_rule(0, 100_000, slow_above=5), []),
    ("train-eff", "--test-time-augmentation", ["none", "mirror", "flip", "", "Mirror"], _set_rule(valid=("none", "mirror")), []),
    ("predict", "--test-time-augmentation", ["none", "mirror", "flip", "", "Mirror"], _set_rule(valid=("none", "mirror")), []),
    ("bench", "--batch-size", INT_POOL, _int_rule(1, 4096), []),
    ("bench", "--threads", INT_POOL, _int_rule(1, 64), []),
    ("bench", "--per-slice", INT_POOL, _int_rule(1, 4096), []),
    ("bench", "--seconds", FLOAT_POOL, _float_rule(0, None, lo_open=True, slow_above=5, f32=False), []),
    ("bench-notop", "--input-size", INT_POOL, _notop_input_size_rule(256), []),
]


# ----------------------------------------------------------------------------------------
# Running one command: a tiny wrapper forks mien with limits and reports wait4's rusage

_WRAPPER = r'''
import json, os, resource, signal, sys, time
spec = json.loads(sys.argv[1])
pid = os.fork()
if pid == 0:
    try:
        os.setsid()
        for name, value in spec["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        os.execve(spec["argv"][0], spec["argv"], spec["env"])
    except BaseException as e:
        os.write(2, ("fuzz wrapper: cannot run %s: %s\n" % (spec["argv"][0], e)).encode())
    os._exit(127)
with open(spec["pidfile"], "w") as f:
    f.write(str(pid))
start = time.monotonic()
deadline = start + spec["timeout"]
timed_out = False
delay = 0.001
while True:
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is not None:
        break
    if time.monotonic() > deadline:
        timed_out = True
        break
    time.sleep(delay)
    delay = min(delay * 2, 0.02)
wall = time.monotonic() - start
try:
    os.killpg(pid, signal.SIGKILL)   # mien's own process group: stragglers, or the hung run
except OSError:
    pass
_, status, ru = os.wait4(pid, 0)
# mien runs some reads in a child process of its own: RUSAGE_CHILDREN's maxrss is the largest
# of every descendant that has been waited for, mien's children included.
tree = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(spec["result"], "w") as f:
    json.dump({"status": status, "maxrss_kb": max(ru.ru_maxrss, tree), "utime": ru.ru_utime, "stime": ru.ru_stime,
               "wall": wall, "timed_out": timed_out}, f)
'''


@dataclasses.dataclass
class RunResult:
    rc: int | None            # exit status, None when killed by a signal
    signal: int | None
    timed_out: bool
    maxrss_mb: float
    wall: float
    stdout: str
    stderr: str
    harness_error: str | None = None


def run_limited(argv: list[str], case_dir: Path, timeout: float, as_limit: int, out_name="stdout.txt",
                err_name="stderr.txt") -> RunResult:
    """Runs argv (the mien binary and its arguments) from the repository root under the limits, through
    the wrapper, capturing stdout/stderr into case_dir."""
    spec = {
        "argv": argv,
        "env": MIEN_ENV,
        "rlimits": {"RLIMIT_AS": as_limit, "RLIMIT_FSIZE": 512 << 20, "RLIMIT_CORE": 0},
        "timeout": timeout,
        "pidfile": str(case_dir / ".pid"),
        "result": str(case_dir / ".rusage.json"),
    }
    out_path, err_path = case_dir / out_name, case_dir / err_name
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _WRAPPER, json.dumps(spec)], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            for pid_text in (read_head(case_dir / ".pid"), str(proc.pid)):
                try:
                    os.killpg(int(pid_text), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
            proc.wait()
    stdout, stderr = read_head(out_path), read_head(err_path)
    try:
        r = json.loads(read_head(case_dir / ".rusage.json"))
    except ValueError:
        return RunResult(None, None, True, 0.0, timeout + 30, stdout, stderr,
                         harness_error=f"the wrapper did not report (exit {proc.returncode})")
    finally:
        for name in (".pid", ".rusage.json"):
            try:
                (case_dir / name).unlink()
            except OSError:
                pass
    status = r["status"]
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    if r["timed_out"]:
        sig = None
    return RunResult(rc, sig, r["timed_out"], r["maxrss_kb"] / 1024, r["wall"], stdout, stderr)


# ----------------------------------------------------------------------------------------
# The oracle process (Keras, tf.keras, Pillow), restarted when a corrupt file kills it


class OracleClient:
    """Talks JSON lines to `fuzz_cli.py --oracle-server`; one per worker thread."""

    def __init__(self, log_path: Path, as_limit: int):
        self.log_path = log_path
        self.as_limit = as_limit
        self.proc = None
        self.restarts = 0

    def _start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--oracle-server",
                                      "--oracle-as-limit", str(self.as_limit)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     start_new_session=True)
        log.close()

    def stop(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
            self.proc = None

    def ask(self, request: dict, timeout: float = 180) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.restarts += 1
            self._start()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline() if ready else b""
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            dead = self.proc.poll()
            self.stop()
            self.restarts += 1
            why = "timed out" if dead is None else f"died (status {dead})"
            return {"oracle_failed": f"the oracle process {why}"}
        return json.loads(line)


class OracleServer:
    """Answers oracle requests; imports TensorFlow lazily."""

    def __init__(self):
        self.np = None
        self.keras = None
        self.tf_keras = None
        self.tf = None
        self.fer_model = None
        self.count = 0

    def _np(self):
        if self.np is None:
            import numpy
            self.np = numpy
        return self.np

    def _tf(self):
        if self.tf is None:
            import tensorflow
            import keras
            import tf_keras
            self.tf, self.keras, self.tf_keras = tensorflow, keras, tf_keras
        return self.tf

    def handle(self, req):
        self.count += 1
        if self.count % 60 == 0 and self.keras is not None:
            self.keras.backend.clear_session()
            self.tf_keras.backend.clear_session()
            import gc
            gc.collect()
        op = req["op"]
        if op == "ping":
            return {"ok": True}
        if op == "keras_h5":
            return self.keras_h5(req)
        if op == "mien":
            return self.mien(req)
        if op == "image":
            return self.image(req)
        return {"error": f"unknown op {op}"}

    # Inputs as mien's adapter builds them: Pillow pixels, bilinear resize, x * scale + offset.
    def pixels(self, path, channels, lenient=False):
        from PIL import Image, ImageFile
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient
        try:
            with Image.open(path) as im:
                w, h = im.size
                if w > 16384 or h > 16384 or w * h > 100_000_000:
                    raise ValueError(f"image too large: {w}x{h} (beyond mien's documented limits)")
                im = im.convert("L" if channels == 1 else "RGB")
                a = self._np().asarray(im, dtype="float32")
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        return a[..., None] if channels == 1 else a

    def resize(self, a, h, w, method="bilinear"):
        if a.shape[0] == h and a.shape[1] == w:
            return a
        tf = self._tf()
        return tf.image.resize(a, (h, w), method=method, antialias=False).numpy()

    def run_model(self, model, x):
        np = self._np()
        y = model(x, training=False)
        if isinstance(y, (list, tuple)):
            y = y[0]
        return np.asarray(y, dtype="float64").reshape(x.shape[0], -1)

    @staticmethod
    def scores_json(y):
        return [[None if not math.isfinite(v) else v for v in row] for row in y.tolist()]

    def keras_h5(self, req):
        self._tf()
        lib = self.keras if req["lib"] == "keras" else self.tf_keras
        np = self._np()
        try:
            if req.get("weights"):
                arch = req["model"]
                if arch.endswith(".json"):
                    with open(arch) as f:
                        model = lib.models.model_from_json(f.read())
                else:
                    model = lib.models.load_model(arch, compile=False)
                model.load_weights(req["weights"])
            else:
                model = lib.models.load_model(req["model"], compile=False)
        except BaseException as e:  # noqa: BLE001 - any refusal, including MemoryError
            return {"loaded": False, "stage": "load", "error": short(f"{type(e).__name__}: {e}")}
        out = {"loaded": True, "total_params": int(model.count_params())}
        if req.get("images"):
            try:
                shapes = [tuple(i.shape) for i in model.inputs]
                if len(shapes) != 1 or len(shapes[0]) != 4:
                    raise ValueError(f"model inputs {shapes} are not one image")
                _, h, w, c = shapes[0]
                if req.get("input_size"):
                    h = h or req["input_size"]
                    w = w or req["input_size"]
                if None in (h, w, c) or c not in (1, 3):
                    raise ValueError(f"model input {shapes[0]} is not a fixed 1- or 3-channel image")
                x = np.stack([self.resize(self.pixels(p, c), h, w) for p in req["images"]])
                x = x * np.float32(req.get("scale", 1 / 255)) + np.float32(req.get("offset", 0))
                y = self.run_model(model, x.astype("float32"))
                if req.get("mirror"):
                    # --test-time-augmentation mirror: the mean with the mirror images' outputs.
                    y = (y + self.run_model(model, x[:, :, ::-1, :].astype("float32"))) / 2
                out["scores"] = self.scores_json(y)
            except BaseException as e:  # noqa: BLE001
                out["predict_error"] = short(f"{type(e).__name__}: {e}")
        return out

    def image(self, req):
        np = self._np()
        out = {}
        try:
            a = self.pixels(req["path"], 1)
            out["pillow_ok"] = True
        except BaseException as e:  # noqa: BLE001
            out["pillow_ok"] = False
            out["error"] = short(f"{type(e).__name__}: {e}")
            try:
                a = self.pixels(req["path"], 1, lenient=True)
                out["lenient_ok"] = True
            except BaseException as e2:  # noqa: BLE001
                out["lenient_error"] = short(f"{type(e2).__name__}: {e2}")
                return out
        if req.get("model"):
            self._tf()
            if self.fer_model is None:
                self.fer_model = self.keras.models.load_model(req["model"], compile=False)
            x = self.resize(a, 48, 48)[None] / np.float32(255)
            out["scores"] = self.scores_json(self.run_model(self.fer_model, x.astype("float32")))
        return out

    def mien(self, req):
        """Rebuild a .mien file in Keras 3 and run it; refuse every inconsistency."""
        np = self._np()
        path = req["path"]

        def refuse(stage, error):
            return {"loaded": False, "stage": stage, "error": short(error)}

        try:
            from safetensors import safe_open
            tensors = {}
            with safe_open(path, framework="numpy") as f:
                meta = f.metadata() or {}
                for k in f.keys():
                    tensors[k] = f.get_tensor(k)
        except BaseException as e:  # noqa: BLE001
            return refuse("safetensors", f"{type(e).__name__}: {e}")
        with open(path, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            raw_header = fh.read(n)
        try:
            header = json.loads(raw_header, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except (ValueError, RecursionError) as e:
            return refuse("header", f"strict JSON: {e}")
        dtypes = {k: v.get("dtype") for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
        if meta.get("format") != "mien":
            return refuse("metadata", f"format {meta.get('format')!r}")
        if meta.get("format_version") not in ("1", "2"):
            return refuse("metadata", f"format_version {meta.get('format_version')!r}")
        # Version 2 may record test-time augmentation; a value Mien does not know is refused.
        if meta.get("test_time_augmentation", "none") not in ("none", "mirror"):
            return refuse("metadata", f"test_time_augmentation {meta.get('test_time_augmentation')!r}")
        try:
            graph = json.loads(meta["graph"])
            classes = json.loads(meta.get("classes", "[]"))
            adapter = json.loads(meta["input_adapter"]) if meta.get("input_adapter") not in (None, "null") else None
        except (KeyError, ValueError, RecursionError) as e:
            return refuse("metadata", f"{type(e).__name__}: {e}")
        if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes) \
                or len(set(classes)) != len(classes):
            return refuse("classes", f"classes {str(classes)[:80]}")
        self._tf()
        try:
            from keras.src.legacy.saving import saving_utils
            model = saving_utils.model_from_config(graph)
        except BaseException as e:  # noqa: BLE001
            return refuse("graph", f"{type(e).__name__}: {e}")
        # Tensor names: nested model names / layer name / weight name (Keras 2 weight names).
        aliases = {"DepthwiseConv2D": {"kernel": "depthwise_kernel"}}
        used = set()
        try:
            def assign(layer, prefix):
                sub = getattr(layer, "layers", None)
                if sub is not None and layer is not model:
                    for s in sub:
                        assign(s, prefix + [layer.name])
                    return
                if sub is not None:
                    for s in sub:
                        assign(s, prefix)
                    return
                values = []
                for v in layer.weights:
                    wname = v.name.split("/")[-1].split(":")[0]
                    key = "/".join(prefix + [layer.name, wname])
                    if key not in tensors:
                        alt = aliases.get(type(layer).__name__, {}).get(wname)
                        key = "/".join(prefix + [layer.name, alt]) if alt else key
                    if key not in tensors:
                        raise ValueError(f"no tensor {key}")
                    t = tensors[key]
                    if tuple(t.shape) != tuple(v.shape):
                        raise ValueError(f"tensor {key} has shape {t.shape}, the graph needs {tuple(v.shape)}")
                    used.add(key)
                    values.append(t.astype("float32"))
                if values:
                    layer.set_weights(values)
            assign(model, [])
            unused = sorted(set(tensors) - used)
            if unused:
                raise ValueError(f"tensors the graph does not use: {unused[:3]}")
        except BaseException as e:  # noqa: BLE001
            return refuse("tensors", f"{type(e).__name__}: {e}")
        out = {"loaded": True, "dtypes": sorted(set(map(str, dtypes.values())))}
        out_units = int(np.prod([d for d in model.outputs[0].shape[1:] if d is not None]))
        if classes and not (len(classes) == out_units or (out_units == 1 and len(classes) == 2)):
            return refuse("classes", f"{len(classes)} classes for {out_units} outputs")
        if adapter is None:
            out["note"] = "no input adapter"
            return out
        try:
            ins, outs = adapter["inputSize"], adapter["outputSize"]
            scale, offset = adapter["scale"], adapter["offset"]
            interp = adapter.get("interpolation", "bilinear")
            for s in (ins, outs):
                if not (isinstance(s, list) and len(s) == 3 and all(type(v) is int and v > 0 for v in s)):
                    raise ValueError(f"adapter size {s}")
                if s[0] * s[1] * s[2] > 100_000_000:
                    raise ValueError(f"adapter size {s} beyond mien's image limit (1e8 pixels)")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in (scale, offset)):
                raise ValueError(f"adapter scale/offset {scale!r} {offset!r}")
            if interp not in ("bilinear", "nearest"):
                raise ValueError(f"adapter interpolation {interp!r}")
            if not (ins[2] == outs[2] or (ins[2] == 1 and outs[2] == 3)):
                raise ValueError(f"adapter channels {ins[2]} -> {outs[2]}")
            shape = tuple(model.inputs[0].shape[1:])
            if len(model.inputs) != 1 or any(d is not None and d != o for d, o in zip(shape, outs)):
                raise ValueError(f"adapter output {outs} does not fit the model input {shape}")
        except BaseException as e:  # noqa: BLE001
            return refuse("adapter", f"{type(e).__name__}: {e}")
        if req.get("images"):
            try:
                xs = []
                for p in req["images"]:
                    a = self.resize(self.pixels(p, ins[2]), ins[0], ins[1])
                    a = self.resize(a, outs[0], outs[1], method=interp)
                    if ins[2] == 1 and outs[2] == 3:
                        a = np.repeat(a, 3, axis=-1)
                    xs.append(a)
                x = np.stack(xs).astype("float32") * np.float32(scale) + np.float32(offset)
                y = self.run_model(model, x.astype("float32"))
                if meta.get("test_time_augmentation") == "mirror":
                    # The mean of the outputs for the faces and their mirror images.
                    y = (y + self.run_model(model, x[:, :, ::-1, :].astype("float32"))) / 2
                out["scores"] = self.scores_json(y)
            except BaseException as e:  # noqa: BLE001
                out["predict_error"] = short(f"{type(e).__name__}: {e}")
        return out


def oracle_server_main(as_limit: int):
    resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    # The protocol gets a private copy of stdout; anything TensorFlow prints goes to the log.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.setrecursionlimit(20000)
    import warnings
    warnings.simplefilter("ignore")
    server = OracleServer()
    for line in sys.stdin:
        try:
            answer = server.handle(json.loads(line))
        except BaseException as e:  # noqa: BLE001
            answer = {"oracle_failed": f"internal: {type(e).__name__}: {short(e)}"}
        proto.write(json.dumps(answer) + "\n")
        proto.flush()


# ----------------------------------------------------------------------------------------
# Cases


@dataclasses.dataclass
class Case:
    index: int
    kind: str
    command: str = ""
    argv: list = dataclasses.field(default_factory=list)
    family: str = ""
    detail: str = ""
    structural: bool = True
    oracle: dict | None = None
    fault: list = dataclasses.field(default_factory=list)      # strings a clean error must name
    outputs: list = dataclasses.field(default_factory=list)    # written on success only
    out_dir: str | None = None                                 # must stay empty on failure
    expect: str | None = None                                  # options: valid|invalid|either|slow
    warn_ok: list = dataclasses.field(default_factory=list)    # exit 0 fine if a warning names one
    seed: str = ""
    trusted: bool = True
    notes: list = dataclasses.field(default_factory=list)


class Context:
    """Seeds and settings shared by the case builders."""

    def __init__(self, args, out: Path):
        self.args = args
        self.out = out
        self.seeds_dir = out / "seeds"
        self.findings = out / "findings"
        self.h5_seeds = []
        self.mien_seeds = {}
        self.image_seeds = []
        self.untrusted = set()
        self.is_root = os.geteuid() == 0

    def setup(self):
        self.seeds_dir.mkdir(parents=True, exist_ok=True)
        for p in sorted(FIXTURES.glob("keras/*.h5")) + sorted(FIXTURES.glob("predict/*.h5")) + \
                sorted(FIXTURES.glob("export/*.h5")):
            name = p.name
            if name.endswith(".io.h5") or name.endswith("weights.h5") or name in KERAS_CANNOT_RELOAD:
                continue
            self.h5_seeds.append(self.h5_seed(str(p), None, 4 if "predict" in str(p) else 1))
        for stem in ["functional_branches", "nested_unfrozen"]:
            self.h5_seeds.append(self.h5_seed(f"Tests/Fixtures/keras/{stem}.k3.json",
                                              f"Tests/Fixtures/keras/{stem}.k3.weights.h5", 1.5))
            self.h5_seeds.append(self.h5_seed(f"Tests/Fixtures/keras/{stem}.k2.json",
                                              f"Tests/Fixtures/keras/{stem}.k2.savedweights.h5", 1.5))
        mien = self.args.mien
        made = {
            "s.mien": ["export", FER_SOFTMAX, "--output", "{p}", "--classes", "angry,fear,happy"],
            "g.mien": ["export", FER_SIGMOID, "--output", "{p}", "--classes", "angry,happy"],
            "t.mien": ["train", "--data", "Samples/fer2013/train", "--backbone", FER_SOFTMAX, "--features-from", "bn",
                       "--input-size", "48", "--epochs", "1", "--head", "AveragePooling2D(3, strides=2), Flatten, "
                       "Dense(16, relu)", "--output", "{p}"],
        }
        for name, argv in made.items():
            p = self.seeds_dir / name
            r = subprocess.run([mien] + [a.replace("{p}", str(p)) for a in argv], cwd=ROOT, capture_output=True,
                               text=True, timeout=300)
            if r.returncode != 0 or not p.exists():
                raise SystemExit(f"fuzz_cli: cannot make the seed {name}: {r.stderr.strip()[:500]}")
            self.mien_seeds[name] = rel(p)
        if Path(BUNDLED_MIEN).exists() and Path(BUNDLED_MIEN).stat().st_size < 64 << 20:
            self.mien_seeds["fer_happy_angry.mien"] = BUNDLED_MIEN
        images = [p for p in sorted(FIXTURES.glob("images/*")) if p.suffix in (".jpg", ".png")]
        samples = []
        for cls in ("angry", "happy"):
            samples += sorted(Path("Samples/fer2013/train", cls).glob("*.jpg"))[:2]
        self.image_seeds = [str(p) for p in images + samples]

    def h5_seed(self, model, weights, weight):
        import h5py
        tag = "k2" if ".k2." in model else "k3" if ".k3." in model else None
        if tag is None:
            with h5py.File(model, "r") as f:
                v = f.attrs.get("keras_version", b"3")
                v = v.decode() if isinstance(v, bytes) else str(v)
            tag = "k3" if v.startswith("3") else "k2"
        argv = ["inspect", "--format", "json", model] + (["--weights", weights] if weights else [])
        r = subprocess.run([self.args.mien] + argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        shapes = json.loads(r.stdout)["input_shapes"] if r.returncode == 0 else []
        predictable = (len(shapes) == 1 and len(shapes[0]) == 4 and shapes[0][3] in (1, 3)
                       and None not in shapes[0][1:3])
        channels = shapes[0][3] if len(shapes) == 1 and len(shapes[0]) == 4 else None
        return {"model": model, "weights": weights, "lib": "keras" if tag == "k3" else "tf_keras",
                "predictable": predictable, "channels": channels, "weight": weight}


def copy_into(src: str, case_dir: Path, name: str | None = None) -> Path:
    dst = case_dir / (name or Path(src).name)
    shutil.copyfile(src, dst)
    return dst


def build_h5_case(ctx: Context, rng: random.Random, case: Case, case_dir: Path, seed=None):
    seed = seed or weighted_choice(rng, [(s["weight"], s) for s in ctx.h5_seeds])
    case.seed = seed["model"] + (f" + {seed['weights']}" if seed["weights"] else "")
    model = copy_into(seed["model"], case_dir)
    weights = copy_into(seed["weights"], case_dir) if seed["weights"] else None
    case.fault = [rel(model)] + ([rel(weights)] if weights else [])
    if case.family != "pristine":
        families = [(4.5, "config"), (2, "weights"), (2, "bytes")]
        families += [(1.5, "heap"), (0.5, "attrs")] if not weights else [(0.5, "heap")]
        fam = weighted_choice(rng, families)
        if fam == "config":
            if weights:
                text, family, detail = mutate_keras_config(model.read_text(), rng)
                model.write_bytes(text.encode("utf-8", "surrogateescape"))
            else:
                import h5py
                with h5py.File(model, "r") as f:
                    text = f.attrs["model_config"]
                text = text.decode() if isinstance(text, bytes) else str(text)
                text, family, detail = mutate_keras_config(text, rng)
                set_h5_config(str(model), text)
            case.family, case.detail = "h5." + family, detail
        elif fam == "weights":
            case.family, case.detail = mutate_h5_weights(str(weights or model), rng)
            if case.family in ("h5.weight_names:reverse", "h5.layer_names:reverse"):
                # Keras loads legacy weights by this order, Mien by name: a refusal by Keras proves nothing.
                case.structural = False
        elif fam == "attrs":
            case.family, case.detail = mutate_h5_attrs(str(model), rng)
        elif fam == "heap":
            target = weights or model
            data, case.family, case.detail = heap_flip(target.read_bytes(), rng)
            target.write_bytes(data)
        else:
            target = weights if weights and rng.random() < 0.6 else model
            data, detail = mutate_bytes(target.read_bytes(), rng)
            if rng.random() < 0.3:
                data, more = mutate_bytes(data, rng)
                detail += "; " + more
            target.write_bytes(data)
            case.family, case.detail = "h5.bytes", f"{target.name}: {detail}"
    wargs = ["--weights", rel(weights)] if weights else []
    images = None
    command = weighted_choice(rng, [(5.5 if seed["predictable"] else 0, "predict"), (2.5, "inspect"), (2, "export")])
    if case.family == "pristine":
        command = "predict" if seed["predictable"] else "inspect"
    if command == "predict":
        images = [rng.choice(FACE_IMAGES)] + ([rng.choice(FACE_IMAGES[1:])] if rng.random() < 0.3 else [])
        if seed["channels"] == 3 and rng.random() < 0.3:
            images = ["Tests/Fixtures/images/color_444.jpg"]
        case.argv = ["predict", rel(model)] + images + wargs
    elif command == "inspect":
        case.argv = ["inspect", rel(model), "--format", "json"] + wargs
    else:
        out_dir = case_dir / "out"
        out_dir.mkdir()
        target = out_dir / "model.mien"
        case.argv = ["export", rel(model), "--output", rel(target)] + wargs
        case.outputs, case.out_dir = [str(target)], str(out_dir)
    case.command = command
    case.oracle = {"op": "keras_h5", "lib": seed["lib"], "model": str(model),
                   "weights": str(weights) if weights else None, "images": images, "compare": command}
    case.trusted = case.seed not in ctx.untrusted


def build_mien_case(ctx: Context, rng: random.Random, case: Case, case_dir: Path, seed_name=None):
    names = list(ctx.mien_seeds)
    seed_name = seed_name or weighted_choice(rng, [(0.6 if n == "fer_happy_angry.mien" else 1, n) for n in names])
    src = ctx.mien_seeds[seed_name]
    case.seed = src
    path = case_dir / Path(src).name
    data = Path(src).read_bytes()
    if case.family != "pristine":
        data, case.family, case.detail, case.structural = mutate_mien(data, rng)
    path.write_bytes(data)
    case.fault = [rel(path)]
    two_class = seed_name != "s.mien"
    command = weighted_choice(rng, [(7, "predict"), (1, "export"), (1 if two_class else 0, "evaluate"), (1, "bench")])
    images = None
    if case.family == "pristine":
        command = "predict"
    if command == "predict":
        images = [rng.choice(FACE_IMAGES)] + ([rng.choice(FACE_IMAGES[1:])] if rng.random() < 0.3 else [])
        case.argv = ["predict", rel(path)] + images
    elif command == "export":
        out_dir = case_dir / "out"
        out_dir.mkdir()
        target = out_dir / "copy.mien"
        case.argv = ["export", rel(path), "--output", rel(target)]
        case.outputs, case.out_dir = [str(target)], str(out_dir)
    elif command == "evaluate":
        case.argv = ["evaluate", rel(path), "--data", "Samples/fer2013/test", "--format", "json"]
    else:
        case.argv = ["bench", rel(path), "--seconds", "0.05", "--batch-size", "2"]
    case.command = command
    case.oracle = {"op": "mien", "path": str(path), "images": images, "compare": command}
    case.trusted = src not in ctx.untrusted


def build_image_case(ctx: Context, rng: random.Random, case: Case, case_dir: Path, seed=None):
    src = seed or rng.choice(ctx.image_seeds)
    case.seed = src
    data = Path(src).read_bytes()
    name = Path(src).name
    if case.family != "pristine":
        is_png, is_jpeg = data.startswith(b"\x89PNG"), data.startswith(b"\xff\xd8")
        fam = weighted_choice(rng, [(3, "bytes"), (1.5, "truncate"), (5 if (is_png or is_jpeg) else 0, "structure")])
        if fam == "bytes":
            data, detail = mutate_bytes(data, rng)
            case.family, case.detail = "image.bytes", detail
        elif fam == "truncate":
            data, detail = mutate_bytes(data, rng, ops=["truncate"])
            case.family, case.detail = "image.truncate", detail
        elif is_png:
            data, case.family, case.detail = mutate_png(data, rng)
        else:
            data, case.family, case.detail = mutate_jpeg(data, rng)
        if rng.random() < 0.05:
            name = Path(name).stem + (".jpg" if name.endswith(".png") else ".png")
            case.detail += f"; renamed to {name}"
    if case.family == "pristine" or rng.random() < 0.75:
        path = case_dir / name
        path.write_bytes(data)
        case.command = "predict"
        case.argv = ["predict", ctx.mien_seeds["s.mien"], rel(path)]
        case.oracle = {"op": "image", "path": str(path), "model": FER_SOFTMAX, "compare": "predict"}
    else:
        data_dir = case_dir / "data"
        for cls in ("angry", "happy"):
            (data_dir / cls).mkdir(parents=True)
            shutil.copyfile(sorted(Path("Samples/fer2013/test", cls).glob("*.jpg"))[0], data_dir / cls / "good.jpg")
        path = data_dir / "happy" / name
        path.write_bytes(data)
        strict = rng.random() < 0.4
        case.command = "evaluate"
        case.argv = ["evaluate", ctx.mien_seeds["g.mien"], "--data", rel(data_dir), "--format", "json"] + \
            (["--strict"] if strict else [])
        case.oracle = {"op": "image", "path": str(path), "compare": "evaluate", "strict": strict}
        if not strict:
            case.warn_ok = [rel(path)]
    case.fault = [rel(path)]
    case.trusted = src not in ctx.untrusted


def build_csv_case(ctx: Context, rng: random.Random, case: Case, case_dir: Path):
    case.seed = FER_CSV
    text = Path(FER_CSV).read_text()
    data, case.family, case.detail = csv_mutate(text, rng)
    if rng.random() < 0.15:
        data2, fam2, detail2 = csv_mutate(data.decode("utf-8", "surrogateescape"), rng) if data else (data, "", "")
        if data2:
            data, case.detail = data2, case.detail + "; " + detail2
    path = case_dir / "fer2013.csv"
    path.write_bytes(data)
    case.fault = [rel(path)]
    if rng.random() < 0.8:
        seed_name = rng.choice(["g.mien", "s.mien"])
        classes = ["angry", "happy"] if seed_name == "g.mien" else ["angry", "fear", "happy"]
        usage = rng.choice(USAGES)
        case.command = "evaluate"
        case.argv = ["evaluate", ctx.mien_seeds[seed_name], "--data", rel(path), "--usage", usage, "--format", "json"]
    else:
        classes, usage = ["angry", "happy"], "Training"
        out_dir = case_dir / "out"
        out_dir.mkdir()
        target = out_dir / "model.mien"
        case.command = "train"
        case.argv = ["train", "--data", rel(path), "--usage", usage] + [x for kv in TRAIN_FAST for x in kv] + \
            ["--output", rel(target)]
        case.outputs, case.out_dir = [str(target)], str(out_dir)
    case.oracle = {"op": "csv", "verdict": csv_oracle(data, usage, classes), "classes": classes,
                   "compare": case.command}


SPECIAL_TYPES = ["fifo", "devzero", "directory", "empty", "unreadable", "selfloop", "dangling"]
SPECIAL_ROLES = ["predict-image", "predict-folder", "evaluate-folder", "train-folder", "predict-model-h5",
                 "predict-model-mien", "inspect-model", "export-model", "inspect-weights", "inspect-arch",
                 "evaluate-data", "train-data", "train-backbone", "export-output"]


def make_special(path: Path, kind: str):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "unreadable":
        shutil.copyfile(FACE_IMAGES[0] if path.suffix in (".jpg", ".png") else FER_SOFTMAX, path)
        os.chmod(path, 0)
    elif kind == "selfloop":
        os.symlink(path.name, path)
    else:
        os.symlink("no_such_target", path)


def build_special_case(ctx: Context, rng: random.Random, case: Case, case_dir: Path):
    kind = rng.choice(SPECIAL_TYPES)
    role = rng.choice(SPECIAL_ROLES)
    if kind == "unreadable" and ctx.is_root:
        case.notes.append("unreadable skipped: running as root, chmod 000 does not stop reads")
        kind = rng.choice([k for k in SPECIAL_TYPES if k != "unreadable"])
    if role == "export-output":
        kind = rng.choice(["directory", "fifo", "devzero", "selfloop"])
    case.family, case.detail = f"special:{kind} as {role}", f"{kind} used as {role}"
    face, data_dir = FACE_IMAGES[0], case_dir / "data"
    names = {"predict-image": "x.jpg", "predict-folder": "x.jpg", "evaluate-folder": "x.jpg", "train-folder": "x.jpg",
             "predict-model-h5": "x.h5", "predict-model-mien": "x.mien", "inspect-model": "x.h5",
             "export-model": "x.h5", "inspect-weights": "x.weights.h5", "inspect-arch": "x.json",
             "evaluate-data": "x.csv", "train-data": "x.csv", "train-backbone": "x.h5", "export-output": "x.mien"}
    if role in ("predict-folder", "evaluate-folder", "train-folder"):
        for cls in ("angry", "happy"):
            (data_dir / cls).mkdir(parents=True)
            for i, p in enumerate(sorted(Path("Samples/fer2013/train", cls).glob("*.jpg"))[:6]):
                shutil.copyfile(p, data_dir / cls / f"face{i}.jpg")
        target = data_dir / "happy" / names[role]
    else:
        target = case_dir / names[role]
    make_special(target, kind)
    t = rel(target)
    out_dir = case_dir / "out"
    out_dir.mkdir()
    out_model = rel(out_dir / "model.mien")
    train_fast = [x for kv in TRAIN_FAST for x in kv]
    argv = {
        "predict-image": ["predict", ctx.mien_seeds["s.mien"], t],
        "predict-folder": ["predict", ctx.mien_seeds["s.mien"], rel(data_dir / "happy")],
        "evaluate-folder": ["evaluate", ctx.mien_seeds["g.mien"], "--data", rel(data_dir)],
        "train-folder": ["train", "--data", rel(data_dir), "--output", out_model] + train_fast,
        "predict-model-h5": ["predict", t, face],
        "predict-model-mien": ["predict", t, face],
        "inspect-model": ["inspect", t],
        "export-model": ["export", t, "--output", out_model],
        "inspect-weights": ["inspect", "Tests/Fixtures/keras/nested_unfrozen.k3.json", "--weights", t],
        "inspect-arch": ["inspect", t, "--weights", "Tests/Fixtures/keras/nested_unfrozen.k3.weights.h5"],
        "evaluate-data": ["evaluate", ctx.mien_seeds["g.mien"], "--data", t],
        "train-data": ["train", "--data", t, "--output", out_model] + train_fast,
        "train-backbone": ["train", "--data", "Samples/fer2013/train", "--backbone", t, "--features-from", "bn",
                           "--input-size", "48", "--epochs", "1", "--output", out_model],
        "export-output": ["export", ctx.mien_seeds["s.mien"], "--output", t],
    }[role]
    case.argv, case.command = argv, argv[0]
    case.fault = [t]
    if role in ("export-model", "train-folder", "train-data", "train-backbone"):
        case.outputs, case.out_dir = [str(out_dir / "model.mien")], str(out_dir)
    if role in ("evaluate-folder", "train-folder", "predict-folder"):
        case.warn_ok = [t]
        if kind == "directory":
            case.warn_ok.append("*")          # a folder named x.jpg may be ignored
    case.oracle = {"op": "special", "kind": kind, "role": role, "target": str(target)}


def build_options_case(ctx: Context, rng: random.Random, case: Case, case_dir: Path):
    base_name, option, pool, rule, extra = rng.choice(OPTION_TABLE)
    value = rng.choice(pool)
    positionals, pairs = option_bases(ctx.mien_seeds)[base_name]
    out_dir = case_dir / "out"
    out_dir.mkdir()
    pairs = [(k, v.replace("{out}", rel(out_dir))) for k, v in pairs if k != option]
    joined = rng.random() < 0.5
    argv = list(positionals) + [x for kv in pairs for x in kv] + list(extra)
    argv += [f"{option}={value}"] if joined else [option, value]
    case.argv, case.command = argv, positionals[0]
    case.expect = rule(value)
    case.family = f"options:{base_name} {option}"
    case.detail = f"{option}{'=' if joined else ' '}{value!r}"[:200] + f" ({case.expect})"
    case.fault = [option]
    stripped = value.strip()
    for piece in [stripped] + [p.strip() for p in stripped.split(",")]:
        if len(piece) >= 2 and not re.fullmatch(r"[-+0-9.e]+", piece):
            case.fault.append(piece[:100])
    outputs = [v for k, v in pairs if k == "--output"]
    if outputs:
        case.outputs, case.out_dir = [str(ROOT / outputs[0])], str(out_dir)
    case.oracle = {"op": "options", "base": base_name, "option": option, "value": value}
    if base_name in ("predict", "predict-sigmoid") and case.expect == "valid" \
            and option not in ("--image-size", "--image-channels"):
        scale = swift_float(value) if option == "--scale" else 1 / 255
        offset = swift_float(value) if option == "--offset" else 0.0
        case.oracle.update(keras={"op": "keras_h5", "lib": "keras", "model": positionals[1], "weights": None,
                                  "images": positionals[2:], "scale": scale, "offset": offset,
                                  "mirror": option == "--test-time-augmentation" and value == "mirror"})
        if option == "--top":
            case.oracle["top"] = swift_int(value)
    if case.expect == "slow":
        case.notes.append("a valid value that may legitimately run past the timeout")


BUILDERS = {"h5": build_h5_case, "mien": build_mien_case, "image": build_image_case, "csv": build_csv_case,
            "options": build_options_case, "special": build_special_case}


# ----------------------------------------------------------------------------------------
# Classification


def stderr_error_lines(stderr: str, options: bool):
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    if options:
        lines += [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
    return lines


def crash_location(stderr: str) -> str | None:
    m = re.search(r"(?m)^(?:\S*/)?([\w+]+\.swift):(\d+):\s*Fatal error", stderr)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    m = re.search(r"Fatal error.*? at (?:\S*/)?([\w+]+\.swift):(\d+)", stderr)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    crashed = re.search(r"(?ms)^Thread \d+(?: \"[^\"]*\")? crashed:\n(.*?)(?:\n\n|\Z)", stderr)
    block = crashed.group(1) if crashed else stderr
    for m in re.finditer(r" at (\S*?/Sources/(?:[^/\s]+/)*([\w+]+\.swift)):(\d+)", block):
        return f"{m.group(2)}:{m.group(3)}"
    for m in re.finditer(r" at (?:\S*?/)?([\w+]+\.swift):(\d+)", block):
        if "compiler-generated" not in m.group(0):
            return f"{m.group(1)}:{m.group(2)}"
    return None


def first_frame(stderr: str) -> str | None:
    """The innermost named frame of the crashed thread ("symbol in library"), for crashes in C code."""
    crashed = re.search(r"(?ms)^Thread \d+(?: \"[^\"]*\")? crashed:\n(.*?)(?:\n\n|\Z)", stderr)
    if not crashed:
        return None
    m = re.search(r"0x[0-9a-f]+ (\S+)(?: \+ \d+)? in (\S+)", crashed.group(1))
    if not m:
        return None
    return m.group(2) if m.group(1) == "<unknown>" else f"{m.group(1)} in {m.group(2)}"


def gdb_backtrace(mien: str, argv: list[str], case_dir: Path, as_limit: int, timeout: float = 120) -> str | None:
    """Reruns a crash under gdb (when installed, with the same limits) for a backtrace through C
    libraries; the raw output stays in case_dir/gdb.txt."""
    gdb = shutil.which("gdb")
    if not gdb:
        return None
    r = run_limited([gdb, "-q", "-batch", "-ex", "run", "-ex", "bt 40", "--args", mien] + argv, case_dir, timeout,
                    as_limit, out_name="gdb.txt", err_name="gdb.stderr.txt")
    try:
        (case_dir / "gdb.stderr.txt").unlink()
    except OSError:
        pass
    if r.timed_out:
        return None
    return "\n".join(ln for ln in r.stdout.splitlines() if ln.startswith("#") or "received signal" in ln)


def gdb_location(bt: str) -> str | None:
    """'H5HG_read <- HDF5Attribute.swift:145': the innermost named frame and the innermost Mien line."""
    frames = [ln for ln in bt.splitlines() if ln.startswith("#")]
    if not frames:
        return None
    system = re.compile(r"libc\.so|libswiftCore\.so|libstdc\+\+|\.\./sysdeps/|\./(?:nptl|malloc|stdlib|posix|string)/")
    inner = None
    for ln in frames:
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", ln)
        if m and m.group(1) != "??" and not system.search(ln):
            inner = m.group(1)
            break
    mien = None
    for ln in frames:
        m = re.search(r" at (?:\S*/)?Sources/(?:[^/\s]+/)*([\w+]+\.swift):(\d+)", ln)
        if m:
            mien = f"{m.group(1)}:{m.group(2)}"
            break
    if inner and inner.startswith("$s"):
        inner = None                      # a mangled Swift name: the source line says more
    parts = [p for p in (inner, mien) if p]
    return " <- ".join(parts) if parts else None


def fatal_message(stderr: str) -> str | None:
    m = re.search(r"Fatal error:?\s*(.*)", stderr)
    return normalize_line(m.group(1)) if m else None


def normalize_line(line: str, case_dir: str | None = None) -> str:
    s = line
    if case_dir:
        s = s.replace(case_dir, "<case>")
    s = re.sub(r"(?:[\w.\-]*/)+[\w.\-]+", "<path>", s)
    s = re.sub(r"'[^']*'", "'_'", s)
    s = re.sub(r"\"[^\"]*\"", "\"_\"", s)
    s = re.sub(r"0x[0-9a-fA-F]+", "N", s)
    s = re.sub(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", "N", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s[:160]


TEXT_OPTIONS = ("--head", "--classes", "--usage")


def value_category(value: str, option: str = "") -> str:
    """How an option value is grouped in signatures: its sign/size class, or the text itself."""
    if option in TEXT_OPTIONS:
        return repr(value[:40])
    v = swift_float(value, f32=False)
    if value == "":
        return "empty"
    if v is BAD or v is UNSURE:
        return "text"
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf"
    if v < 0:
        return "negative"
    if v == 0:
        return "zero"
    if v >= 1e6:
        return "huge"
    return "positive"


def names_fault(line: str, fault: list[str]) -> bool:
    """The line names one of the culprits: a path, an option (also as a bare word: 'invalid head'),
    or an option's value."""
    for f in fault:
        if not f:
            continue
        if f in line:
            return True
        if f.startswith("--"):
            word = f[2:]
            words = re.escape(word) + "|" + re.escape(word.replace("-", " "))
            if re.search(r"(?<![\w-])(" + words + r")(?![\w-])", line):
                return True
    return False


def leftovers(case: Case) -> list[str]:
    if not case.out_dir or not os.path.isdir(case.out_dir):
        return []
    return sorted(os.listdir(case.out_dir))


def parse_json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def compare_scores(mien_scores, oracle_scores) -> str | None:
    """None if equal within tolerance, else a description."""
    if oracle_scores is None:
        return None
    if mien_scores is None or len(mien_scores) != len(oracle_scores):
        return f"{len(mien_scores or [])} score rows from mien, {len(oracle_scores)} from the oracle"
    scale = max([abs(v) for row in oracle_scores for v in row if v is not None] + [1e-6])
    for i, (a, b) in enumerate(zip(mien_scores, oracle_scores)):
        if len(a) != len(b):
            return f"image {i}: {len(a)} scores from mien, {len(b)} from the oracle"
        for j, (x, y) in enumerate(zip(a, b)):
            if y is None or x is None:
                if (x is None) != (y is None):
                    return f"image {i} score {j}: mien {x}, oracle {y}"
                continue
            if abs(x - y) > SCORE_TOLERANCE * scale:
                return f"image {i} score {j}: mien {x:.7g}, oracle {y:.7g} (scale {scale:.3g})"
    return None


def mien_predict_scores(stdout: str):
    data = parse_json(stdout)
    if not isinstance(data, list) or not all(isinstance(x, dict) and isinstance(x.get("scores"), list) for x in data):
        return None
    return [[v if isinstance(v, (int, float)) else None for v in x["scores"]] for x in data]


def oracle_answer(case: Case, client: OracleClient) -> dict | None:
    o = case.oracle or {}
    op = o.get("op")
    if op == "keras_h5":
        req = {k: o[k] for k in ("op", "lib", "model", "weights", "images") if k in o}
        return client.ask(req)
    if op == "mien":
        return client.ask({"op": "mien", "path": o["path"], "images": o.get("images")})
    if op == "image":
        return client.ask({"op": "image", "path": o["path"], "model": o.get("model")})
    if op == "options" and "keras" in o:
        return client.ask(o["keras"])
    if op == "csv":
        return o["verdict"]
    return None


@dataclasses.dataclass
class Judge:
    """What classification needs besides the run: the binary (for gdb reruns), the memory limit,
    the oracle process of this worker."""
    mien: str
    memory_limit_mb: float
    client: OracleClient
    as_limit: int
    gdb: bool = True


def classify(case: Case, r: RunResult, judge: Judge, case_dir: Path):
    """Returns (class, reason, signature, oracle answer)."""
    mem_limit_mb, client = judge.memory_limit_mb, judge.client
    cd = str(case_dir)
    stderr = r.stderr
    options = case.kind == "options"
    first = next((ln for ln in stderr.splitlines() if ln.strip()), "")
    where = case.family if case.family.startswith(case.kind) else f"{case.kind}:{case.family}"
    if r.harness_error:
        return "hang", r.harness_error, f"hang | {case.command} | {where}", None
    sig_name = None
    if r.signal is not None:
        try:
            sig_name = signal.Signals(r.signal).name
        except ValueError:
            sig_name = f"signal {r.signal}"
    elif r.rc in CRASH_EXIT_CODES:
        sig_name = f"exit {r.rc} ({CRASH_EXIT_CODES[r.rc]})"
    if r.timed_out:
        if case.expect == "slow":
            return "ok", "timed out on a value marked slow", "", None
        mem = f", peak {r.maxrss_mb:.0f} MB" if r.maxrss_mb > mem_limit_mb else ""
        return "hang", f"no exit after {r.wall:.0f} s{mem}", f"hang | {case.command} | {where}", None
    if sig_name and r.maxrss_mb > mem_limit_mb:
        # Killed after a blowup (typically an allocation refused by the RLIMIT_AS guard): the blowup is the cause.
        return ("memory", f"peak RSS {r.maxrss_mb:.0f} MB > {mem_limit_mb:.0f} MB, then {sig_name}"
                + (f" ({fatal_message(stderr)})" if fatal_message(stderr) else ""),
                f"memory | {case.command} | {where}", None)
    if sig_name:
        loc = crash_location(stderr)
        fatal = fatal_message(stderr)
        reason = f"{sig_name}" + (f" at {loc}" if loc else "") + (f": {fatal}" if fatal else "")
        name = sig_name.split(" (")[0]
        if loc:
            sig = f"crash | {name} | {loc}"
        elif fatal:
            sig = f"crash | {name} | {case.command} | Fatal error: {fatal}"
        else:
            rerun = judge.gdb and r.maxrss_mb <= mem_limit_mb
            bt = gdb_backtrace(judge.mien, case.argv, case_dir, judge.as_limit) if rerun else None
            located = gdb_location(bt) if bt else None
            frame = located or first_frame(stderr)
            if located:
                reason += f" in {located} (gdb)"
            sig = f"crash | {name} | {frame or case.command} | {where.split(':')[0]}"
        return "crash", reason, sig, None
    if r.maxrss_mb > mem_limit_mb:
        return ("memory", f"peak RSS {r.maxrss_mb:.0f} MB > {mem_limit_mb:.0f} MB (exit {r.rc})",
                f"memory | {case.command} | {where}", None)
    left = leftovers(case)
    if r.rc != 0:
        lines = stderr_error_lines(stderr, options)
        if "Fatal error" in stderr:
            return ("messy-error", "Swift 'Fatal error' text",
                    f"messy-error | {case.command} | {normalize_line(first, cd)}", None)
        # A training run stopped by a non-finite loss keeps its last finished epoch's
        # checkpoint (and history) on purpose, for --resume, and says so.
        if re.search(r"checkpoint of the last finished epoch( \(\d+\))? is kept in", stderr):
            left = [f for f in left if not f.endswith((".checkpoint.safetensors", ".history.json"))]
        if case.outputs and left:
            return ("messy-error", f"failed but left files behind: {left}",
                    f"messy-error | {case.command} | left files after a failure", None)
        if options and case.expect == "valid":
            value = value_category(case.oracle["value"], case.oracle["option"])
            return ("refused-valid", f"exit {r.rc}: {short(first, 200)}",
                    f"refused-valid | {case.command} {case.oracle['option']} {value}", None)
        if len(lines) != 1:
            why = "no 'error:' line" if not lines else f"{len(lines)} error lines"
            return "messy-error", why, f"messy-error | {case.command} | {why} | {normalize_line(first, cd)}", None
        if not names_fault(lines[0], case.fault) and not (case.warn_ok and "*" in case.warn_ok):
            return ("messy-error", f"the error does not name {case.fault[0]}: {short(lines[0], 200)}",
                    f"messy-error | {case.command} | unnamed | {normalize_line(lines[0], cd)}", None)
        answer = None
        if case.kind == "csv" and case.oracle["verdict"]["verdict"] == "valid" and case.command == "evaluate":
            return ("refused-valid", f"the strict oracle accepts this CSV: {short(lines[0], 200)}",
                    f"refused-valid | {case.command} | {where.split(';')[0]}", case.oracle["verdict"])
        if case.kind == "image":
            answer = oracle_answer(case, client)
            if answer and answer.get("pillow_ok"):
                return ("stricter-image", f"Pillow decodes it: {short(lines[0], 200)}",
                        f"stricter-image | {case.command} | {normalize_line(lines[0], cd)}", answer)
        elif case.family == "pristine":
            return "wrong-result", f"mien refuses a pristine seed: {short(lines[0], 200)}", \
                f"wrong-result | {case.command} | pristine seed refused | {normalize_line(lines[0], cd)}", None
        return "clean-error", short(lines[0], 200), "", answer
    # Exit status 0.
    if case.outputs and not all(os.path.exists(p) for p in case.outputs):
        return ("wrong-result", "exit 0 but no output file", f"wrong-result | {case.command} | no output on success",
                None)
    stray = [n for n in left if n.startswith(".") or "tmp" in n.lower() or "temp" in n.lower()]
    if case.outputs and stray:
        return ("wrong-result", f"temporary files left beside the output: {stray}",
                f"wrong-result | {case.command} | temporary files left on success", None)
    if options:
        if case.expect == "invalid":
            return ("accepted-invalid", f"exit 0 with {case.detail}",
                    f"accepted-invalid | {case.command} {case.oracle['option']} "
                    f"{value_category(case.oracle['value'], case.oracle['option'])}",
                    None)
        return classify_success_output(case, r, client)
    if case.kind == "special":
        o = case.oracle
        warned = [ln for ln in stderr.splitlines() if ln.startswith("warning:") and names_fault(ln, case.fault)]
        if case.warn_ok and (warned or "*" in case.warn_ok):
            return "ok", "skipped with a warning naming it", "", None
        if o["role"] == "export-output" and o["kind"] != "directory":
            return "ok", "the output replaced the special file", "", None
        return ("accepted-corrupt", f"exit 0 with a {o['kind']} as {o['role']}",
                f"accepted-corrupt | {case.command} | special:{o['kind']} as {o['role']}", None)
    if case.kind == "csv":
        return classify_csv_success(case, r)
    answer = oracle_answer(case, client)
    if answer is None or answer.get("oracle_failed"):
        case.notes.append(f"oracle unavailable: {answer and answer.get('oracle_failed')}")
        return "ok", "exit 0; the oracle could not judge", "", answer
    if case.kind == "image":
        return classify_image_success(case, r, answer)
    lenient = classify_lenient_hdf5(case, r, answer, judge)
    if lenient:
        return lenient
    return classify_model_success(case, r, answer)


# libhdf5 errors that the HDF5 library Mien links (Debian's 1.10) does not check but h5py's
# (1.14) does: a heap object's length that disagrees with the attribute that refers to it.
# Also any object whose header 1.14 finds corrupt (its metadata cache checks message counts,
# flags, rings, type fields) but 1.10 opens; the run only counts as lenient when mien read
# exactly the seed model (a damaged number type that changes the values is a hard finding).
HDF5_INTEGRITY = re.compile(r"Expected global heap object size does not match|global heap|bad heap|checksum"
                            r"|Unable to synchronously open object|Can't synchronously|ran off end of input buffer", re.I)


def classify_lenient_hdf5(case: Case, r: RunResult, answer: dict, judge: Judge):
    """Soft class `lenient-hdf5`: h5py (libhdf5 1.14) refuses the mutated .h5 for an integrity
    check that libhdf5 1.10 does not make, and what mien read is exactly the seed model: the
    .mien it exports from the mutated file has the bytes of the seed's (graph, adapter and
    every weight), and predictions, if any, equal the oracle's on the seed. Anything else
    stays a hard finding."""
    if case.kind != "h5" or answer.get("loaded") or not HDF5_INTEGRITY.search(str(answer.get("error", ""))):
        return None
    weights = case.argv[case.argv.index("--weights") + 1] if "--weights" in case.argv else None
    model = next((a for a in case.argv if a.endswith((".h5", ".json")) and a != weights), None)
    if not model or not case.seed:
        return None
    # case.seed is "MODEL" or "MODEL + WEIGHTS": the unmutated pair to compare with.
    seed_model, _, seed_weights = case.seed.partition(" + ")
    # What mien read, weights included: the .mien it exports (same bytes for the same model;
    # `inspect` alone would not see weights read as other numbers).
    def exported(model_path, weights_path):
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "m.mien")
            argv = [judge.mien, "export", model_path, "--output", out, "--no-optimize"] \
                + (["--weights", weights_path] if weights_path else [])
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
            return Path(out).read_bytes() if done.returncode == 0 and os.path.exists(out) else None
    same = exported(model, weights)
    if same is None or same != exported(seed_model, seed_weights or None):
        return None
    if case.command == "predict":
        seed_answer = judge.client.ask({**{k: case.oracle[k] for k in ("op", "lib", "images") if k in case.oracle},
                                        "model": seed_model, "weights": seed_weights or case.oracle.get("weights")})
        if not seed_answer or compare_scores(mien_predict_scores(r.stdout), seed_answer.get("scores")):
            return None
    return ("lenient-hdf5", f"h5py refuses ({answer.get('error')}), libhdf5 1.10 does not check it, and mien read the "
            "seed model exactly", f"lenient-hdf5 | {case.command} | {case.family.split(';')[0]}", answer)


def classify_success_output(case: Case, r: RunResult, client: OracleClient):
    o = case.oracle
    answer = None
    if case.command == "predict" and o.get("base") == "predict-photo":
        # A photo: one entry with its faces, each with finite scores.
        faces = mien_predict_faces(r.stdout)
        if faces is None or not all(isinstance(f.get("scores"), list) and all(
                isinstance(v, (int, float)) and math.isfinite(v) for v in f["scores"]) for f in faces):
            return ("wrong-result", f"exit 0 but the output is not a photo's faces JSON: {short(r.stdout, 80)!r}",
                    f"wrong-result | predict | unparseable output | {o['option']}", None)
    elif case.command == "predict":
        scores = mien_predict_scores(r.stdout)
        if scores is None:
            return ("wrong-result", f"exit 0 but the output is not the predictions JSON: {short(r.stdout, 80)!r}",
                    f"wrong-result | predict | unparseable output | {o['option']}", None)
        data = parse_json(r.stdout)
        if isinstance(o.get("top"), int) and scores:
            want = min(o["top"], len(scores[0]) if len(scores[0]) > 1 else 2)
            got = [len(x.get("top", [])) for x in data]
            if any(g != want for g in got):
                return "wrong-result", f"--top {o['top']}: {got} entries", "wrong-result | predict | --top count", None
        if "keras" in o:
            answer = oracle_answer(case, client)
            if answer and answer.get("scores") is not None:
                diff = compare_scores(scores, answer["scores"])
                if diff:
                    return ("wrong-result", diff, f"wrong-result | predict | scores differ with {o['option']}", answer)
    elif case.command == "evaluate":
        if not isinstance(parse_json(r.stdout), dict):
            return ("wrong-result", f"exit 0 but the output is not JSON: {short(r.stdout, 80)!r}",
                    "wrong-result | evaluate | unparseable output", None)
    elif case.command == "bench":
        if "images/s" not in r.stdout:
            return "wrong-result", "exit 0 without a throughput line", "wrong-result | bench | no result", None
    elif case.command == "align":
        if "faces realigned into" not in r.stdout or not case.outputs or not os.path.isdir(case.outputs[0]):
            return "wrong-result", "exit 0 without the aligned folder", "wrong-result | align | no result", None
    if case.expect == "either":
        return "ok", "accepted a value either answer fits", "", answer
    return "ok", "", "", answer


def classify_csv_success(case: Case, r: RunResult):
    verdict = case.oracle["verdict"]
    if verdict["verdict"] == "corrupt":
        return ("accepted-corrupt", f"exit 0; strict check: {'; '.join(verdict['problems'])[:300]}",
                f"accepted-corrupt | {case.command} | {case.family}", verdict)
    if case.command == "evaluate":
        data = parse_json(r.stdout)
        if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
            return ("wrong-result", "exit 0 but no evaluation JSON", "wrong-result | evaluate | unparseable output",
                    verdict)
        got = [c.get("support") for c in data["classes"]]
        if verdict["counts"] is not None and got != verdict["counts"]:
            return ("wrong-result", f"supports {got}, the CSV holds {verdict['counts']}",
                    f"wrong-result | evaluate | csv supports | {case.family}", verdict)
    return "ok", verdict["verdict"], "", verdict


def mien_predict_faces(stdout: str):
    """The faces of `mien predict`'s JSON for one photo, or None when it is not that."""
    try:
        data = json.loads(stdout)
        return data[0]["faces"] if isinstance(data, list) and len(data) == 1 and "faces" in data[0] else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def classify_image_success(case: Case, r: RunResult, answer: dict):
    o = case.oracle
    if o["compare"] == "evaluate":
        warned = any(ln.startswith("warning:") and names_fault(ln, case.fault) for ln in r.stderr.splitlines())
        if answer.get("pillow_ok"):
            if warned:
                return ("stricter-image", "skipped with a warning, but Pillow decodes it",
                        f"stricter-image | evaluate | {case.family}", answer)
            return "ok", "", "", answer
        if warned:
            return "ok", "skipped with a warning naming it", "", answer
        kind = "lenient-image" if answer.get("lenient_ok") else "accepted-corrupt"
        return (kind, f"used an image Pillow refuses ({answer.get('error')})",
                f"{kind} | evaluate | {case.family}", answer)
    scores = mien_predict_scores(r.stdout)
    faces = mien_predict_faces(r.stdout)
    if scores is None and faces is not None:
        # A mutation that made the image larger than 96×96 turns it into a photo: mien looks
        # for faces (in noise, none) instead of classifying it as a crop, so Keras's scores on
        # the whole picture do not apply. Each face found must have finite scores.
        if all(f.get("scores") and all(isinstance(v, (int, float)) for v in f["scores"]) for f in faces):
            return "ok", f"taken as a photo: {len(faces)} face(s)", "", answer
        return ("wrong-result", f"a face without finite scores: {short(r.stdout, 80)!r}",
                "wrong-result | predict | photo faces | image", answer)
    if scores is None:
        return ("wrong-result", f"exit 0 but the output is not the predictions JSON: {short(r.stdout, 80)!r}",
                "wrong-result | predict | unparseable output | image", answer)
    if answer.get("pillow_ok"):
        diff = compare_scores(scores, answer.get("scores"))
        if diff:
            return "wrong-result", diff, f"wrong-result | predict | image scores | {case.family}", answer
        return "ok", "", "", answer
    if answer.get("lenient_ok") and not compare_scores(scores, answer.get("scores")):
        return ("lenient-image", f"Pillow refuses ({answer.get('error')}); lenient decoding gives the same scores",
                f"lenient-image | predict | {case.family}", answer)
    return ("accepted-corrupt", f"Pillow refuses: {answer.get('error')}",
            f"accepted-corrupt | predict | image | {case.family}", answer)


def classify_model_success(case: Case, r: RunResult, answer: dict):
    o = case.oracle
    fam = case.family.split(";")[0]
    if not answer.get("loaded"):
        reason = f"the oracle refuses ({answer.get('stage')}): {answer.get('error')}"
        if not case.structural:
            case.notes.append("oracle refused a non-structural mutation: " + reason)
            return "ok", "non-structural mutation", "", answer
        return "accepted-corrupt", reason, f"accepted-corrupt | {case.command} | {fam}", answer
    if o["compare"] == "predict":
        scores = mien_predict_scores(r.stdout)
        if scores is None:
            return ("wrong-result", f"exit 0 but the output is not the predictions JSON: {short(r.stdout, 80)!r}",
                    f"wrong-result | predict | unparseable output | {case.kind}", answer)
        if answer.get("predict_error"):
            if not case.structural:
                return "ok", "non-structural mutation", "", answer
            return ("accepted-corrupt", f"the oracle cannot run it: {answer['predict_error']}",
                    f"accepted-corrupt | predict | {fam}", answer)
        if not case.trusted:
            case.notes.append("seed untrusted: scores not compared")
            return "ok", "", "", answer
        if any(k in case.family for k in ("keras_version",)):
            return "ok", "keras_version changed: scores not compared", "", answer
        diff = compare_scores(scores, answer.get("scores"))
        if diff:
            return "wrong-result", diff, f"wrong-result | predict | {fam}", answer
    elif o["compare"] == "inspect":
        data = parse_json(r.stdout)
        got = data.get("total_params") if isinstance(data, dict) else None
        if got != answer.get("total_params"):
            return ("wrong-result", f"total_params {got}, Keras counts {answer.get('total_params')}",
                    f"wrong-result | inspect | total_params | {fam}", answer)
    return "ok", "", "", answer


# ----------------------------------------------------------------------------------------
# The run loop and the report


class Harness:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out).resolve() if os.path.isabs(args.out) else (ROOT / args.out).resolve()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.clients = []
        self.records = []
        self.signatures = {}
        self.done = 0
        self.start = time.monotonic()
        self.as_limit = max(8 << 30, 4 * args.memory_limit_mb << 20)
        self.notes = set()

    def client(self) -> OracleClient:
        c = getattr(self.local, "client", None)
        if c is None:
            c = OracleClient(self.out / "oracle.log", 8 << 30)
            self.local.client = c
            with self.lock:
                self.clients.append(c)
        return c

    def prepare_out(self):
        self.out.mkdir(parents=True, exist_ok=True)
        for name in ("findings", "seeds"):
            remove_tree(self.out / name)
        for name in ("summary.json", "runs.jsonl", "oracle.log"):
            try:
                (self.out / name).unlink()
            except FileNotFoundError:
                pass
        (self.out / "findings").mkdir()

    def schedule(self) -> list[str]:
        kinds = [k for k in self.args.kinds if k in KINDS]
        rng = random.Random(f"{self.args.seed}:schedule")
        weights = [(KIND_WEIGHTS[k], k) for k in kinds]
        total = sum(w for w, _ in weights)
        plan = []
        for w, k in weights:
            plan += [k] * int(round(self.args.runs * w / total))
        while len(plan) < self.args.runs:
            plan.append(weighted_choice(rng, weights))
        plan = plan[: self.args.runs]
        rng.shuffle(plan)
        return plan

    def run_case(self, ctx: Context, index: int, kind: str, pristine=None):
        case_dir = ctx.findings / f"{index:05d}"
        case_dir.mkdir(parents=True)
        rng = random.Random(f"{self.args.seed}:{index}")
        case = Case(index=index, kind=kind)
        try:
            if pristine is not None:
                case.family, case.detail = "pristine", "unmutated seed (seed check)"
                BUILDERS[kind](ctx, rng, case, case_dir, pristine)
            else:
                BUILDERS[kind](ctx, rng, case, case_dir)
        except Exception as e:  # noqa: BLE001 - a builder bug must not stop the run
            import traceback
            record = {"run": index, "kind": kind, "class": "harness-error", "reason": short(repr(e), 500),
                      "traceback": traceback.format_exc()[-2000:]}
            self.finish(case, case_dir, record, None, keep=True)
            return record
        r = run_limited([self.args.mien] + case.argv, case_dir, self.args.timeout, self.as_limit)
        try:
            judge = Judge(self.args.mien, self.args.memory_limit_mb, self.client(), self.as_limit,
                          gdb=not self.args.no_gdb)
            cls, reason, signature, answer = classify(case, r, judge, case_dir)
        except Exception as e:  # noqa: BLE001
            import traceback
            cls, reason, signature, answer = "harness-error", short(repr(e), 300), "", traceback.format_exc()[-2000:]
        record = {
            "run": index, "kind": kind, "command": case.command, "family": case.family, "detail": case.detail,
            "seed": case.seed, "class": cls, "reason": reason, "signature": signature,
            "exit": r.rc, "signal": r.signal, "timed_out": r.timed_out, "seconds": round(r.wall, 3),
            "peak_mb": round(r.maxrss_mb, 1), "argv": case.argv, "expect": case.expect, "notes": case.notes,
        }
        if answer is not None:
            record["oracle"] = answer if isinstance(answer, (dict, str)) else str(answer)
        self.finish(case, case_dir, record, r)
        return record

    def finish(self, case: Case, case_dir: Path, record: dict, r: RunResult | None, keep=False):
        cls = record["class"]
        finding = cls in HARD_CLASSES or cls in SOFT_CLASSES or cls == "harness-error"
        with self.lock:
            self.records.append(record)
            self.done += 1
            if finding:
                sig = record.get("signature") or f"{cls} | {case.kind}"
                entry = self.signatures.setdefault(sig, {"signature": sig, "class": cls, "count": 0, "runs": [],
                                                         "kept": [], "details": [], "kinds": set()})
                entry["count"] += 1
                entry["runs"].append(record["run"])
                entry["kinds"].add(case.kind)
                if len(entry["details"]) < 12 and record.get("detail") and record["detail"] not in entry["details"]:
                    entry["details"].append(record["detail"])
                keep = len(entry["kept"]) < self.args.keep
                if keep:
                    entry["kept"].append(record["run"])
            for note in case.notes:
                if note.startswith("unreadable skipped"):
                    self.notes.add(note)
            with open(self.out / "runs.jsonl", "a") as f:
                f.write(json.dumps(record, default=str) + "\n")
            if self.done % 50 == 0:
                self.progress()
        if keep and finding:
            command = "cd " + shlex.quote(str(ROOT)) + " && " + shlex.join([self.args.mien] + case.argv)
            (case_dir / "command.txt").write_text(command + "\n")
            (case_dir / "result.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
        else:
            remove_tree(case_dir)

    def progress(self):
        counts = {}
        for rec in self.records:
            counts[rec["class"]] = counts.get(rec["class"], 0) + 1
        elapsed = time.monotonic() - self.start
        parts = " ".join(f"{c} {counts[c]}" for c in ALL_CLASSES + ["harness-error"] if counts.get(c))
        print(f"[{self.done:5d}/{self.total}] {elapsed / 60:5.1f} min  {parts}  "
              f"distinct findings {len(self.signatures)}", file=sys.stderr, flush=True)

    def seed_checks(self, ctx: Context) -> list[tuple[str, str]]:
        """Pristine seeds run first: the oracle must agree with mien on them."""
        checks = []
        for s in ctx.h5_seeds:
            checks.append(("h5", s))
        for name in ctx.mien_seeds:
            checks.append(("mien", name))
        for p in ctx.image_seeds:
            checks.append(("image", p))
        return checks

    def main(self) -> int:
        args = self.args
        os.chdir(ROOT)
        self.prepare_out()
        ctx = Context(args, self.out)
        print(f"fuzz_cli: setting up seeds in {rel(ctx.seeds_dir)} ...", file=sys.stderr, flush=True)
        ctx.setup()
        checks = self.seed_checks(ctx)
        plan = self.schedule()
        self.total = len(checks) + len(plan)
        per_kind = ", ".join(f"{k} {plan.count(k)}" for k in KINDS if plan.count(k))
        print(f"fuzz_cli: {len(checks)} seed checks, then {len(plan)} runs ({per_kind}), {args.jobs} jobs, "
              f"timeout {args.timeout} s, memory limit {args.memory_limit_mb} MB", file=sys.stderr, flush=True)
        seed_results = {}
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
        try:
            futures = {pool.submit(self.run_case, ctx, 90000 + i, kind, seed): (kind, seed)
                       for i, (kind, seed) in enumerate(checks)}
            for fut in concurrent.futures.as_completed(futures):
                kind, seed = futures[fut]
                rec = fut.result()
                key = rec.get("seed") or str(seed)
                seed_results[key] = rec["class"]
                if rec["class"] != "ok":
                    ctx.untrusted.add(key)
            futures = [pool.submit(self.run_case, ctx, i, kind) for i, kind in enumerate(plan)]
            for fut in concurrent.futures.as_completed(futures):
                fut.result()
        except KeyboardInterrupt:
            print("fuzz_cli: interrupted; finishing the runs in progress, then writing the summary", file=sys.stderr)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for c in self.clients:
                c.stop()
        return self.report(ctx, seed_results)

    def report(self, ctx: Context, seed_results: dict) -> int:
        elapsed = time.monotonic() - self.start
        per_kind, per_class = {}, {}
        for rec in self.records:
            per_kind.setdefault(rec["kind"], {}).setdefault(rec["class"], 0)
            per_kind[rec["kind"]][rec["class"]] += 1
            per_class[rec["class"]] = per_class.get(rec["class"], 0) + 1
        order = {c: i for i, c in enumerate(HARD_CLASSES + ["harness-error"] + SOFT_CLASSES)}
        findings = sorted(self.signatures.values(), key=lambda e: (order.get(e["class"], 99), -e["count"]))
        by_run = {rec["run"]: rec for rec in self.records}
        out_findings = []
        for i, e in enumerate(findings, 1):
            example = by_run[e["kept"][0]] if e["kept"] else by_run[e["runs"][0]]
            out_findings.append({
                "id": i, "class": e["class"], "signature": e["signature"], "count": e["count"],
                "kinds": sorted(e["kinds"]), "reason": example.get("reason"), "details": e["details"],
                "reproducers": [str(ctx.findings / f"{n:05d}") for n in e["kept"]],
                "command": shlex.join([self.args.mien] + example.get("argv", [])),
                "runs": e["runs"][:50],
            })
        hard = sum(e["count"] for e in findings if e["class"] in HARD_CLASSES or e["class"] == "harness-error")
        summary = {
            "mien": self.args.mien, "seed": self.args.seed, "runs": len(self.records),
            "seconds": round(elapsed, 1), "jobs": self.args.jobs, "timeout": self.args.timeout,
            "memory_limit_mb": self.args.memory_limit_mb, "kinds": per_kind, "classes": per_class,
            "hard_findings": hard, "distinct_findings": len(findings), "findings": out_findings,
            "seed_checks": seed_results, "untrusted_seeds": sorted(ctx.untrusted),
            "oracle_restarts": sum(c.restarts for c in self.clients), "notes": sorted(self.notes),
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        self.print_table(summary)
        return 1 if hard else 0

    def print_table(self, s, limit=30):
        """One screen: runs per kind and class, then the most severe distinct findings, one line each."""
        classes = [c for c in ALL_CLASSES + ["harness-error"] if s["classes"].get(c)]
        short_names = {"clean-error": "clean", "accepted-corrupt": "acc-corr", "wrong-result": "wrong",
                       "accepted-invalid": "acc-inv", "refused-valid": "ref-val", "messy-error": "messy",
                       "lenient-image": "lenient", "stricter-image": "stricter", "harness-error": "harness"}
        heads = [short_names.get(c, c) for c in classes]
        w = max(6, *(len(h) for h in heads)) + 1
        print()
        print(f"mien fuzz: {s['runs']} runs (incl. seed checks) in {s['seconds'] / 60:.1f} min; "
              f"{s['distinct_findings']} distinct findings, {s['hard_findings']} hard-finding runs; "
              f"{rel(self.out / 'summary.json')}")
        print("kind    " + "".join(h.rjust(w) for h in heads))
        for kind in KINDS:
            row = s["kinds"].get(kind)
            if row:
                print(f"{kind:<8}" + "".join(str(row.get(c, 0)).rjust(w) for c in classes))
        for f in s["findings"][:limit]:
            where = Path(f["reproducers"][0]).name if f["reproducers"] else "-"
            print(f"{f['id']:3d} {f['count']:3d}x {short(f['signature'], 96):<96} {where}")
        if len(s["findings"]) > limit:
            more = len(s["findings"]) - limit
            print(f"... {more} more in summary.json (reproducers in {rel(self.out / 'findings')})")
        sys.stdout.flush()


def remove_tree(path: Path):
    if not path.exists():
        return
    for sub in path.rglob("*"):
        if not sub.is_symlink():
            try:
                os.chmod(sub, 0o755 if sub.is_dir() else 0o644)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mien", help="the mien binary to test")
    parser.add_argument("--runs", type=int, default=300, help="number of fuzz runs (besides the seed checks)")
    parser.add_argument("--seed", type=int, default=1, help="the seed that decides every run")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    parser.add_argument("--out", default="out/fuzz_cli", help="output folder (relative to the repository root)")
    parser.add_argument("--timeout", type=float, default=20, help="wall-clock seconds per run")
    parser.add_argument("--memory-limit-mb", type=int, default=2048, help="peak RSS above this is a memory finding")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel")
    parser.add_argument("--keep", type=int, default=3, help="reproducer folders kept per signature")
    parser.add_argument("--no-gdb", action="store_true",
                        help="do not rerun crashes in C libraries under gdb for a backtrace")
    parser.add_argument("--oracle-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--oracle-as-limit", type=int, default=8 << 30, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.oracle_server:
        oracle_server_main(args.oracle_as_limit)
        return 0
    if not args.mien:
        parser.error("--mien is required")
    args.mien = str(Path(args.mien).resolve()) if os.path.exists(args.mien) else args.mien
    if not os.access(args.mien, os.X_OK):
        parser.error(f"--mien {args.mien}: not an executable file")
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {','.join(KINDS)}")
    if args.runs < 0 or args.jobs < 1 or args.timeout <= 0:
        parser.error("--runs must be >= 0, --jobs >= 1 and --timeout > 0")
    try:
        return Harness(args).main()
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main())
