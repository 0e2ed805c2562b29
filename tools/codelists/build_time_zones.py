#!/usr/bin/env python3
"""Build Corridor's country -> IANA time zones table.

Writes crates/corridor-model/data/time_zones.csv (alpha3,zones), the zones
of each country as the tz database's zone.tab lists them, joined by ';' in
the order zone.tab gives them (its order is geographic, not by population,
so no zone is marked as the country's main one).

Source: the Debian package ``tzdata`` (/usr/share/zoneinfo/zone.tab); the
version is read with ``dpkg-query``. Countries that zone.tab does not list
(none of the 249 at tzdata 2025b) are left out.

    python3 tools/codelists/build_time_zones.py          # writes
    python3 tools/codelists/build_time_zones.py --check  # exit 1 if out of date
"""

import csv
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/corridor-model/data/time_zones.csv"
COUNTRIES = ROOT / "crates/corridor-model/data/countries.csv"


def main() -> int:
    zone_tab = Path(
        next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--zone-tab=")),
             "/usr/share/zoneinfo/zone.tab"))
    try:
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "tzdata"],
            capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        version = "unknown"
    alpha3 = {}
    lines = [l for l in COUNTRIES.read_text(encoding="utf-8").splitlines() if not l.startswith("#")]
    for row in csv.DictReader(lines):
        alpha3[row["alpha2"]] = row["alpha3"]
    zones = {}
    for line in zone_tab.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        code, _coords, zone = line.split("\t")[:3]
        if code not in alpha3:
            print(f"zone.tab names {code}, which countries.csv lacks", file=sys.stderr)
            return 1
        zones.setdefault(alpha3[code], []).append(zone)
    out = io.StringIO()
    out.write(f"# Source: IANA tz database, zone.tab of Debian tzdata {version}\n")
    out.write("# Built by tools/codelists/build_time_zones.py; do not edit by hand.\n")
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["alpha3", "zones"])
    for code in sorted(zones):
        w.writerow([code, ";".join(zones[code])])
    text = out.getvalue()
    if "--check" in sys.argv:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT} is out of date", file=sys.stderr)
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(zones)} countries)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
