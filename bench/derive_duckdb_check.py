#!/usr/bin/env python3
"""Checks bench/derive_duckdb.py against a plain Python implementation of the
12/16-month rule (day-by-day counting), and generates synthetic border events
for timing it.

Usage:
  bench/derive_duckdb_check.py check [--persons 400] [--seed 1]
      small random histories (alternating and not, same-day crossings, NULL
      times) plus hand-made edge cases; compares every crossing's status and
      outcome, and stays.csv / crossings.csv / stocks.csv, for several as-of
      dates, every --untested-in-window / --after-provisional mode and both
      stocks methods.
  bench/derive_duckdb_check.py gen --events N --out DIR [--seed 7]
      writes about N events (about 3 per person) as zstd Parquet under
      DIR/data/border_events/source=synthetic/submission=1/part-NNNNN.parquet
      with the stored schema's types (event_time time32[s], record_key uint64).
"""

import argparse
import csv
import hashlib
import datetime as dt
import importlib.util
import os
import random
import shutil
import sys
import tempfile

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("derive_duckdb", os.path.join(HERE, "derive_duckdb.py"))
dd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dd)

W, T = 487, 365
EPOCH = dt.date(1970, 1, 1)

SCHEMA = pa.schema([
    ("person_key", pa.utf8()),
    ("reporting_country", pa.utf8()),
    ("direction", pa.utf8()),
    ("event_date", pa.date32()),
    ("event_time", pa.time32("s")),
    ("citizenship", pa.utf8()),
    ("sex", pa.utf8()),
    ("age", pa.int32()),
    ("visa_type", pa.utf8()),
    ("permitted_stay_days", pa.int32()),
    ("record_key", pa.uint64()),
])


# ---------------------------------------------------------------- reference

def walk(h, i, a):
    """Crossing i of history h [(day, is_entry)], day by day up to day a
    (as_of): 'mig', 'not' or 'undecided'."""
    d, e = h[i]
    new = old = 0
    for t in range(d, min(d + W, a + 1)):
        last = e
        for dj, ej in h[i:]:
            if dj <= t:
                last = ej
            else:
                break
        if last == e:
            new += 1
        else:
            old += 1
        if new >= T:
            return "mig"
        if old > W - T:
            return "not"
    return "not" if d + W - 1 <= a else "undecided"


def reference(rows, as_of, untested="final", after="all"):
    """rows: dicts with person_key, reporting_country, direction, event_date,
    event_time, record_key. Returns (per-crossing dict, stays, crossings,
    stocks) computed the slow way."""
    a = (as_of - EPOCH).days
    hist = {}
    for r in rows:
        if r["event_date"] > as_of:
            continue
        hist.setdefault((r["person_key"], r["reporting_country"]), []).append(r)
    per = {}
    stays = {}
    crossings = {}
    states = {}  # key -> [(day, is_entry, status_after)]
    for key, evs in hist.items():
        evs.sort(key=lambda r: (r["event_date"], r["event_time"] is not None,
                                r["event_time"] or dt.time(0), r["record_key"]))
        h = [((r["event_date"] - EPOCH).days, r["direction"] == "entry") for r in evs]
        # stays
        st = stays.setdefault(key[1], [0, 0, 0])
        for i, (d, e) in enumerate(h):
            if e:
                st[0] += 1
                if i + 1 < len(h) and not h[i + 1][1]:
                    st[2] += h[i + 1][0] - d
                else:
                    st[1] += 1
        # classification, day by day
        resident = not h[0][1]
        prov_seen = False
        seq = []
        for i, (d, e) in enumerate(h):
            if prov_seen and after == "all":
                res = ("unknown", "provisional", "unknown")
            elif prov_seen:  # status frozen at its value before the first provisional
                undecided = walk(h, i, a) == "undecided"
                res = ("unknown", "provisional" if resident != e or (untested == "provisional" and undecided)
                       else "not_migration", "unknown")
            else:
                tested = resident != e
                verdict = walk(h, i, a)
                sb = "resident" if resident else "non_resident"
                if verdict == "undecided" and (tested or untested == "provisional"):
                    prov_seen = True
                    res = (sb, "provisional", "unknown")
                elif tested and verdict == "mig":
                    resident = not resident
                    res = (sb, "migration", "resident" if resident else "non_resident")
                else:
                    res = (sb, "not_migration", sb)
            per[(int(key[0], 16), key[1], i + 1)] = res[:2]
            seq.append((d, e, res[2]))
            ck = (key[1], (EPOCH + dt.timedelta(d)).strftime("%Y-%m"),
                  "entry" if e else "exit", res[0], res[1])
            crossings[ck] = crossings.get(ck, 0) + 1
        states[key] = seq
    # stocks at each month end
    first = min(d for s in states.values() for d, _, _ in s)
    m = (EPOCH + dt.timedelta(first)).replace(day=1)
    month_ends = []
    while m <= as_of.replace(day=1):
        nxt = (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        month_ends.append((m.strftime("%Y-%m"), (nxt - EPOCH).days - 1))
        m = nxt
    stocks = {}
    for key, seq in states.items():
        for month, me in month_ends:
            last = None
            for d, e, s in seq:
                if d <= me:
                    last = (e, s)
                else:
                    break
            if last is None:
                continue
            e, s = last
            if e or s != "non_resident":
                k = (key[1], month, s, "present" if e else "abroad")
                stocks[k] = stocks.get(k, 0) + 1
    stays = {c: tuple(v) for c, v in stays.items()}
    return per, stays, crossings, stocks


def read_csvs(out):
    def rd(name):
        with open(os.path.join(out, name)) as f:
            return list(csv.DictReader(f))
    stays = {r["reporting_country"]: (int(r["stays"]), int(r["open_stays"]), int(r["total_days"]))
             for r in rd("stays.csv")}
    crossings = {(r["reporting_country"], r["month"], r["direction"], r["status_before"], r["outcome"]):
                 int(r["n"]) for r in rd("crossings.csv")}
    stocks = {(r["reporting_country"], r["month"], r["status"], r["present_or_abroad"]): int(r["n"])
              for r in rd("stocks.csv")}
    return stays, crossings, stocks


def diff(name, got, want, limit=5):
    if got == want:
        return 0
    keys = sorted(set(got) | set(want), key=str)
    bad = [k for k in keys if got.get(k) != want.get(k)]
    print(f"  MISMATCH {name}: {len(bad)} keys differ")
    for k in bad[:limit]:
        print(f"    {k}: duckdb={got.get(k)} python={want.get(k)}")
    return len(bad)


def run_sql(path, out, as_of, stocks="delta", untested="final", after="all"):
    con = dd.connect(out, threads=2, memory_limit="2GB")
    dd.derive(con, path, out, as_of, stocks, untested, after, verbose=False)
    # pid = (file_index << 40) | file_row_number of the person's first event
    per = {(int(k, 16), c, rn): (sb, oc) for k, c, rn, sb, oc in con.execute(f"""
        SELECT ev.person_key, cx.c, cx.rn,
               (['non_resident', 'resident', 'unknown'])[sb + 1],
               (['not_migration', 'migration', 'provisional'])[oc + 1]
        FROM cx JOIN (SELECT (file_index::BIGINT << 40) | file_row_number AS fr, person_key
                      FROM read_parquet('{path}')) ev ON ev.fr = cx.pid""").fetchall()}
    con.close()
    return per


def compare(rows, path, out, as_of, untested, stocks, after="all"):
    want_per, want_stays, want_cx, want_stocks = reference(rows, as_of, untested, after)
    got_per = run_sql(path, out, as_of, stocks, untested, after)
    got_stays, got_cx, got_stocks = read_csvs(out)
    bad = diff("per-crossing", got_per, want_per) + diff("stays", got_stays, want_stays) \
        + diff("crossings", got_cx, want_cx) + diff("stocks", got_stocks, want_stocks)
    return bad, got_per, want_per


# ---------------------------------------------------------------- data

def write_rows(rows, path):
    cols = {f.name: [r.get(f.name) for r in rows] for f in SCHEMA}
    pq.write_table(pa.table(cols, schema=SCHEMA), path, compression="zstd")


def event(pk, c, day, e, time=None, rk=None, rng=random):
    return dict(person_key=pk, reporting_country=c, direction="entry" if e else "exit",
                event_date=EPOCH + dt.timedelta(day), event_time=time,
                citizenship="GTM", sex="F", age=30, visa_type=None,
                permitted_stay_days=None,
                record_key=rng.getrandbits(64) if rk is None else rk)


def random_rows(persons, seed, base):
    rng = random.Random(seed)
    rows = []
    gaps = [0, 0, 1, 121, 122, 123, 364, 365, 366, 486, 487]
    for p in range(persons):
        pk = "%032x" % rng.getrandbits(128)
        for c in rng.sample(["GTM", "MEX", "USA"], rng.choice([1, 1, 2, 3])):
            n = rng.randint(1, 9) if rng.random() < 0.95 else rng.randint(20, 60)
            day = base + rng.randint(0, 1500)
            alternating = rng.random() < 0.7
            e = rng.random() < 0.6
            for j in range(n):
                if j:
                    u = rng.random()
                    day += (rng.choice(gaps) if u < 0.3 else rng.randint(0, 40) if u < 0.6
                            else rng.randint(40, 500) if u < 0.9 else rng.randint(500, 1200))
                    e = (not e) if alternating else rng.random() < 0.5
                t = None if rng.random() < 0.3 else dt.time(rng.randint(0, 23), rng.choice([0, 30]))
                rows.append(event(pk, c, day, e, t, rng=rng))
    return rows


# (name, [(offset, is_entry)], expected outcomes or (status_before, outcome) pairs)
A, D = True, False
M, N, P = "migration", "not_migration", "provisional"
COMPLETE = [  # truth.rs tests; days from a base far before as_of
    ("365_is_migration", [(0, A), (365, D), (400, A)], [M, N, N]),
    ("365_then_emigration", [(0, A), (365, D)], [M, M]),
    ("364_is_not", [(0, A), (364, D)], [N, N]),
    ("122_out_allows", [(0, A), (100, D), (222, A)], [M, N, N]),
    ("123_out_does_not", [(0, A), (100, D), (223, A)], [N, N, M]),
    ("same_day_out_and_back", [(0, A), (200, D), (200, A)], [M, N, N]),
    ("resident_arrival_untested", [(0, D), (10, A)], [N, N]),
    ("resident_leaves_for_good", [(0, D), (600, A), (620, D)], [M, N, N]),
    ("migration_flips_status", [(0, A), (400, D), (1000, A)],
     [("non_resident", M), ("resident", M), ("non_resident", M)]),
    ("non_alternating_entries", [(0, A), (200, A), (300, D)], [N, N, N]),
    ("non_alternating_long", [(0, A), (100, A), (400, D)], [M, N, M]),
]
TRUNCATED = [  # days from as_of (0 = the as_of day)
    ("as_of_365_days_in", [(-364, A)], [("non_resident", M)]),
    ("as_of_364_days_in", [(-363, A)], [("non_resident", P)]),
    ("as_of_123_days_out", [(-132, A), (-122, D)], [("non_resident", N), ("non_resident", N)]),
    ("as_of_122_days_out", [(-131, A), (-121, D)], [("non_resident", P), ("unknown", P)]),
    ("provisional_after_migration", [(-500, D), (-100, A), (-50, D)],
     [("resident", M), ("non_resident", P), ("unknown", P)]),
    ("untested_would_migrate", [(-600, D), (-560, A), (-100, D)],
     [("resident", N), ("resident", N), ("resident", P)]),
    ("untested_undecided", [(-300, D), (-250, A)], [("resident", N), ("resident", N)]),
    ("full_window_ends_on_as_of", [(-486, A), (-200, D)], [("non_resident", N), ("non_resident", N)]),
    ("full_window_365", [(-486, A), (-121, D)], [("non_resident", M), ("resident", P)]),
]


def edge_rows(as_of_day):
    rows, expect = [], {}
    rng = random.Random(99)
    for group, base in ((COMPLETE, as_of_day - 3000), (TRUNCATED, as_of_day)):
        for name, hist, exp in group:
            pk = hashlib.md5(name.encode()).hexdigest()
            for i, (off, e) in enumerate(hist):
                rows.append(event(pk, "EDG", base + off, e, rng=rng, rk=i))
            expect[name] = (int(pk, 16), exp)
    # Same day, ordered by time (NULL first) then record_key: the day ends
    # abroad (exit at 12:00, record_key 7); back 10 days later for good.
    pk = "%032x" % 12345
    x = as_of_day - 2000
    rows += [event(pk, "EDG", x, A, None, rk=5),
             event(pk, "EDG", x, D, dt.time(9), rk=1),
             event(pk, "EDG", x, A, dt.time(12), rk=3),
             event(pk, "EDG", x, D, dt.time(12), rk=7),
             event(pk, "EDG", x + 10, A, dt.time(8), rk=2)]
    expect["same_day_order"] = (12345, [M, N, N, N, N])
    return rows, expect


def check(persons, seed):
    tmp = tempfile.mkdtemp(prefix="derive_check_")
    as_of_edges = dt.date(2026, 6, 30)
    a = (as_of_edges - EPOCH).days
    erows, expect = edge_rows(a)
    rows = random_rows(persons, seed, base=(dt.date(2021, 1, 1) - EPOCH).days)
    os.makedirs(os.path.join(tmp, "ev", "a"), exist_ok=True)
    write_rows(rows[: len(rows) // 2], os.path.join(tmp, "ev", "a", "part-0.parquet"))
    write_rows(rows[len(rows) // 2:] + erows, os.path.join(tmp, "ev", "part-1.parquet"))
    glob = os.path.join(tmp, "ev", "**", "*.parquet")
    all_rows = rows + erows
    print(f"{len(all_rows)} events, {persons} random persons + {len(expect)} edge cases; in {tmp}")
    failures = 0

    # Edge cases, and the random histories, with as_of = 2026-06-30.
    for untested in ("final", "provisional"):
        for stocks in ("delta", "range"):
            out = os.path.join(tmp, f"out_edges_{untested}_{stocks}")
            bad, got, want = compare(all_rows, glob, out, as_of_edges, untested, stocks)
            failures += bad
            print(f"as_of={as_of_edges} untested={untested} stocks={stocks}: "
                  f"{len(got)} crossings, {'OK' if not bad else 'FAIL'}")
    got = run_sql(glob, os.path.join(tmp, "out_edges"), as_of_edges)
    for name, (k, exp) in expect.items():
        n = len(exp)
        g = [got[(k, "EDG", i + 1)] for i in range(n)]
        ok = all((x == y) if isinstance(y, tuple) else (x[1] == y) for x, y in zip(g, exp))
        failures += not ok
        print(f"  edge {name}: {'OK' if ok else 'FAIL'} {[x[1] if not isinstance(y, tuple) else x for x, y in zip(g, exp)]}")

    # Random histories at other as_of dates (default = max date too).
    dmax = max(r["event_date"] for r in all_rows)
    for as_of in (None, dt.date(2022, 3, 15), dt.date(2023, 7, 31), dt.date(2024, 12, 1), dt.date(2032, 1, 1)):
        for untested, after in (("final", "all"), ("provisional", "all"),
                                ("final", "tested"), ("provisional", "tested")):
            out = os.path.join(tmp, "out_random")
            bad, got, want = compare(all_rows, glob, out, as_of or dmax, untested,
                                     "range" if untested == "provisional" else "delta", after)
            if as_of is None and untested == "final" and after == "all":  # default as_of = max(event_date)
                con = dd.connect(out)
                dd.derive(con, glob, out, None, verbose=False)
                con.close()
                bad += diff("default as_of", read_csvs(out)[1], reference(all_rows, dmax)[2])
            outcomes = {}
            for v in got.values():
                outcomes[v[1]] = outcomes.get(v[1], 0) + 1
            failures += bad
            print(f"as_of={as_of or str(dmax) + ' (default)'} untested={untested} after={after}: {len(got)} crossings "
                  f"{dict(sorted(outcomes.items()))} {'OK' if not bad else 'FAIL'}")
    print("ALL OK" if not failures else f"FAILURES: {failures} (files kept in {tmp})")
    if not failures:
        shutil.rmtree(tmp)
    return 1 if failures else 0


# ---------------------------------------------------------------- big data

def gen(n_events, out, seed, part_rows=4_000_000):
    persons = max(1, round(n_events / 3.0))
    d = os.path.join(out, "data", "border_events", "source=synthetic", "submission=1")
    os.makedirs(d, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    q = f"""
    WITH p AS (
        SELECT i, md5(i::VARCHAR || '-{seed}') AS pk,
               1 + (hash(i, {seed}, 'n') % 5)::INTEGER AS nev,
               (['GTM', 'MEX', 'USA'])[1 + (hash(i, {seed}, 'c') % 3)::INTEGER] AS c,
               hash(i, {seed}, 'a') % 10 < 8 AS alt,
               hash(i, {seed}, 'f') % 10 < 6 AS first_entry,
               (hash(i, {seed}, 's') % 1826)::INTEGER AS start
        FROM range({persons}) t(i)
    ), e AS (SELECT *, unnest(range(nev)) AS j FROM p),
    g AS (
        SELECT *, hash(i, j, {seed}, 'g') AS h,
               CASE WHEN j = 0 THEN 0
                    WHEN h % 10 < 5 THEN (h // 10 % 31)::INTEGER
                    WHEN h % 10 < 8 THEN 30 + (h // 10 % 370)::INTEGER
                    ELSE 300 + (h // 10 % 500)::INTEGER END AS gap
        FROM e
    ),
    o AS (SELECT *, sum(gap) OVER (PARTITION BY i ORDER BY j) AS off FROM g),
    s AS (SELECT *, max(off) OVER (PARTITION BY i) AS span FROM o)
    SELECT pk AS person_key, c AS reporting_country,
           CASE WHEN (CASE WHEN alt THEN (j % 2 = 0) = first_entry ELSE h // 7 % 2 = 0 END)
                THEN 'entry' ELSE 'exit' END AS direction,
           DATE '2021-01-01' + (start % greatest(1, 1826 - span) + off)::INTEGER AS event_date,
           CASE WHEN h // 13 % 5 = 0 THEN NULL
                ELSE TIME '00:00:00' + to_seconds((h // 17 % 86400)::BIGINT) END AS event_time,
           (['GTM', 'MEX', 'USA', 'HND', 'SLV', 'NIC'])[1 + (h // 19 % 6)::INTEGER] AS citizenship,
           (['F', 'M', '_U'])[1 + (h // 23 % 3)::INTEGER] AS sex,
           (h // 29 % 90)::INTEGER AS age,
           NULL::VARCHAR AS visa_type, NULL::INTEGER AS permitted_stay_days,
           hash(i, j, {seed}, 'rk') AS record_key
    FROM s
    WHERE start % greatest(1, 1826 - span) + off < 1826
    """
    reader = con.sql(q).to_arrow_reader(1_000_000)
    n, part, writer, in_part = 0, 0, None, 0
    for b in reader:
        t = pa.Table.from_batches([b]).cast(SCHEMA)
        if writer is None or in_part >= part_rows:
            if writer:
                writer.close()
            writer = pq.ParquetWriter(os.path.join(d, f"part-{part:05d}.parquet"), SCHEMA, compression="zstd")
            part += 1
            in_part = 0
        writer.write_table(t)
        n += t.num_rows
        in_part += t.num_rows
    writer.close()
    print(f"{n} events, {persons} persons, {part} files in {d}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--persons", type=int, default=400)
    c.add_argument("--seed", type=int, default=1)
    g = sub.add_parser("gen")
    g.add_argument("--events", type=int, required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    if a.cmd == "check":
        return check(a.persons, a.seed)
    gen(a.events, a.out, a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
