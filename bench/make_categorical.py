#!/usr/bin/env python3
"""A categorical case file shaped like the Counter-Trafficking Data
Collaborative's (CTDC) global victim-case data, for the synthesis benchmark.

Usage: python bench/make_categorical.py ROWS OUT.csv [--seed 7]

Ten columns, each with 2..40 distinct non-empty values, skewed (Zipf-like)
and correlated: every row belongs to one of 12 latent victim profiles (e.g.
young women from one region exploited sexually abroad; men in forced labour
in agriculture) with Zipf-distributed weights; each profile has its own
peaked distribution over every column, mixed with a global Zipf distribution.
On top of that, country of exploitation equals citizenship for about 45 % of
rows (domestic trafficking), labour_sector is filled only for forced-labour
rows (empty otherwise: "not applicable"), and means_of_control is unknown
(empty) for about 20 % of rows, as in CTDC's data.

Deterministic for a seed: the profiles and the rows both come from
numpy.random.default_rng(seed). A million rows take a few seconds.
"""
import argparse
import time

import numpy as np
import pandas as pd

COUNTRIES = ["GTM", "HND", "SLV", "NIC", "MEX", "USA", "COL", "VEN", "ECU", "PER",
             "BOL", "DOM", "HTI", "CUB", "PHL", "IDN", "VNM", "KHM", "THA", "MMR",
             "UKR", "MDA", "ROU", "BGR", "ALB", "NGA", "GHA", "UGA", "KEN", "ETH",
             "CHN", "IND", "NPL", "BGD", "PAK", "AFG", "SYR", "ERI", "SDN", "LKA"]
DOMAINS = {
    "gender": ["female", "male", "trans_other"],
    "age_broad": ["0-8", "9-17", "18-20", "21-23", "24-26", "27-29", "30-38", "39-47", "48+"],
    "citizenship": COUNTRIES,
    "country_of_exploitation": COUNTRIES,
    "year_of_registration": [str(y) for y in range(2010, 2025)],
    "exploitation_type": ["sexual", "forced_labour", "forced_marriage", "forced_criminality",
                          "begging", "organ_removal", "slavery_similar", "other"],
    "labour_sector": ["agriculture", "domestic_work", "construction", "manufacturing",
                      "fishing", "hospitality", "peddling", "mining", "begging_sector",
                      "transportation", "forestry", "aquafarming", "other_sector"],
    "means_of_control": ["threats", "psychological_abuse", "false_promises",
                         "physical_abuse", "restricts_movement", "takes_earnings",
                         "debt_bondage", "withholds_documents", "sexual_abuse",
                         "psychoactive_substances", "excessive_hours", "threat_to_family",
                         "restricts_medical_care", "other_means"],
    "recruiter_relation": ["intimate_partner", "friend", "family", "employer",
                           "other_acquaintance", "stranger", "unknown"],
    "data_source": ["case_management", "hotline", "shelter", "law_enforcement"],
}
COLUMNS = list(DOMAINS)
PROFILES = 12


def zipf(n, s, rng=None):
    """Zipf weights over n values: in the listed order, or shuffled by rng."""
    w = 1.0 / np.arange(1, n + 1) ** s
    w /= w.sum()
    return w if rng is None else rng.permutation(w)


def sample_from(probs, rng, size):
    """Draw `size` indices from the distribution `probs` (inverse CDF)."""
    cdf = np.cumsum(probs)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int16)


def make(rows, seed):
    rng = np.random.default_rng(seed)
    # the model: profile weights, per-profile per-column distributions
    weights = zipf(PROFILES, 1.1, rng)
    dists = {}
    for c, values in DOMAINS.items():
        # overall skew in the listed order (first values most common) ...
        base = zipf(len(values), 2.5 if c == "gender" else 1.2)
        per = []
        for _ in range(PROFILES):
            # ... bent by each profile towards a few values of its own
            peak = zipf(len(values), 2.0, rng)
            mix = rng.uniform(0.3, 0.7)
            per.append(mix * peak + (1 - mix) * base)
        dists[c] = per
    # the rows
    profile = sample_from(weights, rng, rows)
    codes = {}
    for c in COLUMNS:
        out = np.empty(rows, dtype=np.int16)
        for k in range(PROFILES):
            idx = np.flatnonzero(profile == k)
            out[idx] = sample_from(dists[c][k], rng, idx.size)
        codes[c] = out
    # direct dependencies
    domestic = rng.random(rows) < 0.45
    codes["country_of_exploitation"][domestic] = codes["citizenship"][domestic]
    labour = DOMAINS["exploitation_type"].index("forced_labour")
    codes["labour_sector"][codes["exploitation_type"] != labour] = -1
    codes["means_of_control"][rng.random(rows) < 0.2] = -1
    frame = {}
    for c in COLUMNS:
        cats = pd.Categorical.from_codes(codes[c].astype(np.int32),
                                         categories=DOMAINS[c])
        frame[c] = cats
    return pd.DataFrame(frame)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    t0 = time.perf_counter()
    df = make(a.rows, a.seed)
    df.to_csv(a.out, index=False)  # NaN (code -1) is written as an empty cell
    print(f"wrote {a.rows} rows to {a.out} in {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
