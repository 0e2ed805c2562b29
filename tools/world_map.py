#!/usr/bin/env python3
"""Build the portal's world map from public-domain Natural Earth boundaries.

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python3 tools/world_map.py package/countries-110m.json \
        > crates/corridor-server/assets/world-110m.csv

Input: the TopoJSON of the npm package `world-atlas` 2.0.2 (Natural Earth
1:110m Admin 0 countries, public domain; packaged by Mike Bostock under the
ISC licence), whose objects are keyed by ISO 3166-1 numeric code.

Output: one row per country, `iso3,path`, the ISO 3166-1 alpha-3 code (from
corridor-model's countries.csv, so the map and the code lists agree) and an
SVG path in the Equal Earth projection on a 1000 x 487 canvas, rounded to
one decimal. Countries without a numeric code in the list (Kosovo,
Northern Cyprus, Somaliland in Natural Earth) are left out and named on
stderr.
"""

import csv
import json
import math
import sys
from pathlib import Path

WIDTH = 1000.0
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2
# The projection's extent at the equator and poles, for the scale.
X_MAX = math.pi / (M * A1) * 1.0
T_MAX = math.asin(M)
Y_MAX = T_MAX * (A1 + A2 * T_MAX**2 + T_MAX**6 * (A3 + A4 * T_MAX**2))
SCALE = WIDTH / (2 * X_MAX)
HEIGHT = round(2 * Y_MAX * SCALE)


def equal_earth(lon: float, lat: float) -> tuple[float, float]:
    lam, phi = math.radians(lon), math.radians(lat)
    t = math.asin(M * math.sin(phi))
    t2, t6 = t * t, t**6
    x = lam * math.cos(t) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)))
    y = t * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return (x * SCALE + WIDTH / 2, HEIGHT / 2 - y * SCALE)


def decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    out = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        out.append(pts)
    return out


def ring(arcs, indices) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for i in indices:
        a = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        pts.extend(a if not pts else a[1:])
    return pts


def unwrap(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """A ring that crosses the antimeridian (Fiji, Chukotka) would be drawn
    with a line across the whole map: its points on the minority side are
    pinned to the meridian of the majority's side instead."""
    if all(abs(a[0] - b[0]) <= 180 for a, b in zip(pts, pts[1:])):
        return pts
    east = sum(1 for lon, _ in pts if lon > 0) * 2 >= len(pts)
    edge = 180.0 if east else -180.0
    return [(lon if (lon > 0) == east else edge, lat) for lon, lat in pts]


def path(arcs, geometry) -> str:
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    parts = []
    for polygon in polygons:
        for r in polygon:
            pts = [equal_earth(lon, lat) for lon, lat in unwrap(ring(arcs, r))]
            # Drop points that round onto the previous one.
            cmds, last = [], None
            for x, y in pts:
                p = (round(x, 1), round(y, 1))
                if p != last:
                    cmds.append(f"{p[0]:g},{p[1]:g}")
                    last = p
            if len(cmds) >= 3:
                parts.append("M" + "L".join(cmds) + "Z")
    return "".join(parts)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    topo = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    countries = Path(__file__).resolve().parent.parent / "crates/corridor-model/data/countries.csv"
    with countries.open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        by_numeric = {r["numeric"]: r["alpha3"] for r in rows}
    arcs = decode_arcs(topo)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["iso3", "path"])
    out = []
    for g in topo["objects"]["countries"]["geometries"]:
        code = by_numeric.get(str(g.get("id", "")).zfill(3))
        if code is None or "arcs" not in g:
            print(f"left out: {g.get('properties', {}).get('name', '?')} ({g.get('id')})", file=sys.stderr)
            continue
        out.append((code, path(arcs, g)))
    for code, p in sorted(out):
        w.writerow([code, p])
    print(f"{len(out)} countries, canvas {WIDTH:g} x {HEIGHT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
