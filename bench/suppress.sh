#!/usr/bin/env bash
# Cell suppression on a 5-dimension hierarchical table (month → quarter →
# year, country → M49 sub-region → region, sex, five-year age → broad age,
# category), with its information loss against a naive suppression, and
# against the optimum of the compact mixed-integer model on a small table.
# Usage: bench/suppress.sh [CELLS] [SMALL_CELLS]
#   CELLS: size of the big table, margins included (default 1000000; 10000000
#   for the 10M option). SMALL_CELLS: the small table for the MIP optimum and
#   the LP attacker (default 300: month × country, one year).
# Env: PY (peers' python, default python3, with bench/requirements-peers.txt),
#   THRESHOLD (10), PROTECTION (= threshold), TIME_LIMIT (MIP seconds, 300),
#   SMALL_DIMS (month,country), SMALL_MEAN (mean count per leaf of the small
#   table, 30), CORRIDOR (a prebuilt binary; otherwise cargo builds one).
set -euo pipefail
cd "$(dirname "$0")/.."
cells="${1:-1000000}"
small="${2:-300}"
py="${PY:-python3}"
threshold="${THRESHOLD:-10}"
protection="${PROTECTION:-$threshold}"
limit="${TIME_LIMIT:-300}"
small_dims="${SMALL_DIMS:-month,country}"
small_mean="${SMALL_MEAN:-30}"
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
hier_args() { # generator JSON → --hierarchy DIM=FILE ...
  python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).read())
print(" ".join(f"--hierarchy {d}={f}" for d, f in r["hierarchy"].items()))' "$1"
}
dims_of() { python3 -c 'import json, sys; print(",".join(json.load(open(sys.argv[1]))["dims"]))' "$1"; }

declare -A secs mib
run_table() { # tag: protect $work/$tag with Corridor, check it, run the naive baseline
  local tag=$1 dims h
  dims=$(dims_of "$work/$tag.json")
  h=$(hier_args "$work/$tag.json")
  # shellcheck disable=SC2086
  read -r secs[$tag.corridor] mib[$tag.corridor] < <(timed "$tag.corridor" "$work/$tag.corridor.json" \
    "$bin" protect suppress --input "$work/$tag/leaves.csv" --dims "$dims" --value value $h \
    --threshold "$threshold" --protection "$protection" --cost values --out "$work/$tag/cells.csv" --json)
  # shellcheck disable=SC2086
  "$py" bench/suppress_peers.py check --leaves "$work/$tag/leaves.csv" --dims "$dims" $h \
    --threshold "$threshold" --protection "$protection" --cells "$work/$tag/cells.csv" \
    ${2:+--attack-json "$work/$tag.attack.json"} > "$work/$tag.check.json"
  # shellcheck disable=SC2086
  read -r secs[$tag.naive] mib[$tag.naive] < <(timed "$tag.naive" "$work/$tag.naive.json" \
    "$py" bench/suppress_peers.py naive --leaves "$work/$tag/leaves.csv" --dims "$dims" $h \
    --threshold "$threshold" --protection "$protection" ${2:+--attack-json "$work/$tag.naive.attack.json"})
}

"$py" bench/make_hier_table.py --cells "$cells" --out "$work/big" > "$work/big.json"
run_table big
"$py" bench/make_hier_table.py --cells "$small" --dims "$small_dims" --mean "$small_mean" \
  --out "$work/small" > "$work/small.json"
run_table small attack
small_d=$(dims_of "$work/small.json")
small_h=$(hier_args "$work/small.json")
# shellcheck disable=SC2086
read -r secs[small.mip] mib[small.mip] < <(timed small.mip "$work/small.mip.json" \
  "$py" bench/suppress_peers.py mip --leaves "$work/small/leaves.csv" --dims "$small_d" $small_h \
  --threshold "$threshold" --protection "$protection" --time-limit "$limit" \
  --attack-json "$work/small.mip.attack.json")
attack() { # TABLES.json → "checked failures"
  "$py" tools/lp_attack.py --tables "$1" > "$work/attack.out" 2>"$work/attack.err" || true
  python3 -c 'import json, sys
try:
    text = open(sys.argv[1]).read()  # HiGHS prints its banner first
    r = json.loads(text[text.index("{"):])
    print(r["checked"], len(r["failures"]) + r["published_twice_withheld_once"])
except Exception:
    print("error", "error")' "$work/attack.out"
  if ! [ -s "$work/attack.out" ]; then cat "$work/attack.err" >&2; fi
}
read -r att_checked att_fail < <(attack "$work/small.attack.json")
read -r mip_checked mip_fail < <(attack "$work/small.mip.attack.json")
read -r nai_checked nai_fail < <(attack "$work/small.naive.attack.json")

# Corridor's own report against the independent count
for tag in big small; do
  read -r c_cells c_sup c_val < <(jget "$work/$tag.corridor.json" cells primary value_suppressed)
  read -r k_cells k_prim k_sup k_sec k_val k_pub < <(jget "$work/$tag.check.json" cells primary cells_suppressed secondary value_suppressed primary_published)
  read -r j_prim j_sec < <(jget "$work/$tag.corridor.json" primary secondary)
  if [ "$c_cells" != "$k_cells" ] || [ "$c_val" != "$k_val" ] || [ "$j_prim" != "$k_prim" ] \
     || [ "$((j_prim + j_sec))" != "$k_sup" ] || [ "$k_pub" != 0 ]; then
    echo "warning: $tag: Corridor's --json (cells $c_cells, primary $j_prim, secondary $j_sec, value $c_val)" \
      "differs from the check (cells $k_cells, primary $k_prim, suppressed $k_sup, value $k_val," \
      "primaries published $k_pub)" >&2
  fi
done

read -r big_cells big_leaves < <(jget "$work/big.json" cells leaves)
read -r sm_cells sm_leaves < <(jget "$work/small.json" cells leaves)
read -r mip_status mip_gap mip_lb grand < <(jget "$work/small.mip.json" status mip_gap value_lower_bound grand_total_published)
echo
echo "threshold $threshold, protection $protection, cost values; big table: $big_cells cells" \
  "($big_leaves leaves, dims $(dims_of "$work/big.json")); small: $sm_cells cells ($sm_leaves leaves, dims $small_d)"
printf '%-6s %-9s %9s %8s %9s %8s %11s %10s %13s %12s\n' table tool cells seconds peak_MiB primary suppressed secondary value_suppr value_total
row() { # tag tool file
  local f=$3
  read -r p s sec v t < <(jget "$f" primary cells_suppressed secondary value_suppressed value_total)
  printf '%-6s %-9s %9s %8.2f %9d %8s %11s %10s %13s %12s\n' "$1" "$2" "$(jget "$f" cells)" \
    "${secs[$1.$2]}" "${mib[$1.$2]}" "$p" "$s" "$sec" "$v" "$t"
}
row big corridor "$work/big.check.json"
row big naive "$work/big.naive.json"
row small corridor "$work/small.check.json"
row small naive "$work/small.naive.json"
row small mip "$work/small.mip.json"
read -r bc_v bc_c < <(jget "$work/big.check.json" value_suppressed cells_suppressed)
read -r bn_v bn_c < <(jget "$work/big.naive.json" value_suppressed cells_suppressed)
read -r sc_v sc_c < <(jget "$work/small.check.json" value_suppressed cells_suppressed)
read -r sn_v sn_c < <(jget "$work/small.naive.json" value_suppressed cells_suppressed)
read -r sm_v sm_c < <(jget "$work/small.mip.json" value_suppressed cells_suppressed)
ratio() { python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print(f"{a / b:.3f}" if b else "-")' "$1" "$2"; }
echo
echo "MIP: $mip_status, gap $mip_gap, lower bound on the value suppressed $mip_lb (grand total published: $grand; time limit ${limit}s)"
printf '%-50s %8s %8s\n' ratio values cells
if [ "$mip_status" = Optimal ]; then best="MIP optimum"; else best="MIP best found"; fi
printf '%-50s %8s %8s\n' "small: corridor / $best (goal <= 1.10)" "$(ratio "$sc_v" "$sm_v")" "$(ratio "$sc_c" "$sm_c")"
printf '%-50s %8s %8s\n' "small: corridor / MIP lower bound" "$(ratio "$sc_v" "$mip_lb")" -
printf '%-50s %8s %8s\n' "small: corridor / naive" "$(ratio "$sc_v" "$sn_v")" "$(ratio "$sc_c" "$sn_c")"
printf '%-50s %8s %8s\n' "big: corridor / naive" "$(ratio "$bc_v" "$bn_v")" "$(ratio "$bc_c" "$bn_c")"
echo
echo "LP attacker (tools/lp_attack.py) on the small table: corridor: $att_checked primaries checked, $att_fail under-protected;" \
  "MIP optimum: $mip_checked checked, $mip_fail under-protected; naive: $nai_checked checked, $nai_fail under-protected"
