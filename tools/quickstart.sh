#!/usr/bin/env bash
# The main job on the bundled sample faces: fine-tune a happy-vs-angry head on the frozen
# bundled EfficientNet-Lite0, predict one face, evaluate on the held-out sample faces.
# Writes out/fer_happy_angry.mien (and its .history.json) and the report out/report/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product mien
mien=.build/release/mien
mkdir -p out
"$mien" train --backbone Weights/efficientnet_lite0_notop.h5 --data Samples/fer2013/train \
    --classes angry,happy --output out/fer_happy_angry.mien "$@"
face=$(find Samples/fer2013/test/happy -name '*.jpg' | sort | head -1)
"$mien" predict out/fer_happy_angry.mien "$face" --top 2
# Last, so that the report's path is the last line printed.
"$mien" evaluate out/fer_happy_angry.mien --data Samples/fer2013/test --report out/report
