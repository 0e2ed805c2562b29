#!/usr/bin/env python3
"""References for bench/suppress.sh: a naive suppression, the optimum of the
compact mixed-integer model (HiGHS via highspy), and an independent check of
Corridor's output.

Usage:
  suppress_peers.py naive --leaves L.csv --dims a,b [--hierarchy DIM=FILE]...
                          [--threshold 10] [--attack-json TABLES.json]
  suppress_peers.py mip   --leaves L.csv --dims a,b [--hierarchy DIM=FILE]...
                          [--threshold 10] [--protection P] [--time-limit 300]
                          [--attack-json TABLES.json]
  suppress_peers.py check --leaves L.csv --dims a,b [--hierarchy DIM=FILE]...
                          [--threshold 10] [--protection P] --cells CELLS.csv
                          [--attack-json TABLES.json]

The table is every cell of the leaves' hierarchies, margins and inner nodes
included (a FILE is `code,parent`, empty parent for the root; a dimension
without one is flat under `_T`). A primary is a cell of 1 to threshold − 1.
Each prints one JSON line; `cells_suppressed` and `value_suppressed` are the
information loss.

* naive: in one pass, every line of the table that holds a primary is
  suppressed whole. A line is one equation of the table: along one
  dimension, a parent and its children with the other coordinates fixed.
  No search, no check that the result is safe.
* mip: the compact model of Fischetti and Salazar (Management Science 47,
  2001). A binary x_c per cell (1 = suppressed), x_p = 1 for primaries.
  For each primary p and each direction (up, down) a copy y^{p,dir} of the
  table: continuous, every additivity equation of the table holds on it,
  and a_c − a_c·x_c ≤ y_c ≤ a_c + M·x_c (a published cell keeps its value,
  a withheld one is only known to be ≥ 0). Up: y_p ≥ a_p + protection;
  down: y_p ≤ a_p − min(protection, a_p). Minimise Σ w_c x_c with
  w_c = a_c + 1/(cells + 1): the value suppressed first, then the number of
  cells as a tie-break that can never outweigh one person. M is the grand
  total plus the protection, valid whenever the grand total is published
  (every cell of a non-negative additive table is at most its total); the
  report says whether it was; --attack-json writes the optimum's pattern for
  tools/lp_attack.py, as a check of the model itself. HiGHS runs to optimality or the time limit
  (threads: HiGHS default) and the report gives the incumbent's loss, the
  dual bound and the gap.
* check: reads Corridor's CELLS.csv, asserts it has every cell once, that
  every published value is the true one and every primary is withheld,
  and counts the loss itself. With --attack-json it writes the input of
  tools/lp_attack.py --tables (one table, parents per dimension, the truth
  of every withheld cell).
"""
import argparse
import csv
import json
import resource
import sys
import time

import numpy as np

TOTAL = "_T"


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Dim:
    """One dimension's nodes: codes, parent index (-1 for the root), leaves."""

    def __init__(self, name, edges, leaf_codes):
        self.name = name
        if edges is None:
            edges = [(TOTAL, "")] + [(c, TOTAL) for c in sorted(leaf_codes)]
        self.codes = [c for c, _ in edges]
        self.index = {c: i for i, c in enumerate(self.codes)}
        if len(self.index) != len(self.codes):
            sys.exit(f"{name}: a code appears twice in its hierarchy")
        self.parent = [self.index[p] if p else -1 for _, p in edges]
        self.children = {}
        for i, p in enumerate(self.parent):
            if p >= 0:
                self.children.setdefault(p, []).append(i)
        self.leaves = [i for i in range(len(self.codes)) if i not in self.children]
        self.leaf_pos = {n: k for k, n in enumerate(self.leaves)}
        # aggregation: node × leaf, 1 where the leaf lies under the node
        self.agg = np.zeros((len(self.codes), len(self.leaves)), dtype=np.int64)
        for k, leaf in enumerate(self.leaves):
            n = leaf
            while n >= 0:
                self.agg[n, k] = 1
                n = self.parent[n]


def read_hierarchy(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        return [(row["code"], row["parent"] or "") for row in r]


def codes_of(series, dim, what):
    """Node index of every code of a column (pandas), or exit naming an unknown code."""
    import pandas as pd
    cat = pd.Categorical(series, categories=dim.codes)
    idx = np.asarray(cat.codes, dtype=np.int64)
    if (idx < 0).any():
        sys.exit(f"{what}: code {series[np.flatnonzero(idx < 0)[0]]!r} is not in {dim.name}'s hierarchy")
    return idx


def load(a):
    import pandas as pd
    dims = a.dims.split(",")
    files = dict(h.split("=", 1) for h in a.hierarchy)
    df = pd.read_csv(a.leaves, dtype={d: str for d in dims}, keep_default_na=False)
    ds = [Dim(d, read_hierarchy(files[d]) if d in files else None, set(df[d].unique())) for d in dims]
    leaves = np.zeros([len(d.leaves) for d in ds], dtype=np.int64)
    idx = []
    for d, dim in zip(dims, ds):
        node = codes_of(df[d].to_numpy(), dim, a.leaves)
        pos = np.full(len(dim.codes), -1, dtype=np.int64)
        pos[dim.leaves] = np.arange(len(dim.leaves))
        if (pos[node] < 0).any():
            sys.exit(f"{d}: leaf code {df[d].iloc[np.flatnonzero(pos[node] < 0)[0]]!r} is not a leaf of its hierarchy")
        idx.append(pos[node])
    np.add.at(leaves, tuple(idx), df[a.value].to_numpy().astype(np.int64))
    full = leaves
    for k, dim in enumerate(ds):
        full = np.moveaxis(np.tensordot(dim.agg, full, axes=([1], [k])), 0, k)
    return ds, full


def groups(dim):
    """(parent, children) of every equation along one dimension."""
    return sorted(dim.children.items())


def naive(ds, full, threshold):
    prim = (full >= 1) & (full < threshold)
    sup = prim.copy()
    for k, dim in enumerate(ds):
        pv, sv = np.moveaxis(prim, k, 0), np.moveaxis(sup, k, 0)
        for parent, kids in groups(dim):
            line = [parent] + kids
            hit = pv[line].any(axis=0)
            sv[line] |= hit[None]
    return prim, sup


def equations(ds, shape):
    """Every additivity equation as (parent cell, [child cells]) over flat cell indexes."""
    flat = np.arange(int(np.prod(shape))).reshape(shape)
    out = []
    for k, dim in enumerate(ds):
        fv = np.moveaxis(flat, k, 0)
        for parent, kids in groups(dim):
            p = fv[parent].reshape(-1)
            c = fv[kids].reshape(len(kids), -1)
            for j in range(p.size):
                out.append((int(p[j]), [int(x) for x in c[:, j]]))
    return out


def mip(ds, full, threshold, protection, time_limit):
    import highspy
    a = full.reshape(-1).astype(float)
    n = a.size
    prim = np.flatnonzero((a >= 1) & (a < threshold))
    eqs = equations(ds, full.shape)
    total = float(full.max())  # the grand total is the largest cell
    big = total + protection
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    inf = highspy.kHighsInf
    # x: columns 0..n-1
    w = a + 1.0 / (n + 1)
    lx = np.zeros(n)
    lx[prim] = 1.0
    h.addVars(n, lx, np.ones(n))
    h.changeColsCost(n, np.arange(n, dtype=np.int32), w)
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32),
                            np.full(n, highspy.HighsVarType.kInteger))
    blocks = 0
    for p in prim:
        for up in (True, False):
            base = h.getNumCol()
            ub = a + big
            lb = np.zeros(n)
            if up:
                lb[p] = a[p] + protection
            else:
                ub[p] = a[p] - min(protection, a[p])
            h.addVars(n, lb, ub)
            # additivity: y_parent − Σ y_child = 0
            starts, index, value = [], [], []
            for parent, kids in eqs:
                starts.append(len(index))
                index += [base + parent] + [base + c for c in kids]
                value += [1.0] + [-1.0] * len(kids)
            m = len(eqs)
            h.addRows(m, np.zeros(m), np.zeros(m), len(index), np.array(starts, dtype=np.int32),
                      np.array(index, dtype=np.int32), np.array(value))
            # y_c + a_c x_c ≥ a_c (only where a_c > 0: else y_c ≥ 0 is its bound)
            pos = np.flatnonzero(a > 0)
            k = pos.size
            idx = np.empty(2 * k, dtype=np.int32)
            idx[0::2] = base + pos
            idx[1::2] = pos
            val = np.empty(2 * k)
            val[0::2] = 1.0
            val[1::2] = a[pos]
            h.addRows(k, a[pos], np.full(k, inf), 2 * k, np.arange(0, 2 * k, 2, dtype=np.int32), idx, val)
            # y_c − M x_c ≤ a_c
            idx = np.empty(2 * n, dtype=np.int32)
            idx[0::2] = base + np.arange(n)
            idx[1::2] = np.arange(n)
            val = np.empty(2 * n)
            val[0::2] = 1.0
            val[1::2] = -big
            h.addRows(n, np.full(n, -inf), a, 2 * n, np.arange(0, 2 * n, 2, dtype=np.int32), idx, val)
            blocks += 1
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus()).replace(" ", "_")
    info = h.getInfo()
    report = {"cells": int(n), "primary": int(prim.size), "blocks": blocks,
              "columns": int(h.getNumCol()), "rows": int(h.getNumRow()), "status": status,
              "solve_seconds": round(seconds, 2), "mip_gap": info.mip_gap,
              "dual_bound": info.mip_dual_bound, "objective": info.objective_function_value,
              "value_total": int(total)}
    if info.primal_solution_status == 2 or status in ("Optimal", "Time_limit_reached"):
        sol = np.array(h.getSolution().col_value[:n])
        sup = sol > 0.5
        report.update({"cells_suppressed": int(sup.sum()), "value_suppressed": int(a[sup].sum()),
                       "secondary": int(sup.sum() - prim.size),
                       "grand_total_published": bool(not sup[int(np.argmax(a))]),
                       # the dual bound on the value suppressed (the tie-break is < 1)
                       "value_lower_bound": int(np.ceil(info.mip_dual_bound - 1 + 1e-9))})
    else:
        sup = None
    return report, sup


def write_attack(path, ds, dims, full, withheld, threshold, protection):
    """The input of tools/lp_attack.py --tables for one suppressed table."""
    parents = {d.name: {c: (d.codes[p] if p >= 0 else None) for c, p in zip(d.codes, d.parent)}
               for d in ds}
    cells, truth = [], {}
    for at in np.ndindex(full.shape):
        codes = [d.codes[i] for d, i in zip(ds, at)]
        if withheld[at]:
            cells.append(codes + [None])
            truth["|".join(codes)] = int(full[at])
        else:
            cells.append(codes + [int(full[at])])
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"tables": [{"name": "bench", "measure": "count", "filter": None, "dims": dims,
                               "parents": parents, "cells": cells}],
                   "truth": {"bench": truth}, "threshold": threshold, "protection": protection}, f)


def read_cells(path, ds, dims, value_col):
    """Corridor's CELLS.csv → (published values, -1 where withheld; times each cell was seen)."""
    import pandas as pd
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    shape = tuple(len(d.codes) for d in ds)
    flat = np.zeros(len(df), dtype=np.int64)
    for d, name in zip(ds, dims):
        flat = flat * len(d.codes) + codes_of(df[name].to_numpy(), d, path)
    v = df[value_col].to_numpy()
    withheld = (df["conf_status"] == "C").to_numpy()
    empty = v == ""
    if (empty != withheld).any():
        sys.exit(f"{path}: value empty but not C, or the reverse: {df.iloc[np.flatnonzero(empty != withheld)[0]].to_dict()}")
    vals = np.full(len(df), -1, dtype=np.int64)
    vals[~empty] = pd.to_numeric(v[~empty]).astype(np.int64)
    pub = np.full(int(np.prod(shape)), -2, dtype=np.int64)
    pub[flat] = vals
    seen = np.bincount(flat, minlength=pub.size)
    return pub.reshape(shape), seen.reshape(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["naive", "mip", "check"])
    ap.add_argument("--leaves", required=True)
    ap.add_argument("--dims", required=True)
    ap.add_argument("--value", default="value")
    ap.add_argument("--hierarchy", action="append", default=[])
    ap.add_argument("--threshold", type=int, default=10)
    ap.add_argument("--protection", type=int)
    ap.add_argument("--time-limit", type=float, default=300)
    ap.add_argument("--cells")
    ap.add_argument("--attack-json")
    a = ap.parse_args()
    protection = a.protection if a.protection is not None else a.threshold
    t0 = time.perf_counter()
    ds, full = load(a)
    load_s = time.perf_counter() - t0
    dims = a.dims.split(",")
    if a.mode == "naive":
        t0 = time.perf_counter()
        prim, sup = naive(ds, full, a.threshold)
        if a.attack_json:
            write_attack(a.attack_json, ds, dims, full, sup, a.threshold, protection)
        r = {"cells": int(full.size), "primary": int(prim.sum()), "cells_suppressed": int(sup.sum()),
             "secondary": int(sup.sum() - prim.sum()), "value_suppressed": int(full[sup].sum()),
             "value_total": int(full.max()), "seconds": round(time.perf_counter() - t0, 3),
             "load_seconds": round(load_s, 3), "peak_rss_mib": peak_rss_mib()}
    elif a.mode == "mip":
        r, sup = mip(ds, full, a.threshold, protection, a.time_limit)
        if a.attack_json and sup is not None:
            write_attack(a.attack_json, ds, dims, full, sup.reshape(full.shape), a.threshold, protection)
        r["peak_rss_mib"] = peak_rss_mib()
    else:
        if not a.cells:
            sys.exit("check needs --cells")
        pub, seen = read_cells(a.cells, ds, dims, a.value)
        if (seen != 1).any():
            bad = np.argwhere(seen != 1)[0]
            sys.exit(f"{a.cells}: cell {[d.codes[i] for d, i in zip(ds, bad)]} appears "
                     f"{seen[tuple(bad)]} times (every cell must appear once)")
        withheld = pub == -1
        wrong = (~withheld) & (pub != full)
        if wrong.any():
            bad = tuple(np.argwhere(wrong)[0])
            sys.exit(f"{a.cells}: published {pub[bad]} at {[d.codes[i] for d, i in zip(ds, bad)]}, "
                     f"the truth is {full[bad]}")
        prim = (full >= 1) & (full < a.threshold)
        r = {"cells": int(full.size), "primary": int(prim.sum()),
             "primary_published": int((prim & ~withheld).sum()),
             "cells_suppressed": int(withheld.sum()), "secondary": int((withheld & ~prim).sum()),
             "value_suppressed": int(full[withheld].sum()), "value_total": int(full.max())}
        if a.attack_json:
            write_attack(a.attack_json, ds, dims, full, withheld, a.threshold, protection)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
