#!/usr/bin/env bash
# Runs the whole XCTest suite under AddressSanitizer.
#
#   tools/asan_tests.sh [extra `swift test` arguments, e.g. --filter MienModelFileTests]
#
# Builds every target (the Swift modules, the C kernels in Sources/MienCKernels, the `mien`
# tool the CLI tests run, and the tests) with -sanitize=address in its own build folder,
# .build-asan (.build is not touched), then runs the tests from there. The CLI tests run
# the `mien` binary next to the test bundle, so they exercise the instrumented tool too.
# The system libraries (libhdf5, libjpeg-turbo, libpng, OpenBLAS) are not instrumented;
# ASan still checks their memcpy/memset/str* calls and Mien's use of their buffers.
#
# `mien` reads Keras files in a child process (`mien _check-keras`) that lowers its
# address-space limit first; ASan reserves terabytes of address space for its shadow
# memory, so an instrumented child skips the limit (it finds ASan's __asan_init). Under
# this script a hostile file that allocates gigabytes is therefore not stopped by it.
#
# SWIFT_BACKTRACE=enable=no: on a Swift trap, the runtime's backtracer reads the stack in a
# way ASan reports as a (false) stack-buffer-underflow in memserver_read, which hides the
# real error (and made swift-test hang); without it the trap message shows.
#
# ASAN_OPTIONS defaults to detect_leaks=0 (the Swift runtime and XCTest keep memory until
# exit that LeakSanitizer would report, and a leak report would change the exit status of
# every `mien` run the CLI tests check), abort_on_error=1 (a report in mien's HDF5 child is
# a crash, as the parent expects) and halt_on_error=1; set ASAN_OPTIONS to override.
#
# Exit status: the test run's (non-zero on a failed test or a sanitizer report), or the
# build's if the build fails.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1}
export SWIFT_BACKTRACE=enable=no

start=$(date +%s)
echo "building the tests with AddressSanitizer in .build-asan..."
swift build --build-tests --sanitize=address --scratch-path .build-asan
status=$?
if [[ $status -ne 0 ]]; then
    echo "error: the ASan build failed" >&2
    exit $status
fi

built=$(date +%s)
echo "built in $(( built - start )) s; running the tests (ASAN_OPTIONS=$ASAN_OPTIONS)"
swift test --sanitize=address --scratch-path .build-asan --disable-swift-testing --skip-build "$@"
status=$?
end=$(date +%s)
echo "ASan test run: exit status $status, tests took $(( end - built )) s (build $(( built - start )) s)"
exit $status
