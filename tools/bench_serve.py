#!/usr/bin/env python3
"""`mien serve` under load: N WebSocket clients sending camera frames for a while.

Each client sends a 640×480 frame (a composed photo with faces), waits for the answer and
sends the next one at once, as the live page does; a second connection per client floods
frames without waiting, to check that stale frames are dropped rather than queued (its
answers must keep up: the last answer's frame number stays close to the last frame sent).
The server's resident memory is sampled every second (from /proc) and must not grow after
the first 10 seconds.

    swift build -c release --product mien
    pip install websockets==15.0.1
    python3 tools/bench_serve.py --mien .build/release/mien --model Weights/fer7.mien \\
        --frame Tests/Fixtures/mtcnn/photos/composed_06.jpg [--clients 8] [--seconds 60]
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time

import websockets


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def steady(url, frame, until, stats):
    async with websockets.connect(url, max_size=1 << 22) as ws:
        while time.monotonic() < until:
            t = time.monotonic()
            await ws.send(frame)
            reply = json.loads(await ws.recv())
            stats["latency"].append(time.monotonic() - t)
            stats["errors"] += "error" in reply
            stats["answered"] += 1


async def flood(url, frame, until, stats):
    async with websockets.connect(url, max_size=1 << 22) as ws:
        sent = 0
        last = {"frame": 0}

        async def reader():
            async for message in ws:
                reply = json.loads(message)
                last.update(reply)
                stats["errors"] += "error" in reply

        task = asyncio.create_task(reader())
        while time.monotonic() < until:
            await ws.send(frame)
            sent += 1
            await asyncio.sleep(0.005)
        await asyncio.sleep(2)
        task.cancel()
        stats["flood_sent"] += sent
        stats["flood_last_answered"].append(f"{last.get('frame', 0)}/{sent}")
        stats["flood_dropped"] += last.get("dropped", 0)


async def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mien", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--frame", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    server = subprocess.Popen([args.mien, "serve", args.model, "--port", str(args.port)], stdout=subprocess.PIPE, text=True)
    print(server.stdout.readline().strip(), flush=True)
    frame = open(args.frame, "rb").read()
    url = f"ws://127.0.0.1:{args.port}/ws"
    stats = {"latency": [], "errors": 0, "answered": 0, "flood_sent": 0, "flood_last_answered": [], "flood_dropped": 0}
    memory = []
    start = time.monotonic()
    until = start + args.seconds

    async def sample():
        while time.monotonic() < until + 1:
            memory.append((time.monotonic() - start, rss_mb(server.pid)))
            await asyncio.sleep(1)

    await asyncio.gather(sample(), *[steady(url, frame, until, stats) for _ in range(args.clients)],
                         *[flood(url, frame, until, stats) for _ in range(args.clients)])
    server.terminate()
    code = server.wait(timeout=30)
    lat = sorted(stats["latency"])
    after = [m for t, m in memory if t >= 10]
    print(f"{args.clients} steady + {args.clients} flooding clients, {args.seconds:.0f} s: "
          f"{stats['answered']} frames answered to the steady clients "
          f"({stats['answered'] / args.seconds:.1f}/s), median {1000 * lat[len(lat) // 2]:.0f} ms, "
          f"p99 {1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]:.0f} ms; errors {stats['errors']}")
    print(f"flooding clients sent {stats['flood_sent']} frames, {stats['flood_dropped']} dropped as stale; "
          f"last frame answered / sent per client: {stats['flood_last_answered']}")
    print(f"server memory (RSS): {memory[0][1]:.0f} MB at start, {min(after):.0f}–{max(after):.0f} MB from 10 s on, "
          f"{memory[-1][1]:.0f} MB at the end; exit status {code} after SIGTERM")
    return 0 if stats["errors"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
