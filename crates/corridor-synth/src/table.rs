//! A categorical table held column by column as dictionary codes: what
//! every synthesiser and every count works on.

use std::collections::HashMap;
use std::path::Path;

use crate::SynthError;

/// Code of an empty cell (no value; never part of a combination).
pub const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    /// Per column, its values (code = position).
    pub values: Vec<Vec<String>>,
    /// Per column, one code per row.
    pub codes: Vec<Vec<u32>>,
}

impl Table {
    pub fn new(columns: Vec<String>) -> Table {
        let n = columns.len();
        Table {
            columns,
            values: vec![Vec::new(); n],
            codes: vec![Vec::new(); n],
        }
    }

    pub fn rows(&self) -> usize {
        self.codes.first().map_or(0, Vec::len)
    }

    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Builds a table from rows of text; empty text is no value.
    pub fn from_rows<'a>(
        columns: Vec<String>,
        rows: impl IntoIterator<Item = Vec<&'a str>>,
    ) -> Table {
        let mut t = Table::new(columns);
        let mut dict: Vec<HashMap<String, u32>> = vec![HashMap::new(); t.width()];
        for row in rows {
            t.push_row(&row, &mut dict);
        }
        t
    }

    fn push_row(&mut self, row: &[&str], dict: &mut [HashMap<String, u32>]) {
        for (c, dict) in dict.iter_mut().enumerate() {
            let v = row.get(c).map_or("", |s| s.trim());
            let code = if v.is_empty() {
                EMPTY
            } else if let Some(code) = dict.get(v) {
                *code
            } else {
                let code = self.values[c].len() as u32;
                self.values[c].push(v.to_string());
                dict.insert(v.to_string(), code);
                code
            };
            self.codes[c].push(code);
        }
    }

    /// Reads a CSV (UTF-8, header row). `columns` picks and orders columns;
    /// by default all of them.
    pub fn from_csv(path: &Path, columns: Option<&[String]>) -> Result<Table, SynthError> {
        let err = |e: csv::Error| SynthError::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut r = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(path)
            .map_err(err)?;
        let headers: Vec<String> = r.headers().map_err(err)?.iter().map(String::from).collect();
        let picked: Vec<usize> = match columns {
            None => (0..headers.len()).collect(),
            Some(cols) => cols
                .iter()
                .map(|c| {
                    headers.iter().position(|h| h == c).ok_or_else(|| {
                        SynthError::Input(format!(
                            "{}: no column '{c}'; the file has {}",
                            path.display(),
                            headers.join(", ")
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let mut t = Table::new(picked.iter().map(|i| headers[*i].clone()).collect());
        let mut dict: Vec<HashMap<String, u32>> = vec![HashMap::new(); t.width()];
        let mut rec = csv::StringRecord::new();
        while r.read_record(&mut rec).map_err(err)? {
            let row: Vec<&str> = picked.iter().map(|i| rec.get(*i).unwrap_or("")).collect();
            t.push_row(&row, &mut dict);
        }
        if t.width() > crate::combos::MAX_COLUMNS {
            return Err(SynthError::Input(format!(
                "{} columns: at most {} are supported",
                t.width(),
                crate::combos::MAX_COLUMNS
            )));
        }
        if let Some((c, v)) = t
            .values
            .iter()
            .enumerate()
            .find(|(_, v)| v.len() > crate::combos::MAX_VALUES)
        {
            return Err(SynthError::Input(format!(
                "column '{}' has {} distinct values: at most {} are supported (is it an identifier or a free-text column? leave it out with --columns)",
                t.columns[c],
                v.len(),
                crate::combos::MAX_VALUES
            )));
        }
        Ok(t)
    }

    /// A new table with the same columns and dictionaries, from rows of
    /// codes (column-major).
    pub fn with_codes(&self, codes: Vec<Vec<u32>>) -> Table {
        Table {
            columns: self.columns.clone(),
            values: self.values.clone(),
            codes,
        }
    }

    pub fn write_csv(&self, path: &Path) -> Result<(), SynthError> {
        let err = |e: csv::Error| SynthError::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut w = csv::Writer::from_path(path).map_err(err)?;
        w.write_record(&self.columns).map_err(err)?;
        for r in 0..self.rows() {
            let row: Vec<&str> = (0..self.width())
                .map(|c| match self.codes[c][r] {
                    EMPTY => "",
                    code => self.values[c][code as usize].as_str(),
                })
                .collect();
            w.write_record(&row).map_err(err)?;
        }
        w.flush().map_err(|e| SynthError::Io {
            path: path.to_path_buf(),
            source: e,
        })
    }
}
