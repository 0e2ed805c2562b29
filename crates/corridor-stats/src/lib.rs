//! Declarative tables over the workspace: a measure, the dimensions to
//! break it down by, an optional filter; every margin and the grand total
//! included, marked `_T` in the SDMX manner, and every cell carrying what
//! the disclosure-control step needs (the number of records behind it and
//! its cell key, the sum of the records' permanent keys).
//!
//! Tables are computed with DataFusion over the record tables and the
//! derived datasets (`corridor derive`), then rolled up to all margins
//! here. Nothing in this crate is protected: a table is inside the trust
//! boundary until `protect` has treated it.
//!
//! The API: [`table`] with a [`TableSpec`] and a [`Measure`] (see
//! [`MEASURES`]) gives a [`Table`] of [`Cell`]s; [`standard_table`] names
//! the published ones; [`mirror`] compares what two countries record;
//! errors are [`StatsError`].

mod cases;
mod filter;
pub mod mirror;

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray, Float64Array, Int64Array, StringArray, UInt64Array};
use arrow::datatypes::DataType;
use corridor_derive::tables;
use corridor_store::Workspace;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("no measure named `{0}`; the measures are: {1}")]
    UnknownMeasure(String, String),
    #[error("`{measure}` cannot be broken down by `{dim}`; its dimensions are: {dims}")]
    UnknownDimension {
        measure: String,
        dim: String,
        dims: String,
    },
    #[error("no standard table named `{0}`; the standard tables are: {1}")]
    UnknownTable(String, String),
    #[error("{0}")]
    Spec(String),
    #[error("the `{dataset}` dataset is missing: {hint}")]
    Missing { dataset: String, hint: String },
    #[error(transparent)]
    Store(#[from] corridor_store::StoreError),
    #[error(transparent)]
    Cases(#[from] corridor_cases::CasesError),
}

/// What to count, by what, where. Written in TOML as
/// `measure = "migrant_arrivals"`, `by = ["month", "sex"]`,
/// `where = "citizenship = 'HND'"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub measure: String,
    #[serde(default)]
    pub by: Vec<String>,
    /// A SQL condition over the measure's dimensions.
    #[serde(default, rename = "where")]
    pub filter: Option<String>,
}

impl TableSpec {
    pub fn from_toml(text: &str) -> Result<TableSpec, StatsError> {
        toml::from_str(text).map_err(|e| StatsError::Spec(format!("table spec: {e}")))
    }
}

/// Where a measure's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Crossings,
    Stocks,
    Stays,
    Returns,
    Permits,
    /// The trafficking cases, one record per victim once linked: rolled
    /// up in [`cases`], not in SQL.
    Cases,
}

impl Source {
    fn table(self) -> &'static str {
        match self {
            Source::Crossings => tables::CROSSINGS.name,
            Source::Stocks => tables::STOCKS.name,
            Source::Stays => tables::STAYS.name,
            Source::Returns => "returns",
            Source::Permits => "residence_permits",
            Source::Cases => "trafficking_cases",
        }
    }

    fn derived(self) -> bool {
        self.derived_table().is_some()
    }

    /// The record key a cell's key sums (for cell-key perturbation).
    fn key(self) -> &'static str {
        if self == Source::Stocks {
            "t.key_sum"
        } else {
            KEY
        }
    }

    /// The description of the derived dataset this source reads.
    fn derived_table(self) -> Option<&'static tables::DerivedTable> {
        match self {
            Source::Crossings => Some(&tables::CROSSINGS),
            Source::Stocks => Some(&tables::STOCKS),
            Source::Stays => Some(&tables::STAYS),
            Source::Returns | Source::Permits | Source::Cases => None,
        }
    }

    /// Dimension name → SQL expression over `t` (the table) and `c` (the
    /// citizenship's row of `countries`).
    fn dimensions(self) -> Vec<(&'static str, String)> {
        let col = |n: &'static str| (n, format!("t.{n}"));
        let month_of = |c: &str| format!("to_char(t.{c}, '%Y-%m')");
        let age_case = broad_age_group_sql("t.age");
        let region = ("citizenship_region", "c.m49_subregion".to_string());
        let mut d = match self {
            Source::Crossings => vec![
                col("month"),
                col("reporting_country"),
                col("citizenship"),
                region,
                col("sex"),
                col("age_group"),
                col("visa_type"),
                col("travel_purpose"),
                col("transport_mode"),
                col("counterpart_country"),
                col("direction"),
                ("residence_status", "t.status_before".to_string()),
            ],
            Source::Stocks => vec![
                col("month"),
                col("reporting_country"),
                col("citizenship"),
                region,
                col("sex"),
                col("age_group"),
                col("visa_type"),
                col("residence_status"),
                col("location"),
            ],
            Source::Stays => vec![
                ("month", "t.overstay_month".to_string()),
                col("reporting_country"),
                col("citizenship"),
                region,
                col("sex"),
                col("age_group"),
                col("visa_type"),
            ],
            Source::Returns => vec![
                ("month", month_of("return_date")),
                col("reporting_country"),
                col("host_country"),
                col("destination_country"),
                col("citizenship"),
                region,
                col("sex"),
                ("age_group", age_case),
                col("return_type"),
                col("transport_mode"),
            ],
            Source::Permits => vec![
                ("month", month_of("issue_date")),
                ("reporting_country", "t.issuing_country".to_string()),
                col("citizenship"),
                region,
                col("sex"),
                ("age_group", age_case),
                col("permit_type"),
                col("decision"),
            ],
            Source::Cases => cases::DIMENSIONS
                .iter()
                .map(|d| (*d, String::new()))
                .collect(),
        };
        if !matches!(self, Source::Stocks | Source::Cases) {
            let month = d[0].1.clone();
            d.insert(1, ("year", format!("substr({month}, 1, 4)")));
        }
        d
    }
}

/// A measure: what one record contributes to a cell.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub name: &'static str,
    pub description: &'static str,
    source: Source,
    base: &'static str,
    value: &'static str,
    /// A stock is a count at a point in time: never summed over months.
    pub stock: bool,
}

const KEY: &str = "t.record_key >> 32";

impl Measure {
    /// 1 for a record whose contribution is still provisional.
    fn open(&self) -> &'static str {
        if self.source == Source::Crossings && self.value.contains("p_migration") {
            "CASE WHEN t.outcome = 'provisional' THEN 1 ELSE 0 END"
        } else {
            "0"
        }
    }
}

pub const MEASURES: &[Measure] = &[
    Measure {
        name: "arrivals",
        description: "Entries into the reporting country (each crossing once; repeats keyed twice are not counted).",
        source: Source::Crossings,
        base: "t.counted AND t.direction = 'entry'",
        value: "1.0",
        stock: false,
    },
    Measure {
        name: "departures",
        description: "Exits from the reporting country.",
        source: Source::Crossings,
        base: "t.counted AND t.direction = 'exit'",
        value: "1.0",
        stock: false,
    },
    Measure {
        name: "migrant_arrivals",
        description: "Long-term migrant arrivals by the 12/16-month rule: final where decided, the model's expected value where still open (the cell is then marked provisional).",
        source: Source::Crossings,
        base: "t.counted AND t.direction = 'entry'",
        value: "t.p_migration",
        stock: false,
    },
    Measure {
        name: "migrant_departures",
        description: "Long-term migrant departures by the 12/16-month rule.",
        source: Source::Crossings,
        base: "t.counted AND t.direction = 'exit'",
        value: "t.p_migration",
        stock: false,
    },
    Measure {
        name: "net_migration",
        description: "Migrant arrivals minus migrant departures.",
        source: Source::Crossings,
        base: "t.counted",
        value: "CASE WHEN t.direction = 'entry' THEN t.p_migration ELSE -t.p_migration END",
        stock: false,
    },
    Measure {
        name: "nonresidents_present",
        description: "Stock: non-residents present in the country at the end of the month.",
        source: Source::Stocks,
        base: "t.location = 'present' AND t.residence_status = 'non_resident'",
        value: "CAST(t.persons AS DOUBLE)",
        stock: true,
    },
    Measure {
        name: "residents_abroad",
        description: "Stock: residents (by the 12/16-month rule) abroad at the end of the month.",
        source: Source::Stocks,
        base: "t.location = 'abroad' AND t.residence_status = 'resident'",
        value: "CAST(t.persons AS DOUBLE)",
        stock: true,
    },
    Measure {
        name: "overstayers",
        description: "Stock: non-residents present at the end of the month beyond the stay they were permitted at entry.",
        source: Source::Stocks,
        base: "t.overstaying",
        value: "CAST(t.persons AS DOUBLE)",
        stock: true,
    },
    Measure {
        name: "overstays",
        description: "Stays that went beyond the permitted length, by the month the permitted stay ran out.",
        source: Source::Stays,
        base: "t.overstay",
        value: "1.0",
        stock: false,
    },
    Measure {
        name: "returns",
        description: "Returns (forced, assisted voluntary, voluntary), by month of return.",
        source: Source::Returns,
        base: "true",
        value: "1.0",
        stock: false,
    },
    Measure {
        name: "permits",
        description: "Residence permits issued, by month of issue.",
        source: Source::Permits,
        base: "true",
        value: "1.0",
        stock: false,
    },
    Measure {
        name: "victims",
        description: "Identified victims of trafficking: one per person once the cases are linked (`corridor link dedupe`), by the year their case was registered; SDG 16.2.2's count.",
        source: Source::Cases,
        base: "true",
        value: "1.0",
        stock: false,
    },
];

pub fn measure(name: &str) -> Result<&'static Measure, StatsError> {
    MEASURES.iter().find(|m| m.name == name).ok_or_else(|| {
        StatsError::UnknownMeasure(
            name.to_string(),
            MEASURES
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", "),
        )
    })
}

impl Measure {
    /// The dimensions this measure can be broken down by.
    pub fn dimensions(&self) -> Vec<&'static str> {
        self.source.dimensions().into_iter().map(|d| d.0).collect()
    }
}

/// The total code of SDMX.
pub const TOTAL: &str = "_T";
/// Unknown, in SDMX.
pub const UNKNOWN: &str = "_U";

/// One cell of a table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// One code per dimension; `_T` where the cell totals over it.
    pub coords: Vec<String>,
    pub value: f64,
    /// Records behind the cell.
    pub records: u64,
    /// Sum of the records' permanent keys (top 32 bits) modulo 2³²: the
    /// cell key of the cell-key method, the same whenever the same records
    /// fall in the cell.
    pub cell_key: u32,
    /// Part of the value is a modelled estimate (open 12/16 windows).
    pub provisional: bool,
}

/// A computed table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub measure: String,
    pub dims: Vec<String>,
    pub filter: Option<String>,
    pub cells: Vec<Cell>,
    /// Anything the reader must know (e.g. which month a stock is at).
    pub notes: Vec<String>,
}

/// Computes a table.
pub fn table(ws: &Workspace, spec: &TableSpec) -> Result<Table, StatsError> {
    let m = measure(&spec.measure)?;
    let dims = m.source.dimensions();
    for d in &spec.by {
        if !dims.iter().any(|x| x.0 == d) {
            return Err(StatsError::UnknownDimension {
                measure: m.name.into(),
                dim: d.clone(),
                dims: m.dimensions().join(", "),
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(d) = spec.by.iter().find(|d| !seen.insert(d.as_str())) {
        return Err(StatsError::Spec(format!("`{d}` is listed twice in --by")));
    }
    if m.source == Source::Cases {
        return cases::victims(ws, spec, m);
    }
    if m.source.derived() && !ws.derived_dir().join(m.source.table()).is_dir() {
        return Err(StatsError::Missing {
            dataset: m.source.table().into(),
            hint: format!(
                "run `corridor derive --workspace {}` first",
                ws.root().display()
            ),
        });
    }
    let mut notes = Vec::new();
    let names: Vec<&str> = dims.iter().map(|d| d.0).collect();
    let mut filters: Vec<String> = match &spec.filter {
        Some(f) => vec![format!("({})", filter::checked(f, &names)?)],
        None => Vec::new(),
    };
    if m.stock && !spec.by.iter().any(|d| d == "month") {
        filters.push(format!(
            "month = (SELECT max(month) FROM {})",
            tables::STOCKS.name
        ));
        notes.push("A stock is a count at a point in time: without `month` in --by the table shows the latest month.".into());
    }
    let inner: Vec<String> = dims
        .iter()
        .map(|(n, e)| format!("coalesce(CAST({e} AS VARCHAR), '{UNKNOWN}') AS \"{n}\""))
        .collect();
    let key = m.source.key();
    let open = m.open();
    let by: Vec<String> = spec.by.iter().map(|d| format!("\"{d}\"")).collect();
    let select_by = if by.is_empty() {
        String::new()
    } else {
        format!("{}, ", by.join(", "))
    };
    let group_by = if by.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", by.join(", "))
    };
    let sql = format!(
        "SELECT {select_by}SUM(v) AS value, COUNT(*) AS records, SUM(k) AS key_sum, SUM(o) AS open \
         FROM (SELECT {inner}, {value} AS v, CAST({key} AS BIGINT UNSIGNED) AS k, CAST({open} AS BIGINT) AS o \
               FROM {table} t LEFT JOIN countries c ON c.alpha3 = t.citizenship WHERE {base}) q\
         {where}{group_by}",
        inner = inner.join(", "),
        value = m.value,
        table = m.source.table(),
        base = m.base,
        where = if filters.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", filters.join(" AND "))
        },
    );
    let batches = ws.sql(&sql)?;
    // The finest cells, then every margin.
    let n = spec.by.len();
    let mut base: Vec<(Vec<String>, Acc)> = Vec::new();
    for b in &batches {
        let texts: Vec<StringArray> = (0..n)
            .map(|i| text(b.column(i)))
            .collect::<Result<_, _>>()?;
        let value = real(b.column(n))?;
        let records = count(b.column(n + 1))?;
        let keys = count(b.column(n + 2))?;
        let open = count(b.column(n + 3))?;
        for r in 0..b.num_rows() {
            base.push((
                texts.iter().map(|t| t.value(r).to_string()).collect(),
                Acc {
                    value: value[r],
                    records: records[r],
                    key_sum: keys[r],
                    open: open[r],
                },
            ));
        }
    }
    Ok(with_margins(m, spec, &base, notes))
}

/// The table of `base` (the finest cells) with every margin.
fn with_margins(
    m: &Measure,
    spec: &TableSpec,
    base: &[(Vec<String>, Acc)],
    notes: Vec<String>,
) -> Table {
    let n = spec.by.len();
    let month_at = spec.by.iter().position(|d| d == "month");
    let mut cells: HashMap<Vec<String>, Acc> = HashMap::new();
    for mask in 0u32..(1 << n) {
        // A stock is never totalled over months.
        if m.stock && month_at.is_some_and(|i| mask & (1 << i) != 0) {
            continue;
        }
        for (coords, acc) in base {
            let key: Vec<String> = coords
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if mask & (1 << i) != 0 {
                        TOTAL.to_string()
                    } else {
                        c.clone()
                    }
                })
                .collect();
            cells.entry(key).or_default().add(acc);
        }
    }
    if base.is_empty() && !(m.stock && month_at.is_some()) {
        cells.insert(vec![TOTAL.to_string(); n], Acc::default());
    }
    let mut cells: Vec<Cell> = cells
        .into_iter()
        .map(|(coords, a)| Cell {
            coords,
            value: a.value,
            records: a.records,
            cell_key: (a.key_sum & 0xFFFF_FFFF) as u32,
            provisional: a.open > 0,
        })
        .collect();
    // Totals last within each level, codes in order.
    cells.sort_by(|a, b| {
        let k = |c: &Cell| {
            c.coords
                .iter()
                .map(|x| (x == TOTAL, x.clone()))
                .collect::<Vec<_>>()
        };
        k(a).cmp(&k(b))
    });
    Table {
        measure: m.name.into(),
        dims: spec.by.clone(),
        filter: spec.filter.clone(),
        cells,
        notes,
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Acc {
    value: f64,
    records: u64,
    key_sum: u64,
    open: u64,
}

impl Acc {
    fn add(&mut self, o: &Acc) {
        self.value += o.value;
        self.records += o.records;
        self.key_sum = self.key_sum.wrapping_add(o.key_sum);
        self.open += o.open;
    }
}

/// A text column as plain UTF-8 (DataFusion may hand back string views).
pub(crate) fn text(a: &dyn Array) -> Result<StringArray, StatsError> {
    let a = arrow::compute::cast(a, &DataType::Utf8)
        .map_err(|e| StatsError::Spec(format!("unexpected result type: {e}")))?;
    Ok(a.as_string::<i32>().clone())
}

fn real(a: &dyn Array) -> Result<Vec<f64>, StatsError> {
    let a = arrow::compute::cast(a, &DataType::Float64)
        .map_err(|e| StatsError::Spec(format!("unexpected result type: {e}")))?;
    let a = a
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| StatsError::Spec("unexpected result type".into()))?;
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0.0 } else { a.value(i) })
        .collect())
}

fn count(a: &dyn Array) -> Result<Vec<u64>, StatsError> {
    if let Some(u) = a.as_any().downcast_ref::<UInt64Array>() {
        return Ok((0..u.len())
            .map(|i| if u.is_null(i) { 0 } else { u.value(i) })
            .collect());
    }
    let a = arrow::compute::cast(a, &DataType::Int64)
        .map_err(|e| StatsError::Spec(format!("unexpected result type: {e}")))?;
    let a = a
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| StatsError::Spec("unexpected result type".into()))?;
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0 } else { a.value(i) as u64 })
        .collect())
}

/// A standard table of the library.
#[derive(Debug, Clone)]
pub struct StandardTable {
    pub name: &'static str,
    pub title: &'static str,
    pub measure: &'static str,
    pub by: &'static [&'static str],
}

impl StandardTable {
    pub fn spec(&self) -> TableSpec {
        TableSpec {
            measure: self.measure.into(),
            by: self.by.iter().map(|s| s.to_string()).collect(),
            filter: None,
        }
    }
}

pub const STANDARD_TABLES: &[StandardTable] = &[
    StandardTable {
        name: "flows_by_citizenship",
        title: "Arrivals by month, reporting country and citizenship",
        measure: "arrivals",
        by: &["month", "reporting_country", "citizenship"],
    },
    StandardTable {
        name: "departures_by_citizenship",
        title: "Departures by month, reporting country and citizenship",
        measure: "departures",
        by: &["month", "reporting_country", "citizenship"],
    },
    StandardTable {
        name: "migrant_arrivals",
        title: "Long-term migrant arrivals by month, reporting country, sex and age group",
        measure: "migrant_arrivals",
        by: &["month", "reporting_country", "sex", "age_group"],
    },
    StandardTable {
        name: "migrant_departures",
        title: "Long-term migrant departures by month, reporting country, sex and age group",
        measure: "migrant_departures",
        by: &["month", "reporting_country", "sex", "age_group"],
    },
    StandardTable {
        name: "net_migration_by_region",
        title: "Net migration by year, reporting country and citizenship region (M49 sub-region)",
        measure: "net_migration",
        by: &["year", "reporting_country", "citizenship_region"],
    },
    StandardTable {
        name: "stock_nonresidents",
        title: "Non-residents present at month end by reporting country, citizenship and sex",
        measure: "nonresidents_present",
        by: &["month", "reporting_country", "citizenship", "sex"],
    },
    StandardTable {
        name: "residents_abroad",
        title: "Residents abroad at month end by reporting country, sex and age group",
        measure: "residents_abroad",
        by: &["month", "reporting_country", "sex", "age_group"],
    },
    StandardTable {
        name: "overstayers",
        title: "Overstayers present at month end by reporting country, visa type and citizenship",
        measure: "overstayers",
        by: &["month", "reporting_country", "visa_type", "citizenship"],
    },
    StandardTable {
        name: "overstays",
        title: "Overstays by month the permitted stay ran out, reporting country and citizenship",
        measure: "overstays",
        by: &["month", "reporting_country", "citizenship"],
    },
    StandardTable {
        name: "returns",
        title: "Returns by month, host country, country of return, type and sex",
        measure: "returns",
        by: &[
            "month",
            "host_country",
            "destination_country",
            "return_type",
            "sex",
        ],
    },
    StandardTable {
        name: "permits",
        title: "Residence permits by month, issuing country, permit type and citizenship",
        measure: "permits",
        by: &["month", "reporting_country", "permit_type", "citizenship"],
    },
];

pub fn standard_table(name: &str) -> Result<&'static StandardTable, StatsError> {
    STANDARD_TABLES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            StatsError::UnknownTable(
                name.into(),
                STANDARD_TABLES
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
}

/// A value as tables print it: whole numbers without decimals.
/// The broad age group (IAEG-SDG) of an age column, as a SQL `CASE` built
/// from the `age_group` code list, so that the groups are defined once.
fn broad_age_group_sql(age: &str) -> String {
    use corridor_model::age::AgeGrouping;
    let mut s = format!("CASE WHEN {age} IS NULL THEN NULL");
    for (code, from, to) in AgeGrouping::Broad.ranges() {
        match to {
            Some(to) => s.push_str(&format!(
                " WHEN {age} BETWEEN {from} AND {to} THEN '{code}'"
            )),
            None => s.push_str(&format!(" WHEN {age} >= {from} THEN '{code}'")),
        }
    }
    s.push_str(" ELSE '_U' END");
    s
}

pub fn format_value(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

impl Table {
    /// CSV with one column per dimension, then value, records, cell_key
    /// and provisional.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<&str> = self.dims.iter().map(String::as_str).collect();
        header.extend([self.measure.as_str(), "records", "cell_key", "provisional"]);
        // Writing to memory cannot fail; the csv crate quotes as RFC 4180
        // says (delimiter, quote, CR or LF in a field).
        let _ = w.write_record(&header);
        for c in &self.cells {
            let mut row: Vec<String> = c.coords.clone();
            row.push(format_value(c.value));
            row.push(c.records.to_string());
            row.push(c.cell_key.to_string());
            row.push(c.provisional.to_string());
            let _ = w.write_record(&row);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// An aligned text table (without the cell keys).
    pub fn to_text(&self) -> String {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut header = self.dims.clone();
        header.push(self.measure.clone());
        rows.push(header);
        for c in &self.cells {
            let mut r = c.coords.clone();
            let mut v = format_value(c.value);
            if c.provisional {
                v.push_str(" p");
            }
            r.push(v);
            rows.push(r);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (k, r) in rows.iter().enumerate() {
            let last = r.len() - 1;
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if i == last {
                        format!("{s:>w$}", w = widths[i])
                    } else {
                        format!("{s:<w$}", w = widths[i])
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
            if k == 0 {
                out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * last));
                out.push('\n');
            }
        }
        if self.cells.iter().any(|c| c.provisional) {
            out.push_str("p: provisional (includes modelled outcomes of crossings whose 16-month window is still open)\n");
        }
        for n in &self.notes {
            out.push_str(n);
            out.push('\n');
        }
        out
    }

    /// The cell with these coordinates, if any.
    pub fn cell(&self, coords: &[&str]) -> Option<&Cell> {
        self.cells.iter().find(|c| {
            c.coords
                .iter()
                .map(String::as_str)
                .eq(coords.iter().copied())
        })
    }

    /// Values by coordinates, for tests and comparisons.
    pub fn values(&self) -> BTreeMap<Vec<String>, f64> {
        self.cells
            .iter()
            .map(|c| (c.coords.clone(), c.value))
            .collect()
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn broad_age_groups_come_from_the_code_list() {
        let sql = broad_age_group_sql("t.age");
        assert_eq!(
            sql,
            "CASE WHEN t.age IS NULL THEN NULL WHEN t.age BETWEEN 0 AND 14 THEN 'Y0T14' \
             WHEN t.age BETWEEN 15 AND 24 THEN 'Y15T24' WHEN t.age BETWEEN 25 AND 64 THEN 'Y25T64' \
             WHEN t.age >= 65 THEN 'Y_GE65' ELSE '_U' END"
        );
    }

    /// The columns `t.<name>` an SQL expression reads from its table.
    fn table_columns(sql: &str) -> Vec<String> {
        sql.match_indices("t.")
            .filter(|(i, _)| *i == 0 || !sql.as_bytes()[i - 1].is_ascii_alphanumeric())
            .map(|(i, _)| {
                sql[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect()
    }

    /// Every column a measure or a dimension reads from a derived dataset
    /// is one the dataset's description (`corridor_derive::tables`) has.
    #[test]
    fn measures_read_only_columns_derive_writes() {
        let mut checked = 0;
        for m in MEASURES {
            let Some(table) = m.source.derived_table() else {
                continue;
            };
            let mut sql = vec![
                m.base.to_string(),
                m.value.to_string(),
                m.source.key().to_string(),
                m.open().to_string(),
            ];
            sql.extend(m.source.dimensions().into_iter().map(|(_, e)| e));
            for column in sql.iter().flat_map(|e| table_columns(e)) {
                assert!(
                    table.column(&column).is_some(),
                    "{}: {} has no column {column}",
                    m.name,
                    table.name
                );
                checked += 1;
            }
        }
        assert!(checked > 30, "{checked}");
        assert_eq!(table_columns("t.a + xt.b - t.c_d"), ["a", "c_d"]);
    }

    proptest! {
        /// Whatever a code holds (commas, quotes, CR, LF), the CSV reads
        /// back to the same cells.
        #[test]
        fn table_csv_reads_back(coords in proptest::collection::vec("[a-z,\"\r\n ]{0,6}", 2)) {
            let t = Table {
                measure: "arrivals".into(),
                dims: vec!["a".into(), "b".into()],
                filter: None,
                cells: vec![Cell { coords: coords.clone(), value: 3.0, records: 3, cell_key: 7, provisional: false }],
                notes: vec![],
            };
            let text = t.to_csv();
            let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
            let rows: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>().expect("csv");
            prop_assert_eq!(rows.len(), 1);
            prop_assert_eq!(&rows[0][0], coords[0].as_str());
            prop_assert_eq!(&rows[0][1], coords[1].as_str());
            prop_assert_eq!(&rows[0][2], "3");
        }
    }
}
