#!/usr/bin/env python3
"""Writes the small HDF5 fixtures used by Tests/MienHDF5Tests into Tests/Fixtures/hdf5/.

Deterministic: fixed values, no timestamps (h5py's track_times defaults to
False), fixed random seed. Re-run after changing it:

    python3 tools/make_hdf5_fixtures.py
"""
import os
import struct

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "hdf5")


def fixed_string_type(size, pad):
    """A fixed-length ASCII string type with the given padding (h5py only makes NULLPAD)."""
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(size)
    tid.set_strpad(pad)
    return h5py.Datatype(tid)


def make_types(path):
    with h5py.File(path, "w", libver="earliest") as f:
        a = f.attrs
        # Strings.
        a["s"] = "héllo"                                              # vlen UTF-8 scalar
        a["fixed"] = np.bytes_("fixed")                               # fixed-length (S5) scalar, NULLPAD
        a["fixed_trailing_nul"] = np.array(b"ab", dtype="S8")         # S8 holding "ab\0\0\0\0\0\0"
        a["fixed_utf8"] = np.array("héllo".encode(), dtype=h5py.string_dtype("utf-8", 10))
        a.create("spacepad", data=np.bytes_("pad"), dtype=fixed_string_type(8, h5py.h5t.STR_SPACEPAD))
        a.create("nullterm", data=np.bytes_("nt"), dtype=fixed_string_type(8, h5py.h5t.STR_NULLTERM))
        a["fixed_arr"] = np.array([b"a", b"bcd"])                     # fixed-length (S3) array
        a["vlen_arr"] = np.array(["x", "yz"], dtype=h5py.string_dtype())
        a["one_string_arr"] = np.array(["only"], dtype=h5py.string_dtype())
        # Numbers.
        a["int_scalar"] = np.int64(42)
        a["int_arr"] = np.array([1, -2, 3], dtype=np.int32)
        a["uint8_scalar"] = np.uint8(200)
        a["float_scalar"] = np.float64(2.5)
        a["float32_arr"] = np.array([0.5, -1.25], dtype=np.float32)
        a["matrix"] = np.array([[1.0, 2.0], [3.0, 4.0]])                # 2-D, read flattened
        a["flag"] = np.bool_(True)                                    # h5py: int8 enum
        a["empty"] = []                                               # h5py: empty float64 (0,)
        a["compound"] = np.array((1, 2.0), dtype=[("a", "i4"), ("b", "f8")])
        # Keras-style split attribute: "names" absent, "names0", "names1" present.
        a["names0"] = np.array([b"layer_a", b"layer_b"])
        a["names1"] = np.array([b"layer_c"])

        # Nested groups and a Keras-style dataset name with a colon.
        c = f.create_group("a/b/c")
        k = c.create_dataset("kernel:0", data=np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
        k.attrs["units"] = np.int64(3)
        k.attrs["name"] = "kernel"
        f["a"].attrs["weight_names"] = np.array([b"a/b/c/kernel:0"])

        # Datasets of each dtype with exactly representable values.
        d = f.create_group("data")
        d["f16"] = np.array([0.5, -1.5, 2.0, 65504.0], dtype=np.float16)
        d["f32"] = np.array([[1.5, -2.25], [0.125, 1024.0]], dtype=np.float32)
        d["f64"] = np.array([0.1, -3.0, 1e10], dtype=np.float64)
        d["i32"] = np.array([[-3, 0, 7], [100, -100, 2147483647]], dtype=np.int32)
        d["u8"] = np.array([0, 1, 255], dtype=np.uint8)
        d["i64_be"] = np.array([-1, 2], dtype=">i8")
        d["scalar"] = np.float32(3.5)                                 # 0-d dataset
        d.create_dataset("empty", shape=(0, 3), dtype=np.float32)     # zero-size dimension
        d["strings"] = np.array(["p", "q"], dtype=h5py.string_dtype())
        d["compound"] = np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")])
        d.create_dataset("unwritten", shape=(2, 2), dtype=np.float32, fillvalue=7.0)
        d.create_dataset("gz", data=np.arange(6, dtype=np.float32).reshape(2, 3), compression="gzip")

        # Children created out of name order in a group that tracks creation
        # order. Low-level API: h5py's track_order=True also stamps times on
        # the group, which would make the file differ on every run.
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        order = h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED
        gcpl.set_link_creation_order(order)
        gcpl.set_attr_creation_order(order)
        gcpl.set_obj_track_times(False)
        o = h5py.Group(h5py.h5g.create(f.id, b"ordered", gcpl=gcpl))
        for name in ["zeta", "alpha", "mid"]:
            o.create_group(name)
        o.attrs["z"] = 1
        o.attrs["a"] = 2

        # A dangling soft link.
        f["dangling"] = h5py.SoftLink("/nowhere")


def make_big(path):
    """A valid file with a 64 KiB dataset, the source of truncated.h5."""
    rng = np.random.default_rng(1234)
    with h5py.File(path, "w", libver="earliest") as f:
        f.attrs["note"] = "big"
        f.create_dataset("big", data=rng.standard_normal((128, 128)).astype(np.float32))
        g = f.create_group("after")
        g.attrs["x"] = 1


def make_huge_dims(path):
    """Three 4099-element datasets whose headers are patched to claim 2**40
    elements: contiguous (libhdf5 itself rejects it), chunked and allocated
    (more data than the file holds), and never written (fill value only)."""
    n = 4099
    with h5py.File(path, "w", libver="earliest") as f:
        f.create_dataset("contiguous", data=np.arange(n, dtype=np.float32))
        f.create_dataset("chunked", data=np.arange(n, dtype=np.float32), chunks=(n,))
        f.create_dataset("unwritten", shape=(n,), dtype=np.float32)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    # Version-1 dataspace messages store dims then max dims as 8-byte
    # little-endian pairs; patch every (n, n) pair.
    pair = struct.pack("<QQ", n, n)
    huge = struct.pack("<QQ", 1 << 40, 1 << 40)
    patched = 0
    i = data.find(pair)
    while i >= 0:
        data[i:i + 16] = huge
        patched += 1
        i = data.find(pair, i + 16)
    assert patched == 3, patched
    with open(path, "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    make_types(os.path.join(OUT, "types.h5"))

    with open(os.path.join(OUT, "not_hdf5.h5"), "w") as f:
        f.write("This is a text file, not HDF5.\n")
    open(os.path.join(OUT, "empty.h5"), "wb").close()

    big = os.path.join(OUT, "big.tmp.h5")
    make_big(big)
    with open(big, "rb") as f:
        data = f.read()
    os.remove(big)
    with open(os.path.join(OUT, "truncated.h5"), "wb") as f:
        f.write(data[: len(data) // 2])

    make_huge_dims(os.path.join(OUT, "huge_dims.h5"))

    # A valid signature followed by garbage: passes the signature check,
    # then libhdf5 must reject the superblock.
    with open(os.path.join(OUT, "bad_superblock.h5"), "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)


if __name__ == "__main__":
    main()
