//! JSON arrays and NDJSON, nested objects flattened to dotted column names.

use super::text::text_reader;
use super::*;

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, RawValue)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), RawValue::Empty)),
        Value::Bool(b) => out.push((prefix.to_string(), RawValue::Bool(*b))),
        Value::Number(n) => out.push((
            prefix.to_string(),
            n.as_f64().map_or(RawValue::Empty, RawValue::Number),
        )),
        Value::String(s) if s.is_empty() => out.push((prefix.to_string(), RawValue::Empty)),
        Value::String(s) => out.push((prefix.to_string(), RawValue::Text(s.clone()))),
        // A list in one field: joined with ';', the default list separator.
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.push((prefix.to_string(), RawValue::Text(parts.join(";"))));
        }
    }
}

/// Places the flattened values of one object by header, adding headers for
/// keys not seen before.
fn place(headers: &mut Vec<String>, flat: Vec<(String, RawValue)>) -> Vec<RawValue> {
    let mut values = vec![RawValue::Empty; headers.len()];
    for (k, v) in flat {
        match headers.iter().position(|h| *h == k) {
            Some(i) => values[i] = v,
            None => {
                headers.push(k);
                values.push(v);
            }
        }
    }
    values
}

pub struct NdjsonRows {
    path: PathBuf,
    digest: FileDigest,
    lines: std::io::Lines<BufReader<Box<dyn Read + Send>>>,
    line: u64,
    headers: Vec<String>,
    pending: std::collections::VecDeque<RawRow>,
}

impl NdjsonRows {
    pub fn open(path: &Path, wanted: &[&str]) -> Result<NdjsonRows, IngestError> {
        let (input, _, _, digest) = text_reader(path, Some("utf-8"))?;
        let mut rows = NdjsonRows {
            digest,
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 20, input).lines(),
            line: 0,
            headers: wanted.iter().map(|w| w.to_string()).collect(),
            pending: Default::default(),
        };
        // Headers come from the mapping and the first objects.
        for _ in 0..50 {
            match rows.read() {
                Some(Ok(row)) => rows.pending.push_back(row),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(rows)
    }

    fn read(&mut self) -> Option<Result<RawRow, IngestError>> {
        loop {
            let line = match self.lines.next()? {
                Ok(l) => l,
                Err(e) => {
                    return Some(Err(IngestError::Encoding {
                        path: self.path.clone(),
                        line: self.line + 1,
                        message: format!("{e}: NDJSON must be UTF-8"),
                    }));
                }
            };
            self.line += 1;
            if line.trim().is_empty() {
                continue;
            }
            let number = self.line;
            return Some(Ok(match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(serde_json::Value::Object(map)) => {
                    let mut flat = Vec::new();
                    flatten("", &serde_json::Value::Object(map), &mut flat);
                    RawRow {
                        number,
                        values: place(&mut self.headers, flat),
                        problem: None,
                    }
                }
                Ok(_) => RawRow {
                    number,
                    values: Vec::new(),
                    problem: Some(RowProblem::InvalidJson("not a JSON object".into())),
                },
                Err(e) => RawRow {
                    number,
                    values: Vec::new(),
                    problem: Some(RowProblem::InvalidJson(e.to_string())),
                },
            }));
        }
    }
}

impl RowReader for NdjsonRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        if let Some(row) = self.pending.pop_front() {
            return Some(Ok(row));
        }
        self.read()
    }

    fn file_digest(&self) -> Option<FileDigest> {
        Some(self.digest.clone())
    }
}

/// A top-level JSON array of objects, parsed element by element on a
/// helper thread so that memory stays bounded.
pub struct JsonArrayRows {
    rx: std::sync::mpsc::Receiver<Result<(u64, serde_json::Value), String>>,
    path: PathBuf,
    headers: Vec<String>,
    pending: std::collections::VecDeque<RawRow>,
}

struct ElementVisitor<'a>(
    &'a std::sync::mpsc::SyncSender<Result<(u64, serde_json::Value), String>>,
);

impl<'de> serde::de::Visitor<'de> for ElementVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            n += 1;
            if self.0.send(Ok((n, v))).is_err() {
                break;
            }
        }
        Ok(())
    }
}

impl JsonArrayRows {
    pub fn open(path: &Path, wanted: &[&str]) -> Result<JsonArrayRows, IngestError> {
        let (input, _, _, _) = text_reader(path, Some("utf-8"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        std::thread::spawn(move || {
            use serde::Deserializer;
            let mut de = serde_json::Deserializer::from_reader(BufReader::new(input));
            if let Err(e) = (&mut de).deserialize_seq(ElementVisitor(&tx)) {
                let _ = tx.send(Err(e.to_string()));
            }
        });
        let mut rows = JsonArrayRows {
            rx,
            path: path.to_path_buf(),
            headers: wanted.iter().map(|w| w.to_string()).collect(),
            pending: Default::default(),
        };
        for _ in 0..50 {
            match rows.read() {
                Some(Ok(row)) => rows.pending.push_back(row),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(rows)
    }

    fn read(&mut self) -> Option<Result<RawRow, IngestError>> {
        match self.rx.recv().ok()? {
            Ok((number, serde_json::Value::Object(map))) => {
                let mut flat = Vec::new();
                flatten("", &serde_json::Value::Object(map), &mut flat);
                Some(Ok(RawRow {
                    number,
                    values: place(&mut self.headers, flat),
                    problem: None,
                }))
            }
            Ok((number, _)) => Some(Ok(RawRow {
                number,
                values: Vec::new(),
                problem: Some(RowProblem::InvalidJson("not a JSON object".into())),
            })),
            Err(message) => Some(Err(IngestError::Unreadable {
                path: self.path.clone(),
                message: format!("invalid JSON: {message}"),
            })),
        }
    }
}

impl RowReader for JsonArrayRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        if let Some(row) = self.pending.pop_front() {
            return Some(Ok(row));
        }
        self.read()
    }
}

// ------------------------------------------------------------------ Parquet
