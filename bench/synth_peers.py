#!/usr/bin/env python3
"""Differentially private synthesis peers of Corridor: SmartNoise Synth's MST
and AIM, and Microsoft's pac-synth (DP aggregate-seeded synthesizer).

Usage: python bench/synth_peers.py --input FILE.csv --tool mst|aim|pacsynth
                                   --epsilon E --out SYNTH.csv
                                   [--delta 1e-9] [--reporting-length 3]
                                   [--rows N] [--seed S]

Reads every column of FILE.csv as a categorical string column (an empty cell
is "no value"), fits the synthesizer with privacy budget (E, delta), samples
as many rows as the input (or --rows), writes SYNTH.csv with the same header
and prints one JSON line: tool, rows, epsilon, delta, seconds (fit + sample,
not the CSV load or write), fit_seconds, sample_seconds, peak_rss_mib
(ru_maxrss of this process).

Settings (the same delta for both tools, default 1e-9):
* mst: snsynth.Synthesizer.create("mst", epsilon=E, delta=delta), fitted
  with every column declared categorical and preprocessor_eps=0: the value
  domains are taken as public (read from the data, no budget spent on them),
  an empty cell is one more category. MST spends a third of rho on the
  1-way marginals, a third on choosing the spanning tree of 2-way
  marginals, a third on measuring them; Private-PGM (mbi) then fits the
  graphical model it samples from. Rows are drawn with mbi's
  synthetic_data(method="sample") (i.i.d. from the model's conditionals)
  instead of its default "round", which in mbi 1.1 makes sibling columns
  co-monotone (see run_mst; --mst-sampling round restores it).
* aim: snsynth.Synthesizer.create("aim", epsilon=E, delta=delta), fitted
  as MST is (every column categorical, preprocessor_eps=0) and sampled with
  its own sampler. AIM selects marginals adaptively (up to three-way) and
  refits Private-PGM after each round: on the 100k-row benchmark file it
  did not finish within 25 minutes on this 2-core machine.
* pacsynth: pacsynth.DpAggregateSeededSynthesizer with
  DpAggregateSeededParametersBuilder().reporting_length(3).epsilon(E)
  .delta(delta).percentile_percentage(99).percentile_epsilon_proportion(0.01)
  .accuracy_mode(prioritize_long_combinations).number_of_records_epsilon_proportion(0.005)
  .fabrication_mode(uncontrolled).empty_value("") — the library defaults
  except reporting length and delta, which are set explicitly; all columns
  are "sensitive zeros" (a "0" would be a value, not an empty). Empty
  cells are not values for pac-synth: they are neither counted nor
  synthesized, and its output has empty cells where it did not fill an
  attribute. Threads: all cores (pacsynth default). Options that were
  tried: --accuracy-mode balanced / prioritize_short_combinations,
  --percentile 90, --use-synthetic-counts 1 (all worse on the sample data
  at epsilon 1), --reporting-length 2 (much lower TVD and more preserved
  combinations, but more fabricated ones; outside the benchmark's 3..4).
  pac-synth's sampling grows faster than linearly with rows (10k: 3 s,
  30k: 20 s, 100k: 145 s on this 2-core machine): a million rows would
  take on the order of hours.

Seeds: --seed seeds numpy and random (MST's noise and sampling); JAX inside
mbi and pac-synth's Rust RNG are not seeded, so runs are not bit-identical.
"""
import argparse
import json
import resource
import time

import numpy as np
import pandas as pd


def peak_rss_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_mst(df, a, rows, name="mst"):
    import warnings
    warnings.filterwarnings("ignore")
    from snsynth import Synthesizer
    cols = list(df.columns)
    t0 = time.perf_counter()
    synth = Synthesizer.create(name, epsilon=a.epsilon, delta=a.delta, verbose=False)
    synth.fit(df, categorical_columns=cols, preprocessor_eps=0.0)
    t1 = time.perf_counter()
    if name == "mst" and a.mst_sampling != "round":
        # mbi 1.1's default "round" sampler draws each column conditionally on
        # its parents by systematic sampling over the rows' rank within their
        # parent group; siblings of one parent then come out co-monotone
        # (2-way TVD far worse than independent columns). "sample" draws
        # i.i.d. from the same conditionals.
        # (the model is a frozen dataclass: patch its class for this call)
        cls = type(synth.synthesizer)
        orig = cls.synthetic_data
        cls.synthetic_data = lambda self, rows=None, method=None: orig(
            self, rows, method=a.mst_sampling)
    out = synth.sample(rows)
    t2 = time.perf_counter()
    if not isinstance(out, pd.DataFrame):
        out = pd.DataFrame(out, columns=cols)
    out = out[cols].astype(str)
    return out, t1 - t0, t2 - t1


def run_pacsynth(df, a, rows):
    import pacsynth
    from pacsynth import (AccuracyMode, Dataset, DpAggregateSeededParametersBuilder,
                          DpAggregateSeededSynthesizer, FabricationMode)
    cols = list(df.columns)
    if a.threads:
        pacsynth.set_number_of_threads(a.threads)
    t0 = time.perf_counter()
    dataset = Dataset.from_data_frame(df, sensitive_zeros=cols)
    params = (DpAggregateSeededParametersBuilder()
              .reporting_length(a.reporting_length)
              .epsilon(a.epsilon)
              .delta(a.delta)
              .percentile_percentage(a.percentile)
              .percentile_epsilon_proportion(0.01)
              .accuracy_mode(getattr(AccuracyMode, a.accuracy_mode)())
              .number_of_records_epsilon_proportion(0.005)
              .fabrication_mode(FabricationMode.uncontrolled())
              .empty_value("")
              .use_synthetic_counts(bool(a.use_synthetic_counts))
              .build())
    synth = DpAggregateSeededSynthesizer(params)
    synth.fit(dataset)
    t1 = time.perf_counter()
    raw = synth.sample(rows)
    t2 = time.perf_counter()
    out = Dataset.raw_data_to_data_frame(raw)
    return out[cols], t1 - t0, t2 - t1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--tool", required=True, choices=["mst", "aim", "pacsynth"])
    ap.add_argument("--epsilon", type=float, required=True)
    ap.add_argument("--delta", type=float, default=1e-9)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, help="rows to sample (default: as many as the input)")
    ap.add_argument("--reporting-length", type=int, default=3, help="pacsynth only")
    ap.add_argument("--mst-sampling", choices=["sample", "round"], default="sample",
                    help="mst only: mbi's synthetic_data method (see run_mst)")
    ap.add_argument("--accuracy-mode", default="prioritize_long_combinations",
                    choices=["prioritize_long_combinations", "balanced",
                             "prioritize_short_combinations"], help="pacsynth only")
    ap.add_argument("--percentile", type=int, default=99, help="pacsynth only")
    ap.add_argument("--use-synthetic-counts", type=int, default=0, help="pacsynth only (0/1)")
    ap.add_argument("--threads", type=int, default=0, help="pacsynth only; 0 = all cores")
    ap.add_argument("--seed", type=int, help="numpy/random seed (MST's noise uses numpy)")
    a = ap.parse_args()

    df = pd.read_csv(a.input, dtype=str, keep_default_na=False, na_filter=False)
    rows = a.rows or len(df)
    if a.seed is not None:
        import random
        np.random.seed(a.seed)
        random.seed(a.seed)
    if a.tool in ("mst", "aim"):
        out, fit_s, sample_s = run_mst(df, a, rows, a.tool)
    else:
        out, fit_s, sample_s = run_pacsynth(df, a, rows)
    out.to_csv(a.out, index=False)
    result = {"tool": a.tool, "rows": int(len(out)), "input_rows": int(len(df)),
              "epsilon": a.epsilon, "delta": a.delta,
              "seconds": round(fit_s + sample_s, 3), "fit_seconds": round(fit_s, 3),
              "sample_seconds": round(sample_s, 3), "peak_rss_mib": peak_rss_mib()}
    if a.tool == "pacsynth":
        result.update(reporting_length=a.reporting_length, accuracy_mode=a.accuracy_mode,
                      percentile=a.percentile, use_synthetic_counts=a.use_synthetic_counts)
    else:
        result["mst_sampling"] = a.mst_sampling
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
