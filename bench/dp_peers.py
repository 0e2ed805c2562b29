#!/usr/bin/env python3
"""Differentially private count tables for bench/dp_tables.sh: the data,
OpenDP's Polars API as the peer, and the score of any output.

Usage:
  dp_peers.py make  --cells N --out DIR [--mean 4] [--seed 7]
  dp_peers.py peer  --dir DIR --rho RHO --queries leaves|leaves-signed|margins
                    --out CELLS.csv
  dp_peers.py score --dir DIR --cells CELLS.csv

make: a 3-dimension table, citizenship (ISO alpha-3 codes) × month
(YYYY-MM from 2022-01) × age (single years from 15), sized 46 × 40 × 50
for N = 100,000 (each size scaled by (N / 98,277)^(1/3), so that the table
with its margins has about N cells). Counts are skewed: a negative binomial
(dispersion 0.6) around a Zipf weight per country × a seasonal, growing
month × an age profile peaked at 25, mean --mean per leaf; seeded. Writes
DIR/leaves.csv (citizenship,month,age,value: every leaf of the domain,
zeros included), DIR/domain_<dim>.csv (`code`, one code a line) and
DIR/truth.csv (every cell with its margins, `_T` for a total), and prints a
JSON line.

peer: OpenDP (opendp.prelude) with its Polars context. The counts are
expanded to one row per person (a polars LazyFrame); privacy unit one row
per person (dp.unit_of(contributions=1)), privacy loss zCDP ρ = RHO
(dp.loss_of(rho=RHO)), keys public: every query is
`context.query().group_by(dims).agg(dp.len()).with_keys(domain product)`,
so every cell of the domain is released (OpenDP's integer Gaussian on each
count), and the grand total is `context.query().select(dp.len())`.
* --queries leaves: one query, the leaves, with all of ρ; the margins are
  the sums of the noisy leaves (consistent by construction). dp.len() is an
  unsigned count: OpenDP's release saturates at 0, so an empty cell only
  ever gets noise upwards and the summed margins are biased up.
* --queries leaves-signed: the same, but each leaf is
  `pl.col("one").dp.sum((0, 1))` of a column of ones (Int64, the same
  sensitivity 1 and integer Gaussian), which may go below 0: unbiased
  leaves, so unbiased summed margins. dp.sum needs a public max_length in
  the margin; it is 10^8 (an overflow guard, not a clamp).
* --queries margins: every margin queried on its own, ρ split evenly over
  the 8 queries (leaves, three 2-way, three 1-way, total), as Corridor
  measures them, with no post-processing (margins need not add up).
Writes CELLS.csv like Corridor's (`<dims>,value`, `_T` for totals) and
prints one JSON line: seconds (context, queries and release, not the CSV
read or the expansion to rows), prep_seconds, rows, peak_rss_mib.

score: mean absolute error against DIR/truth.csv of the leaves and of the
margins (every cell with a `_T`), the largest absolute error, whether every
margin equals the sum of the cells under it along every dimension
(consistent), whether every value is ≥ 0 and whole, and that every cell of
the domain is there; where the file has an error_bound_95 column, the
share of cells whose error is within it. One JSON line.
"""
import argparse
import csv
import itertools
import json
import os
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTRIES = os.path.join(HERE, "..", "crates", "corridor-model", "data", "countries.csv")
TOTAL = "_T"
DIMS = ["citizenship", "month", "age"]
BASE = (46, 40, 50)


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def alpha3():
    with open(COUNTRIES, newline="", encoding="utf-8") as f:
        lines = [l for l in f if not l.startswith("#")]
    return sorted(r["alpha3"] for r in csv.DictReader(lines) if r["m49_region"])


def make(a):
    s = (a.cells / 98_277) ** (1 / 3)
    n_c, n_m, n_a = (max(2, round(b * s)) for b in BASE)
    countries = alpha3()
    if n_c > len(countries):
        sys.exit(f"{n_c} countries wanted, {len(countries)} exist")
    rng = np.random.default_rng(a.seed)
    picked = sorted(rng.choice(countries, n_c, replace=False).tolist())
    months = [f"{2022 + m // 12}-{m % 12 + 1:02d}" for m in range(n_m)]
    ages = [str(15 + i) for i in range(n_a)]
    fc = 1.0 / np.arange(1, n_c + 1) ** 1.1
    rng.shuffle(fc)
    t = np.arange(n_m)
    fm = (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * 1.01 ** t
    x = np.arange(n_a) * 50 / n_a
    fa = np.exp(-0.5 * ((x - 10) / 9) ** 2) + 0.05
    mean = np.multiply.outer(np.multiply.outer(fc / fc.mean(), fm / fm.mean()), fa / fa.mean()) * a.mean
    values = rng.negative_binomial(0.6, 0.6 / (0.6 + mean))
    os.makedirs(a.out, exist_ok=True)
    codes = [picked, months, ages]
    for d, cs in zip(DIMS, codes):
        with open(os.path.join(a.out, f"domain_{d}.csv"), "w", encoding="utf-8") as f:
            f.write("code\n" + "\n".join(cs) + "\n")
    write_cells(os.path.join(a.out, "leaves.csv"), codes, values, margins=False)
    write_cells(os.path.join(a.out, "truth.csv"), codes, with_margins(values), margins=True)
    print(json.dumps({"dims": DIMS, "sizes": [n_c, n_m, n_a], "leaves": int(values.size),
                      "cells": int((n_c + 1) * (n_m + 1) * (n_a + 1)), "records": int(values.sum()),
                      "leaf_zero_share": round(float((values == 0).mean()), 3),
                      "leaf_small_share": round(float(((values > 0) & (values < 10)).mean()), 3)}))


def with_margins(leaves):
    """(n1+1, n2+1, n3+1) array: index n_d along a dimension is its total."""
    full = leaves
    for k in range(leaves.ndim):
        full = np.concatenate([full, full.sum(axis=k, keepdims=True)], axis=k)
    return full


def write_cells(path, codes, arr, margins):
    cs = [c + [TOTAL] if margins else c for c in codes]
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(DIMS + ["value"]) + "\n")
        idx = np.indices(arr.shape).reshape(3, -1)
        cols = [np.array(cs[d], dtype=object)[idx[d]] for d in range(3)]
        f.write("\n".join(",".join(p) for p in zip(*cols, arr.reshape(-1).astype(np.int64).astype(str))) + "\n")


def read_domain(folder):
    out = []
    for d in DIMS:
        with open(os.path.join(folder, f"domain_{d}.csv"), encoding="utf-8") as f:
            out.append([l.strip() for l in f if l.strip() and l.strip() != "code"])
    return out


def read_cells(path, codes, column=None):
    """A cells CSV → (n1+1, n2+1, n3+1) float array (NaN where missing), count of rows seen,
    and the array of `column` if the file has it."""
    index = [{c: i for i, c in enumerate(cs + [TOTAL])} for cs in codes]
    arr = np.full([len(c) + 1 for c in codes], np.nan)
    extra = np.full(arr.shape, np.nan) if column else None
    seen = np.zeros(arr.shape, dtype=np.int32)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                at = tuple(ix[row[d]] for ix, d in zip(index, DIMS))
            except KeyError as e:
                sys.exit(f"{path}: code {e} is not in the domain")
            arr[at] = float(row["value"]) if row["value"] != "" else np.nan
            if column and row.get(column) not in (None, ""):
                extra[at] = float(row[column])
            seen[at] += 1
    if column and np.isnan(extra).all():
        extra = None
    return arr, seen, extra


def peer(a):
    import polars as pl
    import opendp.prelude as dp
    dp.enable_features("contrib")
    codes = read_domain(a.dir)
    t0 = time.perf_counter()
    leaves = pl.read_csv(os.path.join(a.dir, "leaves.csv"), schema_overrides={d: pl.String for d in DIMS})
    rows = leaves.filter(pl.col("value") > 0).select(
        [pl.col(d).repeat_by(pl.col("value")) for d in DIMS]).explode(DIMS)
    rows = rows.with_columns(one=pl.lit(1, dtype=pl.Int64))
    prep = time.perf_counter() - t0
    keys = {}
    for r in range(1, 4):
        for combo in itertools.combinations(range(3), r):
            frame = pl.DataFrame({DIMS[combo[0]]: codes[combo[0]]})
            for k in combo[1:]:
                frame = frame.join(pl.DataFrame({DIMS[k]: codes[k]}), how="cross")
            keys[combo] = frame
    queries = [(0, 1, 2)] if a.queries != "margins" else [c for r in (3, 2, 1) for c in
                                                         itertools.combinations(range(3), r)] + [()]
    t0 = time.perf_counter()
    context = dp.Context.compositor(
        data=rows.lazy(), privacy_unit=dp.unit_of(contributions=1),
        privacy_loss=dp.loss_of(rho=a.rho), split_evenly_over=len(queries),
        # a public bound on a cell's count, needed by dp.sum (an overflow guard)
        margins=[dp.polars.Margin(by=DIMS, max_length=10 ** 8)])
    count = pl.col("one").dp.sum((0, 1)).alias("len") if a.queries == "leaves-signed" else dp.len()
    shape = [len(c) + 1 for c in codes]
    out = np.full(shape, np.nan)
    index = [{c: i for i, c in enumerate(cs)} for cs in codes]
    for combo in queries:
        if combo == ():
            out[-1, -1, -1] = context.query().select(dp.len()).release().collect().item()
            continue
        by = [DIMS[k] for k in combo]
        res = context.query().group_by(by).agg(count).with_keys(keys[combo]).release().collect()
        at = [np.full(res.height, shape[k] - 1) for k in range(3)]
        for k in combo:
            at[k] = np.array([index[k][c] for c in res[DIMS[k]].to_list()])
        out[tuple(at)] = res["len"].fill_null(0).to_numpy().astype(float)
    seconds = time.perf_counter() - t0
    if a.queries != "margins":
        out = with_margins(out[:-1, :-1, :-1])
    write_cells(a.out, codes, out, margins=True)
    print(json.dumps({"tool": f"opendp-{a.queries}", "rho": a.rho, "queries": len(queries),
                      "rows": rows.height, "seconds": round(seconds, 3), "prep_seconds": round(prep, 3),
                      "peak_rss_mib": peak_rss_mib()}))


def score(a):
    codes = read_domain(a.dir)
    truth, _, _ = read_cells(os.path.join(a.dir, "truth.csv"), codes)
    got, seen, bound = read_cells(a.cells, codes, "error_bound_95")
    if (seen != 1).any():
        bad = np.argwhere(seen != 1)[0]
        sys.exit(f"{a.cells}: cell {bad.tolist()} appears {seen[tuple(bad)]} times (once expected)")
    if np.isnan(got).any():
        sys.exit(f"{a.cells}: {int(np.isnan(got).sum())} cells have no value")
    err = np.abs(got - truth)
    leaf = np.zeros(truth.shape, dtype=bool)
    leaf[:-1, :-1, :-1] = True
    worst_gap = 0.0
    for k in range(3):
        inner = np.take(got, range(got.shape[k] - 1), axis=k).sum(axis=k)
        total = np.take(got, got.shape[k] - 1, axis=k)
        worst_gap = max(worst_gap, float(np.abs(inner - total).max()))
    by_kind = {}
    for kind in itertools.product([False, True], repeat=3):
        sel = tuple(slice(-1, None) if t else slice(None, -1) for t in kind)
        name = "".join("T" if t else "x" for t in kind)
        by_kind[name] = round(float(err[sel].mean()), 4)
    coverage = None if bound is None else round(float((err <= bound + 1e-9).mean()), 4)
    print(json.dumps({"cells": int(got.size), "bound_95_coverage": coverage, "mae_leaves": round(float(err[leaf].mean()), 4),
                      "mae_margins": round(float(err[~leaf].mean()), 4),
                      "max_error": float(err.max()), "mae_by_margin": by_kind,
                      "consistent": worst_gap < 1e-6, "largest_margin_gap": worst_gap,
                      "non_negative": bool((got >= 0).all()),
                      "whole": bool((got == np.round(got)).all())}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["make", "peer", "score"])
    ap.add_argument("--cells", help="make: table size; score: the output to score")
    ap.add_argument("--out")
    ap.add_argument("--dir")
    ap.add_argument("--mean", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rho", type=float)
    ap.add_argument("--queries", choices=["leaves", "leaves-signed", "margins"], default="leaves")
    a = ap.parse_args()
    if a.mode == "make":
        a.cells = int(a.cells)
        make(a)
    elif a.mode == "peer":
        peer(a)
    else:
        score(a)


if __name__ == "__main__":
    main()
