#!/usr/bin/env python3
"""DuckDB benchmark peer of `corridor derive`: stays, 12/16-month classification
of crossings and monthly stocks, from the stored border-events Parquet files,
in DuckDB SQL only (no Python loop over rows).

Usage:
  bench/derive_duckdb.py --events 'WS/data/border_events/**/*.parquet' --out DIR
                         [--as-of YYYY-MM-DD] [--threads N] [--memory-limit 8GB]
                         [--stocks delta|range] [--untested-in-window final|provisional]
                         [--after-provisional all|tested]

Writes DIR/stays.csv, DIR/crossings.csv, DIR/stocks.csv; prints the wall time
of each step and, last, `duckdb_seconds=<float>`.

How the rule is computed (per person_key and reporting_country, events ordered
by event_date, event_time NULLS FIRST, record_key; days as integers):
* the state on day t is the direction of the last event on or before t; the
  history after --as-of is unknown, so the last spell ends at as_of + 1;
* for crossing i on day d the window is [d, E), E = min(d + 487, as_of + 1);
  the days in the "new" state (= direction of i) are counted from the spells
  that start in [d, d + 486] with a RANGE window frame (sum of entry-spell
  lengths, minus the part of the last spell beyond E). new >= 365 is a
  migration, old = (E - d) - new > 122 is not; a full window (d + 487 <= as_of
  + 1) always decides, a truncated one only when one of the two is reached.
  This outcome ("would it be a migration if tested") does not depend on the
  residence status, so it is computed for all crossings at once;
* status: after crossing j, a decided migration-if-tested sets the status to
  "resident iff j is an entry" whether or not j was tested (if j was not
  tested the status already had that value), otherwise the status is
  unchanged. So the status before i is the direction of the last earlier
  crossing that would be a migration, else the initial status (opposite of the
  first event's direction): a running max, no recursion needed;
* tested = (resident and exit) or (non-resident and entry). The first tested,
  undecided crossing of a person is provisional and so is everything after it
  (status before 'unknown' after it). Untested crossings are final
  (not_migration) unless --untested-in-window provisional, which makes every
  undecided crossing (truncated window, neither threshold reached)
  provisional whether tested or not. --after-provisional tested (as
  crates/corridor-derive does it) keeps the status frozen after the first
  provisional crossing and marks only the later crossings tested under it
  provisional, the others not_migration (status before still 'unknown').
"""

import argparse
import datetime as dt
import os
import sys
import time

import duckdb

WINDOW = 487
THRESHOLD = 365
OLD_MAX = WINDOW - THRESHOLD  # 122


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


class Steps:
    def __init__(self, verbose=True):
        self.t0 = time.perf_counter()
        self.times = []
        self.verbose = verbose

    def run(self, name, con, *sqls):
        t = time.perf_counter()
        for s in sqls:
            con.execute(s)
        secs = time.perf_counter() - t
        self.times.append((name, secs))
        if self.verbose:
            print(f"{name}_seconds={secs:.3f}", flush=True)

    def total(self):
        return time.perf_counter() - self.t0


def derive(con, events, out, as_of=None, stocks="delta", untested="final", after="all",
           verbose=True, person_level=False):
    """Runs every step on `con`; leaves the per-crossing table `cx` in it.
    Returns (as_of date, Steps)."""
    steps = Steps(verbose)
    src = (f"read_parquet({sql_str(events)}, hive_partitioning = false, "
           f"union_by_name = true)")
    if as_of is None:
        t = time.perf_counter()
        as_of = con.execute(f"SELECT max(event_date) FROM {src}").fetchone()[0]
        steps.times.append(("as_of", time.perf_counter() - t))
        if verbose:
            print(f"as_of={as_of} as_of_seconds={steps.times[-1][1]:.3f}", flush=True)
    if as_of is None:
        raise SystemExit("no events")
    a1 = (as_of - dt.date(1970, 1, 1)).days + 1  # first unknown day
    asof_sql = f"DATE '{as_of.isoformat()}'"

    os.makedirs(out, exist_ok=True)

    def copy(name, query):
        return (f"COPY ({query}) TO {sql_str(os.path.join(out, name))} "
                f"(FORMAT csv, HEADER true)")

    # 1. Events in order: row number, next event, first direction. pid names
    #    the (person_key, reporting_country) partition by the position of its
    #    first event in the scan (file_index, file_row_number): exact, and an
    #    integer to partition on in the later steps. person_key (32 hex
    #    digits) is sorted as a 128-bit integer: a bit faster than the string.
    steps.run("order", con, f"""
        CREATE OR REPLACE TEMP TABLE s1 AS
        SELECT first_value(fr) OVER w AS pid, c, d, e,{' rk,' if person_level else ''}
               row_number() OVER w AS rn,
               lead(d) OVER w AS nd,
               lead(e) OVER w AS ne,
               first_value(e) OVER w AS fe
        FROM (SELECT ('0x' || person_key)::UHUGEINT AS k, reporting_country AS c,
                     (event_date - DATE '1970-01-01')::INTEGER AS d,
                     direction = 'entry' AS e,
                     event_time AS t, record_key AS rk,
                     (file_index::BIGINT << 40) | file_row_number AS fr
              FROM {src}
              WHERE event_date <= {asof_sql} AND direction IN ('entry', 'exit'))
        WINDOW w AS (PARTITION BY k, c ORDER BY d, t NULLS FIRST, rk)
    """)

    steps.run("stays", con, copy("stays.csv", """
        SELECT c AS reporting_country,
               count(*) AS stays,
               count(*) FILTER (WHERE ne IS DISTINCT FROM false) AS open_stays,
               coalesce(sum(nd - d) FILTER (WHERE ne = false), 0) AS total_days
        FROM s1 WHERE e GROUP BY c ORDER BY c
    """))

    # 2. Outcome if tested, for every crossing: days in the new state within
    #    [d, E), E = min(d + 487, as_of + 1). The frame holds the spells that
    #    start in [d, d + 486]; its last one, k, is found by a max of
    #    (next day, rn, direction) packed in a BIGINT (all three grow with
    #    rn), and the part of spell k from E on is taken off.
    keep = " rk, ne," if person_level else ""
    keep3 = " s3.rk, s3.ne," if person_level else ""
    steps.run("window", con, f"""
        CREATE OR REPLACE TEMP TABLE s2 AS
        WITH f AS (
            SELECT pid, c, d, e, rn, nd, fe,{keep}
                   sum(CASE WHEN e THEN coalesce(nd, {a1}) - d ELSE 0 END) OVER r AS s,
                   max((coalesce(nd, {a1})::BIGINT << 41) | (rn << 1) | e::BIGINT) OVER r AS kk
            FROM s1
            WINDOW r AS (PARTITION BY pid ORDER BY d
                         RANGE BETWEEN CURRENT ROW AND {WINDOW - 1} FOLLOWING)
        ), g AS (
            SELECT *, least(d + {WINDOW}, {a1}) AS ee,
                   s - (kk & 1) * ((kk >> 41) - least(d + {WINDOW}, {a1})) AS entry_days
            FROM f
        ), h AS (
            SELECT pid, c, d, e, rn, nd, fe,{keep} ee - d AS len,
                   CASE WHEN e THEN entry_days ELSE (ee - d) - entry_days END AS new_days
            FROM g
        )
        SELECT pid, c, d, e, rn, nd, fe,{keep}
               new_days >= {THRESHOLD} AS would,
               d + {WINDOW} <= {a1} OR new_days >= {THRESHOLD}
                   OR len - new_days > {OLD_MAX} AS decided
        FROM h
    """, "DROP TABLE s1")

    # 3. Residence status before each crossing (running max of the last
    #    decided would-be migration), tested, first provisional crossing.
    #    Codes: status 0 non_resident, 1 resident, 2 unknown; outcome
    #    0 not_migration, 1 migration, 2 provisional.
    prov = "rb <> e AND NOT decided" if untested == "final" else "NOT decided"
    later = "2" if after == "all" else (
        "CASE WHEN p.rbp <> e THEN 2 ELSE 0 END" if untested == "final"
        else "CASE WHEN p.rbp <> e OR NOT decided THEN 2 ELSE 0 END")
    steps.run("status", con, f"""
        CREATE OR REPLACE TEMP TABLE cx AS
        WITH s3 AS MATERIALIZED (
            SELECT *, coalesce(
                       max(CASE WHEN would AND decided THEN 2 * rn + e::INTEGER END)
                           OVER (PARTITION BY pid ORDER BY rn
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) % 2 = 1,
                       NOT fe) AS rb
            FROM s2
        ), p AS (SELECT pid, min(rn) AS fp, arg_min(rb, rn) AS rbp
                 FROM s3 WHERE {prov} GROUP BY pid)
        SELECT s3.pid, s3.c, s3.d, s3.e, s3.nd, s3.rn,{keep3}
               (CASE WHEN s3.rn > p.fp THEN 2 WHEN rb THEN 1 ELSE 0 END)::UTINYINT AS sb,
               (CASE WHEN s3.rn > p.fp THEN {later}
                     WHEN s3.rn = p.fp THEN 2 WHEN rb <> e AND would THEN 1
                     ELSE 0 END)::UTINYINT AS oc,
               (CASE WHEN s3.rn >= p.fp THEN 2
                     WHEN (CASE WHEN would AND decided THEN e ELSE rb END) THEN 1
                     ELSE 0 END)::UTINYINT AS sa
        FROM s3 LEFT JOIN p ON s3.pid = p.pid
    """, "DROP TABLE s2")

    steps.run("crossings", con, copy("crossings.csv", """
        SELECT c AS reporting_country, strftime(m, '%Y-%m') AS month,
               CASE WHEN e THEN 'entry' ELSE 'exit' END AS direction,
               (['non_resident', 'resident', 'unknown'])[sb + 1] AS status_before,
               (['not_migration', 'migration', 'provisional'])[oc + 1] AS outcome,
               n
        FROM (SELECT c, date_trunc('month', DATE '1970-01-01' + d) AS m, e, sb, oc,
                     count(*) AS n
              FROM cx GROUP BY ALL)
        ORDER BY reporting_country, month, direction, status_before, outcome
    """))

    # Months: month ends from the first event month to the as_of month,
    # as day numbers; idx = year * 12 + month - 1.
    months = f"""
        SELECT (last_day(m) - DATE '1970-01-01')::INTEGER AS me,
               year(m) * 12 + month(m) - 1 AS idx,
               strftime(m, '%Y-%m') AS month
        FROM (SELECT unnest(generate_series(
                  date_trunc('month', DATE '1970-01-01' + (SELECT min(d) FROM cx)),
                  date_trunc('month', {asof_sql}), INTERVAL 1 MONTH))::DATE AS m)
    """
    # State intervals [d, nd) (nd NULL: to the end) that contain a month end,
    # skipping non-residents abroad.
    iv = f"""
        SELECT c, d, nd,
               CASE WHEN e THEN 'present' ELSE 'abroad' END AS pa,
               (['non_resident', 'resident', 'unknown'])[sa + 1] AS status
        FROM cx
        WHERE (e OR sa <> 0)
          AND (nd IS NULL OR last_day(DATE '1970-01-01' + d) < DATE '1970-01-01' + nd)
    """
    if stocks == "range":
        q = f"""
            WITH months AS ({months}), iv AS ({iv})
            SELECT iv.c AS reporting_country, months.month, iv.status,
                   iv.pa AS present_or_abroad, count(*) AS n
            FROM iv JOIN months
              ON months.me >= iv.d AND months.me < coalesce(iv.nd, 2147483647)
            GROUP BY ALL ORDER BY ALL
        """
    else:
        # +1 from the month of d, -1 from the month of nd; running sum.
        q = f"""
            WITH months AS ({months}), iv AS ({iv}),
            delta AS (
                SELECT c, status, pa, idx, sum(n) AS n FROM (
                    SELECT c, status, pa,
                           year(DATE '1970-01-01' + d) * 12 + month(DATE '1970-01-01' + d) - 1 AS idx,
                           1 AS n FROM iv
                    UNION ALL
                    SELECT c, status, pa,
                           year(DATE '1970-01-01' + nd) * 12 + month(DATE '1970-01-01' + nd) - 1,
                           -1 FROM iv WHERE nd IS NOT NULL)
                GROUP BY ALL
            ),
            keys AS (SELECT DISTINCT c, status, pa FROM delta),
            run AS (
                SELECT keys.c, keys.status, keys.pa, months.idx, months.month,
                       sum(coalesce(delta.n, 0)) OVER (
                           PARTITION BY keys.c, keys.status, keys.pa ORDER BY months.idx
                           ROWS UNBOUNDED PRECEDING) AS n
                FROM keys CROSS JOIN months
                LEFT JOIN delta ON delta.c = keys.c AND delta.status = keys.status
                     AND delta.pa = keys.pa AND delta.idx = months.idx
            )
            SELECT c AS reporting_country, month, status, pa AS present_or_abroad, n
            FROM run WHERE n > 0 ORDER BY ALL
        """
    steps.run("stocks", con, copy("stocks.csv", q))
    if person_level:
        person_level_datasets(con, steps, src, out, a1)
    return as_of, steps


def person_level_datasets(con, steps, src, out, a1):
    """What `corridor derive` writes beside the aggregates: one row per
    crossing with its classification and the traveller's attributes, and one
    row per stay (after an entry) or absence (after an exit), as zstd
    Parquet. The attributes are joined back from the events by record key."""
    def copy(name, query):
        return (f"COPY ({query}) TO {sql_str(os.path.join(out, name))} "
                f"(FORMAT parquet, COMPRESSION zstd)")
    age = ("CASE WHEN b.date_of_birth IS NOT NULL "
           "THEN date_sub('year', b.date_of_birth, b.event_date) ELSE b.age END")
    steps.run("person_level", con, f"""
        CREATE OR REPLACE TEMP TABLE cxb AS
        SELECT cx.*, b.person_key, b.direction, b.event_date, b.citizenship, b.sex,
               {age} AS age, b.travel_purpose, b.visa_type, b.permitted_stay_days,
               b.transport_mode, b.counterpart_country, b.record_key, b.source_id,
               b.source_row
        FROM cx JOIN {src} b ON cx.rk = b.record_key
    """, copy("crossings.parquet", f"""
        SELECT person_key, c AS reporting_country, direction, event_date,
               strftime(event_date, '%Y-%m') AS month, citizenship, sex, age,
               CASE WHEN age < 15 THEN 'Y0T14' WHEN age < 25 THEN 'Y15T24'
                    WHEN age < 65 THEN 'Y25T64' WHEN age >= 65 THEN 'Y_GE65' END AS age_group,
               travel_purpose, visa_type, permitted_stay_days, transport_mode,
               counterpart_country,
               (['non_resident', 'resident', 'unknown'])[sb + 1] AS status_before,
               (['not_migration', 'migration', 'provisional'])[oc + 1] AS outcome,
               CASE oc WHEN 1 THEN 1.0 WHEN 2 THEN 0.5 ELSE 0.0 END AS p_migration,
               true AS counted, d + {WINDOW} <= {a1} AS window_observed,
               NULL::VARCHAR AS repairs, record_key, source_id, source_row
        FROM cxb
    """), copy("stays.parquet", f"""
        SELECT person_key, c AS reporting_country,
               CASE WHEN e THEN 'stay' ELSE 'absence' END AS kind,
               event_date AS start_date,
               CASE WHEN nd IS NOT NULL THEN DATE '1970-01-01' + nd END AS end_date,
               strftime(event_date, '%Y-%m') AS month,
               coalesce(nd, {a1}) - d AS length_days, nd IS NULL AS open,
               (['non_resident', 'resident', 'unknown'])[sa + 1] AS residence_status,
               citizenship, sex,
               CASE WHEN age < 15 THEN 'Y0T14' WHEN age < 25 THEN 'Y15T24'
                    WHEN age < 65 THEN 'Y25T64' WHEN age >= 65 THEN 'Y_GE65' END AS age_group,
               visa_type, permitted_stay_days,
               CASE WHEN e AND coalesce(nd, {a1}) - d > permitted_stay_days
                    THEN coalesce(nd, {a1}) - d - permitted_stay_days END AS overstay_days,
               coalesce(e AND coalesce(nd, {a1}) - d > permitted_stay_days, false) AS overstay,
               CASE WHEN e AND coalesce(nd, {a1}) - d > permitted_stay_days
                    THEN strftime(event_date + permitted_stay_days + 1, '%Y-%m') END
                   AS overstay_month,
               NULL::VARCHAR AS repairs, record_key
        FROM cxb
    """), "DROP TABLE cxb")


def connect(out, threads=None, memory_limit="8GB"):
    tmp = os.path.join(out, "duckdb_tmp")
    os.makedirs(tmp, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET temp_directory = {sql_str(tmp)}")
    con.execute(f"SET memory_limit = {sql_str(memory_limit)}")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", required=True, help="Parquet glob")
    ap.add_argument("--out", required=True)
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--memory-limit", default="8GB")
    ap.add_argument("--stocks", choices=["delta", "range"], default="delta",
                    help="monthly stocks by running sums of interval starts/ends "
                         "(delta) or by a range join with the month calendar")
    ap.add_argument("--untested-in-window", choices=["final", "provisional"],
                    default="final")
    ap.add_argument("--after-provisional", choices=["all", "tested"], default="all")
    ap.add_argument("--person-level", action="store_true",
                    help="also write the person-level datasets corridor derive writes: "
                         "crossings.parquet (each crossing, classified, with the "
                         "traveller's attributes) and stays.parquet")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    con = connect(a.out, a.threads, a.memory_limit)
    t = time.perf_counter()
    derive(con, a.events, a.out, a.as_of, a.stocks, a.untested_in_window,
           a.after_provisional, person_level=a.person_level)
    print(f"duckdb_seconds={time.perf_counter() - t:.3f}")


if __name__ == "__main__":
    sys.exit(main())
