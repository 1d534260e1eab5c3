#!/bin/sh
# Builds the DocC documentation of Mien's library modules (swift-docc-plugin) and fails if
# DocC warns about any of their sources (a broken symbol link, an undocumented parameter);
# the package manager's warnings about dependencies' files are not DocC's.
#   tools/docs.sh [OUTPUT_FOLDER]   (default: .build/docs)
set -eu
cd "$(dirname "$0")/.."
out="${1:-.build/docs}"
mkdir -p "$out"
log="$out/docc.log"
status=0
for target in MienNN MienKerasConfig MienModelFile MienImages MienFiles MienHDF5 MienKeras MienFaces MienTraining MienCharts MienReport; do
    swift package --disable-sandbox --allow-writing-to-directory "$out" generate-documentation \
        --target "$target" --output-path "$out/$target.doccarchive" >"$log" 2>&1 || { cat "$log"; exit 1; }
    if grep -q -- "--> Sources/" "$log"; then
        grep -B1 -A3 -- "--> Sources/" "$log"
        status=1
    fi
    echo "$target: $out/$target.doccarchive"
done
exit $status
