#!/usr/bin/env bash
# Intake memory: Corridor's peak memory on files of growing length, to show
# that it does not grow with the file. The file is narrow (date, document
# number, direction) and nearly every record distinct, which is the worst
# case for the exact-repeat check: past 12.5 million distinct records its
# table is full and the rest is settled from a spill file at the end. Every
# 250,000th row repeats the row before it (a repeat found at once or, in the
# spilled part, at the end) and every 1,000,000th row repeats row 2.
# Usage: bench/ingest_memory.sh [ROWS...]  (default 5000000 15000000 30000000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-5000000 15000000 30000000}")
read -r -a sizes <<< "${sizes[*]}"
cargo build --release -q -p corridor-cli
bin="$(realpath "${CARGO_TARGET_DIR:-target}")/release/corridor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
largest=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
python3 - "$largest" "$work/all.csv" <<'PY'
import datetime, sys
rows, out = int(sys.argv[1]), sys.argv[2]
days = [(datetime.date(2024, 1, 1) + datetime.timedelta(d)).strftime("%d/%m/%Y") for d in range(366)]
with open(out, "w") as f:
    f.write("fecha;doc;sentido\n")
    chunk, last = [], None
    for i in range(rows):
        if i and i % 1_000_000 == 0:
            line = first
        elif i and i % 250_000 == 0:
            line = last
        else:
            line = f"{days[i % 366]};P{i:09d};{'ES'[i % 2]}\n"
        if i == 1:
            first = line
        chunk.append(line)
        last = line
        if len(chunk) == 100_000:
            f.writelines(chunk)
            chunk = []
    f.writelines(chunk)
PY
cat > "$work/mapping.toml" <<'TOML'
record_type = "border_events"
source = "memory-bench"
[reader]
delimiter = ";"
encoding = "utf-8"
date_formats = ["%d/%m/%Y"]
[fields]
reporting_country = { constant = "GTM" }
citizenship = { constant = "GTM" }
sex = { constant = "_U" }
person_key = { pseudonymise = ["doc"] }
direction = { column = "sentido", recode = { "E" = "entry", "S" = "exit" } }
event_date = { column = "fecha" }
TOML
printf '%-12s %10s %10s %12s %14s\n' rows seconds peak_MiB stored repeats
for n in "${sizes[@]}"; do
  head -n $((n + 1)) "$work/all.csv" > "$work/events.csv"
  rm -rf "$work/ws"
  "$bin" init "$work/ws" >/dev/null
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" ingest --workspace "$work/ws" --mapping "$work/mapping.toml" --json "$work/events.csv" > "$work/report.json" 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r secs kb < "$work/time"
  read -r stored repeats < <(python3 -c "
import json, sys
r = json.load(open('$work/report.json'))[0]['report']
print(r['stored'], r['by_reason'].get('duplicate_record', 0))")
  printf '%-12s %10s %10s %12s %14s\n' "$n" "$secs" "$((kb / 1024))" "$stored" "$repeats"
done
