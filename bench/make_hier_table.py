#!/usr/bin/env python3
"""A hierarchical count table for bench/suppress.sh, given by its leaf cells.

Usage: python bench/make_hier_table.py --cells N --out DIR
                                       [--dims month,country,sex,age,category]
                                       [--years Y] [--mean 6] [--seed 7]

Dimensions (any subset, in this order):
* month: YYYY-MM from 2022 on, rolling up to YYYY-Qn, then YYYY, then _T;
* country: real ISO 3166-1 alpha-3 codes under their UN M49 sub-region and
  region (read from crates/corridor-model/data/countries.csv; the world is
  written _T), picked round-robin across sub-regions;
* sex: F, M (flat, total _T);
* age: five-year groups Y0T4 … Y80T84, Y_GE85 rolling up to Y0T14, Y15T24,
  Y25T64, Y_GE65, then _T;
* category: six types of exploitation (flat, total _T).

--cells is the size of the full table, every margin and inner node
included: the number of years (1 below 20,000 cells, 3 below 3 million,
else 5; or --years) and then the number of countries are chosen so that the
product of the dimensions' node counts comes closest to N.

Counts are skewed, with many small cells: each leaf is a negative binomial
draw (dispersion 0.6) around a mean that is a product of factors: a Zipf
weight per country, a seasonal and growing month, 55/45 by sex, an age
profile peaked at 20–34 and skewed categories, scaled to a mean of 6 (--mean)
per leaf whatever the dimensions. Seeded: the same arguments give the same file.

Writes DIR/leaves.csv (one row per leaf: one column per dimension, then
`value`), DIR/hier_<dim>.csv (`code,parent`, empty parent for the root) for
the hierarchical ones, and prints one JSON line: dims, hierarchy files,
nodes per dimension, leaves, cells, value_total, primaries (leaves and all
cells of 1–9).
"""
import argparse
import csv
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTRIES = os.path.join(HERE, "..", "crates", "corridor-model", "data", "countries.csv")
TOTAL = "_T"
AGES = ["Y0T4", "Y5T9", "Y10T14", "Y15T19", "Y20T24", "Y25T29", "Y30T34", "Y35T39", "Y40T44",
        "Y45T49", "Y50T54", "Y55T59", "Y60T64", "Y65T69", "Y70T74", "Y75T79", "Y80T84", "Y_GE85"]
BROAD = {"Y0T14": AGES[0:3], "Y15T24": AGES[3:5], "Y25T64": AGES[5:13], "Y_GE65": AGES[13:]}
AGE_WEIGHT = [0.3, 0.3, 0.5, 1.2, 2.2, 2.6, 2.4, 1.9, 1.4, 1.0, 0.7, 0.5, 0.35, 0.2, 0.12, 0.07,
              0.04, 0.02]
CATEGORIES = ["forced_labour", "sexual", "forced_criminality", "begging", "forced_marriage", "other"]
CATEGORY_WEIGHT = [0.42, 0.3, 0.12, 0.08, 0.05, 0.03]
ALL_DIMS = ["month", "country", "sex", "age", "category"]


def country_tree():
    """[(alpha3, subregion, region)] of every country that has an M49 sub-region."""
    rows = []
    with open(COUNTRIES, newline="", encoding="utf-8") as f:
        lines = [l for l in f if not l.startswith("#")]
    for r in csv.DictReader(lines):
        if r["m49_region"] and r["m49_subregion"]:
            rows.append((r["alpha3"], r["m49_subregion"], r["m49_region"]))
    return sorted(rows)


def pick_countries(tree, nodes_wanted):
    """Round-robin over sub-regions until the hierarchy has about nodes_wanted nodes."""
    by_sub = {}
    for a3, sub, reg in tree:
        by_sub.setdefault(sub, []).append((a3, sub, reg))
    queues = [by_sub[s] for s in sorted(by_sub)]
    order = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop(0))
    best, best_gap = order[:1], None
    for n in range(1, len(order) + 1):
        chosen = order[:n]
        nodes = n + len({c[1] for c in chosen}) + len({c[2] for c in chosen}) + 1
        gap = abs(nodes - nodes_wanted)
        if best_gap is None or gap < best_gap:
            best, best_gap = chosen, gap
    return sorted(best)


def hierarchy(dim, years, countries):
    """(leaves, [(code, parent)] for every node, or None for a flat dimension)."""
    if dim == "month":
        leaves, edges = [], [(TOTAL, "")]
        for y in years:
            edges.append((str(y), TOTAL))
            for q in range(1, 5):
                edges.append((f"{y}-Q{q}", str(y)))
                for m in range(3 * q - 2, 3 * q + 1):
                    leaves.append(f"{y}-{m:02d}")
                    edges.append((leaves[-1], f"{y}-Q{q}"))
        return leaves, edges
    if dim == "country":
        edges = [(TOTAL, "")]
        for reg in sorted({c[2] for c in countries}):
            edges.append((reg, TOTAL))
        for sub, reg in sorted({(c[1], c[2]) for c in countries}):
            edges.append((sub, reg))
        edges += [(c[0], c[1]) for c in countries]
        return [c[0] for c in countries], edges
    if dim == "age":
        edges = [(TOTAL, "")] + [(b, TOTAL) for b in BROAD]
        edges += [(a, b) for b, ages in BROAD.items() for a in ages]
        return list(AGES), edges
    if dim == "sex":
        return ["F", "M"], None
    if dim == "category":
        return list(CATEGORIES), None
    sys.exit(f"unknown dimension {dim}")


def node_count(dim, years, countries):
    leaves, edges = hierarchy(dim, years, countries)
    return len(edges) if edges else len(leaves) + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dims", default=",".join(ALL_DIMS))
    ap.add_argument("--years", type=int)
    ap.add_argument("--mean", type=float, default=6.0)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    dims = a.dims.split(",")
    if [d for d in ALL_DIMS if d in dims] != dims:
        sys.exit(f"--dims: a subset of {','.join(ALL_DIMS)}, in that order")
    n_years = a.years or (1 if a.cells < 20_000 else 3 if a.cells < 3_000_000 else 5)
    years = list(range(2022, 2022 + n_years))
    tree = country_tree()
    countries = tree[:1]
    if "country" in dims:
        others = 1
        for d in dims:
            if d != "country":
                others *= node_count(d, years, [])
        countries = pick_countries(tree, a.cells / others)
    hier = {d: hierarchy(d, years, countries) for d in dims}
    rng = np.random.default_rng(a.seed)

    # the mean of every leaf: a product of one factor per dimension
    factors = []
    for d in dims:
        leaves = hier[d][0]
        if d == "month":
            t = np.arange(len(leaves))
            f = (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * (1.02 ** t)
        elif d == "country":
            f = 1.0 / np.arange(1, len(leaves) + 1) ** 1.1
            rng.shuffle(f)
        elif d == "sex":
            f = np.array([0.45, 0.55])
        elif d == "age":
            f = np.array(AGE_WEIGHT)
        else:
            f = np.array(CATEGORY_WEIGHT)
        factors.append(f / f.mean())
    mean = factors[0]
    for f in factors[1:]:
        mean = np.multiply.outer(mean, f)
    mean = np.atleast_1d(mean * a.mean)
    dispersion = 0.6
    values = rng.negative_binomial(dispersion, dispersion / (dispersion + mean))

    os.makedirs(a.out, exist_ok=True)
    files = {}
    for d in dims:
        edges = hier[d][1]
        if edges:
            files[d] = os.path.join(a.out, f"hier_{d}.csv")
            with open(files[d], "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["code", "parent"])
                w.writerows(edges)
    shape = values.shape
    leaf_codes = [hier[d][0] for d in dims]
    with open(os.path.join(a.out, "leaves.csv"), "w", encoding="utf-8") as f:
        f.write(",".join(dims + ["value"]) + "\n")
        flat = values.reshape(-1)
        idx = np.indices(shape).reshape(len(dims), -1)
        cols = [np.array(leaf_codes[d], dtype=object)[idx[d]] for d in range(len(dims))]
        lines = [",".join(parts) for parts in zip(*cols, flat.astype(str))]
        f.write("\n".join(lines) + "\n")
    nodes = {d: node_count(d, years, countries) for d in dims}
    cells = int(np.prod(list(nodes.values())))
    print(json.dumps({"dims": dims, "hierarchy": files, "nodes": nodes, "leaves": int(values.size),
                      "cells": cells, "value_total": int(values.sum()),
                      "leaf_zero_share": round(float((values == 0).mean()), 3),
                      "leaf_small_share": round(float(((values > 0) & (values < 10)).mean()), 3)}))


if __name__ == "__main__":
    main()
