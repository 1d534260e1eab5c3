"""Backbone forward throughput and peak memory, Mien vs Keras, on this machine, in one run.

    swift build -c release
    python3 tools/bench_speed.py [--sizes 96 224] [--repetitions 3] [--seconds 8] [--json out.json]

The work: EfficientNet-Lite0 without its top (Weights/efficientnet_lite0_notop.h5) on
random 0..255 images, batch 64, after a warm-up batch, for at least --seconds, at each
size, on 1 thread and on all cores. Mien: `mien bench` (BatchNormalization folded, as Mien
predicts and trains). Keras: `model(x, training=False)` in a loop (no `predict` overhead),
TensorFlow's intra- and inter-op threads set to the same count, two warm-up calls. Keras
runs twice per repetition: with glibc's allocator as shipped ("Keras"), and set to keep
freed memory as Mien sets it for itself ("Keras kept", KEEP_FREED_MEMORY below), since either
can be the faster; Mien/Keras is against the faster. Each measurement is its own process
and reports its own peak resident memory (`ru_maxrss`); the runs alternate (Mien, Keras,
Keras kept, Mien, ...) and the table shows medians. Mien also prints the GFLOP/s it
reaches and `cblas_sgemm`'s on the same machine.

The fine-tune and single-face numbers come from tools/bench_train.py and
tools/bench_predict.py. Versions: tools/requirements.txt.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKBONE = os.path.join(ROOT, "Weights", "efficientnet_lite0_notop.h5")

# glibc's allocator set as Mien sets it for itself (MienNN's `Allocator.keepFreedBuffersForReuse`):
# freed buffers stay in the heap instead of going back to the kernel and returning as fresh,
# page-faulting, zero-filled memory. TensorFlow does not set it; on this project's 2-core VM
# its batch-64 forward pass at 224x224 then spent more time in page faults than computing
# (6.7 img/s on one thread as shipped, 26.7 with these). Limits of 1 GiB and 4 GiB since
# Keras's activations are whole-batch tensors of up to ~300 MB. (The same setting made
# Keras's `fit` in tools/bench_train.py slower, so only this benchmark uses it.)
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(4 << 30)}


def keras_worker(size, threads, seconds, batch):
    """Runs in a child process: TensorFlow's thread pools are fixed when it starts."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    model = keras.models.load_model(BACKBONE, compile=False)
    x = tf.constant(np.random.default_rng(1).uniform(0, 255, (batch, size, size, 3)).astype("float32"))
    # Warm-up: the first call builds the graph, the second lets the heap reach its steady size
    # (Mien gets one warm-up batch; the second is in Keras's favour).
    for _ in range(2):
        model(x, training=False).numpy()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        model(x, training=False).numpy()
        times.append(time.perf_counter() - t)
    print(json.dumps({"images_per_second": batch * len(times) / sum(times),
                      "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_child(command, env=None):
    """Runs one measurement in its own process and returns its JSON result (which includes
    the process's own peak resident memory)."""
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    return json.loads(out[out.index("{"):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mien", default=os.path.join(ROOT, ".build", "release", "mien"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count()])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--json")
    parser.add_argument("--worker", nargs=3, type=int, metavar=("SIZE", "THREADS", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        keras_worker(args.worker[0], args.worker[1], args.seconds, args.worker[2])
        return

    rows = []
    for size in args.sizes:
        for threads in args.threads:
            mien, keras, kept = [], [], []
            worker = [sys.executable, __file__, "--worker", str(size), str(threads), str(args.batch_size),
                      "--seconds", str(args.seconds)]
            shipped = {k: v for k, v in os.environ.items() if k not in KEEP_FREED_MEMORY}
            for _ in range(args.repetitions):
                mien.append(run_child([args.mien, "bench", BACKBONE, "--input-size", str(size), "--threads", str(threads),
                                       "--batch-size", str(args.batch_size), "--seconds", str(args.seconds),
                                       "--format", "json"]))
                keras.append(run_child(worker, env=shipped))
                kept.append(run_child(worker, env=dict(shipped, **KEEP_FREED_MEMORY)))
            row = {
                "size": size, "threads": threads,
                "mien_images_per_second": statistics.median(r["images_per_second"] for r in mien),
                "keras_images_per_second": statistics.median(r["images_per_second"] for r in keras),
                "keras_kept_images_per_second": statistics.median(r["images_per_second"] for r in kept),
                "mien_gflops_per_second": statistics.median(r["gflops_per_second"] for r in mien),
                "sgemm_gflops_per_second": statistics.median(r["sgemm_gflops_per_second"] for r in mien),
                "mien_peak_mb": max(r["peak_memory_mb"] for r in mien),
                "keras_peak_mb": min(max(r["peak_memory_mb"] for r in keras), max(r["peak_memory_mb"] for r in kept)),
            }
            best = max(row["keras_images_per_second"], row["keras_kept_images_per_second"])
            row["ratio"] = row["mien_images_per_second"] / best
            print(f"{size}x{size} {threads} thread(s): Mien {row['mien_images_per_second']:.1f} img/s, "
                  f"Keras {row['keras_images_per_second']:.1f} img/s (freed memory kept: "
                  f"{row['keras_kept_images_per_second']:.1f}), Mien/Keras {row['ratio']:.2f}x", flush=True)
            rows.append(row)

    print()
    print(f"{'input':>8} {'threads':>7} {'Mien img/s':>11} {'Keras img/s':>12} {'Keras kept':>11} {'Mien/Keras':>11} "
          f"{'Mien GFLOP/s':>13} {'sgemm GFLOP/s':>14} {'Mien MB':>8} {'Keras MB':>9}")
    for r in rows:
        print(f"{r['size']:>8} {r['threads']:>7} {r['mien_images_per_second']:>11.1f} {r['keras_images_per_second']:>12.1f} "
              f"{r['keras_kept_images_per_second']:>11.1f} {r['ratio']:>10.2f}x {r['mien_gflops_per_second']:>13.1f} "
              f"{r['sgemm_gflops_per_second']:>14.1f} {r['mien_peak_mb']:>8.0f} {r['keras_peak_mb']:>9.0f}")
    print("Keras kept: with " + ", ".join(f"{k}={v}" for k, v in KEEP_FREED_MEMORY.items())
          + "; Mien/Keras is against the faster Keras; Keras MB is the smaller of the two peaks")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
