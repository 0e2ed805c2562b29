"""statsmodels' UnobservedComponents on the corridors and origins Corridor's
back-test uses, scored the same way (MAPE, MASE against the in-sample
seasonal difference, 80/95 % interval coverage), next to Corridor's scores
and the seasonal naive forecast. Called by bench/nowcast.sh."""

import argparse
import csv
import json
import math
import time
import warnings
from collections import defaultdict

import numpy as np
from statsmodels.tsa.statespace.structural import UnobservedComponents

warnings.filterwarnings("ignore")
H = 3
MIN_MONTHS = 18


def month(text):
    y, m = text.split("-")[:2]
    return int(y) * 12 + int(m) - 1


def read(args):
    flows = defaultdict(dict)
    months = set()
    with open(args.flows) as f:
        for r in csv.DictReader(f):
            if "_T" in (r["month"], r["reporting_country"], r["counterpart_country"]):
                continue
            m = month(r["month"])
            months.add(m)
            flows[(r["reporting_country"], r["counterpart_country"])][m] = float(r["departures"])
    lo, hi = min(months), max(months)
    for s in flows.values():
        for m in range(lo, hi + 1):
            s.setdefault(m, 0.0)
    signals = defaultdict(dict)
    with open(args.signals) as f:
        for r in csv.DictReader(f):
            # Counts by age group and sex add up to the corridor's count.
            key = (r["signal"], r["origin_country"], r["destination_country"])
            m = month(r["month"])
            signals[key][m] = signals[key].get(m, 0.0) + float(r["value"])
    return flows, signals


def seasonal_naive(known, origin, m):
    back = m - 12
    while back > origin:
        back -= 12
    if back not in known:
        return None
    recent = sum(known.get(origin - i, 0.0) for i in range(3))
    before = sum(known.get(origin - i - 12, 0.0) for i in range(3))
    trend = min(max(recent / before, 0.2), 5.0) if before > 0 and recent > 0 else 1.0
    return known[back] * trend


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", required=True)
    ap.add_argument("--signals", required=True)
    ap.add_argument("--range", required=True)
    ap.add_argument("--corridor", required=True)
    ap.add_argument("--corridor-seconds", type=float, required=True)
    ap.add_argument("--not-reweighted", help="Corridor's back-test with --no-reweight")
    args = ap.parse_args()
    flows, signals = read(args)
    a, b = args.range.split("..")
    origins = range(month(a), month(b) + 1)
    acc = defaultdict(lambda: [0.0] * 7)
    fits = 0
    started = time.time()
    for (rep, other), series in sorted(flows.items()):
        first = min(series)
        regs = []
        for kind, lag in (("mobile_devices", 0), ("search_interest", 1)):
            s = signals.get((kind, rep, other))
            if s:
                regs.append((s, lag))
        for origin in origins:
            known = {m: v for m, v in series.items() if m <= origin}
            if len(known) < MIN_MONTHS:
                continue
            d = [abs(v - known[m - 12]) for m, v in known.items() if m - 12 in known]
            scale = sum(d) / len(d) if d else 0.0
            if scale <= 0:
                continue
            months = list(range(first, origin + 1))
            future = list(range(origin + 1, origin + 1 + H))
            usable = [(s, lag) for s, lag in regs if all((t - lag) in s for t in months[-12:] + future)]
            y = np.log1p([known[m] for m in months])

            def design(ts):
                return np.array([[math.log1p(s.get(t - lag, 0.0)) for s, lag in usable] for t in ts])

            kw = dict(level="llevel")
            if len(months) >= 30:
                kw["seasonal"] = 12
            try:
                if usable:
                    res = UnobservedComponents(y, exog=design(months), **kw).fit(disp=False)
                    fc = res.get_forecast(steps=H, exog=design(future))
                else:
                    res = UnobservedComponents(y, **kw).fit(disp=False)
                    fc = res.get_forecast(steps=H)
            except Exception:  # noqa: BLE001 - a failed fit is scored as missing
                continue
            fits += 1
            mean = np.asarray(fc.predicted_mean)
            c80 = np.asarray(fc.conf_int(alpha=0.2))
            c95 = np.asarray(fc.conf_int(alpha=0.05))
            for i, m in enumerate(future):
                if m not in series:
                    continue
                truth = series[m]
                est = max(math.expm1(mean[i]), 0.0)
                inside80 = math.expm1(c80[i, 0]) <= truth <= math.expm1(c80[i, 1])
                inside95 = math.expm1(c95[i, 0]) <= truth <= math.expm1(c95[i, 1])
                score(acc[("statsmodels", i + 1)], est, truth, scale, (inside80, inside95))
                naive = seasonal_naive(known, origin, m)
                if naive is not None:
                    score(acc[("seasonal naive (here)", i + 1)], naive, truth, scale, None)
    seconds = time.time() - started
    ours = json.load(open(args.corridor))
    rows = {(s["method"], s["horizon"]): s for s in ours["scores"]}
    print(f"statsmodels: {fits} fits in {seconds:.1f} s; Corridor's back-test {args.corridor_seconds:.1f} s "
          f"({seconds / args.corridor_seconds:.1f}x faster)")
    print("| method | h | forecasts | MAPE | MASE | 80 % cover | 95 % cover |")
    print("|---|---|---|---|---|---|---|")
    for h in range(1, H + 1):
        for name in ("corridor", "no signals", "seasonal naive"):
            s = rows.get((name, h))
            if s:
                c80 = "—" if s["coverage80"] is None else f"{100 * s['coverage80']:.1f} %"
                c95 = "—" if s["coverage95"] is None else f"{100 * s['coverage95']:.1f} %"
                print(f"| Corridor: {name} | {h} | {s['n']} | {100 * s['mape']:.1f} % | {s['mase']:.3f} | {c80} | {c95} |")
        for name in ("statsmodels", "seasonal naive (here)"):
            a = acc.get((name, h))
            if a:
                c80 = f"{100 * a[4] / a[6]:.1f} %" if a[6] else "—"
                c95 = f"{100 * a[5] / a[6]:.1f} %" if a[6] else "—"
                print(f"| {name} | {h} | {int(a[3])} | {100 * a[0] / a[1]:.1f} % | {a[2] / a[3]:.3f} | {c80} | {c95} |")
    if args.not_reweighted:
        plain = {(s["method"], s["horizon"]): s for s in json.load(open(args.not_reweighted))["scores"]}
        for h in range(1, H + 1):
            a, b = rows.get(("corridor", h)), plain.get(("corridor", h))
            if a and b:
                print(f"h {h}: re-weighted by age and sex MASE {a['mase']:.3f} / MAPE {100 * a['mape']:.1f} %, "
                      f"as it comes {b['mase']:.3f} / {100 * b['mape']:.1f} %")
    for h in range(1, H + 1):
        ours_h, naive_h, sm = rows.get(("corridor", h)), rows.get(("seasonal naive", h)), acc.get(("statsmodels", h))
        if ours_h and naive_h and sm:
            print(f"h {h}: MASE {ours_h['mase']:.3f}, {100 * (1 - ours_h['mase'] / naive_h['mase']):.0f} % below seasonal naive "
                  f"(goal ≥ 30 %), statsmodels {sm[2] / sm[3]:.3f}")


def score(a, est, truth, scale, inside):
    e = abs(est - truth)
    if truth > 0:
        a[0] += e / truth
        a[1] += 1
    a[2] += e / scale
    a[3] += 1
    if inside is not None:
        a[4] += inside[0]
        a[5] += inside[1]
        a[6] += 1


if __name__ == "__main__":
    main()
