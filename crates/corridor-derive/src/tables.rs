//! The datasets `derive` writes, named once: each table's name and its
//! columns with their types. Derive builds its Arrow schemas from these
//! descriptions, and `corridor-stats` names the tables and columns it
//! queries through them, so a renamed column fails a test, not a query.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// The type of a derived column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A code or a label (`Utf8`).
    Text,
    /// A day (`Date32`).
    Date,
    /// Days or years (`Int32`).
    Int,
    /// A count or a key (`UInt64`).
    Count,
    /// A probability or an estimate (`Float64`).
    Number,
    /// `Boolean`.
    Flag,
}

impl ColumnType {
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Date => DataType::Date32,
            ColumnType::Int => DataType::Int32,
            ColumnType::Count => DataType::UInt64,
            ColumnType::Number => DataType::Float64,
            ColumnType::Flag => DataType::Boolean,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
    pub nullable: bool,
}

/// A dataset of the derived folder, registered under `name` for SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerivedTable {
    pub name: &'static str,
    pub columns: &'static [Column],
}

impl DerivedTable {
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.kind.data_type(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn c(name: &'static str, kind: ColumnType, nullable: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
    }
}

use ColumnType::*;

/// Every crossing with its outcome by the 12/16-month rule.
pub const CROSSINGS: DerivedTable = DerivedTable {
    name: "crossings",
    columns: &[
        c("person_key", Text, false),
        c("reporting_country", Text, false),
        c("direction", Text, false),
        c("event_date", Date, false),
        c("month", Text, false),
        c("citizenship", Text, true),
        c("sex", Text, true),
        c("age", Int, true),
        c("age_group", Text, true),
        c("travel_purpose", Text, true),
        c("visa_type", Text, true),
        c("permitted_stay_days", Int, true),
        c("transport_mode", Text, true),
        c("counterpart_country", Text, true),
        c("status_before", Text, true),
        c("outcome", Text, false),
        c("p_migration", Number, false),
        c("counted", Flag, false),
        c("window_observed", Flag, false),
        c("repairs", Text, true),
        c("record_key", Count, false),
        c("source_id", Text, true),
        c("source_row", Count, false),
    ],
};

/// Stays between an entry and an exit (or open at the as-of date), with overstays.
pub const STAYS: DerivedTable = DerivedTable {
    name: "stays",
    columns: &[
        c("person_key", Text, false),
        c("reporting_country", Text, false),
        c("kind", Text, false),
        c("start_date", Date, false),
        c("end_date", Date, true),
        c("month", Text, false),
        c("length_days", Int, false),
        c("open", Flag, false),
        c("residence_status", Text, false),
        c("citizenship", Text, true),
        c("sex", Text, true),
        c("age_group", Text, true),
        c("visa_type", Text, true),
        c("permitted_stay_days", Int, true),
        c("overstay_days", Int, true),
        c("overstay", Flag, false),
        c("overstay_month", Text, true),
        c("repairs", Text, true),
        c("record_key", Count, false),
    ],
};

/// Persons present or abroad at each month end, by cell.
pub const STOCKS: DerivedTable = DerivedTable {
    name: "stocks",
    columns: &[
        c("reporting_country", Text, false),
        c("month", Text, false),
        c("citizenship", Text, true),
        c("sex", Text, true),
        c("age_group", Text, true),
        c("residence_status", Text, false),
        c("location", Text, false),
        c("visa_type", Text, true),
        c("overstaying", Flag, false),
        c("persons", Count, false),
        c("key_sum", Count, false),
    ],
};

const PROVISIONAL_COLUMNS: [Column; 10] = [
    c("reporting_country", Text, false),
    c("month", Text, false),
    c("measure", Text, false),
    c("final_migrations", Count, false),
    c("open_crossings", Count, false),
    c("expected_open", Number, false),
    c("estimate", Number, false),
    c("lower95", Number, false),
    c("upper95", Number, false),
    c("as_of", Date, false),
];

/// The provisional columns and the run that wrote them.
const fn with_run_at<const N: usize, const M: usize>(columns: [Column; N]) -> [Column; M] {
    let mut out = [c("run_at", Text, false); M];
    let mut i = 0;
    while i < N {
        out[i] = columns[i];
        i += 1;
    }
    out
}

const HISTORY_COLUMNS: [Column; 11] = with_run_at(PROVISIONAL_COLUMNS);

/// Provisional monthly migration estimates with their intervals.
pub const PROVISIONAL: DerivedTable = DerivedTable {
    name: "provisional",
    columns: &PROVISIONAL_COLUMNS,
};

/// Every run's provisional estimates, stamped with the run.
pub const PROVISIONAL_HISTORY: DerivedTable = DerivedTable {
    name: "history_provisional",
    columns: &HISTORY_COLUMNS,
};

/// How this run's estimates changed from the previous run's.
pub const REVISIONS: DerivedTable = DerivedTable {
    name: "revisions",
    columns: &[
        c("reporting_country", Text, false),
        c("month", Text, false),
        c("measure", Text, false),
        c("previous_as_of", Date, false),
        c("previous_estimate", Number, false),
        c("as_of", Date, false),
        c("estimate", Number, false),
        c("revision", Number, false),
    ],
};

/// Every table `derive` writes.
pub const ALL: [&DerivedTable; 6] = [
    &CROSSINGS,
    &STAYS,
    &STOCKS,
    &PROVISIONAL,
    &PROVISIONAL_HISTORY,
    &REVISIONS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_names_its_columns_once() {
        for table in ALL {
            let mut names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.columns.len(), "{}", table.name);
            assert_eq!(table.schema().fields().len(), table.columns.len());
        }
        let history = PROVISIONAL_HISTORY.columns;
        assert_eq!(&history[..PROVISIONAL.columns.len()], PROVISIONAL.columns);
        assert_eq!(history.last().map(|c| c.name), Some("run_at"));
    }
}
