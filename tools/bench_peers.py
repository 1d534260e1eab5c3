#!/usr/bin/env python3
"""Mien against the engines people deploy on CPUs, each run the way its users run it fast.

    swift build -c release
    python3 tools/bench_peers.py [--sizes 96 224] [--threads 1 2] [--batches 64 1]
                                 [--rounds 3] [--seconds 5] [--json out.json]

The work: EfficientNet-Lite0 without its top (Weights/efficientnet_lite0_notop.h5) on random
0..255 images. The peers are made once from the same .h5 (cached in out/peers/): a
TensorFlow SavedModel (`model.export`), ONNX (tf2onnx, opset 17) and LiteRT (`TFLiteConverter`,
float32). Before anything is timed, every engine's output on a fixed input at each size is
compared with Keras's; an engine more than 1e-4 of the output's largest magnitude away is reported and
not timed.

Engines, each in its own process, in turn (Mien, Keras, ONNX Runtime, OpenVINO, LiteRT, Mien,
...), `--rounds` times per configuration; the table shows medians over rounds:
  mien         `mien bench --format json` (BatchNormalization folded, as Mien predicts)
  keras-graph  Keras 3 in graph mode: `tf.function(lambda x: model(x, training=False))`,
               TensorFlow's intra/inter-op threads set to --threads
  onnxruntime  an InferenceSession, intra_op_num_threads = --threads, graph optimizations all
  openvino     `compile_model` on CPU, INFERENCE_NUM_THREADS = --threads, LATENCY hint for
               batch 1 and THROUGHPUT otherwise
  litert       the XNNPACK delegate (LiteRT's default), num_threads = --threads
Each worker warms up twice, then times passes for at least --seconds: images per second, the
median and 99th-percentile time of a pass (with batch 1, one image's latency), and its peak
resident memory. `cblas_sgemm`'s GFLOP/s on the same threads comes from `mien bench`.

Versions: tools/requirements.txt (tensorflow 2.21, keras 3.15.1, onnxruntime, openvino,
ai-edge-litert, tf2onnx).
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
CACHE = os.path.join(ROOT, "out", "peers")
ENGINES = ["mien", "keras-graph", "onnxruntime", "openvino", "litert"]
TOLERANCE = 1e-4


def quiet_tensorflow():
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import warnings
    warnings.filterwarnings("ignore")


def prepare():
    """The peers' model files, made once from the bundled .h5."""
    os.makedirs(CACHE, exist_ok=True)
    saved = os.path.join(CACHE, "saved_model")
    onnx_path = os.path.join(CACHE, "lite0.onnx")
    tflite_path = os.path.join(CACHE, "lite0.tflite")
    if not os.path.exists(saved):
        subprocess.run([sys.executable, __file__, "--worker", "export"], check=True)
    if not os.path.exists(onnx_path):
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved, "--output", onnx_path,
                        "--opset", "17"], check=True, capture_output=True)
    if not os.path.exists(tflite_path):
        subprocess.run([sys.executable, __file__, "--worker", "tflite"], check=True)
    return saved, onnx_path, tflite_path


def images(batch, size, seed=1):
    import numpy as np
    return np.random.default_rng(seed).uniform(0, 255, (batch, size, size, 3)).astype("float32")


def runner(engine, threads, batch, size):
    """A callable that runs one forward pass of `batch` images of `size`, for one engine."""
    import numpy as np
    if engine == "keras-graph":
        quiet_tensorflow()
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        import keras
        model = keras.models.load_model(BACKBONE, compile=False)
        f = tf.function(lambda x: model(x, training=False))
        return lambda x: f(tf.constant(x)).numpy()
    if engine == "onnxruntime":
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(os.path.join(CACHE, "lite0.onnx"), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]
    if engine == "openvino":
        import openvino as ov
        core = ov.Core()
        model = core.read_model(os.path.join(CACHE, "lite0.onnx"))
        model.reshape([batch, size, size, 3])
        compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                     "PERFORMANCE_HINT": "LATENCY" if batch == 1 else "THROUGHPUT"})
        request = compiled.create_infer_request()
        return lambda x: np.asarray(request.infer({0: x})[compiled.output(0)])
    if engine == "litert":
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=os.path.join(CACHE, "lite0.tflite"), num_threads=threads)
        detail = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(detail["index"], [batch, size, size, 3])
        interpreter.allocate_tensors()
        out = interpreter.get_output_details()[0]["index"]

        def run(x):
            interpreter.set_tensor(detail["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(out)
        return run
    raise ValueError(engine)


def worker(args):
    if args.worker == "export":
        quiet_tensorflow()
        import keras
        keras.models.load_model(BACKBONE, compile=False).export(os.path.join(CACHE, "saved_model"),
                                                               format="tf_saved_model", verbose=False)
        return
    if args.worker == "tflite":
        quiet_tensorflow()
        import tensorflow as tf
        converter = tf.lite.TFLiteConverter.from_saved_model(os.path.join(CACHE, "saved_model"))
        with open(os.path.join(CACHE, "lite0.tflite"), "wb") as f:
            f.write(converter.convert())
        return
    if args.worker == "check":
        # Every engine's output on one fixed input, against Keras's.
        import numpy as np
        x = images(2, args.size, seed=7)
        expected = runner("keras-graph", 2, 2, args.size)(x)
        scale = float(np.abs(expected).max())
        result = {}
        for engine in ENGINES[2:]:
            try:
                y = runner(engine, 2, 2, args.size)(x)
                result[engine] = float(np.abs(y.reshape(expected.shape) - expected).max()) / scale
            except Exception as e:  # noqa: BLE001 - reported, not timed
                result[engine] = f"{type(e).__name__}: {e}"[:200]
        print(json.dumps(result))
        return
    run = runner(args.worker, args.threads, args.batch, args.size)
    x = images(args.batch, args.size)
    for _ in range(2):
        run(x)
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < args.seconds:
        t = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({"images_per_second": args.batch * len(times) / sum(times),
                      "median": times[len(times) // 2],
                      "p99": times[min(len(times) - 1, -(-99 * len(times) // 100) - 1)],
                      "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(engine, size, threads, batch, seconds, mien):
    if engine == "mien":
        r = subprocess.run([mien, "bench", BACKBONE, "--input-size", str(size), "--batch-size", str(batch),
                            "--threads", str(threads), "--seconds", str(seconds), "--format", "json"],
                           capture_output=True, text=True, check=True)
        j = json.loads(r.stdout)
        return {"images_per_second": j["images_per_second"], "median": j["median_batch_seconds"],
                "p99": j["p99_batch_seconds"], "peak_memory_mb": j["peak_memory_mb"],
                "sgemm": j["sgemm_gflops_per_second"]}
    r = subprocess.run([sys.executable, __file__, "--worker", engine, "--size", str(size), "--threads", str(threads),
                        "--batch", str(batch), "--seconds", str(seconds)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1][:160]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 224])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 1])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--mien", default=os.path.join(ROOT, ".build", "release", "mien"))
    parser.add_argument("--json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.threads = args.threads[0] if isinstance(args.threads, list) else args.threads
        return worker(args)

    prepare()
    engines = list(ENGINES)
    for size in args.sizes:
        check = subprocess.run([sys.executable, __file__, "--worker", "check", "--size", str(size)],
                               capture_output=True, text=True)
        found = json.loads(check.stdout.strip().splitlines()[-1]) if check.returncode == 0 else {}
        for engine in ENGINES[2:]:
            error = found.get(engine, "the check did not run")
            ok = isinstance(error, float) and error <= TOLERANCE
            print(f"check {size}x{size}: {engine} vs Keras: " + (f"{error:.2e} of the output's largest magnitude" if isinstance(error, float) else error)
                  + ("" if ok else " -> not timed"))
            if not ok and engine in engines:
                engines.remove(engine)

    results = []
    for batch in args.batches:
        for size in args.sizes:
            for threads in args.threads:
                if batch == 1 and threads != 1 and 1 in args.threads:
                    continue   # one face at a time: one thread, as the issue measures latency
                rounds = {e: [] for e in engines}
                for _ in range(args.rounds):
                    for engine in engines:
                        rounds[engine].append(measure(engine, size, threads, batch, args.seconds, args.mien))
                row = {"size": size, "threads": threads, "batch": batch, "engines": {}}
                for engine, runs in rounds.items():
                    good = [r for r in runs if "error" not in r]
                    if not good:
                        row["engines"][engine] = {"error": runs[0]["error"]}
                        continue
                    row["engines"][engine] = {k: statistics.median(r[k] for r in good)
                                              for k in ("images_per_second", "median", "p99", "peak_memory_mb")}
                    if engine == "mien":
                        row["sgemm"] = statistics.median(r["sgemm"] for r in good)
                results.append(row)
                print_row(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


def print_row(row):
    mien = row["engines"].get("mien", {}).get("images_per_second")
    print(f"\n{row['size']}x{row['size']}, batch {row['batch']}, {row['threads']} thread(s); "
          f"cblas_sgemm {row.get('sgemm', float('nan')):.0f} GFLOP/s")
    print(f"  {'engine':12} {'img/s':>8} {'median ms':>10} {'p99 ms':>8} {'peak MB':>8} {'Mien / it':>9}")
    for engine, r in row["engines"].items():
        if "error" in r:
            print(f"  {engine:12} error: {r['error']}")
            continue
        ratio = mien / r["images_per_second"] if mien else float("nan")
        print(f"  {engine:12} {r['images_per_second']:8.1f} {1000 * r['median']:10.2f} {1000 * r['p99']:8.2f} "
              f"{r['peak_memory_mb']:8.0f} {ratio:8.2f}x")


if __name__ == "__main__":
    sys.exit(main())
