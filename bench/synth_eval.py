#!/usr/bin/env python3
"""One yardstick for every synthesizer: how well SYNTH.csv keeps the
attribute combinations of SENSITIVE.csv.

Usage: python bench/synth_eval.py SENSITIVE.csv SYNTH.csv [--k 10] [--length 4]

Both files: CSV with a header, the same categorical columns (the synthetic
file may order them differently; extra columns are an error). Every cell is a
string; an empty cell means "no value" (missing, not applicable or suppressed).

Prints one JSON object:
* tvd_mean (and tvd_1, tvd_2, tvd_3): the average total variation distance
  0.5 * sum |p - q| between the normalised counts of the sensitive and the
  synthetic file, over all 1-, 2- and 3-way marginals (10 + 45 + 120
  marginals for 10 columns). Here an empty cell is a value of its own, so
  suppression shows as a distance.
* preserved_share: of the attribute-value combinations of length 1..L that
  occur at least k times in the sensitive data, the share that also occurs in
  the synthetic data (combinations count only non-empty attributes: a row
  holds the combination {A=a, B=b} iff both cells are filled).
  preserved_share_by_length gives it per length.
* fabricated_count / fabricated_share: distinct combinations of length <= L
  present in the synthetic data but absent from the sensitive data, and
  their share of all distinct synthetic combinations of length <= L;
  fabricated_rows_share: share of synthetic (row, combination) occurrences
  that are fabricated.
* count_error_1: mean relative error |synthetic − sensitive| / sensitive of
  the single-attribute counts (non-empty values held by at least k
  sensitive records; an empty cell is "no attribute"), counts as they are,
  not normalised, since k-synthetic data may add records.
* seconds: the evaluation's own time (after loading).

Method: each column is coded as small integers over the union of both files'
values (0 = empty); a column subset's combination is a mixed-radix integer,
counted with numpy.bincount. 385 subsets for L = 4 over 10 columns; about
15 s for two files of a million rows.
"""
import argparse
import itertools
import json
import time

import numpy as np
import pandas as pd


def load(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)


def encode(sens, synth):
    """Integer codes per column (0 = empty), shared by both files."""
    cols = list(sens.columns)
    if sorted(cols) != sorted(synth.columns):
        raise SystemExit(f"column mismatch: {cols} vs {list(synth.columns)}")
    a, b, card = {}, {}, {}
    for c in cols:
        values = pd.unique(pd.concat([sens[c], synth[c]], ignore_index=True))
        values = [v for v in values if v != ""]
        cats = pd.CategoricalDtype([""] + sorted(values))
        a[c] = sens[c].astype(cats).cat.codes.to_numpy(np.int64)
        b[c] = synth[c].astype(cats).cat.codes.to_numpy(np.int64)
        card[c] = len(values) + 1
    return cols, a, b, card


def combo_keys(codes, subset, card):
    key = np.zeros(len(codes[subset[0]]), dtype=np.int64)
    for c in subset:
        key = key * card[c] + codes[c]
    return key


def evaluate(sens, synth, k=10, length=4):
    t0 = time.perf_counter()
    cols, a, b, card = encode(sens, synth)
    n_a, n_b = len(sens), len(synth)
    result = {"sensitive_rows": n_a, "synthetic_rows": n_b, "columns": len(cols),
              "k": k, "length": length}

    # TVD over 1-, 2-, 3-way marginals (empty counts as a value here)
    tvd = {1: [], 2: [], 3: []}
    for r in (1, 2, 3):
        for subset in itertools.combinations(cols, r):
            size = int(np.prod([card[c] for c in subset]))
            p = np.bincount(combo_keys(a, subset, card), minlength=size) / max(n_a, 1)
            q = np.bincount(combo_keys(b, subset, card), minlength=size) / max(n_b, 1)
            tvd[r].append(0.5 * np.abs(p - q).sum())
    all_tvd = [x for r in tvd for x in tvd[r]]
    result["tvd_mean"] = round(float(np.mean(all_tvd)), 6)
    for r in tvd:
        result[f"tvd_{r}"] = round(float(np.mean(tvd[r])), 6)
    result["marginals"] = len(all_tvd)

    # combinations of non-empty attributes, lengths 1..L
    frequent = preserved = 0
    fabricated = synth_distinct = fabricated_occ = synth_occ = 0
    by_len = {}
    subsets = 0
    for r in range(1, length + 1):
        f_r = p_r = 0
        for subset in itertools.combinations(cols, r):
            subsets += 1
            size = int(np.prod([card[c] for c in subset]))
            ma = np.ones(n_a, dtype=bool)
            mb = np.ones(n_b, dtype=bool)
            for c in subset:
                ma &= a[c] > 0
                mb &= b[c] > 0
            ca = np.bincount(combo_keys(a, subset, card)[ma], minlength=size)
            cb = np.bincount(combo_keys(b, subset, card)[mb], minlength=size)
            freq = ca >= k
            f_r += int(freq.sum())
            p_r += int((freq & (cb > 0)).sum())
            fab = (cb > 0) & (ca == 0)
            fabricated += int(fab.sum())
            synth_distinct += int((cb > 0).sum())
            fabricated_occ += int(cb[fab].sum())
            synth_occ += int(cb.sum())
        frequent += f_r
        preserved += p_r
        by_len[r] = round(p_r / f_r, 6) if f_r else None
    errors = []
    for c in cols:
        ca = np.bincount(a[c], minlength=card[c])
        cb = np.bincount(b[c], minlength=card[c])
        for v in range(1, card[c]):
            if ca[v] >= k:
                errors.append(abs(int(cb[v]) - int(ca[v])) / ca[v])
    result["count_error_1"] = round(float(np.mean(errors)), 6) if errors else None
    result["subsets"] = subsets
    result["frequent_combinations"] = frequent
    result["preserved_share"] = round(preserved / frequent, 6) if frequent else None
    result["preserved_share_by_length"] = by_len
    result["synthetic_combinations"] = synth_distinct
    result["fabricated_count"] = fabricated
    result["fabricated_share"] = round(fabricated / synth_distinct, 6) if synth_distinct else 0.0
    result["fabricated_rows_share"] = round(fabricated_occ / synth_occ, 6) if synth_occ else 0.0
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sensitive")
    ap.add_argument("synthetic")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--length", type=int, default=4)
    a = ap.parse_args()
    t0 = time.perf_counter()
    sens, synth = load(a.sensitive), load(a.synthetic)
    load_s = time.perf_counter() - t0
    r = evaluate(sens, synth, a.k, a.length)
    r["load_seconds"] = round(load_s, 3)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
