"""The validation faces `mien train` holds out, computed as Mien computes them
(`FaceDataset.split`: per class, a Fisher–Yates shuffle driven by xoshiro256** seeded from
(seed, RandomStream.split, label), the first round(fraction × count) held out), so that
settings of the photo pipeline are chosen on faces the bundled models never trained on.
"""

import os

MASK = (1 << 64) - 1
FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SPLIT_STREAM = 1  # RandomStream.split


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class SeededGenerator:
    """Mien's `SeededGenerator` (Sources/MienNN/Random.swift), bit for bit."""

    def __init__(self, seed, *streams):
        key = seed
        for stream in streams:
            key = _mix((key + 0x9E3779B97F4A7C15 + _mix(stream ^ 0xD1B54A32D192ED03)) & MASK)
        self.s = []
        for _ in range(4):
            key = (key + 0x9E3779B97F4A7C15) & MASK
            self.s.append(_mix(key))
        if not any(self.s):
            self.s[0] = 1

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_int(self, bound):
        product = self.next() * bound
        if product & MASK < bound:
            threshold = ((1 << 64) - bound) % bound
            while product & MASK < threshold:
                product = self.next() * bound
        return product >> 64

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.next_int(i + 1)
            items[i], items[j] = items[j], items[i]


def validation_faces(folder, classes=FER_CLASSES, fraction=0.2, seed=42):
    """(class, path) of the faces `mien train --data FOLDER --classes ... --seed SEED
    --validation-split FRACTION` holds out, by class and then file name."""
    result = []
    for label, name in enumerate(classes):
        files = sorted(f for f in os.listdir(os.path.join(folder, name))
                       if not f.startswith(".") and f.lower().rsplit(".", 1)[-1] in ("jpg", "jpeg", "png"))
        order = list(range(len(files)))
        SeededGenerator(seed, SPLIT_STREAM, label).shuffle(order)
        held = sorted(order[:int(round(fraction * len(files)))])
        result += [(name, os.path.join(folder, name, files[i])) for i in held]
    return result
