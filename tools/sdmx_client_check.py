#!/usr/bin/env python3
"""Pull a release over SDMX REST with a real SDMX client and compare it
with the release's own files.

    sdmx_client_check.py BASE_URL RELEASE_DIR

BASE_URL is the server's address (http://127.0.0.1:8080); RELEASE_DIR is
the release folder the server publishes as its newest. The client is
pysdmx's RestService (SDMX REST 2.0), its query builders (DataQuery,
StructureQuery) and its SDMX-ML 3.0 and SDMX-CSV readers:

  * the dataflow list names every table the release has an SDMX-CSV for;
  * each dataflow, pulled with its descendants, has a data structure whose
    dimensions are the columns of the release's SDMX-CSV, each coded
    dimension with its code list;
  * each dataflow's data, pulled whole, are the release's SDMX-CSV
    observations, value for value;
  * a query with a key (one code of the first non-measure dimension) and a
    c[TIME_PERIOD] range gives exactly the release's rows that match.

Prints one line per check and exits 1 if any fails.

    pip install 'pysdmx[xml,data]==1.21.0'
"""

import csv
import io
import json
import sys
from pathlib import Path


def cell(column: str, value) -> str:
    """One normal form for a value read from a file or by pandas: blanks
    as empty text, observation values as numbers (a rate's `12.3400` and
    pandas' `12.34` are one value)."""
    text = str(value)
    if text in ("", "nan", "None", "<NA>"):
        return ""
    if column == "OBS_VALUE":
        try:
            return f"{float(text):.10g}"
        except ValueError:
            return text
    return text


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, release = sys.argv[1].rstrip("/"), Path(sys.argv[2])
    try:
        from pysdmx.api.qb import (
            ApiVersion,
            DataQuery,
            RestService,
            StructureQuery,
            StructureReference,
            StructureType,
        )
        from pysdmx.api.qb.data import DataContext, MultiFilter, Operator, TextFilter
        from pysdmx.io import read_sdmx
        from pysdmx.io.format import DataFormat, StructureFormat
    except ImportError as exc:
        print(f"pysdmx is missing ({exc}): pip install 'pysdmx[xml,data]==1.21.0'", file=sys.stderr)
        return 2

    svc = RestService(
        f"{base}/sdmx/v2",
        ApiVersion.V2_0_0,
        data_format=DataFormat.SDMX_CSV_2_0_0,
        structure_format=StructureFormat.SDMX_ML_3_0,
        timeout=30.0,
    )
    manifest = json.loads((release / "release.json").read_text(encoding="utf-8"))
    tables = [t for t in manifest["tables"] if t.get("files", {}).get("sdmx_csv")]
    failures = []

    def check(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    flows = read_sdmx(
        io.BytesIO(svc.structure(StructureQuery(artefact_type=StructureType.DATAFLOW)))
    ).get_dataflows()
    check(
        sorted(f.id for f in flows) == sorted(t["dataflow"] for t in tables),
        f"the dataflow list names the {len(tables)} SDMX tables",
    )

    for t in tables:
        flow = t["dataflow"]
        with open(release / t["files"]["sdmx_csv"], newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        header = list(rows[0].keys()) if rows else []

        msg = read_sdmx(
            io.BytesIO(
                svc.structure(
                    StructureQuery(
                        artefact_type=StructureType.DATAFLOW,
                        agency_id="CORRIDOR",
                        resource_id=flow,
                        references=StructureReference.DESCENDANTS,
                    )
                )
            )
        )
        dsds = msg.get_data_structure_definitions()
        check(len(dsds) == 1, f"{flow}: the dataflow's descendants hold its one data structure")
        if len(dsds) != 1:
            continue
        comps = [c.id for c in dsds[0].components]
        check(
            sorted(comps) == sorted(header[3:]),
            f"{flow}: the data structure's components are the SDMX-CSV columns",
        )
        coded = [c for c in dsds[0].components.dimensions if c.id != "TIME_PERIOD"]
        check(
            all(c.local_codes is not None and len(c.local_codes) > 0 for c in coded),
            f"{flow}: each coded dimension has its code list",
        )

        def pull(query) -> list[dict]:
            body = svc.data(query)
            ds = read_sdmx(io.BytesIO(body)).data
            # Compare as text, the way the release wrote it.
            out = []
            for d in ds:
                df = d.data.astype(str)
                out.extend(df.to_dict("records"))
            return out

        def norm(rs: list[dict]) -> list[tuple]:
            return sorted(tuple(cell(c, r.get(c, "")) for c in header[3:]) for r in rs)

        got = pull(
            DataQuery(context=DataContext.DATAFLOW, agency_id="CORRIDOR", resource_id=flow, version="1.0")
        )
        check(norm(got) == norm(rows), f"{flow}: all {len(rows)} observations pulled as published")

        key_dims = header[3 : header.index("TIME_PERIOD")] if "TIME_PERIOD" in header else header[3:-3]
        if len(key_dims) < 2 or "TIME_PERIOD" not in header or not rows:
            continue
        dim = key_dims[1]
        code = rows[len(rows) // 2][dim]
        periods = sorted({r["TIME_PERIOD"] for r in rows})
        lo, hi = periods[len(periods) // 4], periods[(3 * len(periods)) // 4]
        key = ".".join(code if d == dim else "*" for d in key_dims)
        want = [r for r in rows if r[dim] == code and lo <= r["TIME_PERIOD"] <= hi]
        got = pull(
            DataQuery(
                context=DataContext.DATAFLOW,
                agency_id="CORRIDOR",
                resource_id=flow,
                version="1.0",
                key=key,
                components=MultiFilter(
                    filters=[
                        TextFilter(field="TIME_PERIOD", operator=Operator.GREATER_THAN_OR_EQUAL, value=lo),
                        TextFilter(field="TIME_PERIOD", operator=Operator.LESS_THAN_OR_EQUAL, value=hi),
                    ]
                ),
            )
        )
        check(
            norm(got) == norm(want),
            f"{flow}: key {key} with TIME_PERIOD {lo}..{hi} gives the {len(want)} matching observations",
        )

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
