#!/usr/bin/env bash
# Nowcasts: `corridor nowcast --backtest` against statsmodels'
# UnobservedComponents (local level + 12-month seasonal, the signals as
# exogenous regressors at the lags Corridor's model uses by default: mobile
# devices at 0, search interest at 1) on the same corridors and origins, and
# against the seasonal naive forecast, in one run (bench/nowcast_peers.py).
# Usage: bench/nowcast.sh [PERSONS] [FROM..TO]
#   (default 20000 persons, six years 2020-2025, 36 origins 2022-10..2025-09)
# Needs statsmodels (bench/requirements-peers.txt); PY picks the Python.
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-20000}"
range="${2:-2022-10..2025-09}"
py="${PY:-python3}"
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
"$bin" generate --out "$work/world" --persons "$persons" --start-year 2020 --years 6 >/dev/null
"$bin" init "$work/ws" >/dev/null
s="$work/world/sources"
for pair in gtm-igm/movimientos_migratorios.csv:gtm-igm/movimientos_migratorios.mapping.toml \
            hnd-inm/registros_migratorios.xlsx:hnd-inm/movimientos.mapping.toml \
            slv-dgme/movimientos.ndjson:slv-dgme/movimientos.mapping.toml \
            signals/signals.csv:signals/signals.mapping.toml; do
  "$bin" ingest --workspace "$work/ws" --mapping "$s/${pair#*:}" "$s/${pair%%:*}" >/dev/null
done
"$bin" derive --workspace "$work/ws" >/dev/null
"$bin" table --workspace "$work/ws" --measure departures \
  --by month,reporting_country,counterpart_country --format csv --out "$work/flows.csv" >/dev/null
"$bin" sql --workspace "$work/ws" --format csv --out "$work/signals.csv" \
  "SELECT signal, origin_country, destination_country, to_char(period_start, '%Y-%m') AS month, value FROM signals" >/dev/null

/usr/bin/time -f "%e %M" -o "$work/time.corridor" \
  "$bin" nowcast --workspace "$work/ws" --measure departures --backtest "$range" --json > "$work/corridor.json"
read -r secs kb < "$work/time.corridor"
echo "corridor $secs s, $((kb / 1024)) MiB"
# The same back-test with the mobile signal as it comes (not re-weighted by
# its coverage of each age group and sex).
"$bin" nowcast --workspace "$work/ws" --measure departures --backtest "$range" --no-reweight --json > "$work/plain.json"
"$py" bench/nowcast_peers.py --flows "$work/flows.csv" --signals "$work/signals.csv" \
  --range "$range" --corridor "$work/corridor.json" --corridor-seconds "$secs" \
  --not-reweighted "$work/plain.json"
