//! Exports shaped like those agencies send, none made by Corridor's
//! generator: a workbook with a cover sheet, a title and merged group
//! headers; Excel's "Unicode Text" (UTF-16, tabs, month-first dates);
//! a Windows-1252 CSV with Oracle dates, null values and records over two
//! lines; nested NDJSON with UTC timestamps; a JSON array with Unix times
//! and misspelt countries; typed Parquet with UTC timestamps; an NGO's case
//! file without ages; an OpenDocument spreadsheet with a notes sheet; a
//! legacy .xls workbook (BIFF8, written by xlwt). For
//! each, the binary drafts a mapping, the facts the file does not hold (the
//! reporting country or organisation) are filled in, the draft is checked
//! and the file ingested, and every row's outcome is asserted: stored at
//! its line, or quarantined with its reason.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn corridor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corridor"))
        .args(args)
        .output()
        .expect("corridor runs")
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What happened to each row of a file: its line → `stored` or the
/// quarantine reason.
type Outcomes = BTreeMap<u64, String>;

/// Drafts, fills in the reporting country, checks and ingests `file`;
/// returns the draft and every row's outcome.
fn draft_and_ingest(dir: &Path, file: &Path) -> (String, Outcomes) {
    draft_and_ingest_as(dir, file, "border_events", &[("reporting_country", "GTM")])
}

/// [`draft_and_ingest`] for a record type, filling in each of `facts`
/// (field, constant) where the draft left a line for it.
fn draft_and_ingest_as(
    dir: &Path,
    file: &Path,
    record_type: &str,
    facts: &[(&str, &str)],
) -> (String, Outcomes) {
    let s = |p: &Path| p.to_str().expect("utf-8").to_string();
    let draft = ok(&corridor(&[
        "mapping",
        "draft",
        &s(file),
        "--type",
        record_type,
    ]));
    toml::from_str::<toml::Value>(&draft).unwrap_or_else(|e| panic!("{e}\n{draft}"));
    let mut filled = draft.clone();
    for (field, value) in facts {
        let line = draft
            .lines()
            .find(|l| l.starts_with(&format!("# {field} = {{ constant = \"???\" }}")))
            .unwrap_or_else(|| panic!("no line to fill in for {field}:\n{draft}"));
        filled = filled.replace(line, &format!("{field} = {{ constant = \"{value}\" }}"));
    }
    let mapping = dir.join(format!(
        "{}.mapping.toml",
        file.file_stem().unwrap().to_str().unwrap()
    ));
    std::fs::write(&mapping, &filled).unwrap();
    let check = ok(&corridor(&["mapping", "check", &s(&mapping), &s(file)]));
    assert!(
        check.contains("the mapping fits the file"),
        "{check}\n{filled}"
    );
    let ws = dir.join(format!(
        "ws-{}",
        file.file_stem().unwrap().to_str().unwrap()
    ));
    ok(&corridor(&["init", &s(&ws)]));
    let report = ok(&corridor(&[
        "ingest",
        "--workspace",
        &s(&ws),
        "--mapping",
        &s(&mapping),
        &s(file),
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_str(&report).expect("json");
    let mut outcomes = Outcomes::new();
    let rows = stored_csv(
        &ws,
        &format!("SELECT source_row FROM {record_type} ORDER BY 1"),
    );
    for r in rows.lines().skip(1) {
        outcomes.insert(r.parse().expect("row"), "stored".into());
    }
    let mut folders = vec![ws.join("quarantine")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("quarantine") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let mut r = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_path(&path)
                .unwrap();
            for rec in r.records() {
                let rec = rec.unwrap();
                outcomes.insert(rec[0].parse().unwrap(), rec[2].to_string());
            }
        }
    }
    let r = &report[0]["report"];
    assert_eq!(
        r["stored"].as_u64().unwrap() + r["quarantined"].as_u64().unwrap(),
        r["rows_read"].as_u64().unwrap(),
        "nothing lost: {r}"
    );
    assert_eq!(
        outcomes.len() as u64,
        r["rows_read"].as_u64().unwrap(),
        "{outcomes:?}"
    );
    (filled, outcomes)
}

/// Every quarantine file of a workspace, one after the other.
fn quarantine_text(ws: &Path) -> String {
    let mut out = String::new();
    let mut folders = vec![ws.join("quarantine")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("quarantine") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// `corridor sql --format csv` of `query` over the workspace `ws`.
fn stored_csv(ws: &Path, query: &str) -> String {
    ok(&corridor(&[
        "sql",
        "--workspace",
        ws.to_str().expect("utf-8"),
        "--format",
        "csv",
        query,
    ]))
}

/// Asserts that the draft has each of `lines` (as a line's start).
fn has_lines(draft: &str, lines: &[&str]) {
    for line in lines {
        assert!(draft.contains(line), "missing `{line}` in\n{draft}");
    }
}

fn expect(pairs: &[(u64, &str)]) -> Outcomes {
    pairs.iter().map(|(r, o)| (*r, o.to_string())).collect()
}

#[test]
fn a_workbook_with_a_cover_sheet_a_title_and_merged_group_headers() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("movimientos_2024.xlsx");
    let mut book = Workbook::new();
    let cover = book.add_worksheet().set_name("Portada").unwrap();
    cover.write(0, 0, "Dirección General de Migración").unwrap();
    cover
        .write(1, 0, "Movimientos migratorios, enero de 2024")
        .unwrap();
    cover
        .write(3, 0, "Fuente: sistema de control migratorio")
        .unwrap();
    let sheet = book.add_worksheet().set_name("Datos").unwrap();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write(0, 0, "Reporte de movimientos migratorios — enero 2024")
        .unwrap();
    sheet.merge_range(2, 0, 2, 3, "Viajero", &bold).unwrap();
    sheet.merge_range(2, 4, 2, 6, "Movimiento", &bold).unwrap();
    for (c, h) in [
        "Número de Documento",
        "Nacionalidad",
        "Sexo",
        "Fecha de Nacimiento",
        "Tipo",
        "Fecha",
        "Puesto",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_with_format(3, c as u16, *h, &bold).unwrap();
    }
    let rows = [
        (
            "A1234567",
            "Honduras",
            "M",
            (1990, 5, 1),
            "E",
            "05/01/2024",
            "Agua Caliente",
        ),
        (
            "B7654321",
            "El Salvador",
            "F",
            (1985, 2, 3),
            "S",
            "25/01/2024",
            "La Hachadura",
        ),
        (
            "NULL",
            "Honduras",
            "F",
            (2001, 7, 9),
            "E",
            "06/01/2024",
            "Agua Caliente",
        ),
        (
            "C1111111",
            "Marte",
            "M",
            (1970, 1, 1),
            "E",
            "07/01/2024",
            "Tecún Umán",
        ),
        (
            "D2222222",
            "hondureña",
            "Masculino",
            (1999, 12, 31),
            "S",
            "31/01/2024",
            "Tecún Umán",
        ),
    ];
    for (i, (doc, nat, sex, (y, m, d), dir_, on, post)) in rows.iter().enumerate() {
        let r = 4 + i as u32;
        sheet.write(r, 0, *doc).unwrap();
        sheet.write(r, 1, *nat).unwrap();
        sheet.write(r, 2, *sex).unwrap();
        let born = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
        sheet
            .write_datetime_with_format(r, 3, &born, &date)
            .unwrap();
        sheet.write(r, 4, *dir_).unwrap();
        sheet.write(r, 5, *on).unwrap();
        sheet.write(r, 6, *post).unwrap();
    }
    book.save(&file).unwrap();

    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "sheet = \"Datos\"",
            "header_row = 4",
            "person_key = { pseudonymise = [\"Número de Documento\"]",
            "direction = { column = \"Tipo\" }",
            "event_date = { column = \"Fecha\", formats = [\"%d/%m/%Y\"] }",
            "date_of_birth = { column = \"Fecha de Nacimiento\" }",
            "citizenship = { column = \"Nacionalidad\" }",
        ],
    );
    assert_eq!(
        outcomes,
        expect(&[
            (5, "stored"),
            (6, "stored"),
            (7, "missing_required"),
            (8, "unknown_country"),
            (9, "stored"),
        ])
    );
}

#[test]
fn excel_unicode_text_utf16_tabs_and_month_first_dates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crossings.txt");
    let text = "Passport Number\tNationality\tGender\tCrossing Date\tMovement\tPort of Entry\r\n\
        X123456\tMexico\tFemale\t03/25/2024\tIN\tAirport\r\n\
        X223456\tGuatemala\tMale\t04/02/2024\tOUT\tAirport\r\n\
        X323456\tUSA\tMale\t12/31/2024\tIN\tLand\r\n\
        X423456\tCanada\tUnknown\t13/01/2024\tIN\tLand\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    std::fs::write(&file, bytes).unwrap();
    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "delimiter = \"\\t\"",
            "person_key = { pseudonymise = [\"Passport Number\"]",
            "direction = { column = \"Movement\" }",
            "event_date = { column = \"Crossing Date\", formats = [\"%m/%d/%Y\"] }",
        ],
    );
    // 13/01/2024 is not a month-first date: the draft took the format
    // nine in ten values read, and the row that breaks it is quarantined.
    assert_eq!(
        outcomes,
        expect(&[
            (2, "stored"),
            (3, "stored"),
            (4, "stored"),
            (5, "invalid_date"),
        ])
    );
}

#[test]
fn a_windows_1252_export_with_oracle_dates_and_null_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("movimientos.csv");
    let text = "NUMERO_DOCUMENTO;NACIONALIDAD;SEXO;FECHA_MOVIMIENTO;TIPO_MOVIMIENTO;DELEGACION\r\n\
        P001234;GUATEMALA;M;17-AGO-22;ENTRADA;PEÑAS BLANCAS\r\n\
        NULL;NICARAGUA;F;03-DIC-21;SALIDA;PEÑAS BLANCAS\r\n\
        P001236;COSTA RICA;F;01-ENE-22;SALIDA;\"PASO\r\nCANOAS\"\r\n\
        P001237;NICARAGUA;S/D;15-MAR-22;ENTRADA;S/D\r\n\
        P001238;PANAMÁ;F;28-FEB-22;ENTRADA;-\r\n\
        P001239;NICARAGUA;F;31-FEB-22;ENTRADA;\"LAS\r\nMANOS\"\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    std::fs::write(&file, &bytes).unwrap();
    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "encoding = \"windows-1252\"",
            "person_key = { pseudonymise = [\"NUMERO_DOCUMENTO\"]",
            "direction = { column = \"TIPO_MOVIMIENTO\" }",
            "event_date = { column = \"FECHA_MOVIMIENTO\", formats = [\"%d-%b-%y\"] }",
        ],
    );
    // A null document number is no person; a sex given as S/D is
    // missing; the record over two lines is numbered by its first.
    assert_eq!(
        outcomes,
        expect(&[
            (2, "stored"),
            (3, "missing_required"),
            (4, "stored"),
            (6, "missing_required"),
            (7, "stored"),
            (8, "invalid_date"),
        ])
    );
    // A quarantined record over two lines is found by its span.
    let quarantine = quarantine_text(&dir.path().join("ws-movimientos"));
    assert!(
        quarantine.contains("(the record spans lines 8–9)"),
        "{quarantine}"
    );
}

#[test]
fn nested_ndjson_with_utc_timestamps_and_a_misspelt_country() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cruces.ndjson");
    let row = |doc: &str, state: &str, nat: &str, res: &str, sex: &str, at: &str, mv: &str| {
        format!(
            "{{\"traveller\": {{\"document\": {{\"number\": \"{doc}\", \"state\": \"{state}\"}}, \"nationality\": \"{nat}\", \"residence\": \"{res}\", \"sex\": \"{sex}\"}}, \"crossedAt\": \"{at}\", \"movement\": \"{mv}\", \"post\": \"Tecun Uman\"}}\n"
        )
    };
    let text = [
        row(
            "G100001",
            "GTM",
            "Guatemala",
            "Guatemala",
            "F",
            "2022-03-06T03:00:00Z",
            "ENTRY",
        ),
        row(
            "H200002",
            "HND",
            "Hondruas",
            "Mexico",
            "M",
            "2022-03-06T10:15:00Z",
            "EXIT",
        ),
        row(
            "S300003",
            "SLV",
            "El Salvador",
            "Guatemala",
            "M",
            "2022-03-07T05:59:00.000+00:00",
            "ENTRY",
        ),
        row(
            "NULL",
            "GTM",
            "Guatemala",
            "Guatemala",
            "F",
            "2022-03-07T06:00:00Z",
            "EXIT",
        ),
        row(
            "M400004",
            "MEX",
            "Mexico",
            "Mexico",
            "F",
            "not a date",
            "ENTRY",
        ),
        row(
            "B500005",
            "BLZ",
            "Belize",
            "Belice",
            "M",
            "2022-03-07T12:00:00-06:00",
            "ENTRY",
        ),
        row(
            "C600006",
            "CRI",
            "Costa Rica",
            "Costa Rica",
            "F",
            "2022-03-07T12:00:00+01:00",
            "EXIT",
        ),
    ]
    .concat();
    std::fs::write(&file, text).unwrap();
    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "event_date = { column = \"crossedAt\", formats = [\"%Y-%m-%dT%H:%M:%S%.f\"] }",
            "event_time = { column = \"crossedAt\"",
            "border_post = { column = \"post\" }",
            "country_of_residence = { column = \"traveller.residence\" }",
            "document_issuing_state = { column = \"traveller.document.state\" }",
            "# time_zone = ",
            "citizenship = { column = \"traveller.nationality\", recode = { \"Hondruas\" = \"HND\" } }",
        ],
    );
    assert_eq!(
        outcomes,
        expect(&[
            (1, "stored"),
            (2, "stored"),
            (3, "stored"),
            (4, "missing_required"),
            (5, "invalid_date"),
            (6, "stored"),
            (7, "stored"),
        ])
    );
    // Stored on Guatemala's clock (UTC−6): 03:00 UTC on the 6th was the
    // evening of the 5th at the post.
    let ws = dir.path().join("ws-cruces");
    let rows = stored_csv(
        &ws,
        "SELECT source_row, event_date, event_time FROM border_events ORDER BY 1",
    );
    assert_eq!(
        rows,
        "source_row,event_date,event_time\n1,2022-03-05,21:00:00\n2,2022-03-06,04:15:00\n3,2022-03-06,23:59:00\n6,2022-03-07,12:00:00\n7,2022-03-07,05:00:00\n"
    );
}

#[test]
fn typed_parquet_with_utc_timestamps_and_a_multi_zone_reporting_country() {
    use arrow::array::{ArrayRef, Date32Array, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entries.parquet");
    // 2024-07-01 18:30 UTC, and 2024-01-15 04:00 UTC.
    let at = TimestampMillisecondArray::from(vec![
        Some(1_719_858_600_000),
        Some(1_705_291_200_000),
        None,
    ])
    .with_timezone("UTC");
    let batch = arrow::record_batch::RecordBatch::try_from_iter([
        (
            "passport_no",
            Arc::new(StringArray::from(vec!["A1", "A2", "A3"])) as ArrayRef,
        ),
        (
            "nationality",
            Arc::new(StringArray::from(vec!["MEX", "CAN", "GTM"])) as ArrayRef,
        ),
        (
            "gender",
            Arc::new(StringArray::from(vec!["F", "M", "F"])) as ArrayRef,
        ),
        ("crossing_date", Arc::new(at) as ArrayRef),
        (
            "direction",
            Arc::new(StringArray::from(vec!["IN", "OUT", "IN"])) as ArrayRef,
        ),
        (
            "date_of_birth",
            Arc::new(Date32Array::from(vec![Some(7000), None, Some(9000)])) as ArrayRef,
        ),
    ])
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&file).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let draft = ok(&corridor(&[
        "mapping",
        "draft",
        &s(&file),
        "--type",
        "border_events",
    ]));
    has_lines(
        &draft,
        &[
            "event_date = { column = \"crossing_date\"",
            "# time_zone = ",
        ],
    );
    let ws = dir.path().join("ws");
    ok(&corridor(&["init", &s(&ws)]));
    let ingest = |mapping: &str| {
        let m = dir.path().join("m.toml");
        std::fs::write(&m, mapping).unwrap();
        let out = corridor(&[
            "ingest",
            "--workspace",
            &s(&ws),
            "--mapping",
            &s(&m),
            &s(&file),
            "--replace",
        ]);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The United States keeps several clocks: without a declared zone the
    // timestamps are quarantined, saying what to declare.
    let usa = draft.replace(
        "# reporting_country = { constant = \"???\" }",
        "reporting_country = { constant = \"USA\" } #",
    );
    let (out, err) = ingest(&usa);
    // The third has no timestamp at all.
    assert!(
        out.contains("3 rows read: 0 stored, 3 quarantined"),
        "{out}{err}"
    );
    let q = std::fs::read_dir(ws.join("quarantine/entries"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let q = std::fs::read_to_string(q).unwrap();
    assert!(
        q.contains("time_zone") && q.contains("America/New_York"),
        "{q}"
    );
    // Declared, they are stored on that clock (summer and winter time).
    let declared = usa.replace(
        "[fields]",
        "time_zone = \"America/Los_Angeles\"\n\n[fields]",
    );
    let (out, err) = ingest(&declared);
    assert!(
        out.contains("3 rows read: 2 stored, 1 quarantined"),
        "{out}{err}"
    );
    let rows = stored_csv(
        &ws,
        "SELECT source_row, event_date, event_time FROM border_events ORDER BY 1",
    );
    assert!(
        rows == "source_row,event_date,event_time\n1,2024-07-01,11:30:00\n2,2024-01-14,20:00:00\n",
        "{rows}"
    );
}

#[test]
fn a_json_array_with_unix_times_and_misspelt_countries_gets_recodes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registros.json");
    // 1646533800 is 2022-03-06 02:30 UTC: the evening of the 5th in
    // Guatemala.
    let text = r#"[
 {"id_documento": "P-1", "pais_nacionalidad": "Guatamala", "genero": "Femenino", "fecha_unix": 1646533800, "tipo": "E"},
 {"id_documento": "P-2", "pais_nacionalidad": "Salvador", "genero": "Masculino", "fecha_unix": 1646620200, "tipo": "S"},
 {"id_documento": "P-3", "pais_nacionalidad": "Nicaragua", "genero": "Femenino", "fecha_unix": 1646706600, "tipo": "E"},
 {"id_documento": "P-4", "pais_nacionalidad": "Hondruas", "genero": "Otro", "fecha_unix": 1646793000, "tipo": "S"},
 {"id_documento": "P-5", "pais_nacionalidad": "Marte", "genero": "Femenino", "fecha_unix": 1646793000, "tipo": "S"}
]"#;
    std::fs::write(&file, text).unwrap();
    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "event_date = { column = \"fecha_unix\", formats = [\"epoch\"] }",
            "citizenship = { column = \"pais_nacionalidad\", recode = { \"Guatamala\" = \"GTM\", \"Hondruas\" = \"HND\" } }",
            "not in the country code list: 'Marte'",
            "recodes proposed for values not in the country code list, from the closest code: check them",
        ],
    );
    assert_eq!(
        outcomes,
        expect(&[
            (1, "stored"),
            (2, "stored"),
            (3, "stored"),
            (4, "stored"),
            (5, "unknown_country"),
        ])
    );
    let ws = dir.path().join("ws-registros");
    let rows = stored_csv(
        &ws,
        "SELECT source_row, event_date, citizenship, sex FROM border_events ORDER BY 1",
    );
    assert!(
        rows.starts_with("source_row,event_date,citizenship,sex\n1,2022-03-05,GTM,F\n"),
        "{rows}"
    );
    assert!(rows.contains("\n4,2022-03-08,HND,_O\n"), "{rows}");
}

#[test]
fn an_ngo_case_file_without_ages_and_with_a_trans_woman() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("casos.csv");
    let text = "Expediente,Fecha de registro,Sexo,Nacionalidad,Pais de explotacion,Tipo de trata\n\
        EXP-001,05/03/2021,Mujer,Guatemala,México,Explotación sexual\n\
        EXP-002,14/02/2022,Hombre,Honduras,Guatemala,Trabajo forzoso\n\
        EXP-003,01/08/2020,Mujer trans,El Salvador,Guatemala,Explotación sexual\n\
        EXP-004,,Mujer,Nicaragua,Costa Rica,Matrimonio forzado\n";
    std::fs::write(&file, text).unwrap();
    let (draft, outcomes) = draft_and_ingest_as(
        dir.path(),
        &file,
        "trafficking_cases",
        &[("reporting_organisation", "ONG Refugio")],
    );
    has_lines(
        &draft,
        &[
            "case_key = { pseudonymise = [\"Expediente\"]",
            "registration_year = { column = \"Fecha de registro\", formats = [\"%d/%m/%Y\"] }",
            "age_group = { constant = \"_U\" }",
        ],
    );
    // A case with no registration date has no year either.
    assert_eq!(
        outcomes,
        expect(&[
            (2, "stored"),
            (3, "stored"),
            (4, "stored"),
            (5, "missing_required"),
        ])
    );
    let ws = dir.path().join("ws-casos");
    let rows = stored_csv(
        &ws,
        "SELECT source_row, registration_year, sex, age_group, exploitation_types FROM trafficking_cases ORDER BY 1",
    );
    assert_eq!(
        rows,
        "source_row,registration_year,sex,age_group,exploitation_types\n2,2021,F,_U,sexual\n3,2022,M,_U,forced_labour\n4,2020,_O,_U,sexual\n"
    );
}

/// An OpenDocument spreadsheet as LibreOffice writes one: a zip whose
/// `content.xml` holds the sheets, typed cells (dates as
/// `office:date-value`), a title row and a blank row over the header.
/// A sheet's name and rows of (cell type, text): `""` empty, `"date"`,
/// `"float"`, else a string.
type OdsSheet<'a> = (&'a str, Vec<Vec<(&'a str, &'a str)>>);

fn write_ods(path: &Path, sheets: &[OdsSheet<'_>]) {
    use std::io::Write;
    let mut tables = String::new();
    for (name, rows) in sheets {
        tables.push_str(&format!("<table:table table:name=\"{name}\">"));
        for row in rows {
            tables.push_str("<table:table-row>");
            for (kind, v) in row {
                tables.push_str(&match *kind {
                    "" => "<table:table-cell/>".to_string(),
                    "date" => format!(
                        "<table:table-cell office:value-type=\"date\" office:date-value=\"{v}\"><text:p>{v}</text:p></table:table-cell>"
                    ),
                    "float" => format!(
                        "<table:table-cell office:value-type=\"float\" office:value=\"{v}\"><text:p>{v}</text:p></table:table-cell>"
                    ),
                    _ => format!(
                        "<table:table-cell office:value-type=\"string\"><text:p>{v}</text:p></table:table-cell>"
                    ),
                });
            }
            tables.push_str("</table:table-row>");
        }
        tables.push_str("</table:table>");
    }
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\"><office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    );
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\"><manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/><manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>";
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default();
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", deflated).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    zip.start_file("content.xml", deflated).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.finish().unwrap();
}

#[test]
fn an_opendocument_spreadsheet_with_notes_a_title_and_typed_dates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entradas.ods");
    let t = |v: &'static str| ("string", v);
    let d = |v: &'static str| ("date", v);
    let notes = vec![
        vec![t("Dirección General de Migración")],
        vec![t("Registro de entradas y salidas, enero de 2024")],
        vec![t("Fuente: sistema de control migratorio")],
    ];
    let data = vec![
        vec![t("Registro de entradas y salidas — enero 2024")],
        vec![("", "")],
        vec![
            t("Pasaporte"),
            t("Nacionalidad"),
            t("Sexo"),
            t("Fecha"),
            t("Movimiento"),
            t("Días autorizados"),
        ],
        vec![
            t("A100"),
            t("Guatemala"),
            t("F"),
            d("2024-01-05"),
            t("Entrada"),
            ("float", "30"),
        ],
        vec![
            t("A200"),
            t("Honduras"),
            t("M"),
            d("2024-01-06"),
            t("Salida"),
            ("", ""),
        ],
        vec![
            t("A300"),
            t("Marte"),
            t("F"),
            d("2024-01-07"),
            t("Entrada"),
            ("float", "90"),
        ],
        vec![
            ("", ""),
            t("El Salvador"),
            t("M"),
            d("2024-01-08"),
            t("Entrada"),
            ("float", "30"),
        ],
        vec![
            t("A500"),
            t("Nicaragua"),
            t("F"),
            d("2024-01-09"),
            t("Entrada"),
            ("float", "30"),
        ],
    ];
    write_ods(&file, &[("Notas", notes), ("Movimientos", data)]);
    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "sheet = \"Movimientos\"",
            "header_row = 3",
            "person_key = { pseudonymise = [\"Pasaporte\"]",
            "direction = { column = \"Movimiento\" }",
            "event_date = { column = \"Fecha\" }",
            "permitted_stay_days = { column = \"Días autorizados\" }",
        ],
    );
    assert_eq!(
        outcomes,
        expect(&[
            (4, "stored"),
            (5, "stored"),
            (6, "unknown_country"),
            (7, "missing_required"),
            (8, "stored"),
        ])
    );
}

#[test]
fn a_legacy_xls_workbook_with_a_title_and_typed_dates() {
    // Written by xlwt, as Excel 97-2003 writes BIFF8; skipped where no
    // Python with xlwt is set (CI has one: see .ci/run).
    let Ok(python) = std::env::var("CORRIDOR_PYTHON") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set CORRIDOR_PYTHON to a Python with xlwt (see .ci/run)"
        );
        eprintln!("CORRIDOR_PYTHON not set: skipping the .xls export");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("salidas.xls");
    let script = r#"
import sys, datetime, xlwt
wb = xlwt.Workbook(encoding="cp1252")
ws = wb.add_sheet("Salidas")
date = xlwt.easyxf(num_format_str="DD/MM/YYYY")
ws.write(0, 0, "Informe de salidas por puesto")
head = ["No. Pasaporte", "Nacionalidad", "Sexo", "Fecha de salida", "Movimiento", "Puesto"]
for j, h in enumerate(head):
    ws.write(2, j, h)
rows = [
    ("B-01", "Nicaragua", "Femenino", datetime.date(2023, 5, 2), "Salida", "Peñas Blancas"),
    ("B-02", "Costa Rica", "Masculino", datetime.date(2023, 5, 3), "Salida", "Peñas Blancas"),
    ("B-03", "Panamá", "Masculino", None, "Salida", "Paso Canoas"),
    ("B-04", "Guatemala", "Mujer trans", datetime.date(2023, 5, 4), "Salida", "Paso Canoas"),
]
for i, r in enumerate(rows, start=3):
    for j, v in enumerate(r):
        if isinstance(v, datetime.date):
            ws.write(i, j, v, date)
        elif v is not None:
            ws.write(i, j, v)
wb.save(sys.argv[1])
"#;
    let out = Command::new(&python)
        .args(["-c", script, file.to_str().unwrap()])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (draft, outcomes) = draft_and_ingest(dir.path(), &file);
    has_lines(
        &draft,
        &[
            "header_row = 3",
            "person_key = { pseudonymise = [\"No. Pasaporte\"]",
            "event_date = { column = \"Fecha de salida\"",
            "border_post = { column = \"Puesto\" }",
        ],
    );
    assert_eq!(
        outcomes,
        expect(&[
            (4, "stored"),
            (5, "stored"),
            (6, "missing_required"),
            (7, "stored"),
        ])
    );
    let rows = stored_csv(
        &dir.path().join("ws-salidas"),
        "SELECT source_row, event_date, sex, border_post FROM border_events ORDER BY 1",
    );
    assert_eq!(
        rows,
        "source_row,event_date,sex,border_post\n4,2023-05-02,F,Peñas Blancas\n5,2023-05-03,M,Peñas Blancas\n7,2023-05-04,_O,Paso Canoas\n"
    );
}
