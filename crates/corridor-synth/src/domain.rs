//! The public domain of every attribute: the values DP synthesis measures
//! and may emit.
//!
//! A domain never comes from the sensitive data. If it did, whether a rare
//! category appears at all (in the output's columns, in the size of a noisy
//! marginal) would reveal the one record that holds it. Domains come from
//! the code lists (`corridor-cases` builds one for a workspace's cases) or
//! from a file the publisher writes. A value of the data outside its
//! column's domain is counted and becomes "no value"; it is never added.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::SynthError;
use crate::table::{EMPTY, Table};

/// The allowed values of one column, and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct Attribute {
    pub column: String,
    pub values: Vec<String>,
    /// The code list (and its source) or the file the values come from.
    pub source: String,
}

/// The allowed values of every column.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Domain {
    pub attributes: Vec<Attribute>,
}

/// A column's domain as the reports show it: its size and source, not its
/// values (a country list is long).
#[derive(Debug, Clone, Serialize)]
pub struct DomainNote {
    pub column: String,
    pub values: usize,
    pub source: String,
}

/// Sensitive records whose value of a column lies outside its domain.
/// These are sensitive counts: they go to the internal review and the
/// operator's console, never to a publishable folder.
#[derive(Debug, Clone, Serialize)]
pub struct Outside {
    pub column: String,
    pub records: u64,
    /// The values, with how many records hold each (the first 20).
    pub values: Vec<(String, u64)>,
}

/// A table recoded into a public domain: its dictionaries are the domain's
/// values, whatever the data hold. DP synthesis only takes this type, so it
/// cannot be handed a dictionary built from the data.
#[derive(Debug, Clone)]
pub struct InDomain {
    table: Table,
    outside: Vec<Outside>,
    notes: Vec<DomainNote>,
}

impl InDomain {
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Columns with values outside their domain (none listed when all fit).
    pub fn outside(&self) -> &[Outside] {
        &self.outside
    }

    pub fn notes(&self) -> &[DomainNote] {
        &self.notes
    }
}

impl Domain {
    pub fn get(&self, column: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.column == column)
    }

    /// Adds a column's domain, replacing any it had.
    pub fn set(&mut self, column: &str, values: Vec<String>, source: String) {
        let attribute = Attribute {
            column: column.to_string(),
            values,
            source,
        };
        match self.attributes.iter_mut().find(|a| a.column == column) {
            Some(a) => *a = attribute,
            None => self.attributes.push(attribute),
        }
    }

    /// This domain with `other`'s columns taking the place of its own (a
    /// publisher's file over the code lists).
    pub fn overridden_by(mut self, other: Domain) -> Domain {
        for a in other.attributes {
            self.set(&a.column, a.values, a.source);
        }
        self
    }

    /// Reads a publisher's domain file: CSV with the header
    /// `attribute,value` and one allowed value per row; lines starting
    /// with `#` are comments.
    pub fn from_csv(path: &Path) -> Result<Domain, SynthError> {
        let err = |e: csv::Error| SynthError::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut r = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .flexible(false)
            .from_path(path)
            .map_err(err)?;
        let headers: Vec<String> = r
            .headers()
            .map_err(err)?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if headers != ["attribute", "value"] {
            return Err(SynthError::Input(format!(
                "{}: a domain file has the columns attribute,value (one allowed value per row), not {}",
                path.display(),
                headers.join(",")
            )));
        }
        let mut domain = Domain::default();
        let source = format!("the publisher's domain file {}", path.display());
        let mut rec = csv::StringRecord::new();
        while r.read_record(&mut rec).map_err(err)? {
            let row = rec.position().map_or(0, |p| p.line());
            let (column, value) = (
                rec.get(0).unwrap_or("").trim(),
                rec.get(1).unwrap_or("").trim(),
            );
            if column.is_empty() || value.is_empty() {
                return Err(SynthError::Input(format!(
                    "{} line {row}: an attribute and a value are needed (no value is always allowed and is not listed)",
                    path.display()
                )));
            }
            let attribute = match domain.attributes.iter_mut().find(|a| a.column == column) {
                Some(a) => a,
                None => {
                    domain.attributes.push(Attribute {
                        column: column.to_string(),
                        values: Vec::new(),
                        source: source.clone(),
                    });
                    let last = domain.attributes.len() - 1;
                    &mut domain.attributes[last]
                }
            };
            if attribute.values.iter().any(|v| v == value) {
                return Err(SynthError::Input(format!(
                    "{} line {row}: {column} = {value} is listed twice",
                    path.display()
                )));
            }
            attribute.values.push(value.to_string());
        }
        Ok(domain)
    }

    /// Recodes `table` into this domain. Every column needs a domain; a
    /// value outside it becomes no value and is counted.
    pub fn apply(&self, table: &Table) -> Result<InDomain, SynthError> {
        let mut values = Vec::with_capacity(table.width());
        let mut codes = Vec::with_capacity(table.width());
        let mut outside = Vec::new();
        let mut notes = Vec::with_capacity(table.width());
        for (c, column) in table.columns.iter().enumerate() {
            let Some(a) = self.get(column) else {
                return Err(SynthError::Input(format!(
                    "column '{column}' has no declared domain: list its allowed values in the domain file \
                     (the domain of DP synthesis is public and never taken from the data)"
                )));
            };
            if a.values.len() > crate::combos::MAX_VALUES {
                return Err(SynthError::Input(format!(
                    "the domain of '{column}' has {} values: at most {} are supported",
                    a.values.len(),
                    crate::combos::MAX_VALUES
                )));
            }
            let index: HashMap<&str, u32> = a
                .values
                .iter()
                .enumerate()
                .map(|(i, v)| (v.as_str(), i as u32))
                .collect();
            // The data's dictionary code → the domain's, once per code.
            let recode: Vec<Option<u32>> = table.values[c]
                .iter()
                .map(|v| index.get(v.as_str()).copied())
                .collect();
            let mut missed: BTreeMap<&str, u64> = BTreeMap::new();
            let column_codes: Vec<u32> = table.codes[c]
                .iter()
                .map(|&v| {
                    if v == EMPTY {
                        return EMPTY;
                    }
                    recode[v as usize].unwrap_or_else(|| {
                        *missed
                            .entry(table.values[c][v as usize].as_str())
                            .or_default() += 1;
                        EMPTY
                    })
                })
                .collect();
            if !missed.is_empty() {
                let mut listed: Vec<(String, u64)> =
                    missed.iter().map(|(v, n)| (v.to_string(), *n)).collect();
                listed.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
                listed.truncate(20);
                outside.push(Outside {
                    column: column.clone(),
                    records: missed.values().sum(),
                    values: listed,
                });
            }
            values.push(a.values.clone());
            codes.push(column_codes);
            notes.push(DomainNote {
                column: column.clone(),
                values: a.values.len(),
                source: a.source.clone(),
            });
        }
        Ok(InDomain {
            table: Table {
                columns: table.columns.clone(),
                values,
                codes,
            },
            outside,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_outside_the_domain_are_counted_not_added() {
        let t = Table::from_rows(
            vec!["sex".into(), "country".into()],
            vec![
                vec!["F", "GTM"],
                vec!["M", "ATL"],
                vec!["F", ""],
                vec!["X", "ATL"],
            ],
        );
        let mut d = Domain::default();
        d.set("sex", vec!["M".into(), "F".into()], "test".into());
        d.set("country", vec!["GTM".into(), "HND".into()], "test".into());
        let r = d.apply(&t).unwrap();
        assert_eq!(r.table().values[0], ["M", "F"]);
        assert_eq!(r.table().values[1], ["GTM", "HND"]);
        assert_eq!(r.table().codes[0], [1, 0, 1, EMPTY]);
        assert_eq!(r.table().codes[1], [0, EMPTY, EMPTY, EMPTY]);
        let out: Vec<(&str, u64)> = r
            .outside()
            .iter()
            .map(|o| (o.column.as_str(), o.records))
            .collect();
        assert_eq!(out, [("sex", 1), ("country", 2)]);
        assert_eq!(r.outside()[1].values, [("ATL".to_string(), 2)]);
        // A column without a domain is an error, not a domain from the data.
        let mut partial = Domain::default();
        partial.set("sex", vec!["F".into()], "test".into());
        let e = partial.apply(&t).unwrap_err().to_string();
        assert!(e.contains("'country' has no declared domain"), "{e}");
    }

    #[test]
    fn reads_a_publishers_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("domain.csv");
        std::fs::write(
            &path,
            "# allowed values\nattribute,value\nsex,F\nsex,M\ncountry,GTM\n",
        )
        .unwrap();
        let d = Domain::from_csv(&path).unwrap();
        assert_eq!(d.get("sex").unwrap().values, ["F", "M"]);
        assert!(d.get("country").unwrap().source.contains("domain.csv"));
        let over = d.clone().overridden_by({
            let mut o = Domain::default();
            o.set("sex", vec!["_O".into()], "other".into());
            o
        });
        assert_eq!(over.get("sex").unwrap().values, ["_O"]);
        assert_eq!(over.get("country").unwrap().values, ["GTM"]);
        std::fs::write(&path, "attribute,value\nsex,F\nsex,F\n").unwrap();
        let e = Domain::from_csv(&path).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("twice"), "{e}");
        std::fs::write(&path, "column,code\nsex,F\n").unwrap();
        assert!(Domain::from_csv(&path).is_err());
        std::fs::write(&path, "attribute,value\nsex,\n").unwrap();
        assert!(Domain::from_csv(&path).is_err());
    }
}
