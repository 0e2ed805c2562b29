#!/usr/bin/env bash
# Linkage, side by side on the same file: Corridor's encoded path (encode +
# dedupe) against anonlink + clkhash, and Corridor's plaintext path against
# Splink (DuckDB), with F1 against the generator's truth and wall time.
# Usage: bench/link.sh [VICTIMS] [TOOLS]  (default 80000 victims, about 100k
# case records; TOOLS default "corridor anonlink splink").
# Peers: PY=/path/to/python with `pip install --no-deps -r bench/requirements-peers.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
victims="${1:-80000}"
tools="${2:-corridor anonlink splink}"
py="${PY:-python3}"
cargo build --release -q -p corridor-cli
bin="${CARGO_TARGET_DIR:-target}/release/corridor"
schema=bench/case_details.linkage.toml
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" generate --out "$work/world" --persons 2000 --victims "$victims" >/dev/null
# Case numbers are unique inside an organisation only: prefix them.
python3 - "$work/world/truth/case_details.csv" "$work/details.csv" <<'EOF'
import csv, sys
with open(sys.argv[1], newline="") as f, open(sys.argv[2], "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g)
    w.writerow(next(r))
    for row in r:
        row[0] = row[1] + ":" + row[0]
        w.writerow(row)
EOF
details="$work/details.csv"
records=$(($(wc -l < "$details") - 1))
echo "records: $records (victims drawn: $victims)"
head -c 32 /dev/urandom | base64 > "$work/key"
chmod 600 "$work/key"

timed() { # out-file, command...: wall seconds and peak MiB into out-file
  local out=$1; shift
  /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$out.err" || { cat "$out.err"; exit 1; }
}
f1_of() { # links folder → F1 precision recall
  "$bin" link evaluate --links "$1" --truth "$details" --truth-id record_id --json |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["f1"], r["precision"], r["recall"])'
}
rows=()
for tool in $tools; do
  case $tool in
    corridor)
      timed "$work/t.enc" "$bin" encode --schema "$schema" --secret-file "$work/key" "$details" "$work/enc.csv"
      timed "$work/t.dd" "$bin" link dedupe --schema "$schema" --out "$work/L" "$work/enc.csv"
      read -r se me < "$work/t.enc"; read -r sd md < "$work/t.dd"
      secs=$(python3 -c "print(round($se + $sd, 2))")
      rows+=("corridor-encoded $secs $(( (me > md ? me : md) / 1024 )) $(f1_of "$work/L")")
      timed "$work/t.pl" "$bin" link dedupe --plaintext --schema "$schema" --out "$work/P" "$details"
      read -r sp mp < "$work/t.pl"
      rows+=("corridor-plaintext $sp $((mp / 1024)) $(f1_of "$work/P")")
      ;;
    anonlink|splink)
      "$py" bench/link_peers.py --input "$details" --tool "$tool" > "$work/$tool.json"
      rows+=("$(python3 -c '
import json,sys; r=json.load(open(sys.argv[1]))
print(r["tool"], r["seconds"], r["peak_rss_mib"] + r.get("peak_rss_children_mib", 0), r["f1"], r["precision"], r["recall"])' "$work/$tool.json")")
      ;;
  esac
done
echo
printf '%-20s %9s %9s %7s %9s %7s\n' tool seconds peak_MiB F1 precision recall
for r in "${rows[@]}"; do
  read -r t s m f p rc <<< "$r"
  printf '%-20s %9.2f %9.0f %7.3f %9.3f %7.3f\n' "$t" "$s" "$m" "$f" "$p" "$rc"
done
ratio() { # corridor-row peer-row
  local a b
  a=$(printf '%s\n' "${rows[@]}" | awk -v t="$1" '$1==t')
  b=$(printf '%s\n' "${rows[@]}" | awk -v t="$2" '$1==t')
  [ -n "$a" ] && [ -n "$b" ] || return 0
  python3 -c "
a, b = '$a'.split(), '$b'.split()
print(f'{a[0]} vs {b[0]}: {float(b[1]) / float(a[1]):.2f}x faster, F1 {float(a[3]):.3f} vs {float(b[3]):.3f}')"
}
echo
ratio corridor-encoded anonlink
ratio corridor-plaintext splink
