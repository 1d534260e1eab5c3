"""Mien's random streams in Python, bit for bit: `SeededGenerator` (Sources/MienNN/Random.swift,
SplitMix64-seeded xoshiro256**, its unbiased bounded integers and Fisher–Yates shuffle), for
the tools that must draw what Mien draws (dropout masks in gradient fixtures, the validation
split). Pinned against Swift by Tests/MienNNTests/RandomTests.swift's values.
"""

MASK = (1 << 64) - 1


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
