#!/usr/bin/env bash
# Coverage-guided fuzzing of one Mien fuzz target with libFuzzer (and AddressSanitizer).
#
#   tools/fuzz.sh TARGET [SECONDS] [JOBS]
#
# TARGET: safetensors, mien, keras-config, head, image, csv, checkpoint or detector-manifest (Sources/MienFuzz).
# SECONDS: how long to fuzz (default 1800). JOBS: parallel fuzzing processes (default 1;
# more uses libFuzzer's -fork mode, which shares one corpus between the processes and keeps
# going after a finding; MIEN_FUZZ_KEEP_GOING=1 does the same with one job). Without fork
# mode libFuzzer stops at the first finding.
#
# Builds .build-fuzz/release/mien-fuzz with -sanitize=fuzzer,address (a separate build
# folder: .build is not touched; set MIEN_FUZZ_SKIP_BUILD=1 to reuse the binary), then
# fuzzes with a working corpus in out/fuzz/TARGET/corpus that persists between runs (so
# runs accumulate), read together with the committed Tests/Fixtures/fuzz/TARGET/seeds and
# .../crashes. Inputs that crash, hang (-timeout=10 s) or take too much memory
# (-rss_limit_mb=2048, -malloc_limit_mb=2048) land in out/fuzz/TARGET/ as crash-*,
# timeout-*, oom-*, leak-*, slow-unit-* files; the whole libFuzzer log is out/fuzz/TARGET/fuzz.log.
# Extra libFuzzer flags can be given in MIEN_FUZZ_FLAGS (e.g. "-use_value_profile=1").
#
# Exit status: 0 when nothing was found, 1 when an artifact was written, 2 on a usage or
# build error.
set -uo pipefail

TARGETS="safetensors mien keras-config head image csv checkpoint detector-manifest"
usage() {
    echo "usage: tools/fuzz.sh TARGET [SECONDS] [JOBS]   (TARGET: ${TARGETS// /, })" >&2
    exit 2
}
[[ $# -ge 1 && $# -le 3 ]] || usage
target=$1
seconds=${2:-1800}
jobs=${3:-1}
[[ " $TARGETS " == *" $target "* ]] || usage
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || usage
[[ $jobs =~ ^[0-9]+$ && $jobs -ge 1 ]] || usage

cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# A Swift runtime trap must reach libFuzzer's deadly-signal handler directly: the Swift
# backtracer would read the stack in ways ASan reports as a (false) stack-buffer-underflow.
export SWIFT_BACKTRACE=enable=no

case $target in
    keras-config|head|csv|detector-manifest) max_len=65536 ;;      # text
    *) max_len=1048576 ;;                          # files: safetensors, .mien, images
esac

bin=.build-fuzz/release/mien-fuzz
if [[ ${MIEN_FUZZ_SKIP_BUILD:-0} != 1 || ! -x $bin ]]; then
    echo "building $bin (libFuzzer + AddressSanitizer; the first build takes minutes)..."
    start=$(date +%s)
    build_log=$(mktemp)
    # -use-ld=lld: ld.gold fails on the two `main`s (SwiftPM's --defsym and libFuzzer's).
    # The -Xcc flags instrument the C kernels (Sources/MienCKernels) too.
    if ! swift build -c release --product mien-fuzz --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DMIEN_LIBFUZZER -Xswiftc -use-ld=lld \
        -Xcc -fsanitize=fuzzer-no-link -Xcc -fsanitize=address >"$build_log" 2>&1; then
        tail -40 "$build_log" >&2
        echo "error: the fuzzer build failed (full log: $build_log; a stale .build-fuzz can give odd link errors: delete it and retry)" >&2
        exit 2
    fi
    rm -f "$build_log"
    echo "built in $(( $(date +%s) - start )) s"
fi

out=out/fuzz/$target
corpus=$out/corpus
seeds=Tests/Fixtures/fuzz/$target/seeds
crashes=Tests/Fixtures/fuzz/$target/crashes
mkdir -p "$corpus" "$crashes"
log=$out/fuzz.log
before=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' -o -name 'slow-unit-*' \) | sort)

flags=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10
       -max_len="$max_len" -artifact_prefix="$out/" -print_final_stats=1)
fork=0
if [[ $jobs -gt 1 || ${MIEN_FUZZ_KEEP_GOING:-0} == 1 ]]; then
    # Fork mode: JOBS child processes share the corpus, and a finding does not stop the
    # run (each one is still written to $out/), so the whole time is used.
    fork=1
    flags+=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
# shellcheck disable=SC2206
flags+=(${MIEN_FUZZ_FLAGS:-})

echo "fuzzing '$target' for $seconds s with $jobs job(s): corpus $corpus (+ $seeds, $crashes)"
echo "log: $log"
"$bin" "$target" "${flags[@]}" "$corpus" "$seeds" "$crashes" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; exit 130' INT TERM
# A progress line every minute: libFuzzer's latest status line.
while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    kill -0 "$pid" 2>/dev/null && grep -aE '^#[0-9]+' "$log" | tail -1 | sed 's/^/  /'
done
wait "$pid"
status=$?
trap - INT TERM

after=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' -o -name 'slow-unit-*' \) | sort)
new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')

echo
echo "== $target: libFuzzer exit status $status"
grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 | sed 's/^/last status: /'
runs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
if [[ $fork == 1 ]]; then
    grep -aE '^#[0-9]+: cov:' "$log" | tail -1 | sed 's/^/last status: /'
    runs=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
fi
echo "runs: ${runs:-unknown}"
grep -aE 'stat::average_exec_per_sec' "$log" | tail -1
grep -aE '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || echo "(no 'Done N runs' line: libFuzzer stopped early or ran in fork mode; see $log)"
echo "corpus: $(find "$corpus" -type f | wc -l) files in $corpus"
if [[ -n $new ]]; then
    echo "FOUND $(echo "$new" | wc -l) artifact(s):"
    echo "$new" | sed 's/^/  /'
    grep -aE '^==[0-9]+==ERROR|^SUMMARY|Fatal error|deadly signal|ALARM|out-of-memory|Test unit written' "$log" | head -20 | sed 's/^/  /'
    echo "Replay one:  SWIFT_BACKTRACE=enable=no $bin $target FILE"
    echo "             (or, without libFuzzer: swift run mien-fuzz $target FILE)"
    echo "Minimize:    SWIFT_BACKTRACE=enable=no $bin $target -minimize_crash=1 -runs=10000 -artifact_prefix=$out/min- FILE"
    echo "After the bug is fixed, copy each artifact to $crashes/ (kept forever, replayed by"
    echo "'swift test --filter MienFuzzTests') and commit it."
    exit 1
fi
if [[ $status -ne 0 ]]; then
    echo "libFuzzer failed without writing an artifact; see $log" >&2
    tail -20 "$log" >&2
    exit 2
fi
echo "found nothing"
exit 0
