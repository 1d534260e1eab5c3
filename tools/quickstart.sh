#!/usr/bin/env bash
# The main job on the bundled sample faces: fine-tune a happy-vs-angry head on the frozen
# bundled EfficientNet-Lite0, evaluate it on the held-out sample faces, predict one face.
# Writes out/fer_happy_angry.mien (and its .history.json).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product mien
mien=.build/release/mien
mkdir -p out
"$mien" train --backbone Weights/efficientnet_lite0_notop.h5 --data Samples/fer2013/train \
    --classes angry,happy --output out/fer_happy_angry.mien "$@"
"$mien" evaluate out/fer_happy_angry.mien --data Samples/fer2013/test
face=$(find Samples/fer2013/test/happy -name '*.jpg' | sort | head -1)
"$mien" predict out/fer_happy_angry.mien "$face" --top 2
