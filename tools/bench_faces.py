#!/usr/bin/env python3
"""FER on ordinary photos, Mien against the `fer` package, side by side on the same photos.

Photos are composed as in tools/make_mtcnn.py: 640×480, each with 1–3 FER-2013 *test* faces
(56–180 pixels, turned by up to ±15° in every other photo) pasted at known boxes on
scikit-image's sample photos; nothing here is trained on. Settings are chosen on other photos
of the *train* faces that `mien train` holds out for validation (--faces validation). For
each engine:

  * detection: recall (a placed face is found when a box's centre is inside its square and
    the box is 0.25–1.5 of its side wide) and false positives per 100 photos;
  * emotion accuracy on the faces found, against FER-2013's labels; for Mien also on the
    original 48×48 crops (the same model, no detection) of all faces and of the faces it
    found, the latter the same faces as its photo accuracy, which it should stay within 1
    point of (the difference is also given face by face, with its standard error: on 200
    faces that error is about 3 points, so --every-face measures it on the whole set);
  * speed: one 640×480 frame with one face (the first of at least 100 pixels that Mien
    finds), decode to labels, one at a time, median and p99; the engines alternate in rounds.

Mien runs as its users run it (`mien predict MODEL photo.jpg`, `--timing` for latency);
`fer` 25.10.3 as its README shows (`FER().detect_emotions(cv2.imread(path))`, OpenCV's Haar
cascade), and in its MTCNN mode (`FER(mtcnn=True)`), whose facenet-pytorch needs PyTorch: the
`mtcnn` package's same networks stand in, at facenet-pytorch's settings, their rectangles
handed to `detect_emotions(image, face_rectangles=...)` (see mtcnn_rectangles; its latency is
TensorFlow's MTCNN, not PyTorch's).

    swift build -c release --product mien
    pip install mtcnn==1.0.0 && pip install --no-deps fer==25.10.3 opencv-contrib-python-headless==4.12.0.88
    python3 tools/bench_faces.py --fer2013 ../shared/fer2013 --mien .build/release/mien \
        --model Weights/fer7.mien [--photos 100 | --every-face] [--rounds 3] [--seed 7] [--mien-option=ARG ...] \
        [--json out.json]
    # choosing settings: other photos, of the train/ faces `mien train` held out
    python3 tools/bench_faces.py ... --seed 11 --faces validation --mien-only [--every-face]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from make_mtcnn import compose_photos  # noqa: E402

FER_LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def matches(box, placed):
    """A detection lies on a placed face when its centre is inside the face's square and its
    width is 0.25–1.5 of the square's side. (Not IoU: a detector's box is the face, which in
    a FER-2013 crop fills anything from half of the square to all of it.)"""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return (placed[0] <= cx <= placed[0] + placed[2] and placed[1] <= cy <= placed[1] + placed[3]
            and 0.25 * placed[2] <= box[2] <= 1.5 * placed[2])


def score(records, found):
    """Recall, false positives per 100 photos and emotion accuracy of matched faces."""
    placed = false_positives = 0
    found_faces = []  # indices, over all placed faces, of those found
    right = []        # whether each of those was read right
    for record, faces in zip(records, found):
        used = set()
        for face in record["faces"]:
            hit = next((i for i, f in enumerate(faces) if i not in used and matches(f["box"], face["box"])), None)
            if hit is not None:
                used.add(hit)
                found_faces.append(placed)
                right.append(faces[hit]["label"] == face["label"])
            placed += 1
        false_positives += len(faces) - len(used)
    matched = len(right)
    return {"faces": placed, "recall": matched / placed, "false_positives_per_100_photos": 100 * false_positives / len(records),
            "emotion_accuracy": sum(right) / max(matched, 1), "found": found_faces, "right": right}


def run_mien(args, paths):
    out = subprocess.run([args.mien, "predict", args.model, *paths, "--format", "json", *args.mien_option], check=True,
                         capture_output=True, text=True).stdout
    return [[{"box": f["box"], "label": f["label"]} for f in r.get("faces", [])] for r in json.loads(out)]


def mien_crops_accuracy(args, folder, records, found, found_right):
    """The model on the original 48×48 crops: its accuracy on all placed faces, and on the
    faces Mien found in the photos (indices `found`), the same faces the photo accuracy is of;
    and the photos' accuracy less the crops' on those faces, face by face, with its standard
    error (a face read right in one and not the other counts ±1)."""
    faces = [f for r in records for f in r["faces"]]
    out = subprocess.run([args.mien, "predict", args.model, *[os.path.join(folder, f["face"]) for f in faces],
                          "--format", "json", "--no-detect", *args.mien_option], check=True, capture_output=True, text=True).stdout
    right = [r["label"] == f["label"] for r, f in zip(json.loads(out), faces)]
    diff = np.array(found_right, float) - np.array([right[i] for i in found], float)
    return (float(np.mean(right)), float(np.mean([right[i] for i in found])),
            {"points": float(100 * diff.mean()), "standard_error": float(100 * diff.std(ddof=1) / np.sqrt(len(diff)))})


def mtcnn_rectangles(mtcnn, image):
    """The face rectangles `FER(mtcnn=True)` finds, with the `mtcnn` package standing in for
    facenet-pytorch (which needs PyTorch): the same MTCNN networks (both ported from
    davidsandberg/facenet's weights) at facenet-pytorch's defaults (smallest face 20,
    thresholds 0.6/0.7/0.7, factor 0.709), given the BGR array as fer gives it, and cut to
    integers as fer's find_faces does."""
    faces = mtcnn.detect_faces(image, box_format="xyxy", min_face_size=20, threshold_pnet=0.6,
                               threshold_rnet=0.7, threshold_onet=0.7, scale_factor=0.709)
    return [[int(f["box"][0]), int(f["box"][1]), int(f["box"][2]) - int(f["box"][0]), int(f["box"][3]) - int(f["box"][1])]
            for f in faces]


def fer_emotions(detector, image, mtcnn=None):
    """`FER().detect_emotions(image)`, or with `mtcnn` its MTCNN mode (see mtcnn_rectangles)."""
    if mtcnn is None:
        return detector.detect_emotions(image)
    return detector.detect_emotions(image, face_rectangles=mtcnn_rectangles(mtcnn, image))


def run_fer(detector, paths, mtcnn=None):
    import cv2
    found = []
    for path in paths:
        faces = fer_emotions(detector, cv2.imread(path), mtcnn)
        found.append([{"box": [float(v) for v in f["box"]],
                       "label": max(f["emotions"], key=f["emotions"].get)} for f in faces])
    return found


def time_mien(args, path, repeat):
    err = subprocess.run([args.mien, "predict", args.model, path, "--timing", "--repeat", str(repeat), *args.mien_option],
                         check=True, capture_output=True, text=True).stderr
    # "timing: load X ms; single image M ms median, P ms p99 over N runs"
    words = err.split("single image ")[1].split()
    return float(words[0]), float(words[3])


def time_fer(detector, path, repeat, mtcnn=None):
    import cv2
    fer_emotions(detector, cv2.imread(path), mtcnn)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fer_emotions(detector, cv2.imread(path), mtcnn)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(np.ceil(len(times) * 0.99)) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer2013", required=True)
    parser.add_argument("--mien", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7,
                        help="the photos' seed: 7 for the figures the README reports, 11 for choosing settings")
    parser.add_argument("--faces", choices=["test", "validation"], default="test",
                        help="the pasted faces: test/'s for the reported figures, or the train/ faces that "
                             "`mien train` holds out for validation, for choosing settings (never tune on test/)")
    parser.add_argument("--every-face", action="store_true",
                        help="place every face of the set once (--photos is ignored): 3,589 test faces on 1,795 "
                             "photos, so that accuracy is the whole set's, not a sample's")
    parser.add_argument("--mien-only", action="store_true", help="skip the fer package (for choosing settings)")
    parser.add_argument("--mien-option", action="append", default=[],
                        help="an argument added to every `mien predict` (repeat it), e.g. "
                             "--mien-option=--face-thresholds=0.2,0.2,0.75")
    parser.add_argument("--json")
    args = parser.parse_args()
    engines = ["mien"] if args.mien_only else ["mien", "fer_haar", "fer_mtcnn"]
    if not args.mien_only:
        from fer.fer import FER
        from mtcnn import MTCNN
        detector, mtcnn = FER(), MTCNN()
    with tempfile.TemporaryDirectory() as folder:
        records = compose_photos(args.fer2013, folder, args.photos, seed=args.seed, faces=args.faces,
                                 every_face=args.every_face)
        paths = [os.path.join(folder, r["file"]) for r in records]
        result = {"photos": len(records), "faces": args.faces, "mien": score(records, run_mien(args, paths))}
        if not args.mien_only:
            result["fer_haar"] = score(records, run_fer(detector, paths))
            result["fer_mtcnn"] = score(records, run_fer(detector, paths, mtcnn))
        (result["mien"]["emotion_accuracy_on_crops"], result["mien"]["emotion_accuracy_on_crops_found"],
         result["mien"]["photos_less_crops"]) = mien_crops_accuracy(args, folder, records, result["mien"]["found"],
                                                                    result["mien"]["right"])
        # One face per frame: the first photo with a single face of at least 100 pixels that
        # Mien found (a frame whose face it missed would time the detector alone).
        firsts = np.cumsum([0] + [len(r["faces"]) for r in records])
        found = set(result["mien"]["found"])
        frame = next(p for p, r, first in zip(paths, records, firsts)
                     if len(r["faces"]) == 1 and r["faces"][0]["box"][2] >= 100 and first in found)
        speed = {name: [] for name in engines}
        for _ in range(args.rounds):
            speed["mien"].append(time_mien(args, frame, args.repeat))
            if not args.mien_only:
                speed["fer_haar"].append(time_fer(detector, frame, args.repeat))
                speed["fer_mtcnn"].append(time_fer(detector, frame, args.repeat, mtcnn))
        result["latency_ms"] = {k: {"median": float(np.median([m for m, _ in v])), "p99": float(np.median([p for _, p in v]))}
                                for k, v in speed.items()}
    for name in engines:
        r, t = result[name], result["latency_ms"][name]
        print(f"{name:9s} recall {r['recall']:.3f}  false positives/100 photos {r['false_positives_per_100_photos']:.1f}  "
              f"emotion accuracy {r['emotion_accuracy']:.3f}  640×480 one face: {t['median']:.1f} ms median, "
              f"{t['p99']:.1f} ms p99 ({1000 / t['median']:.1f} frames/s)")
    print(f"mien on the original crops: emotion accuracy {result['mien']['emotion_accuracy_on_crops']:.3f} "
          f"(on the faces it found in the photos: {result['mien']['emotion_accuracy_on_crops_found']:.3f}; "
          f"photos less crops, face by face: {result['mien']['photos_less_crops']['points']:+.1f} ± "
          f"{result['mien']['photos_less_crops']['standard_error']:.1f} points)")
    for name in engines[1:]:
        print(f"speed ratio ({name} median / mien median): "
              f"{result['latency_ms'][name]['median'] / result['latency_ms']['mien']['median']:.2f}×")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
