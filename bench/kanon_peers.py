#!/usr/bin/env python3
"""k-anonymity for bench/kanon.sh: case microdata, ANJANA as the peer, and
the score of any output (pycanon's k and the values changed).

Usage:
  kanon_peers.py make   --rows N --out DIR [--seed 7]
  kanon_peers.py anjana --input CASES.csv --quasi a,b --k 11 --supp-level S
                        --hier-age FILE --out OUT.csv
  kanon_peers.py score  --input CASES.csv --output OUT.csv --quasi a,b --k 11
                        --hier-age FILE

make: N case records shaped like the Counter-Trafficking Data Collaborative's
victim file: case_id, year (2002–2021), age in whole years, sex (F, M),
citizenship and country_of_exploitation (ISO alpha-3; citizenship
Zipf-skewed over 120 countries, exploitation at home for 40 %, elsewhere
in the sub-region for 25 %, else a Zipf-skewed destination), and
type_of_exploitation (sexual, forced_labour, …); sex and age depend on the
type (sexual exploitation younger and mostly female, 15 % minors overall).
No value is missing. Seeded. Writes DIR/cases.csv and DIR/hier_age.csv: the
age hierarchy both tools get, `code,parent` (whole ages 0–99 → five-year
groups Y0T4 … Y80T84, Y_GE85 → broad groups Y0T14, Y15T24, Y25T64, Y_GE65,
the roots with an empty parent). Prints a JSON line.

The hierarchies, the same for both tools (each level one step coarser,
then `*`):
* age: hier_age.csv (ages → five-year → broad → `*`). Corridor's built-in
  `age` ladder ends at minor/adult, which does not nest in the broad groups
  (15–24 holds 17 and 18); ANJANA generalises a level from the level below
  it (the first row of its table with that value), so it can only follow a
  nested hierarchy. The file is the nested one both can use.
* citizenship, country_of_exploitation: alpha-3 → M49 sub-region → M49
  region → `*`, from crates/corridor-model/data/countries.csv, which is what
  Corridor's built-in `m49` reads.
* sex: the value or `*`.

anjana: ANJANA 1.2.3's anjana.anonymity.k_anonymity(data, ident=[],
quasi_ident, k, supp_level, hierarchies). Its algorithm: while the data is
not k-anonymous, if dropping the records of every class smaller than k
stays within supp_level (% of records) it drops them; else it generalises
one level the quasi-identifier with the most distinct values. Records are
dropped, not starred. Every column is read as text; case_id is carried (not
an identifier for ANJANA, so it is kept as is) to match records. Writes
OUT.csv with the surviving records and prints one JSON line: seconds (the
k_anonymity call alone), records_out, levels.

score: matches OUT.csv to CASES.csv by case_id. Per quasi-identifier:
values suppressed (`*`, or the record is missing from the output) and
values generalised (changed, not `*`); records fully suppressed (every
quasi-identifier `*`, or dropped), records with any suppression; every
output value checked to be the input value or one of its ancestors (or
`*`); and pycanon.anonymity.k_anonymity over the output's quasi-identifiers
(`*` is one more value). One JSON line.
"""
import argparse
import csv
import json
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTRIES = os.path.join(HERE, "..", "crates", "corridor-model", "data", "countries.csv")
STAR = "*"
FIVE = [f"Y{a}T{a + 4}" for a in range(0, 85, 5)] + ["Y_GE85"]
BROAD = [("Y0T14", 0, 14), ("Y15T24", 15, 24), ("Y25T64", 25, 64), ("Y_GE65", 65, 999)]
TYPES = ["sexual", "forced_labour", "forced_marriage", "forced_criminality", "begging", "other"]
TYPE_WEIGHT = [0.5, 0.33, 0.06, 0.04, 0.04, 0.03]


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def countries():
    """{alpha3: (subregion, region)} for every country with an M49 region."""
    with open(COUNTRIES, newline="", encoding="utf-8") as f:
        lines = [l for l in f if not l.startswith("#")]
    return {r["alpha3"]: (r["m49_subregion"], r["m49_region"]) for r in csv.DictReader(lines)
            if r["m49_region"] and r["m49_subregion"]}


def age_edges():
    edges = []
    for age in range(100):
        five = FIVE[min(age // 5, len(FIVE) - 1)]
        edges.append((str(age), five))
    for i, five in enumerate(FIVE):
        start = 5 * i
        broad = next(b for b, lo, hi in BROAD if lo <= start <= hi)
        edges.append((five, broad))
    edges += [(b, "") for b, _, _ in BROAD]
    return edges


def ladders(quasi, age_file):
    """{column: {value: [level 0, level 1, …, '*']}} for the values each can hold."""
    parent = {}
    with open(age_file, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["parent"]:
                parent[r["code"]] = r["parent"]
    age = {}
    for code in parent:
        if code.isdigit():
            chain = [code]
            while chain[-1] in parent:
                chain.append(parent[chain[-1]])
            age[code] = chain + [STAR]
    geo = {a3: [a3, sub, reg, STAR] for a3, (sub, reg) in countries().items()}
    out = {}
    for q in quasi:
        if q == "age":
            out[q] = age
        elif q in ("citizenship", "country_of_exploitation"):
            out[q] = geo
        else:
            out[q] = None  # flat: the value or '*'
    return out


def make(a):
    rng = np.random.default_rng(a.seed)
    tree = countries()
    pool = sorted(tree)
    origin = rng.choice(pool, 120, replace=False)
    w = 1.0 / np.arange(1, 121) ** 1.2
    dest = rng.choice(pool, 60, replace=False)
    wd = 1.0 / np.arange(1, 61) ** 1.0
    by_sub = {}
    for c in pool:
        by_sub.setdefault(tree[c][0], []).append(c)
    n = a.rows
    cit = origin[rng.choice(120, n, p=w / w.sum())]
    u = rng.random(n)
    exp = np.empty(n, dtype=object)
    for i in range(n):
        if u[i] < 0.4:
            exp[i] = cit[i]
        elif u[i] < 0.65:
            exp[i] = by_sub[tree[cit[i]][0]][rng.integers(len(by_sub[tree[cit[i]][0]]))]
        else:
            exp[i] = dest[rng.choice(60, p=wd / wd.sum())]
    typ = rng.choice(len(TYPES), n, p=TYPE_WEIGHT)
    female = np.where(typ == 0, 0.9, np.where(typ == 2, 0.95, 0.4))
    sex = np.where(rng.random(n) < female, "F", "M")
    minor = rng.random(n) < np.where(typ == 0, 0.2, 0.1)
    adult_age = np.clip(np.round(rng.gamma(6.0, 4.5, n) + 12), 18, 85)
    age = np.where(minor, rng.integers(3, 18, n), adult_age).astype(int)
    year = rng.integers(2002, 2022, n)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "cases.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["case_id", "year", "age", "sex", "citizenship", "country_of_exploitation",
                     "type_of_exploitation"])
        for i in range(n):
            wr.writerow([f"C{i:07d}", year[i], age[i], sex[i], cit[i], exp[i], TYPES[typ[i]]])
    with open(os.path.join(a.out, "hier_age.csv"), "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["code", "parent"])
        wr.writerows(age_edges())
    print(json.dumps({"rows": n, "citizenships": int(len(set(cit))),
                      "countries_of_exploitation": int(len(set(exp))), "ages": int(len(set(age)))}))


def run_anjana(a):
    import pandas as pd
    from anjana.anonymity import k_anonymity
    quasi = a.quasi.split(",")
    data = pd.read_csv(a.input, dtype=str, keep_default_na=False)
    lad = ladders(quasi, a.hier_age)
    hierarchies = {}
    for q in quasi:
        values = sorted(set(data[q]))
        if lad[q] is None:
            table = [[v, STAR] for v in values]
        else:
            missing = [v for v in values if v not in lad[q]]
            if missing:
                sys.exit(f"{q}: no hierarchy for {missing[:5]}")
            table = [lad[q][v] for v in values]
        depth = len(table[0])
        hierarchies[q] = {lvl: pd.Series([row[lvl] for row in table]) for lvl in range(depth)}
    t0 = time.perf_counter()
    out = k_anonymity(data, [], quasi, a.k, a.supp_level, hierarchies)
    seconds = time.perf_counter() - t0
    out = out.drop(columns=[c for c in out.columns if c not in data.columns])
    out.to_csv(a.out, index=False)
    levels = {}
    for q in quasi:
        got = set(out[q]) if len(out) else set()
        levels[q] = [lvl for lvl in hierarchies[q] if got <= set(hierarchies[q][lvl])][:1]
    print(json.dumps({"tool": "anjana", "seconds": round(seconds, 3), "records_in": len(data),
                      "records_out": len(out), "levels": {q: (l[0] if l else None) for q, l in levels.items()},
                      "peak_rss_mib": peak_rss_mib()}))


def score(a):
    import pandas as pd
    import pycanon.anonymity as pa
    quasi = a.quasi.split(",")
    lad = ladders(quasi, a.hier_age)
    src = pd.read_csv(a.input, dtype=str, keep_default_na=False)
    out = pd.read_csv(a.output, dtype=str, keep_default_na=False)
    if out["case_id"].duplicated().any():
        sys.exit(f"{a.output}: a case_id appears twice")
    unknown = set(out["case_id"]) - set(src["case_id"])
    if unknown:
        sys.exit(f"{a.output}: case_id {sorted(unknown)[:3]} is not in the input")
    merged = src.merge(out, on="case_id", how="left", suffixes=("", "_out"), indicator=True)
    present = (merged["_merge"] == "both").to_numpy()
    for col in src.columns:
        if col in quasi or col == "case_id":
            continue
        if f"{col}_out" in merged and (merged.loc[present, col] != merged.loc[present, f"{col}_out"]).any():
            sys.exit(f"{a.output}: column {col} (not a quasi-identifier) was changed")
    cols, star_all, star_any = {}, np.ones(len(src), dtype=bool), np.zeros(len(src), dtype=bool)
    invalid = 0
    for q in quasi:
        v_in, v_out = merged[q].to_numpy(), merged[f"{q}_out"].to_numpy()
        star = (~present) | (v_out == STAR)
        gen = present & (v_out != STAR) & (v_out != v_in)
        star_all &= star
        star_any |= star
        levels = {}
        for i in np.flatnonzero(present & ~star):
            chain = lad[q].get(v_in[i], [v_in[i], STAR]) if lad[q] is not None else [v_in[i], STAR]
            if v_out[i] not in chain:
                invalid += 1
            else:
                lvl = chain.index(v_out[i])
                levels[lvl] = levels.get(lvl, 0) + 1
        cols[q] = {"suppressed": int(star.sum()), "generalised": int(gen.sum()),
                   "levels_seen": {str(k): v for k, v in sorted(levels.items())}}
    k = int(pa.k_anonymity(out, quasi)) if len(out) else 0
    print(json.dumps({"records": len(src), "records_out": int(present.sum()),
                      "records_dropped": int((~present).sum()),
                      "suppressed_values": sum(c["suppressed"] for c in cols.values()),
                      "generalised_values": sum(c["generalised"] for c in cols.values()),
                      "records_fully_suppressed": int(star_all.sum()),
                      "records_with_suppression": int(star_any.sum()),
                      "invalid_values": invalid, "pycanon_k": k, "k_reached": k >= a.k,
                      "columns": cols}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["make", "anjana", "score"])
    ap.add_argument("--rows", type=int)
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--quasi", default="age,sex,citizenship,country_of_exploitation")
    ap.add_argument("--k", type=int, default=11)
    ap.add_argument("--supp-level", type=float, default=5.0)
    ap.add_argument("--hier-age")
    a = ap.parse_args()
    {"make": make, "anjana": run_anjana, "score": score}[a.mode](a)


if __name__ == "__main__":
    main()
