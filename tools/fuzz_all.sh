#!/usr/bin/env bash
# Fuzzes every Mien fuzz target in turn with tools/fuzz.sh (one build, then SECONDS each).
#
#   tools/fuzz_all.sh [SECONDS]        (default 1800 per target)
#
# Prints each target's result and a summary table; exit status 1 if any target found
# something (its artifacts are in out/fuzz/TARGET/), 2 if a run failed, else 0.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || { echo "usage: tools/fuzz_all.sh [SECONDS]" >&2; exit 2; }

targets="safetensors mien keras-config head image csv checkpoint"
summary=()
worst=0
first=1
for target in $targets; do
    echo "======== $target ========"
    skip=1
    [[ $first == 1 ]] && skip=0
    first=0
    mkdir -p "out/fuzz/$target"
    report="out/fuzz/$target/report.txt"
    MIEN_FUZZ_SKIP_BUILD=$skip tools/fuzz.sh "$target" "$seconds" 2>&1 | tee "$report"
    status=${PIPESTATUS[0]}
    output=$(cat "$report")
    case $status in
        0) result="nothing found" ;;
        1) result="FOUND: $(echo "$output" | grep -c '^  out/fuzz/') artifact(s) in out/fuzz/$target/" ;;
        *) result="run failed (status $status)" ;;
    esac
    done_line=$(echo "$output" | grep -E '^Done [0-9]+ runs' | tail -1)
    summary+=("$(printf '%-13s %-45s %s' "$target" "${done_line:-"-"}" "$result")")
    [[ $status -gt $worst ]] && worst=$status
    if [[ $status == 2 && ! -x .build-fuzz/release/mien-fuzz ]]; then
        break   # the build failed: nothing else can run
    fi
done
echo
echo "======== summary ($seconds s per target) ========"
printf '%s\n' "${summary[@]}"
if [[ $worst == 1 ]]; then
    echo "Artifacts are in out/fuzz/TARGET/. After fixing each bug, copy its artifact to"
    echo "Tests/Fixtures/fuzz/TARGET/crashes/ so that the test suite replays it forever."
fi
exit $worst
