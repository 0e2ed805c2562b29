#!/usr/bin/env bash
# Speed and peak memory of the demo-world generator.
# Usage: bench/generate.sh [PERSONS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-1000000}"
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
/usr/bin/time -v "$bin" generate --out "$out/world" --persons "$persons" 2>"$out/time" >"$out/log"
grep -E '^Generated' "$out/log"
wall=$(grep 'Elapsed (wall clock)' "$out/time" | awk '{print $NF}')
rss=$(grep 'Maximum resident set size' "$out/time" | awk '{print $NF}')
size=$(du -sh "$out/world" | cut -f1)
echo "persons=$persons wall=$wall peak_rss=$((rss / 1024)) MiB output=$size cores=$(nproc)"
