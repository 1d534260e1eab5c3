#!/usr/bin/env python3
"""Writes the JPEG/PNG fixtures used by Tests/MienImagesTests into Tests/Fixtures/images/.

Needs numpy and Pillow 13.0.0 from PyPI (pinned in tools/requirements.txt). The
expected pixels are what Pillow decodes, because Keras users load faces with
`keras.utils.load_img`, which is Pillow:

    NAME.L.raw    bytes of np.asarray(Image.open(NAME).convert("L"))     (H*W)
    NAME.RGB.raw  bytes of np.asarray(Image.open(NAME).convert("RGB"))   (H*W*3)
    expected.json name -> {"width", "height", "channels"}  (channels: the file's own, 1 or 3)

Deterministic: no randomness except numpy generators with fixed seeds, no
timestamps; two runs give byte-identical files. Some PNGs are written by a small
PNG writer below (16-bit RGB, 16-bit gray+alpha, 2-bit gray, 4-bit palette with
tRNS, Adam7-interlaced, gAMA) because Pillow cannot save those. The FER faces are
copied from ../shared/fer2013 when it exists (the copies are committed, so
re-running without ../shared keeps the committed faces).

    python3 tools/make_image_fixtures.py
"""
import io
import json
import os
import shutil
import struct
import sys
import warnings
import zlib

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "images")
FER = os.path.join(os.path.dirname(ROOT), "shared", "fer2013", "train", "happy")
FACES = ["Training_10019449.jpg", "Training_10046809.jpg", "Training_10066226.jpg"]
PILLOW_VERSION = "13.0.0"


# --- a minimal PNG writer (for the formats Pillow cannot save) -------------------------

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(row, bit_depth):
    row = np.asarray(row)
    if bit_depth == 16:
        return row.astype(">u2").tobytes()
    if bit_depth == 8:
        return row.astype(np.uint8).tobytes()
    bits = np.unpackbits(row.reshape(-1, 1).astype(np.uint8), axis=1)[:, 8 - bit_depth:]
    return np.packbits(bits.reshape(-1)).tobytes()


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(arr, color_type, bit_depth, extra=b"", plte=None, trns=None, interlace=False):
    """arr: H x W (gray, palette) or H x W x C. Filter type 0 on every row."""
    arr = np.asarray(arr)
    h, w = arr.shape[:2]
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            sub = arr[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += b"".join(b"\0" + pack_row(r, bit_depth) for r in sub)
    else:
        raw = b"".join(b"\0" + pack_row(r, bit_depth) for r in arr)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra
    if plte is not None:
        out += chunk(b"PLTE", bytes(int(v) for v in np.asarray(plte).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# --- test pictures ----------------------------------------------------------------------

def colour_picture(w, h):
    """Smooth gradients plus a sharp disc and stripes, so chroma upsampling matters."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 4.0)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2
    r[disc], g[disc], b[disc] = 250, 30, 40
    b[:, ::7] = 10
    return np.clip(np.stack([r, g, b], -1).round(), 0, 255).astype(np.uint8)


def gray_picture(w, h):
    rgb = colour_picture(w, h).astype(np.int64)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def pillow_save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def good_files():
    """name -> bytes, for every file that Pillow decodes."""
    files = {}
    rng = np.random.default_rng(20240601)

    # JPEG: FER faces (48x48 gray), colour in three subsamplings, progressive, CMYK.
    for name in FACES:
        src = os.path.join(FER, name)
        dst = os.path.join(OUT, "face_" + name.split("_")[1])
        if os.path.exists(src):
            files[os.path.basename(dst)] = open(src, "rb").read()
        elif os.path.exists(dst):
            files[os.path.basename(dst)] = open(dst, "rb").read()
        else:
            sys.exit(f"missing {src} (and no committed copy {dst})")
    rgb = Image.fromarray(colour_picture(40, 30))
    files["color_420.jpg"] = pillow_save(rgb, "JPEG", quality=90, subsampling=2)
    files["color_444.jpg"] = pillow_save(rgb, "JPEG", quality=90, subsampling=0)
    files["color_422_odd.jpg"] = pillow_save(Image.fromarray(colour_picture(41, 29)), "JPEG",
                                             quality=85, subsampling=1)
    files["progressive.jpg"] = pillow_save(rgb, "JPEG", quality=80, subsampling=2, progressive=True)
    files["gray_odd.jpg"] = pillow_save(Image.fromarray(gray_picture(33, 17)), "JPEG", quality=75)
    # Damaged but loadable: libjpeg warns and Pillow ignores the warnings.
    face = bytearray(files["face_10019449.jpg"])
    sos = face.index(b"\xff\xda")
    face[sos + 40:sos + 56] = b"\x55" * 16         # "Corrupt JPEG data: 70 extraneous bytes before marker 0xd9"
    files["damaged_scan.jpg"] = bytes(face)
    jpeg = files["color_420.jpg"]
    sof = jpeg.index(b"\xff\xc0")
    files["stray_bytes.jpg"] = jpeg[:sof] + b"\x00\x01\x02\x03" + jpeg[sof:]   # "4 extraneous bytes before marker 0xc0"
    cmyk = np.concatenate([255 - colour_picture(40, 30), (np.arange(40)[None, :, None] * 3
                                                           + np.zeros((30, 1, 1), int)).astype(np.uint8)], -1)
    files["cmyk.jpg"] = pillow_save(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=90)

    # PNG saved by Pillow.
    files["gray.png"] = pillow_save(Image.fromarray(gray_picture(40, 30)), "PNG")
    files["rgb.png"] = pillow_save(rgb, "PNG")
    alpha = rng.integers(0, 256, (30, 40, 1), dtype=np.uint8)
    files["rgba.png"] = pillow_save(Image.fromarray(np.concatenate([colour_picture(40, 30), alpha], -1), "RGBA"), "PNG")
    files["gray_alpha.png"] = pillow_save(
        Image.fromarray(np.stack([gray_picture(40, 30), alpha[..., 0]], -1), "LA"), "PNG")
    files["palette.png"] = pillow_save(rgb.quantize(colors=50, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE), "PNG")
    g16 = (gray_picture(40, 30).astype(np.uint16) * 257)
    g16[:15] //= 300                       # the top half stays below 256: Pillow's I;16 -> L clips at 255
    files["gray16.png"] = pillow_save(Image.fromarray(g16), "PNG")
    files["bilevel.png"] = pillow_save(Image.fromarray(gray_picture(37, 11) > 128), "PNG")

    # PNG from the writer above.
    files["rgb16.png"] = write_png(rng.integers(0, 65536, (13, 17, 3)), 2, 16)
    files["gray_alpha16.png"] = write_png(rng.integers(0, 65536, (9, 11, 2)), 4, 16)
    files["gray2bit.png"] = write_png(rng.integers(0, 4, (7, 13)), 0, 2)
    files["palette4_trns.png"] = write_png(rng.integers(0, 16, (10, 15)), 3, 4,
                                           plte=rng.integers(0, 256, (16, 3)), trns=bytes([0, 128, 255, 7]))
    files["gray_trns.png"] = write_png(gray_picture(20, 10), 0, 8, trns=struct.pack(">H", 200))
    files["interlaced.png"] = write_png(colour_picture(23, 19), 2, 8, interlace=True)
    files["interlaced16.png"] = write_png(rng.integers(0, 65536, (9, 10)), 0, 16, interlace=True)
    files["gamma.png"] = write_png(colour_picture(20, 10), 2, 8,
                                   extra=chunk(b"gAMA", struct.pack(">I", 100000)))   # gamma 1.0: Pillow ignores it
    return files


def file_channels(data):
    """The file's own channel count for the decoder: 1 for gray (+alpha), 3 for colour/palette/CMYK.
    (Not Pillow's mode: Pillow opens a 16-bit gray+alpha PNG as RGBA.)"""
    if data.startswith(b"\x89PNG"):
        return 1 if data[25] in (0, 4) else 3
    return 1 if Image.open(io.BytesIO(data)).layers == 1 else 3


def patch_jpeg_size(data, width, height):
    """Returns data with the size fields of its SOF0 segment replaced."""
    i = data.index(b"\xff\xc0")
    return data[:i + 5] + struct.pack(">HH", height, width) + data[i + 9:]


def bad_files(good):
    png = good["rgb.png"]
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    huge_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return {
        "truncated.jpg": good["color_420.jpg"][: len(good["color_420.jpg"]) // 2],
        "truncated.png": png[: len(png) // 2],
        "not_an_image.jpg": b"This is a text file, not a JPEG.\n",
        "empty.png": b"",
        "huge.png": huge_png,                                          # 20000 x 20000 claimed
        "huge.jpg": patch_jpeg_size(good["color_420.jpg"], 60000, 50000),
        "png_named.jpg": good["gray.png"],                             # right content, wrong extension
    }


def main():
    warnings.simplefilter("ignore")        # Pillow: "Palette images with Transparency expressed in bytes..."
    if PIL.__version__ != PILLOW_VERSION:
        print(f"warning: Pillow {PIL.__version__}, expected {PILLOW_VERSION}", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    good = good_files()                    # before cleaning: it may reuse the committed faces
    for f in os.listdir(OUT):
        if f.endswith((".raw", ".jpg", ".png", ".json")):
            os.remove(os.path.join(OUT, f))
    expected = {}
    for name, data in sorted(good.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        im = Image.open(os.path.join(OUT, name))
        im.load()
        own = file_channels(data)
        gray = np.asarray(im.convert("L"))
        rgb = np.asarray(im.convert("RGB"))
        assert gray.shape == (im.height, im.width) and rgb.shape == (im.height, im.width, 3)
        gray.tofile(os.path.join(OUT, name + ".L.raw"))
        rgb.tofile(os.path.join(OUT, name + ".RGB.raw"))
        expected[name] = {"width": im.width, "height": im.height, "channels": own, "pillow_mode": im.mode}
    for name, data in sorted(bad_files(good).items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    # Pillow itself must refuse the corrupt files (and load the mislabelled PNG).
    for name in ["truncated.jpg", "truncated.png", "not_an_image.jpg", "empty.png"]:
        try:
            Image.open(os.path.join(OUT, name)).load()
        except Exception:
            pass
        else:
            sys.exit(f"Pillow decoded {name}")
    assert Image.open(os.path.join(OUT, "png_named.jpg")).format == "PNG"
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"pillow_version": PIL.__version__, "images": expected}, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
