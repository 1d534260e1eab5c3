#!/usr/bin/env bash
# Renders a Mien report.html to a PNG with headless Chromium (Debian: apt-get install -y chromium),
# as a reader's browser shows it (no JavaScript is needed by the report).
#
#   tools/render_report.sh out/report/report.html docs/report.png [WIDTH] [HEIGHT]
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 REPORT.html OUT.png [WIDTH=1200] [HEIGHT=4200]" >&2
    exit 2
fi
html=$(realpath "$1")
out=$2
width=${3:-1200}
height=${4:-4200}
[ -f "$html" ] || { echo "error: $1: no such file" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "error: Chromium not found; install it with: apt-get install -y chromium" >&2; exit 1; }
tmp=$(mktemp --suffix=.png)
trap 'rm -f "$tmp"' EXIT
# --no-sandbox: CI and containers run as root, where Chromium's sandbox refuses to start.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$width,$height" --screenshot="$tmp" "file://$html" 2>/dev/null
[ -s "$tmp" ] || { echo "error: Chromium wrote no picture for $1" >&2; exit 1; }
chmod 644 "$tmp"   # mktemp makes it private
mv "$tmp" "$out"
trap - EXIT
echo "$out"
