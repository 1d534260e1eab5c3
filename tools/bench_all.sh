#!/usr/bin/env bash
# Every side-by-side benchmark of Mien and Keras on this machine, one after the other
# (about an hour on 2 cores; each alternates Mien and Keras and prints medians):
#   1. backbone forward throughput, 96 and 224, 1 thread and all (tools/bench_speed.py)
#   2. the frozen-backbone fine-tune, 10 epochs, without and with augmentation, 3 runs each (tools/bench_train.py)
#   3-4. single-face latency, model import and .mien load time (tools/bench_predict.py)
#   5. peak memory: printed by 1 and 2
# Needs: pip install -r tools/requirements.txt, and FER-2013 in the Kaggle layout.
#   tools/bench_all.sh [FER2013_DIR=../shared/fer2013]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/fer2013}
swift build -c release --product mien
echo "== 1. backbone forward throughput"
python3 tools/bench_speed.py
echo "== 2. fine-tune, no augmentation"
python3 tools/bench_train.py --data "$data" --epochs 10
echo "== 2. fine-tune, with augmentation"
python3 tools/bench_train.py --data "$data" --epochs 10 --augment
echo "== 3-4. latency and load times"
python3 tools/bench_predict.py
