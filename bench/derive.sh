#!/usr/bin/env bash
# Border analytics speed: `corridor derive` (repairs, stays, 12/16-month rule
# with provisional model, month-end stocks) against the same computation as
# DuckDB SQL (bench/derive_duckdb.py: stays, 12/16 with window functions,
# stocks) over the same Parquet, in one run. DuckDB runs twice: writing only
# the aggregates ("duckdb-agg"), and writing also the person-level datasets
# that corridor derive writes, each crossing classified and each stay, as
# zstd Parquet ("duckdb"): the same outputs, on which the goal is judged.
# Usage: bench/derive.sh [PERSONS] [COPIES]  (default 1500000 persons, about
# 5 million border events in the Guatemalan export; COPIES > 1 multiplies them
# with new persons, bench/replicate_events.py: `bench/derive.sh 1500000 11`
# gives about 52 million events without writing a 15-million-person world).
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-1500000}"
copies="${2:-1}"
python3 -c 'import duckdb, pyarrow' 2>/dev/null || pip install --quiet duckdb pyarrow
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
"$bin" generate --out "$work/world" --persons "$persons" >/dev/null
"$bin" init "$work/ws" >/dev/null
"$bin" ingest --workspace "$work/ws" \
  --mapping "$work/world/sources/gtm-igm/movimientos_migratorios.mapping.toml" \
  "$work/world/sources/gtm-igm/movimientos_migratorios.csv" >/dev/null
if [ "$copies" -gt 1 ]; then python3 bench/replicate_events.py "$work/ws" "$copies"; fi
events=$("$bin" sql --workspace "$work/ws" --format csv "SELECT count(*) FROM border_events" | tail -1)
echo "border events: $events"

measure() { # name, command...: prints seconds and peak MiB
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.$name" "$@" >"$work/out.$name" 2>"$work/err.$name" || { cat "$work/err.$name"; exit 1; }
  read -r secs kb < "$work/time.$name"
  echo "$name $secs $((kb / 1024))"
}

c=$(measure corridor "$bin" derive --workspace "$work/ws" --as-of 2025-12-31)
a=$(measure duckdb-agg python3 bench/derive_duckdb.py --events "$work/ws/data/border_events/**/*.parquet" \
  --out "$work/duckdb-agg" --as-of 2025-12-31 --after-provisional tested)
d=$(measure duckdb python3 bench/derive_duckdb.py --events "$work/ws/data/border_events/**/*.parquet" \
  --out "$work/duckdb" --as-of 2025-12-31 --after-provisional tested --person-level)
echo
printf '%-10s %10s %14s %10s\n' tool seconds events/s peak_MiB
for line in "$c" "$a" "$d"; do
  read -r name secs mib <<< "$line"
  printf '%-10s %10s %14.0f %10s\n' "$name" "$secs" "$(echo "$events / $secs" | bc -l)" "$mib"
done
read -r _ cs _ <<< "$c"
read -r _ as _ <<< "$a"
read -r _ ds _ <<< "$d"
printf '\nCorridor is %.2f× DuckDB writing the same datasets (goal: ≥ 2×)\n' "$(echo "$ds / $cs" | bc -l)"
printf 'and %.2f× DuckDB writing only the aggregates\n' "$(echo "$as / $cs" | bc -l)"
