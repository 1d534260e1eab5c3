"""The validation faces `mien train` holds out, computed as Mien computes them
(`FaceDataset.split`: per class, a Fisher–Yates shuffle driven by xoshiro256** seeded from
(seed, RandomStream.split, label), the first round(fraction × count) held out), so that
settings of the photo pipeline are chosen on faces the bundled models never trained on.
"""

import os

from mien_random import SeededGenerator

FER_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SPLIT_STREAM = 1  # RandomStream.split


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
