#!/usr/bin/env bash
# Installs the system libraries Mien builds against, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
set -euo pipefail

packages=(pkg-config libhdf5-dev libopenblas-dev libturbojpeg0-dev libpng-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "setup: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: missing system packages; run:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

if ! command -v swift >/dev/null; then
    echo "setup: the Swift toolchain is not on PATH (https://www.swift.org/install/linux/)" >&2
    exit 1
fi
