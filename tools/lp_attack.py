#!/usr/bin/env python3
"""The linear-programming attacker on a suppressed release (HiGHS via highspy).

It is independent of Corridor's protector: it reads what was published,
writes down every equation an outsider knows — each margin is the sum of
the cells under it, in every table, and a cell published in two tables is
one unknown — adds that no count is negative, and for every withheld cell
solves two linear programs: its smallest and its largest possible value.
A withheld primary (a count from 1 to threshold − 1) passes when that
interval reaches `protection` above its true value and `min(protection,
true)` below it.

    lp_attack.py --release DIR --truth TRUTH.json
    lp_attack.py --tables TABLES.json

TRUTH.json: {"table name": {"code|code|…": true value}} for withheld cells.
TABLES.json: {"tables": [{"name", "measure", "filter", "dims", "parents":
{dim: {code: parent}} (optional: default every code's parent is `_T`),
"cells": [[code, …, value or null], …]}], "truth": {…}, "threshold": t,
"protection": p}.
Prints a JSON report; exits 1 when a primary is under-protected.
"""
import argparse
import csv
import json
import math
import os
import sys

import highspy
import numpy as np

TOTAL = "_T"


def release_tables(folder):
    manifest = json.load(open(os.path.join(folder, "release.json"), encoding="utf-8"))
    tables, threshold, protection = [], None, None
    for t in manifest["tables"]:
        method = t["protection"]
        if method.get("method") != "suppression":
            continue
        threshold, protection = method["threshold"], method["protection"]
        cells = []
        with open(os.path.join(folder, t["files"]["csv"]), newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                v = row["value"]
                if (v == "") != (row["conf_status"] == "C"):
                    sys.exit(f"{t['name']}: a value is empty but not marked C, or the reverse: {row}")
                cells.append([row[d] for d in t["dims"]] + [None if v == "" else float(v)])
        tables.append({"name": t["name"], "measure": t["measure"], "filter": t.get("filter"),
                       "dims": t["dims"], "cells": cells})
    return tables, threshold, protection


def key_of(table, coords):
    parts = sorted(f"{d}={c}" for d, c in zip(table["dims"], coords) if c != TOTAL)
    return (table["measure"], table.get("filter") or "", tuple(parts))


def attack(tables, truth, threshold, protection):
    known, unknown = {}, {}
    for t in tables:
        for row in t["cells"]:
            k = key_of(t, row[:-1])
            if row[-1] is None:
                unknown.setdefault(k, len(unknown))
            else:
                known[k] = row[-1]
    leaked = [k for k in unknown if k in known]
    for k in leaked:
        del unknown[k]
    index = {k: i for i, k in enumerate(unknown)}
    rows = []  # (coefficients {var: c}, constant): sum c·x + constant = 0
    for t in tables:
        dims = t["dims"]
        by_coords = {tuple(r[:-1]): r[-1] for r in t["cells"]}
        parents = t.get("parents") or {}
        for d, dim in enumerate(dims):
            if dim in parents:
                children = {}
                for code, parent in parents[dim].items():
                    if parent is not None:
                        children.setdefault(parent, []).append(code)
            else:
                codes = sorted({r[d] for r in t["cells"] if r[d] != TOTAL})
                children = {TOTAL: codes}
            for coords in by_coords:
                kids = children.get(coords[d])
                if not kids:
                    continue
                terms, constant = {}, 0.0
                for sign, cs in [(1.0, [coords])] + [(-1.0, [coords[:d] + (c,) + coords[d + 1:]]) for c in kids]:
                    for c in cs:
                        k = key_of(t, c)
                        if k in index:
                            terms[index[k]] = terms.get(index[k], 0.0) + sign
                        else:
                            constant += sign * known.get(k, 0.0)
                if terms:
                    rows.append((terms, constant))
                elif abs(constant) > 1e-6:
                    sys.exit(f"{t['name']}: the published cells do not add up at {coords} along {dim}")
    n = len(index)
    report = {"withheld": n, "equations": len(rows), "published_twice_withheld_once": len(leaked),
              "primaries": 0, "checked": 0, "failures": []}
    if n == 0:
        return report
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    h.addVars(n, np.zeros(n), np.full(n, inf))
    for terms, constant in rows:
        idx = np.array(list(terms.keys()), dtype=np.int32)
        val = np.array(list(terms.values()), dtype=np.float64)
        h.addRow(-constant, -constant, len(idx), idx, val)
    truths = {}
    for t in tables:
        for coords_text, v in truth.get(t["name"], {}).items():
            k = key_of(t, coords_text.split("|"))
            if k in index:
                truths[index[k]] = v
    names = {i: k for k, i in index.items()}
    for i in range(n):
        true = truths.get(i)
        if true is None or not (0 < true < threshold):
            continue
        report["primaries"] += 1
        bounds = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            cost = np.zeros(n)
            cost[i] = 1.0
            h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
            h.changeObjectiveSense(sense)
            h.run()
            status = h.getModelStatus()
            if status == highspy.HighsModelStatus.kUnbounded:
                bounds.append(math.inf)
            elif status == highspy.HighsModelStatus.kOptimal:
                bounds.append(h.getInfo().objective_function_value)
            else:
                sys.exit(f"the attacker's LP is {h.modelStatusToString(status)}: the equations are wrong")
        lo, hi = bounds
        report["checked"] += 1
        need_down = min(protection, true)
        if lo > true + 1e-6 or hi < true - 1e-6:
            sys.exit(f"{names[i]}: the true value {true} lies outside [{lo}, {hi}]: the equations are wrong")
        if hi < true + protection - 1e-6 or lo > true - need_down + 1e-6:
            report["failures"].append({"cell": "|".join(names[i][2]), "measure": names[i][0], "true": true,
                                       "min": lo, "max": hi})
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--release")
    ap.add_argument("--truth")
    ap.add_argument("--tables")
    a = ap.parse_args()
    if a.release:
        tables, threshold, protection = release_tables(a.release)
        truth = json.load(open(a.truth, encoding="utf-8")) if a.truth else {}
    else:
        spec = json.load(open(a.tables, encoding="utf-8"))
        tables, truth = spec["tables"], spec.get("truth", {})
        threshold, protection = spec["threshold"], spec["protection"]
    if not tables:
        sys.exit("no suppressed table to attack")
    report = attack(tables, truth, threshold, protection)
    print(json.dumps(report, indent=1))
    if report["failures"] or report["published_twice_withheld_once"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
