#!/usr/bin/env bash
# k-anonymity on case microdata shaped like CTDC's victim file: `corridor
# protect kanon` against ANJANA at the same k, the same hierarchies and the
# same suppression limit, both outputs scored by bench/kanon_peers.py
# (values suppressed and generalised, records fully suppressed, pycanon's k).
# Usage: bench/kanon.sh [ROWS] [K]
#   ROWS: case records (default 50000); K: default 11.
# Env: PY (peers' python, default python3, with bench/requirements-peers.txt),
#   SUPP (ANJANA's suppression limit, % of records, default 5), TOOLS
#   (default "corridor anjana"), AGE_HIERARCHY ("file": both tools get
#   hier_age.csv, the default; "age": Corridor gets its built-in age ladder
#   instead), CORRIDOR (a prebuilt binary; otherwise cargo builds one).
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-50000}"
k="${2:-11}"
py="${PY:-python3}"
supp="${SUPP:-5}"
tools="${TOOLS:-corridor anjana}"
age_h="${AGE_HIERARCHY:-file}"
quasi=age,sex,citizenship,country_of_exploitation
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
print(" ".join(json.dumps(x, separators=(",", ":")) if isinstance(x, (list, dict)) else str(x) for x in v))' "$@"
}

"$py" bench/kanon_peers.py make --rows "$rows" --out "$work/data" > "$work/data.json"
d="$work/data"
case $age_h in
  file) age_arg="$d/hier_age.csv" ;;
  age) age_arg=age ;;
  *) echo "AGE_HIERARCHY: file or age" >&2; exit 2 ;;
esac
lines=()
for tool in $tools; do
  case $tool in
    corridor)
      read -r s m < <(timed corridor "$work/corridor.json" "$bin" protect kanon --input "$d/cases.csv" \
        --quasi "$quasi" --k "$k" --hierarchy age="$age_arg" --hierarchy citizenship=m49 \
        --hierarchy country_of_exploitation=m49 --out "$work/corridor.csv" --json)
      inner=$(jget "$work/corridor.json" seconds)
      ;;
    anjana)
      read -r s m < <(timed anjana "$work/anjana.json" "$py" bench/kanon_peers.py anjana \
        --input "$d/cases.csv" --quasi "$quasi" --k "$k" --supp-level "$supp" \
        --hier-age "$d/hier_age.csv" --out "$work/anjana.csv")
      inner=$(jget "$work/anjana.json" seconds)
      ;;
    *) echo "unknown tool $tool" >&2; exit 2 ;;
  esac
  "$py" bench/kanon_peers.py score --input "$d/cases.csv" --output "$work/$tool.csv" --quasi "$quasi" \
    --k "$k" --hier-age "$d/hier_age.csv" > "$work/$tool.score.json"
  lines+=("$tool $s $inner $m $(jget "$work/$tool.score.json" suppressed_values generalised_values records_fully_suppressed records_with_suppression records_dropped invalid_values pycanon_k)")
done

echo
echo "records: $rows; quasi-identifiers $quasi; k $k; ANJANA suppression limit $supp % of records; age hierarchy: $age_h"
printf '%-10s %8s %8s %9s %11s %12s %8s %12s %12s %8s %8s %11s\n' tool seconds run_sec peak_MiB suppressed generalised changed fully_suppr with_suppr dropped invalid pycanon_k
for l in "${lines[@]}"; do
  read -r n s i m sv gv fs ws dr inv pk <<< "$l"
  printf '%-10s %8.2f %8s %9d %11s %12s %8s %12s %12s %8s %8s %11s\n' "$n" "$s" "$i" "$m" "$sv" "$gv" "$((sv + gv))" "$fs" "$ws" "$dr" "$inv" "$pk"
done
echo
echo "per quasi-identifier (generalised / suppressed; levels seen: level=records):"
for tool in $tools; do
  python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
parts = []
for q, c in r["columns"].items():
    seen = " ".join("%s=%s" % lv for lv in c["levels_seen"].items())
    parts.append("%s %d/%d (%s)" % (q, c["generalised"], c["suppressed"], seen))
print("%-10s %s" % (sys.argv[2], "; ".join(parts)))' "$work/$tool.score.json" "$tool"
done
if [ -f "$work/corridor.json" ]; then
  echo "corridor --json: $(tail -1 "$work/corridor.json")"
fi
base="" peer=""
for l in "${lines[@]}"; do
  read -r n _ <<< "$l"
  [ "$n" = corridor ] && base="$l"
  [ "$n" = anjana ] && peer="$l"
done
if [ -n "$base" ] && [ -n "$peer" ]; then
  read -r _ cs _ _ csv cgv _ <<< "$base"
  read -r _ as _ _ asv agv _ <<< "$peer"
  python3 -c 'import sys
cs, a_s, csv_, cgv, asv, agv = map(float, sys.argv[1:])
r = lambda a, b: f"{a / b:.3f}" if b else "-"
print(f"speed ratio (ANJANA seconds / Corridor seconds, goal >= 10): {r(a_s, cs)}")
print(f"values changed, Corridor / ANJANA (goal < 1): {r(csv_ + cgv, asv + agv)}"
      f" (suppressed {r(csv_, asv)}, generalised {r(cgv, agv)})")' "$cs" "$as" "$csv" "$cgv" "$asv" "$agv"
fi
