#!/usr/bin/env python3
"""Writes the safetensors fixtures in Tests/Fixtures/safetensors/ (see Tests/Fixtures/README.md).

Needs safetensors==0.8.0 and numpy==2.4.6 from PyPI (both pinned in tools/requirements.txt).
PyTorch (torch==2.13.0+cpu, tools/requirements-weights.txt) is optional: when it is
installed, the script also checks that the hand-made BF16 and 8-bit-float bytes are what
`safetensors.torch` writes and that torch decodes them to the values the Swift tests expect.
The files do not depend on whether torch is there.

Deterministic: fixed seed, no timestamps; two runs give byte-identical files.

    python3 tools/make_safetensors_fixtures.py                 # writes Tests/Fixtures/safetensors/
    python3 tools/make_safetensors_fixtures.py --out DIR
    python3 tools/make_safetensors_fixtures.py --check-swift FILE

`--check-swift FILE` reads a file written by Mien's `SafeTensorsWriter` with the Python
reader and checks that it holds exactly the tensors and metadata of python_f32.safetensors.
The Swift test `testRoundTripOfPythonFile` writes such a file when the environment variable
MIEN_SAFETENSORS_EXPORT names a path:

    MIEN_SAFETENSORS_EXPORT=/tmp/swift.safetensors swift test --filter ModelFileTests
    python3 tools/make_safetensors_fixtures.py --check-swift /tmp/swift.safetensors
"""
import argparse
import json
import os
import struct
import sys
import tempfile
import warnings

import numpy as np
import safetensors
from safetensors import TensorSpec, safe_open, serialize_file
from safetensors.numpy import load_file, save_file

try:
    import torch
except ImportError:  # optional, only for cross-checks
    torch = None

SAFETENSORS_VERSION = "0.8.0"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "Tests", "Fixtures", "safetensors")
F32_METADATA = {"format": "mien-test", "note": "héllo"}


def f32_bits(values):
    """float32 bit patterns (as Python ints) of a float32 array."""
    return [int(b) for b in np.asarray(values, dtype=np.float32).reshape(-1).view(np.uint32)]


def int_to_f32_bits(n):
    """Exact round-to-nearest-even of an integer to float32 (no double rounding)."""
    if n == 0:
        return 0
    sign = 0x80000000 if n < 0 else 0
    m = abs(n)
    e = m.bit_length() - 1          # m = 1.xxx * 2^e
    if e <= 23:
        significand, exponent = m << (23 - e), e
    else:
        shift = e - 23
        significand, rest = m >> shift, m & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and significand & 1):
            significand += 1
        exponent = e
        if significand == 1 << 24:
            significand, exponent = significand >> 1, exponent + 1
    if exponent > 127:
        return sign | 0x7F800000
    return sign | ((exponent + 127) << 23) | (significand & 0x7FFFFF)


# ---------------------------------------------------------------------------
# Files written by the reference implementation


def write_deterministically(write, path, metadata):
    """The reference writer orders tensors deterministically (by dtype, then name) but keeps
    `__metadata__` in a Rust HashMap with a random seed, so its key order changes from run to
    run. Rewrite until the keys come out sorted, so the file is still exactly what the
    reference writer wrote, and the same on every run."""
    keys = sorted(metadata)
    for _ in range(64):
        write()
        with open(path, "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        written = list(json.loads(blob[8:8 + n])["__metadata__"])
        if written == keys:
            return
    sys.exit(f"{path}: metadata never came out in sorted key order")


def f32_tensors():
    rng = np.random.default_rng(20250601)
    specials = np.array([-0.0, 1e-45, -3.4028235e38, 0.1, 1.0], dtype=np.float32)  # 1e-45: smallest subnormal
    return {
        "dense/kernel": rng.standard_normal((3, 4)).astype(np.float32),
        "dense/bias": rng.standard_normal(4).astype(np.float32),
        "conv/kernel": rng.standard_normal((2, 2, 3, 2)).astype(np.float32),
        "scalar": np.array(3.25, dtype=np.float32),          # shape []
        "empty": np.zeros((0, 3), dtype=np.float32),         # zero-size
        "specials": specials,
    }


def write_f32(out):
    tensors = f32_tensors()
    path = os.path.join(out, "python_f32.safetensors")
    write_deterministically(lambda: save_file(tensors, path, metadata=F32_METADATA), path, F32_METADATA)
    side = {
        "metadata": F32_METADATA,
        "tensors": [
            {"name": name, "dtype": "F32", "shape": list(t.shape),
             "values": [float(v) for v in t.reshape(-1)], "bits": f32_bits(t)}
            for name, t in tensors.items()
        ],
    }
    with open(os.path.join(out, "python_f32.json"), "w", encoding="utf-8") as f:
        json.dump(side, f, indent=1, ensure_ascii=False)
        f.write("\n")


# (byte, expected float) for the 8-bit float formats: zero, subnormal, normal, max, NaN, inf.
F8_CASES = {
    # torch.float8_e4m3fn: bias 7, no infinities, S.1111.111 is NaN, max 448
    "F8_E4M3": ("float8_e4m3fn", [(0x00, 0.0), (0x80, -0.0), (0x01, 2.0**-9), (0x08, 2.0**-6), (0x38, 1.0),
                                  (0xC4, -3.0), (0x7E, 448.0), (0x7F, float("nan")), (0xFF, float("nan"))]),
    # torch.float8_e5m2: IEEE-like, bias 15
    "F8_E5M2": ("float8_e5m2", [(0x00, 0.0), (0x01, 2.0**-16), (0x3C, 1.0), (0xBE, -1.5), (0x7B, 57344.0),
                                (0x7C, float("inf")), (0xFC, float("-inf")), (0x7E, float("nan"))]),
    # torch.float8_e4m3fnuz: bias 8, 0x80 is NaN, no infinities, no -0
    "F8_E4M3FNUZ": ("float8_e4m3fnuz", [(0x00, 0.0), (0x01, 2.0**-10), (0x40, 1.0), (0xC0, -1.0),
                                        (0x7F, 240.0), (0x80, float("nan"))]),
    # torch.float8_e5m2fnuz: bias 16, 0x80 is NaN
    "F8_E5M2FNUZ": ("float8_e5m2fnuz", [(0x00, 0.0), (0x01, 2.0**-17), (0x40, 1.0), (0xC2, -1.5),
                                        (0x7F, 57344.0), (0x80, float("nan"))]),
    # torch.float8_e8m0fnu: 2^(b - 127), 0xFF is NaN
    "F8_E8M0": ("float8_e8m0fnu", [(0x00, 2.0**-127), (0x7F, 1.0), (0x80, 2.0), (0xFE, 2.0**127),
                                   (0xFF, float("nan"))]),
}

BF16_BITS = [0x3F80, 0xC020, 0x4049, 0x0001, 0x7F7F, 0xFF80, 0x7FC0, 0x8000]  # 1, -2.5, 3.140625, subnormal, max, -inf, NaN, -0


def mixed_tensors():
    """name -> (safetensors dtype, serialize dtype name, shape, raw little-endian bytes, expected float32 bits)."""
    out = {}

    def add_numpy(name, array, dtype):
        array = np.ascontiguousarray(array)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # 1e300 -> inf in float32 on purpose
            expected = f32_bits(array.astype(np.float32)) if array.dtype.kind in "fb" else None
        if array.dtype.kind in "iu":
            expected = [int_to_f32_bits(int(v)) for v in array.reshape(-1)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                numpy_bits = f32_bits(array.astype(np.float32))
            if numpy_bits != expected:
                print(f"note: numpy rounds {name} differently from exact RNE: {numpy_bits} vs {expected}")
        out[name] = (dtype, array.dtype.name, list(array.shape), array.astype(array.dtype.newbyteorder("<")).tobytes(), expected)

    add_numpy("f16", np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 2.0**-24, 2.0**-14, 0.1, np.inf, -np.inf, np.nan],
                              dtype=np.float16), "F16")
    add_numpy("f64", np.array([[0.1, -1e-3, 1e300, 1e-50], [3.5, 2.0**-149, 0.30000000000000004, -0.0]],
                              dtype=np.float64), "F64")
    add_numpy("i64", np.array([0, -7, 2**53 + 1, 2**60 + 2**36 + 1, -2**63, 2**63 - 1, 123456789], dtype=np.int64), "I64")
    add_numpy("i32", np.array([[-2**31, 2**31 - 1], [16777217, -5]], dtype=np.int32), "I32")
    add_numpy("i16", np.array([-32768, 32767, 0], dtype=np.int16), "I16")
    add_numpy("i8", np.array([-128, 127, -1], dtype=np.int8), "I8")
    add_numpy("u8", np.array([0, 1, 127, 128, 255], dtype=np.uint8), "U8")
    add_numpy("u16", np.array([0, 65535], dtype=np.uint16), "U16")
    add_numpy("u32", np.array([0, 2**32 - 1, 16777217], dtype=np.uint32), "U32")
    add_numpy("u64", np.array([0, 2**64 - 1, 2**63 + 2**39 + 1], dtype=np.uint64), "U64")
    add_numpy("bool", np.array([True, False, True]), "BOOL")
    add_numpy("c64", np.array([1 + 2j, -3.5j], dtype=np.complex64), "C64")
    out["c64"] = out["c64"][:4] + (None,)   # no Float reading

    # BF16 crafted by hand: the top 16 bits of a float32.
    bf16 = np.array(BF16_BITS, dtype="<u2").reshape(2, 4)
    out["bf16"] = ("BF16", "bfloat16", [2, 4], bf16.tobytes(), [b << 16 for b in BF16_BITS])

    for dtype, (serialize_name, cases) in F8_CASES.items():
        raw = bytes(b for b, _ in cases)
        expected = f32_bits([v for _, v in cases])
        out[dtype.lower()] = (dtype, serialize_name, [len(cases)], raw, expected)
    return out


def write_mixed(out):
    tensors = mixed_tensors()
    path = os.path.join(out, "python_mixed.safetensors")
    # serialize_file is what safetensors.numpy / .torch call underneath; feeding it raw bytes
    # lets the script write BF16 and 8-bit floats without torch, through the reference writer.
    buffers = []   # keeps the memory behind each data_ptr alive until serialize_file returns
    specs = {}
    for name, (_, serialize_name, shape, raw, _) in tensors.items():
        buffer = np.frombuffer(raw, dtype=np.uint8).copy()
        buffers.append(buffer)
        specs[name] = TensorSpec(dtype=serialize_name, shape=shape, data_ptr=buffer.ctypes.data, data_len=len(raw))
    metadata = {"format": "mien-test", "content": "mixed dtypes"}
    write_deterministically(lambda: serialize_file(specs, path, metadata=metadata), path, metadata)
    side = {"tensors": [
        {"name": name, "dtype": dtype, "shape": shape, "float32_bits": expected}
        for name, (dtype, _, shape, _, expected) in sorted(tensors.items())
    ]}
    with open(os.path.join(out, "python_mixed.json"), "w", encoding="utf-8") as f:
        json.dump(side, f, indent=1)
        f.write("\n")
    if torch is not None:
        check_with_torch(path, tensors)


def check_with_torch(path, tensors):
    """The hand-made BF16/F8 bytes decode in torch to the expected floats, and torch's own
    writer produces the same bytes for them."""
    from safetensors.torch import load_file as torch_load, save_file as torch_save
    loaded = torch_load(path)
    for name, (dtype, _, shape, raw, expected) in tensors.items():
        if expected is None:
            continue
        t = loaded[name]
        got = f32_bits(t.to(torch.float32).numpy()) if t.dtype != torch.bool else f32_bits(t.numpy())
        for g, e in zip(got, expected):
            gn, en = np.uint32(g).view(np.float32), np.uint32(e).view(np.float32)
            assert (np.isnan(gn) and np.isnan(en)) or g == e, f"{name}: torch gives {got}, expected {expected}"
    with tempfile.TemporaryDirectory() as tmp:
        only = {name: loaded[name] for name in ["bf16", "f8_e4m3", "f8_e5m2"]}
        torch_path = os.path.join(tmp, "t.safetensors")
        torch_save(only, torch_path)
        again = torch_load(torch_path)
        for name in only:
            assert bytes(again[name].view(torch.uint8).numpy().tobytes()) == tensors[name][3], name
    print("torch cross-check: ok")


# ---------------------------------------------------------------------------
# Hostile files, byte by byte


def raw_file(header, data=b"", length=None, pad=True):
    """8-byte little-endian length, header (a dict is dumped as compact JSON, padded with
    spaces to a multiple of 8 like the reference writer), then data."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":")).encode("utf-8")
        if pad:
            header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def hostile_files():
    """name -> (bytes, what is wrong)."""
    good = raw_file({"a": entry("F32", [2, 3], 0, 24), "b": entry("F32", [4], 24, 40)}, f32(*range(10)))
    cut = len(good) - 10
    return {
        "truncated.safetensors": (good[:cut], "valid 2-tensor file cut in the data: 'b' [24, 40] runs past the 30 data bytes"),
        "header_past_end.safetensors": (raw_file(b'{"a":1}', length=1000), "header length 1000, but only 7 bytes follow"),
        "overlap.safetensors": (raw_file({"a": entry("F32", [6], 0, 24), "b": entry("F32", [4], 16, 32)}, f32(*range(8))),
                                "'a' [0, 24] and 'b' [16, 32] share 8 bytes"),
        "gap.safetensors": (raw_file({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 12, 20)}, f32(*range(5))),
                            "bytes 8..<12 belong to no tensor (before 'b')"),
        "wrong_byte_count.safetensors": (raw_file({"w": entry("F32", [2, 3], 0, 20)}, f32(*range(5))),
                                         "'w' has shape [2, 3] (24 bytes of F32), offsets [0, 20] hold 5 floats"),
        "unknown_dtype.safetensors": (raw_file({"x": entry("F7", [2], 0, 8)}, f32(1, 2)), "'x' has dtype \"F7\""),
        "bad_json.safetensors": (raw_file(b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}', f32(1)),
                                 "header JSON lacks its closing brace"),
        "huge_header.safetensors": (raw_file(b"{}", length=2**63), "header length 2^63"),
        "overflow_shape.safetensors": (raw_file({"big": entry("F32", [2**40, 2**40], 0, 16)}, f32(1, 2, 3, 4)),
                                       "'big' has shape [2^40, 2^40]: 2^80 elements overflow 64 bits"),
        "short.safetensors": (b"\x08\x00\x00", "3 bytes: not even the header length"),
        "metadata_not_string.safetensors": (raw_file({"__metadata__": {"format": "pt", "epoch": 3},
                                                      "a": entry("F32", [1], 0, 4)}, f32(1)),
                                            "__metadata__ value 'epoch' is the number 3"),
    }


def write_hostile(out):
    for name, (content, _) in hostile_files().items():
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(content)
        # The reference reader must refuse every one of them too.
        try:
            with safe_open(path, framework="np") as f:
                for key in f.keys():
                    f.get_tensor(key)
        except Exception as error:  # noqa: BLE001 - any refusal will do
            print(f"{name}: refused by safetensors ({type(error).__name__}: {str(error)[:70]})")
        else:
            sys.exit(f"{name}: the Python reader accepted it")


# ---------------------------------------------------------------------------


def check_reference_files(out):
    """Read back what was written, with the Python reader."""
    loaded = load_file(os.path.join(out, "python_f32.safetensors"))
    for name, t in f32_tensors().items():
        assert loaded[name].shape == t.shape and loaded[name].tobytes() == t.tobytes(), name
    with safe_open(os.path.join(out, "python_f32.safetensors"), framework="np") as f:
        assert f.metadata() == F32_METADATA, f.metadata()


def check_swift(path):
    """A Swift-written copy of python_f32 must read back identically in Python."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    loaded = load_file(path)
    expected = f32_tensors()
    assert set(loaded) == set(expected), (sorted(loaded), sorted(expected))
    for name, t in expected.items():
        assert loaded[name].dtype == np.float32 and loaded[name].shape == t.shape, name
        assert loaded[name].tobytes() == t.tobytes(), name
    with safe_open(path, framework="np") as f:
        assert f.metadata() == F32_METADATA, f.metadata()
    print(f"{path}: {len(loaded)} tensors and the metadata match python_f32.safetensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--check-swift", metavar="FILE", help="check a Swift-written copy of python_f32")
    args = parser.parse_args()
    if safetensors.__version__ != SAFETENSORS_VERSION:
        print(f"warning: safetensors {safetensors.__version__}, the fixtures were made with {SAFETENSORS_VERSION}")
    if args.check_swift:
        check_swift(args.check_swift)
        return
    os.makedirs(args.out, exist_ok=True)
    write_f32(args.out)
    write_mixed(args.out)
    check_reference_files(args.out)
    write_hostile(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
