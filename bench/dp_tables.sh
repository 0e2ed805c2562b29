#!/usr/bin/env bash
# Differentially private count tables, side by side on the same data:
# `corridor protect dp` (zCDP discrete Gaussian on every margin, least
# squares, consistent non-negative whole numbers) against OpenDP's Polars
# context at the same rho, scored against the truth by bench/dp_peers.py.
# Usage: bench/dp_tables.sh [CELLS] [RHO]
#   CELLS: the table with its margins (default 100000: 46 citizenships ×
#   40 months × 50 ages); RHO: zCDP rho (default 1).
# Env: PY (peers' python, default python3, with bench/requirements-peers.txt),
#   TOOLS (default "corridor opendp-leaves opendp-leaves-signed opendp-margins"),
#   CORRIDOR (a prebuilt binary; otherwise cargo builds one).
set -euo pipefail
cd "$(dirname "$0")/.."
cells="${1:-100000}"
rho="${2:-1}"
py="${PY:-python3}"
tools="${TOOLS:-corridor opendp-leaves opendp-leaves-signed opendp-margins}"
if [ -n "${CORRIDOR:-}" ]; then
  bin="$CORRIDOR"
else
  cargo build --release -q -p corridor-cli
  bin="${CARGO_TARGET_DIR:-target}/release/corridor"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

timed() { # name stdout-file command...: runs it, prints "seconds peak_MiB"
  local name=$1 out=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$work/t.$name" "$@" >"$out" 2>"$work/e.$name" || {
    cat "$work/e.$name" >&2; echo "$name failed" >&2; exit 1; }
  read -r s kb < "$work/t.$name"
  echo "$s $((kb / 1024))"
}
jget() { # file key...: the keys' values from the last line of a JSON file
  python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
v = [r.get(k, "-") for k in sys.argv[2:]]
print(" ".join("x".join(map(str, x)) if isinstance(x, list) else str(x) for x in v))' "$@"
}

"$py" bench/dp_peers.py make --cells "$cells" --out "$work/data" > "$work/data.json"
d="$work/data"
lines=()
for tool in $tools; do
  case $tool in
    corridor)
      read -r s m < <(timed corridor "$work/corridor.json" "$bin" protect dp --input "$d/leaves.csv" \
        --dims citizenship,month,age --value value --rho "$rho" \
        --domain citizenship="$d/domain_citizenship.csv" --domain month="$d/domain_month.csv" \
        --domain age="$d/domain_age.csv" --out "$work/corridor.csv" --json)
      inner=$(jget "$work/corridor.json" seconds)
      ;;
    opendp-leaves|opendp-leaves-signed|opendp-margins)
      read -r s m < <(timed "$tool" "$work/$tool.json" "$py" bench/dp_peers.py peer --dir "$d" \
        --rho "$rho" --queries "${tool#opendp-}" --out "$work/$tool.csv")
      inner=$(jget "$work/$tool.json" seconds)
      ;;
    *) echo "unknown tool $tool" >&2; exit 2 ;;
  esac
  "$py" bench/dp_peers.py score --dir "$d" --cells "$work/$tool.csv" > "$work/$tool.score.json"
  lines+=("$tool $s $inner $m $(jget "$work/$tool.score.json" mae_leaves mae_margins max_error consistent non_negative whole bound_95_coverage)")
done

read -r sizes leaves total records < <(jget "$work/data.json" sizes leaves cells records)
echo
echo "cells: $total with margins ($leaves leaves, citizenship × month × age = $sizes, $records persons); zCDP rho $rho"
printf '%-22s %8s %8s %9s %11s %12s %9s %10s %11s %6s %9s\n' tool seconds dp_sec peak_MiB mae_leaves mae_margins max_err consistent non_negative whole cover_95
for l in "${lines[@]}"; do
  read -r n s i m ml mm mx c nn w cov <<< "$l"
  printf '%-22s %8.2f %8s %9d %11s %12s %9s %10s %11s %6s %9s\n' "$n" "$s" "$i" "$m" "$ml" "$mm" "$mx" "$c" "$nn" "$w" "$cov"
done
# ratios against Corridor: peer seconds / Corridor's, Corridor's error / peer's
base=""
for l in "${lines[@]}"; do read -r n rest <<< "$l"; [ "$n" = corridor ] && base="$l"; done
if [ -n "$base" ] && [ "${#lines[@]}" -gt 1 ]; then
  echo
  printf '%-22s %12s %18s %19s\n' peer "speed ratio" "mae_leaves ratio" "mae_margins ratio"
  read -r _ cs _ _ cml cmm _ <<< "$base"
  for l in "${lines[@]}"; do
    read -r n s _ _ ml mm _ <<< "$l"
    [ "$n" = corridor ] && continue
    python3 -c 'import sys
n, cs, s, cml, ml, cmm, mm = sys.argv[1], *map(float, sys.argv[2:])
r = lambda a, b: f"{a / b:.3f}" if b else "-"
print(f"{n:<22} {r(s, cs):>12} {r(cml, ml):>18} {r(cmm, mm):>19}")' "$n" "$cs" "$s" "$cml" "$ml" "$cmm" "$mm"
  done
  echo "(speed ratio: peer seconds / Corridor seconds, goal >= 10; error ratios: Corridor / peer, goal <= 1 against opendp-leaves*, whose margins are consistent)"
fi
