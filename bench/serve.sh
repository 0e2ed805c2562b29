#!/usr/bin/env bash
# Serving a published table: Corridor's observations endpoint against
# Datasette serving the same table from SQLite, under wrk, with the same
# varied filters, in one run.
#
#   bench/serve.sh
#
# Environment (defaults in brackets):
#   CORRIDOR   the corridor binary [$CARGO_TARGET_DIR/release/corridor]
#   PY         a Python with datasette 0.65.1 [/tmp/serve-peers/bin/python]
#              (python3 -m venv /tmp/serve-peers; /tmp/serve-peers/bin/pip install datasette==0.65.1)
#   PERSONS    persons in the demo world [10000], which gives a table of
#              about 100,000 cells
#   DUR        how long wrk runs against each [20s]
#   CONN       wrk's open connections [64]
#   WORK       scratch folder [/tmp/corridor-bench-serve]
#
# The table is arrivals by month, reporting country, citizenship, sex, age
# group and travel purpose, protected by cell key. Corridor serves the
# release's CSV rows from memory; Datasette serves the same rows from an
# immutable SQLite file (-i) with an index on every dimension and facet
# suggestions off (its fastest read-only set-up). Each request filters
# two to four dimensions with codes drawn from the table and asks for at
# most 100 rows, as JSON. wrk's two threads and the server share the
# machine's two cores, for both.
set -euo pipefail
cd "$(dirname "$0")/.."
CORRIDOR="${CORRIDOR:-${CARGO_TARGET_DIR:-$HOME/.cache/corridor-target}/release/corridor}"
PY="${PY:-/tmp/serve-peers/bin/python}"
PERSONS="${PERSONS:-10000}"
DUR="${DUR:-20s}"
CONN="${CONN:-64}"
WORK="${WORK:-/tmp/corridor-bench-serve}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
"$PY" -c "import datasette" 2>/dev/null || { echo "datasette is missing: see the header of $0" >&2; exit 2; }
mkdir -p "$WORK"

if [ ! -d "$WORK/demo/workspace" ]; then
  echo "== demo world of $PERSONS persons"
  "$CORRIDOR" demo --dir "$WORK/demo" --persons "$PERSONS" --no-serve > "$WORK/demo.log"
fi
cat > "$WORK/spec.toml" <<'SPEC'
title = "Serving benchmark"
licence = "CC-BY-4.0"
version = "bench-serve"
reference_period = "2022-01/2025-12"

[[table]]
name = "arrivals_detail"
title = "Arrivals by month, reporting country, citizenship, sex, age group and travel purpose"
measure = "arrivals"
by = ["month", "reporting_country", "citizenship", "sex", "age_group", "travel_purpose"]
method = "cell_key"
SPEC
rm -rf "$WORK/releases"
"$CORRIDOR" release build --workspace "$WORK/demo/workspace" --out "$WORK/releases" "$WORK/spec.toml" | grep cells
REL=$(ls -d "$WORK"/releases/r*)
ID=$(basename "$REL")
CSV="$REL/data/arrivals_detail.csv"

# The same rows in SQLite, and the same filters for both.
"$PY" - "$CSV" "$WORK" "$ID" <<'PYEOF'
import csv, random, sqlite3, sys, urllib.parse
from pathlib import Path
src, work, rid = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
rows = list(csv.reader(open(src, newline="", encoding="utf-8")))
head, body = rows[0], rows[1:]
db = work / "bench.db"
db.unlink(missing_ok=True)
con = sqlite3.connect(db)
dims = head[: head.index("value")]
cols = ", ".join(f'"{h}" {"INTEGER" if h == "value" else "TEXT"}' for h in head)
con.execute(f"CREATE TABLE arrivals_detail ({cols})")
con.executemany(f"INSERT INTO arrivals_detail VALUES ({','.join('?' * len(head))})",
                [[int(v) if h == "value" and v else (None if h == "value" else v) for h, v in zip(head, r)] for r in body])
for d in dims:
    con.execute(f'CREATE INDEX "ix_{d}" ON arrivals_detail ("{d}")')
con.commit()
con.close()
rnd = random.Random(7)
corridor, datasette = [], []
for _ in range(500):
    row = rnd.choice(body)
    picked = rnd.sample(range(len(dims)), rnd.randint(2, 4))
    q = [(dims[i], row[i]) for i in sorted(picked)]
    corridor.append(f"/api/releases/{rid}/tables/arrivals_detail?" + urllib.parse.urlencode(q + [("limit", "100")]))
    datasette.append("/bench/arrivals_detail.json?" + urllib.parse.urlencode(q + [("_size", "100")]))
(work / "corridor.paths").write_text("\n".join(corridor) + "\n")
(work / "datasette.paths").write_text("\n".join(datasette) + "\n")
print(f"{len(body)} cells in SQLite and {len(corridor)} filters")
PYEOF

cat > "$WORK/paths.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA

run() { # name paths-file port
  PATHS="$WORK/$2" wrk -t2 -c"$CONN" -d"$DUR" --latency -s "$WORK/paths.lua" "http://127.0.0.1:$3" > "$WORK/$1.wrk"
  local rps p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/$1.wrk")
  errors=$(awk '/Non-2xx/ {print $4}' "$WORK/$1.wrk")
  echo "$1 $rps $p99 ${errors:-0}"
}

"$CORRIDOR" serve --releases "$WORK/releases" --addr 127.0.0.1:18080 > "$WORK/corridor.log" 2>&1 &
CPID=$!
"$PY" -m datasette serve -i "$WORK/bench.db" --port 18081 --setting suggest_facets off --setting default_page_size 100 > "$WORK/datasette.log" 2>&1 &
DPID=$!
trap 'kill $CPID $DPID 2>/dev/null || true' EXIT
for port in 18080 18081; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.2; done
done
# Both answer the same first filter with the same number of rows.
first_c=$(head -1 "$WORK/corridor.paths"); first_d=$(head -1 "$WORK/datasette.paths")
nc=$(curl -sf "http://127.0.0.1:18080$first_c" | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)['observations']))")
nd=$(curl -sf "http://127.0.0.1:18081$first_d" | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)['rows']))")
echo "first filter: Corridor $nc rows, Datasette $nd rows"
[ "$nc" = "$nd" ] || { echo "the two disagree" >&2; exit 1; }

echo "== wrk -t2 -c$CONN -d$DUR, 500 filters round-robin"
C=$(run corridor corridor.paths 18080)
D=$(run datasette datasette.paths 18081)
echo
printf '%-10s %12s %10s %8s\n' server 'req/s' p99 non-2xx
printf '%-10s %12s %10s %8s\n' $D
printf '%-10s %12s %10s %8s\n' $C
set -- $C; crps=$2; cp99=$3
set -- $D; drps=$2
"$PY" -c "print(f'throughput ratio (Corridor / Datasette): {float($crps) / float($drps):.1f}x')"
echo "Corridor p99: $cp99 (goal: >= 5000 req/s, p99 < 20 ms, >= 5x Datasette)"
