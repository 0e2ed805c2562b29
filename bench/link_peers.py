#!/usr/bin/env python3
"""Record-linkage peers of Corridor: anonlink + clkhash (encoded) and Splink 5
(plaintext, DuckDB), deduplicating one case-record file into persons.

Usage:
  python bench/link_peers.py --input FILE.csv --tool anonlink|splink
                             [--out clusters.csv] [--json] [options below]

Input columns: record_id,organisation,given_name,family_name,birth_date,
place_of_birth,sex,citizenship,victim_id. victim_id (the truth) is read only by
the scoring, after the peer has finished.

Prints one JSON line: tool, records, seconds (the peer's own work: normalising,
encoding, blocking, training, matching, clustering; not the CSV load nor the
scoring), precision / recall / f1 over record pairs (same predicted cluster vs
same victim_id), peak_rss_mib (ru_maxrss of this process; clkhash's encoder
processes are reported apart as peak_rss_children_mib), and `settings`.
--out writes record_id,cluster_id.

Both peers get the same light normalisation, inside the timed part: names and
places lower-cased, accents removed (NFKD), punctuation dropped, spaces
collapsed.

Settings (defaults; tuned for F1 on bench/make_link_sample.py data with
seed 11 at 20k records, checked at 10k and 100k with seed 7):

anonlink + clkhash (encoded):
  * clkhash 0.18 CLKs of 1024 bits, fixed secret (SECRET below), HKDF-SHA256
    key derivation, clkhash's "blakeHash" scheme, padded bigrams (q=2),
    bitsPerToken: given_name 12; family name 12, first and second family name
    as separate features (a missing second name then costs only its own
    bigrams); birth date 16 as two features, year "YYYY" and the unordered
    {day, month} pair "DDMM"/"MMDD" (sorted; a day/month swap changes
    nothing); place_of_birth 6; sex and citizenship 6 (--bits-extra 0 limits
    the CLK to the four fields given/family/birth date/place: F1 about 0.015
    lower). Empty values set no bits. Encoded on all cores (clkhash's own
    process pool).
  * --anonlink-mode orgs (default): each organisation is one party (dataset);
    anonlink.candidate_generation.find_candidate_pairs with
    dice_coefficient_accelerated at Dice >= --threshold 0.81, then
    anonlink.solving.greedy_solve (multi-party greedy: at most one record per
    organisation in a group). Corridor's organisations never hold two records
    of one victim, which is anonlink's multi-party model. --anonlink-mode
    dedup: the whole file compared with itself (pairs i<j), clusters =
    connected components of the candidate pairs (F1 0.83 vs 0.90 at 20k).
  * --blocking keys (default): blocking_f gives each record the keys of
    BLOCKING_RULES below (the same rules the Splink peer uses), each one a
    keyed BLAKE2b hash with the secret, so no plaintext leaves the encoder;
    two records are compared iff they share a key. This is what makes 1M
    records feasible, and it also raised precision a little on the sample
    data. --blocking none compares all cross-organisation pairs (fine up to
    ~100k records: 17 s there); --blocking auto = none below 3e9 comparisons.

splink 5 (plaintext, DuckDB backend, link_type dedupe_only):
  * comparisons: given_name and family_name (full, normalised)
    JaroWinklerAtThresholds [0.95, 0.88, 0.7] with term-frequency
    adjustments; birth_date custom: null / exact / day-month swapped /
    Levenshtein <= 1 / within 1 year / else; place_of_birth, sex,
    citizenship: ExactMatch (null level for empties).
  * blocking rules for prediction: BLOCKING_RULES below (5 rules; ~98 % of
    true pairs reach scoring on the sample data).
  * training: probability_two_random_records_match from the deterministic
    rule given_name + family_name + birth_date, recall 0.7; u by random
    sampling (max_pairs 5e6, seed 1); m by EM on block_on("birth_date") and
    on block_on("given_name", "family_name") (blocking on the compared
    columns themselves, so each session leaves out the comparison it would
    bias; blocking EM on derived keys gave nonsense m values).
  * predict keeping pairs with match probability >= 0.2,
    cluster_pairwise_predictions_at_threshold at --splink-threshold 0.7
    (tuned: at 20k / 100k records 0.5 gave F1 0.930 / 0.899, 0.7 gave
    0.944 / 0.902-0.908; the u sample moves F1 by about 0.005).
"""
import argparse
import collections
import csv
import hashlib
import json
import os
import re
import resource
import sys
import time
import unicodedata

COLUMNS = ["record_id", "organisation", "given_name", "family_name", "birth_date",
           "place_of_birth", "sex", "citizenship", "victim_id"]
SECRET = b"corridor-benchmark-shared-secret-2026"


# --------------------------------------------------------------------------
# shared helpers

def load(path):
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        if header != COLUMNS:
            sys.exit(f"unexpected header {header}, want {COLUMNS}")
        cols = list(zip(*r))
    return {c: list(v) for c, v in zip(COLUMNS, cols)} if cols else {c: [] for c in COLUMNS}


_NON_ALPHA = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def norm(s, cache={}):
    v = cache.get(s)
    if v is None:
        t = unicodedata.normalize("NFKD", s.lower())
        t = "".join(ch for ch in t if not unicodedata.combining(ch))
        t = _SPACES.sub(" ", _NON_ALPHA.sub(" ", t)).strip()
        cache[s] = v = t
    return v


def first_token(s):
    return s.split(" ", 1)[0] if s else ""


def dob_key(d):
    """YYYY-MM-DD -> 'YYYY:a:b' with {a, b} = {MM, DD} sorted (swap-proof)."""
    if len(d) != 10:
        return ""
    y, m, dd = d[:4], d[5:7], d[8:10]
    a, b = sorted((m, dd))
    return f"{y}:{a}:{b}"


def derive(d):
    """Normalised columns both peers use (timed, part of the peer's work)."""
    given = [norm(v) for v in d["given_name"]]
    family = [norm(v) for v in d["family_name"]]
    x = {
        "given_name": given,
        "family_name": family,
        "given1": [first_token(v) for v in given],
        "family1": [first_token(v) for v in family],
        "family2": [v.split(" ", 1)[1] if " " in v else "" for v in family],
        "birth_date": d["birth_date"],
        "birth_year": [v[:4] for v in d["birth_date"]],
        "dob_key": [dob_key(v) for v in d["birth_date"]],
        "place_of_birth": [norm(v) for v in d["place_of_birth"]],
        "sex": d["sex"],
        "citizenship": d["citizenship"],
    }
    x["given1_1"] = [v[:1] for v in x["given1"]]
    x["given1_3"] = [v[:3] for v in x["given1"]]
    x["family1_3"] = [v[:3] for v in x["family1"]]
    x["family2_3"] = [v[:3] for v in x["family2"]]
    return x


# Blocking rules shared by both peers: two records are compared iff all the
# columns of one rule are non-empty and equal in both. On the sample data
# they keep ~98 % of the true pairs while comparing ~0.06 % of all pairs
# at 20k records.
BLOCKING_RULES = [
    ("dob_key",),                               # birth date, day/month swap-proof
    ("family1", "given1_3", "citizenship"),
    ("given1", "family1_3", "citizenship"),
    ("family1_3", "family2_3", "given1_1"),
    ("family1_3", "given1_3", "place_of_birth"),
]


def score(labels, truth):
    """Pairwise precision/recall/F1 of predicted cluster labels vs truth."""
    def pairs(counter):
        return sum(n * (n - 1) // 2 for n in counter.values())
    pred = pairs(collections.Counter(labels))
    true = pairs(collections.Counter(truth))
    tp = pairs(collections.Counter(zip(labels, truth)))
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return dict(precision=round(p, 5), recall=round(r, 5), f1=round(f1, 5),
                true_pairs=true, predicted_pairs=pred)


def peak_rss_mib(who=resource.RUSAGE_SELF):
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # KiB on Linux


class UnionFind:
    def __init__(self, n):
        self.p = list(range(n))

    def find(self, x):
        p = self.p
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


# --------------------------------------------------------------------------
# anonlink + clkhash

def clk_schema(a):
    def string_feature(name, bits):
        return {
            "identifier": name,
            "format": {"type": "string", "encoding": "utf-8"},
            "hashing": {
                "comparison": {"type": "ngram", "n": 2},
                "strategy": {"bitsPerToken": bits},
                "hash": {"type": "doubleHash"} if a.clk_hash == "double" else {"type": "blakeHash"},
            },
        }
    return {
        "version": 3,
        "clkConfig": {
            "l": a.clk_bits,
            "kdf": {"type": "HKDF", "hash": "SHA256",
                    "salt": "Q29ycmlkb3IgYmVuY2htYXJrIHNhbHQ=",
                    "info": "Y29ycmlkb3ItbGlua2FnZQ==", "keySize": 64},
        },
        "features": [
            string_feature("given_name", a.bits_given),
            string_feature("family_name_1", a.bits_family),
            string_feature("family_name_2", a.bits_family),
        ] + ([string_feature("birth_date", a.bits_dob)] if a.dob_encoding == "plain" else
             [string_feature("birth_year", a.bits_dob),
              string_feature("birth_day_month", a.bits_dob)]) + [
            string_feature("place_of_birth", a.bits_place),
        ] + ([string_feature("sex", a.bits_extra), string_feature("citizenship", a.bits_extra)]
             if a.bits_extra else []),
    }


def blocking_keys(x, i):
    """The BLOCKING_RULES keys of record i, each a keyed BLAKE2 hash."""
    keys = []
    for r, cols in enumerate(BLOCKING_RULES):
        vals = [x[c][i] for c in cols]
        if all(vals):
            keys.append(f"{r}|" + "|".join(vals))
    if not keys:  # nothing to block on: a block of its own
        keys.append(f"r{i}")
    return [hashlib.blake2b(k.encode(), key=SECRET[:32], digest_size=8).digest() for k in keys]


def run_anonlink(d, a):
    import warnings
    warnings.filterwarnings("ignore", message="pkg_resources")
    import anonlink
    from clkhash import clk, schema as clk_schema_mod

    n = len(d["record_id"])
    t0 = time.perf_counter()
    x = derive(d)
    given, fam1, fam2, place = x["given_name"], x["family1"], x["family2"], x["place_of_birth"]
    if a.dob_encoding == "plain":
        dob_cols = [[x.replace("-", "") for x in d["birth_date"]]]
    else:  # year, and {day, month} as a sorted pair: a swap changes nothing
        dob_cols = [x["birth_year"], [k[5:].replace(":", "") for k in x["dob_key"]]]
    extra = [d["sex"], d["citizenship"]] if a.bits_extra else []

    schema = clk_schema_mod.from_json_dict(clk_schema(a))
    pii = list(zip(given, fam1, fam2, *dob_cols, place, *extra))
    clks = clk.generate_clks(pii, schema, SECRET, validate=False,
                             max_workers=a.workers)
    # clkhash does not join its worker processes; reap them so that their
    # memory shows in RUSAGE_CHILDREN
    import multiprocessing
    multiprocessing.active_children()
    t_enc = time.perf_counter()

    if a.anonlink_mode == "orgs":
        orgs = sorted(set(d["organisation"]))
        index = {o: [] for o in orgs}
        for i, o in enumerate(d["organisation"]):
            index[o].append(i)
        datasets = [[clks[i] for i in index[o]] for o in orgs]
        sizes = [len(x) for x in datasets]
        comparisons = sum(sizes[x] * sizes[y] for x in range(len(sizes))
                          for y in range(x + 1, len(sizes)))
    else:
        index = None
        datasets = [clks, clks]
        comparisons = n * n

    blocking = a.blocking
    if blocking == "auto":
        blocking = "keys" if comparisons > 3e9 else "none"
    blocking_f = None
    if blocking == "keys":
        if a.anonlink_mode == "orgs":
            bkeys = [[blocking_keys(x, i) for i in index[o]] for o in orgs]
        else:
            mine = [blocking_keys(x, i) for i in range(n)]
            bkeys = [mine, mine]

        def blocking_f(dataset_index, record_index, _hash):
            return bkeys[dataset_index][record_index]

    sims, (dset0, dset1), (rec0, rec1) = anonlink.candidate_generation.find_candidate_pairs(
        datasets, anonlink.similarities.dice_coefficient_accelerated,
        a.threshold, blocking_f=blocking_f)
    t_match = time.perf_counter()

    labels = list(range(n))
    if a.anonlink_mode == "orgs":
        groups = anonlink.solving.greedy_solve((sims, (dset0, dset1), (rec0, rec1)))
        for g in groups:
            members = [index[orgs[ds]][ri] for ds, ri in g]
            root = min(members)
            for m in members:
                labels[m] = root
    else:
        uf = UnionFind(n)
        for i, j in zip(rec0, rec1):
            if i < j:
                uf.union(i, j)
        labels = [uf.find(i) for i in range(n)]
    settings = (f"mode={a.anonlink_mode} blocking={blocking} threshold={a.threshold} "
                f"clk_bits={a.clk_bits} bits(given,family,dob,place)="
                f"{a.bits_given},{a.bits_family},{a.bits_dob},{a.bits_place} "
                f"dob={a.dob_encoding} extra={a.bits_extra} hash={a.clk_hash} candidates={len(sims)}")
    t_end = time.perf_counter()
    steps = {"normalise_encode": t_enc - t0, "block_compare": t_match - t_enc,
             "solve": t_end - t_match}
    return labels, settings, steps


# --------------------------------------------------------------------------
# splink

def run_splink(d, a):
    import logging

    import pandas as pd
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    x = derive(d)
    # row numbers as Splink's unique_id: the result does not depend on
    # record_id being unique (Corridor's case ids are random per organisation)
    df = pd.DataFrame({"unique_id": list(range(len(d["record_id"]))),
                       **{c: [v or None for v in vals] for c, vals in x.items()}})

    swapped = cll.CustomLevel(
        "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) AND "
        "substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) AND "
        "substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)",
        label_for_charts="Day and month swapped")
    dob = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            swapped,
            cll.LevenshteinLevel("birth_date", 1),
            cll.AbsoluteDateDifferenceLevel("birth_date", input_is_string=True,
                                            threshold=1, metric="year"),
            cll.ElseLevel(),
        ])
    jw = [0.95, 0.88, 0.7]
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", jw).configure(
                term_frequency_adjustments=a.splink_tf),
            cl.JaroWinklerAtThresholds("family_name", jw).configure(
                term_frequency_adjustments=a.splink_tf),
            dob,
            cl.ExactMatch("place_of_birth"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("citizenship"),
        ],
        blocking_rules_to_generate_predictions=[block_on(*r) for r in BLOCKING_RULES],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    sdf = db_api.register(df)
    linker = Linker(sdf, settings, log_level=logging.ERROR)
    t_train = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "birth_date")], recall=a.det_recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=a.u_pairs, seed=1)
    # EM blocking rules on the compared columns themselves, so that each
    # session leaves out the comparison its blocking rule would bias.
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "family_name"))
    t_pred = time.perf_counter()
    pred = linker.inference.predict(threshold_match_probability=min(0.2, a.splink_threshold))
    t_clus = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=a.splink_threshold)
    cdf = clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]]
    label_of = dict(zip(cdf["unique_id"], cdf["cluster_id"]))
    labels = [label_of.get(i, f"r{i}") for i in range(len(d["record_id"]))]
    t_end = time.perf_counter()
    try:
        npairs = pred.as_duckdbpyrelation().aggregate("count(*)").fetchall()[0][0]
    except Exception:  # only for the settings string
        npairs = None
    s = (f"splink {__import__('splink').__version__} threshold={a.splink_threshold} "
         f"u_pairs={a.u_pairs:g} predicted_pairs>=0.2={npairs}")
    steps = {"prepare": t_train - t0, "train": t_pred - t_train, "predict": t_clus - t_pred,
             "cluster": t_end - t_clus}
    return labels, s, steps


# --------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--tool", required=True, choices=["anonlink", "splink"])
    ap.add_argument("--out")
    ap.add_argument("--json", action="store_true",
                    help="only the JSON line on stdout (the default prints nothing else either)")
    g = ap.add_argument_group("anonlink")
    g.add_argument("--anonlink-mode", choices=["orgs", "dedup"], default="orgs")
    g.add_argument("--blocking", choices=["auto", "none", "keys"], default="keys")
    g.add_argument("--threshold", type=float, default=0.81)
    g.add_argument("--clk-bits", type=int, default=1024)
    g.add_argument("--bits-given", type=int, default=12)
    g.add_argument("--bits-family", type=int, default=12)
    g.add_argument("--bits-dob", type=int, default=16)
    g.add_argument("--bits-place", type=int, default=6)
    g.add_argument("--dob-encoding", choices=["plain", "parts"], default="parts")
    g.add_argument("--bits-extra", type=int, default=6,
                   help="if > 0, also encode sex and citizenship with this many bits per bigram")
    g.add_argument("--clk-hash", choices=["blake", "double"], default="blake")
    g.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    g = ap.add_argument_group("splink")
    g.add_argument("--splink-threshold", type=float, default=0.7)
    g.add_argument("--det-recall", type=float, default=0.7,
                   help="assumed recall of the exact given+family+birth_date rule (prior)")
    g.add_argument("--splink-tf", type=int, default=1,
                   help="term-frequency adjustments on exact name matches (1/0)")
    g.add_argument("--u-pairs", type=float, default=5e6)
    a = ap.parse_args()

    d = load(a.input)
    n = len(d["record_id"])
    dup = n - len(set(d["record_id"]))
    if dup:
        print(f"warning: {dup} repeated record_id values; clusters are computed "
              "per row", file=sys.stderr)
    t0 = time.perf_counter()
    if a.tool == "anonlink":
        labels, settings, steps = run_anonlink(d, a)
    else:
        labels, settings, steps = run_splink(d, a)
    seconds = time.perf_counter() - t0

    result = {"tool": a.tool, "records": n, "seconds": round(seconds, 3)}
    result.update(score(labels, d["victim_id"]))
    result["peak_rss_mib"] = peak_rss_mib()
    result["peak_rss_children_mib"] = peak_rss_mib(resource.RUSAGE_CHILDREN)
    result["step_seconds"] = {k: round(v, 3) for k, v in steps.items()}
    result["settings"] = settings
    if a.out:
        with open(a.out, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["record_id", "cluster_id"])
            w.writerows(zip(d["record_id"], labels))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
