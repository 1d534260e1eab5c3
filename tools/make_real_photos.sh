#!/usr/bin/env bash
# Real photos with faces for the detector's tests (Tests/Fixtures/mtcnn/real/), taken from a
# registry package: Debian's opencv-doc (OpenCV's sample data; Apache-2.0 AND BSD-3-Clause
# per its copyright file). The checksums pin the files the tests' expected boxes were read on.
#
#   tools/make_real_photos.sh [OUT_DIR]   (default Tests/Fixtures/mtcnn/real)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-Tests/Fixtures/mtcnn/real}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download opencv-doc=4.6.0+dfsg-12 >/dev/null)
dpkg-deb --fsys-tarfile "$work"/opencv-doc_*.deb \
    | tar -x -C "$work" ./usr/share/doc/opencv-doc/examples/data/messi5.jpg ./usr/share/doc/opencv-doc/examples/data/basketball1.png
# Checked before anything is placed: a mismatch leaves the fixtures as they were.
(cd "$work/usr/share/doc/opencv-doc/examples/data" && sha256sum -c --quiet <<'SUMS'
1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9  messi5.jpg
ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6  basketball1.png
SUMS
)
mkdir -p "$out"
for name in messi5.jpg basketball1.png; do
    cp "$work/usr/share/doc/opencv-doc/examples/data/$name" "$out/$name.tmp"
    mv "$out/$name.tmp" "$out/$name"
done
echo "wrote $out/messi5.jpg and $out/basketball1.png"
