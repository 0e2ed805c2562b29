#!/usr/bin/env bash
# Intake speed: Corridor's ingest (map, validate, pseudonymise, write Parquet)
# against DuckDB's and Polars' plain CSV → Parquet conversion of the same
# file, in one run. Usage: [RUNS=N] bench/ingest.sh [PERSONS]  (default 3200000
# persons, about 10 million rows in the Guatemalan border-events CSV).
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-3200000}"
python3 -c 'import duckdb, polars' 2>/dev/null || pip install --quiet duckdb polars
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" generate --out "$work/world" --persons "$persons" >/dev/null
csv="$work/world/sources/gtm-igm/movimientos_migratorios.csv"
mapping="$work/world/sources/gtm-igm/movimientos_migratorios.mapping.toml"
rows=$(($(wc -l < "$csv") - 1))
size=$(du -h "$csv" | cut -f1)
echo "file: $rows rows, $size (Windows-1252, ';', dd/mm/yyyy)"

measure() { # name, command...: prints seconds and peak MiB
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.$name" "$@" >/dev/null 2>"$work/err.$name" || { cat "$work/err.$name"; exit 1; }
  read -r secs kb < "$work/time.$name"
  echo "$name $secs $((kb / 1024))"
}

# RUNS=N alternates the three tools N times on the same file (this shared
# machine's timings drift by 5-10 % from minute to minute).
for run in $(seq "${RUNS:-1}"); do
  rm -rf "$work/ws"
  "$bin" init "$work/ws" >/dev/null
  c=$(measure corridor "$bin" ingest --workspace "$work/ws" --mapping "$mapping" "$csv")
  d=$(measure duckdb python3 -c "
import duckdb
duckdb.sql(\"COPY (SELECT * FROM read_csv('$csv', delim=';', header=true, encoding='latin-1', all_varchar=true, ignore_errors=true, null_padding=true)) TO '$work/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)\")
")
  p=$(measure polars python3 -c "
import polars as pl
pl.scan_csv('$csv', separator=';', encoding='utf8-lossy', infer_schema=False, truncate_ragged_lines=True, ignore_errors=True).sink_parquet('$work/polars.parquet', compression='zstd')
")
  echo
  echo "run $run"
  printf '%-10s %10s %12s %12s\n' tool seconds rows/s peak_MiB
  for line in "$c" "$d" "$p"; do
    read -r name secs mib <<< "$line"
    printf '%-10s %10s %12.0f %12s\n' "$name" "$secs" "$(echo "$rows / $secs" | bc -l)" "$mib"
  done
  read -r _ cs _ <<< "$c"; read -r _ ds _ <<< "$d"; read -r _ ps _ <<< "$p"
  printf '\nCorridor speed ratio (peer time / Corridor time): vs DuckDB %.2f, vs Polars %.2f\n' "$(echo "$ds / $cs" | bc -l)" "$(echo "$ps / $cs" | bc -l)"
done
