//! Excel workbooks (xlsx streamed, xls and ods read whole) through calamine.

use super::*;

pub struct ExcelRows {
    headers: Vec<String>,
    rows: ExcelSource,
    detected: Vec<(String, String)>,
    path: PathBuf,
}

/// Rows of an .xlsx sheet are streamed cell by cell from a helper thread
/// (the cell reader borrows its workbook), through a bounded channel, so
/// memory stays bounded whatever the sheet's size; .xls and .ods sheets,
/// which calamine only reads whole, are read as one range.
enum ExcelSource {
    Read(std::vec::IntoIter<RawRow>),
    Streamed(std::sync::mpsc::Receiver<Result<RawRow, String>>),
}

/// First message of the streaming thread: the header row and the sheet, or
/// why there is none.
type ExcelHead = Result<(Vec<String>, String), String>;

fn excel_value(d: &calamine::Data) -> RawValue {
    use calamine::Data;
    match d {
        Data::Empty => RawValue::Empty,
        Data::String(s) if s.trim().is_empty() => RawValue::Empty,
        Data::String(s) => RawValue::Text(s.clone()),
        Data::Float(f) => RawValue::Number(*f),
        Data::Int(i) => RawValue::Number(*i as f64),
        Data::Bool(b) => RawValue::Bool(*b),
        Data::DateTime(dt) => dt
            .as_datetime()
            .map_or(RawValue::Number(dt.as_f64()), RawValue::DateTime),
        Data::DateTimeIso(s) | Data::DurationIso(s) => RawValue::Text(s.clone()),
        Data::Error(e) => RawValue::Text(format!("#{e:?}")),
    }
}

/// The sheets of a workbook, in order.
pub fn sheet_names(path: &Path) -> Result<Vec<String>, IngestError> {
    let book = calamine::open_workbook_auto(path).map_err(|e| IngestError::Unreadable {
        path: path.to_path_buf(),
        message: not_a_workbook(path, &e),
    })?;
    Ok(calamine::Reader::sheet_names(&book))
}

impl ExcelRows {
    pub fn open(path: &Path, opts: &ReaderOptions) -> Result<ExcelRows, IngestError> {
        let unreadable = |message: String| IngestError::Unreadable {
            path: path.to_path_buf(),
            message,
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ext == "xlsx" || ext == "xlsm" {
            let (head_tx, head_rx) = std::sync::mpsc::sync_channel::<ExcelHead>(1);
            let (tx, rx) = std::sync::mpsc::sync_channel(1024);
            let (file, sheet, header_row) = (
                path.to_path_buf(),
                opts.sheet.clone(),
                opts.header_row.unwrap_or(1).max(1),
            );
            spawn_guarded(head_tx, tx, move |head, rows| {
                stream_xlsx(&file, sheet, header_row, head, rows)
            });
            let (headers, sheet) = head_rx
                .recv()
                .unwrap_or_else(|_| Err("the workbook reader stopped".into()))
                .map_err(unreadable)?;
            return Ok(ExcelRows {
                headers,
                rows: ExcelSource::Streamed(rx),
                detected: vec![("sheet".into(), sheet)],
                path: path.to_path_buf(),
            });
        }
        // calamine reads .xls and .ods on this thread: a panic on a file
        // it does not expect becomes this file's error, not the process's end.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::read_whole(path, opts)
        }))
        .unwrap_or_else(|_| Err(unreadable(READER_FAILED.into())))
    }

    fn read_whole(path: &Path, opts: &ReaderOptions) -> Result<ExcelRows, IngestError> {
        use calamine::Reader;
        let unreadable = |message: String| IngestError::Unreadable {
            path: path.to_path_buf(),
            message,
        };
        let mut book =
            calamine::open_workbook_auto(path).map_err(|e| unreadable(not_a_workbook(path, &e)))?;
        let names = book.sheet_names();
        let sheet = match &opts.sheet {
            Some(s) => {
                if !names.contains(s) {
                    return Err(unreadable(no_such_sheet(s, &names)));
                }
                s.clone()
            }
            None => names
                .first()
                .cloned()
                .ok_or_else(|| unreadable("the workbook has no sheets".into()))?,
        };
        let range = book.worksheet_range(&sheet).map_err(|e| {
            unreadable(format!(
                "sheet {} cannot be read: {e}",
                for_display(&sheet, SHEET_CHARS)
            ))
        })?;
        let first_row = range.start().map_or(0, |(r, _)| r as u64) + 1;
        let first_col = range.start().map_or(0, |(_, c)| c as usize);
        let header_row = opts.header_row.unwrap_or(1).max(1);
        let mut headers = Vec::new();
        let mut rows = Vec::new();
        for (i, row) in range.rows().enumerate() {
            let number = first_row + i as u64;
            if number < header_row {
                continue;
            }
            let mut values: Vec<RawValue> = std::iter::repeat_n(RawValue::Empty, first_col)
                .chain(row.iter().map(excel_value))
                .collect();
            if number == header_row {
                headers = values.iter().map(|v| v.text().trim().to_string()).collect();
                continue;
            }
            if values.iter().all(RawValue::is_empty) {
                continue;
            }
            values.resize(headers.len().max(values.len()), RawValue::Empty);
            values.truncate(headers.len());
            rows.push(RawRow {
                number,
                values,
                problem: None,
            });
        }
        if headers.is_empty() {
            return Err(unreadable(format!(
                "sheet {} has no header at row {header_row}",
                for_display(&sheet, SHEET_CHARS)
            )));
        }
        Ok(ExcelRows {
            headers,
            rows: ExcelSource::Read(rows.into_iter()),
            detected: vec![("sheet".into(), sheet)],
            path: path.to_path_buf(),
        })
    }
}

/// Why a workbook could not be read when calamine itself failed on it.
const READER_FAILED: &str = "the workbook reader failed on this file (a structure it does not handle); \
     open it in Excel or LibreOffice and save it again, or export the sheet as CSV";

/// Runs `stream` on its own thread. A panic there (calamine on a file it
/// does not expect) is sent on as an error: on `head` if the header has not
/// gone yet, and on `rows`, so that a stream cut short is never taken for
/// the end of the sheet and no row is silently lost.
fn spawn_guarded(
    head: std::sync::mpsc::SyncSender<ExcelHead>,
    rows: std::sync::mpsc::SyncSender<Result<RawRow, String>>,
    stream: impl FnOnce(
        &std::sync::mpsc::SyncSender<ExcelHead>,
        &std::sync::mpsc::SyncSender<Result<RawRow, String>>,
    ) + Send
    + 'static,
) {
    std::thread::spawn(move || {
        let run = std::panic::AssertUnwindSafe(|| stream(&head, &rows));
        if std::panic::catch_unwind(run).is_err() {
            let _ = head.try_send(Err(READER_FAILED.into()));
            let _ = rows.send(Err(READER_FAILED.into()));
        }
    });
}

/// The streaming side of [`ExcelRows`]: sends the header row (or why there
/// is none) on `head`, then every non-empty row below it on `rows`, in
/// order. Stops early when the reader is dropped.
fn stream_xlsx(
    path: &Path,
    sheet: Option<String>,
    header_row: u64,
    head: &std::sync::mpsc::SyncSender<ExcelHead>,
    rows: &std::sync::mpsc::SyncSender<Result<RawRow, String>>,
) {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = match calamine::open_workbook(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = head.send(Err(not_a_workbook(path, &e)));
            return;
        }
    };
    let names = book.sheet_names();
    let sheet = match sheet {
        Some(s) if !names.contains(&s) => {
            let _ = head.send(Err(no_such_sheet(&s, &names)));
            return;
        }
        Some(s) => s,
        None => match names.first() {
            Some(s) => s.clone(),
            None => {
                let _ = head.send(Err("the workbook has no sheets".into()));
                return;
            }
        },
    };
    let shown = for_display(&sheet, SHEET_CHARS).to_string();
    let mut cells = match book.worksheet_cells_reader(&sheet) {
        Ok(c) => c,
        Err(e) => {
            let _ = head.send(Err(format!("sheet {shown} cannot be read: {e}")));
            return;
        }
    };
    let mut headers: Option<Vec<String>> = None;
    let mut current: Option<(u64, Vec<RawValue>)> = None;
    // Hands a finished row on; false when the reader has gone away.
    let finish = |number: u64, mut values: Vec<RawValue>, headers: &mut Option<Vec<String>>| {
        if number < header_row {
            return true;
        }
        match headers {
            None => {
                if number == header_row {
                    *headers = Some(values.iter().map(|v| v.text().trim().to_string()).collect());
                }
                // Rows before a header row that is missing are skipped;
                // the missing header is reported below.
                true
            }
            Some(h) => {
                if values.iter().all(RawValue::is_empty) {
                    return true;
                }
                values.resize(h.len().max(values.len()), RawValue::Empty);
                values.truncate(h.len());
                rows.send(Ok(RawRow {
                    number,
                    values,
                    problem: None,
                }))
                .is_ok()
            }
        }
    };
    let mut head_sent = false;
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => {
                let message = format!("sheet {shown} cannot be read: {e}");
                if head_sent {
                    let _ = rows.send(Err(message));
                } else {
                    let _ = head.send(Err(message));
                }
                return;
            }
        };
        let (r, c) = cell.get_position();
        let number = u64::from(r) + 1;
        if current.as_ref().is_some_and(|(n, _)| *n != number) {
            if let Some((n, values)) = current.take()
                && !finish(n, values, &mut headers)
            {
                return;
            }
            if !head_sent && let Some(h) = &headers {
                head_sent = true;
                if head.send(Ok((h.clone(), sheet.clone()))).is_err() {
                    return;
                }
            }
        }
        let values = &mut current.get_or_insert_with(|| (number, Vec::new())).1;
        let c = c as usize;
        if values.len() <= c {
            values.resize(c + 1, RawValue::Empty);
        }
        values[c] = excel_value(&calamine::Data::from(cell.get_value().clone()));
    }
    if let Some((n, values)) = current.take()
        && !finish(n, values, &mut headers)
    {
        return;
    }
    if !head_sent {
        let _ = head.send(match headers {
            Some(h) => Ok((h, sheet)),
            None => Err(format!("sheet {shown} has no header at row {header_row}")),
        });
    }
}

/// Characters of a sheet's name shown in a message.
const SHEET_CHARS: usize = 64;

fn no_such_sheet(sheet: &str, names: &[String]) -> String {
    format!(
        "the workbook has no sheet {}; its sheets are: {}",
        for_display(sheet, SHEET_CHARS),
        list_for_display(names.iter().map(String::as_str), 40, SHEET_CHARS)
    )
}

/// Why a file calamine cannot open is not a workbook, and what to do,
/// from its first bytes: a CSV renamed .xlsx and an .xlsx cut short both
/// fail with the same "Zip error … EOCD".
fn not_a_workbook(path: &Path, error: &dyn std::fmt::Display) -> String {
    let error = for_display(&error.to_string(), 300).bare().to_string();
    let mut head = Vec::with_capacity(4096);
    if File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .is_err()
    {
        return format!("not a readable Excel or OpenDocument workbook: {error}");
    }
    if head.is_empty() {
        return "the file is empty: export it again".into();
    }
    // Every zip archive (xlsx, xlsm, ods) starts with a local file header.
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return format!(
            "the workbook is damaged or incomplete: it starts as an Excel workbook (a zip archive) but cannot be read ({error}). It was probably cut short while it was copied, downloaded or written: copy or export it again"
        );
    }
    // The compound-file signature of .xls (and of encrypted workbooks).
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return format!(
            "the file is an old-format (.xls) or password-protected workbook that cannot be read as it is ({error}): name it .xls if it is one, or open it in Excel and save it as .xlsx without a password"
        );
    }
    let (text, utf16) = match head.as_slice() {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => (Vec::new(), true),
        bytes => (
            bytes
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(bytes)
                .to_vec(),
            false,
        ),
    };
    let is_text = utf16
        || !text
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C));
    if !is_text {
        return format!("not a readable Excel or OpenDocument workbook: {error}");
    }
    if text.trim_ascii_start().starts_with(b"<") {
        return "not an Excel file: it is an HTML or XML page (some systems save web tables with an Excel name). Open it in Excel and save it as .xlsx, or export the data as CSV".into();
    }
    let first_line = if utf16 {
        String::new()
    } else {
        let line = text.split(|&b| b == b'\n').next().unwrap_or(&[]);
        format!(
            " (its first line: {})",
            for_display(String::from_utf8_lossy(line).trim_end(), 80)
        )
    };
    format!(
        "not an Excel file: it is text, and looks like CSV{first_line}. Set reader.format = \"csv\" in the mapping, or rename the file to .csv"
    )
}

impl RowReader for ExcelRows {
    fn headers(&self) -> &[String] {
        &self.headers
    }

    fn next_row(&mut self) -> Option<Result<RawRow, IngestError>> {
        match &mut self.rows {
            ExcelSource::Read(rows) => rows.next().map(Ok),
            ExcelSource::Streamed(rx) => rx.recv().ok().map(|r| {
                r.map_err(|message| IngestError::Unreadable {
                    path: self.path.clone(),
                    message,
                })
            }),
        }
    }

    fn detected(&self) -> Vec<(String, String)> {
        self.detected.clone()
    }
}

// --------------------------------------------------------------------- JSON

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    fn row(number: u64) -> RawRow {
        RawRow {
            number,
            values: vec![RawValue::Text("x".into())],
            problem: None,
        }
    }

    #[test]
    fn a_reader_that_panics_mid_sheet_ends_in_an_error_not_a_short_sheet() {
        let (head_tx, head_rx) = sync_channel::<ExcelHead>(1);
        let (tx, rx) = sync_channel(4);
        spawn_guarded(head_tx, tx, |head, rows| {
            let _ = head.send(Ok((vec!["a".into()], "S".into())));
            let _ = rows.send(Ok(row(2)));
            panic!("a reader fault");
        });
        assert!(head_rx.recv().expect("a head").is_ok());
        assert_eq!(rx.recv().expect("a row").expect("row 2").number, 2);
        let err = rx.recv().expect("not the end").expect_err("an error");
        assert!(err.contains("save it again"), "{err}");
        assert!(rx.recv().is_err(), "then the end");
    }

    #[test]
    fn a_reader_that_panics_before_the_header_is_an_error_at_open() {
        let (head_tx, head_rx) = sync_channel::<ExcelHead>(1);
        let (tx, _rx) = sync_channel(4);
        spawn_guarded(head_tx, tx, |_, _| panic!("a reader fault"));
        let err = head_rx.recv().expect("a head").expect_err("an error");
        assert!(err.contains("workbook reader failed"), "{err}");
    }
}
