#!/usr/bin/env bash
# Renders the application icon (resources/icons/distill-workbench.svg) to the PNG sizes the
# package installs (packaging/icons/<N>x<N>/distill-workbench.png, committed). Run it after
# editing the SVG; needs rsvg-convert (Debian: librsvg2-bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
for size in 48 64 128 256; do
  mkdir -p "$root/packaging/icons/${size}x${size}"
  rsvg-convert --width "$size" --height "$size" "$root/resources/icons/distill-workbench.svg" \
    --output "$root/packaging/icons/${size}x${size}/distill-workbench.png"
done
