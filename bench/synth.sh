#!/usr/bin/env bash
# Synthesis, side by side on the same categorical file: Corridor's k-synthetic
# and DP synthesis against SmartNoise's MST (and, with TOOLS containing
# pacsynth, the Synthetic Data Showcase's pac-synth, with aim SmartNoise's
# AIM), all scored by
# bench/synth_eval.py. Usage: bench/synth.sh [ROWS] [TOOLS]
# (default 100000 rows; TOOLS default "corridor mst"; EPSILON default 1).
# Peers: PY=/path/to/python with `pip install --no-deps -r bench/requirements-peers.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-100000}"
tools="${2:-corridor mst}"
py="${PY:-python3}"
eps="${EPSILON:-1}"
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$py" bench/make_categorical.py "$rows" "$work/cat.csv" >/dev/null
timed() { # name, command...: prints "name seconds peak_MiB"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t.$name" "$@" >/dev/null 2>"$work/e.$name" || { cat "$work/e.$name"; exit 1; }
  read -r s kb < "$work/t.$name"
  echo "$name $s $((kb / 1024))"
}
score() { # synthetic csv → tvd_mean tvd_2 tvd_3 preserved fabricated
  "$py" bench/synth_eval.py "$work/cat.csv" "$1" | tail -1 | python3 -c '
import json, sys; r = json.loads(sys.stdin.read())
print(r["tvd_mean"], r["tvd_2"], r["tvd_3"], r["preserved_share"], r["fabricated_share"])'
}
lines=()
for tool in $tools; do
  case $tool in
    corridor)
      t=$(timed corridor-k-synthetic "$bin" synth --input "$work/cat.csv" --method k-synthetic --k 10 --length 4 --out "$work/k")
      lines+=("$t $(score "$work/k/synthetic.csv")")
      # The generator's categories are public by construction (the peers
      # take their domains from the data): the bench's domain file lists them.
      python3 -c 'import csv, sys
r = csv.reader(open(sys.argv[1])); head = next(r); seen = [set() for _ in head]
for row in r:
    for i, v in enumerate(row):
        if v: seen[i].add(v)
print("attribute,value")
for h, vs in zip(head, seen):
    for v in sorted(vs): print(f"{h},{v}")' "$work/cat.csv" > "$work/domain.csv"
      t=$(timed corridor-dp "$bin" synth --input "$work/cat.csv" --method dp --epsilon "$eps" --delta 1e-9 --domain "$work/domain.csv" --out "$work/dp")
      lines+=("$t $(score "$work/dp/synthetic.csv")")
      ;;
    mst|aim|pacsynth)
      t=$(timed "$tool" "$py" bench/synth_peers.py --input "$work/cat.csv" --tool "$tool" --epsilon "$eps" --delta 1e-9 --out "$work/$tool.csv")
      lines+=("$t $(score "$work/$tool.csv")")
      ;;
  esac
done
echo "rows: $rows, 10 columns; epsilon $eps, delta 1e-9 for DP; k 10, length 4 for k-synthetic"
printf '%-22s %8s %9s %9s %7s %7s %10s %11s\n' tool seconds peak_MiB tvd_mean tvd_2 tvd_3 preserved fabricated
for l in "${lines[@]}"; do
  read -r n s m a b c p f <<< "$l"
  printf '%-22s %8.2f %9d %9.4f %7.4f %7.4f %10.4f %11.4f\n' "$n" "$s" "$m" "$a" "$b" "$c" "$p" "$f"
done
