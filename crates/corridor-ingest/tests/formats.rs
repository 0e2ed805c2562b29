//! The same records in every format a source can send: CSV (TSV, legacy
//! encodings), JSON arrays, NDJSON and Parquet all map to the same values.

use std::sync::Arc;

use arrow::array::{Array, StringArray};
use corridor_ingest::{Mapping, MemorySink, Pseudonymiser, Submission, ingest};

const MAPPING: &str = r#"
record_type = "returns"
[reader]
date_formats = ["%d/%m/%Y", "%Y-%m-%d"]
[fields]
person_key = { pseudonymise = ["doc"], with = ["citizenship"] }
return_type = { column = "kind", recode = { "D" = "forced" } }
return_date = { column = "date" }
host_country = { column = "from" }
destination_country = { column = "to" }
reporting_country = { column = "to" }
reporting_organisation = { columns = ["agency", "office"], join = " / " }
citizenship = { column = "nat" }
sex = { column = "sex" }
age = { column = "age" }
"#;

fn run(file: &std::path::Path, mapping: &str) -> (corridor_ingest::Report, MemorySink) {
    let mapping = Mapping::parse(mapping).expect("mapping");
    let key = Pseudonymiser::new(vec![1; 32]);
    let mut sink = MemorySink::default();
    let sub = Submission {
        scratch: None,
        file,
        source_id: "s",
        submission_id: "t",
    };
    let report = ingest(&mapping, &sub, &key, &mut sink, &mut |_| {}).expect("ingests");
    (report, sink)
}

fn column(sink: &MemorySink, name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in &sink.batches {
        let col = arrow::compute::cast(
            b.column_by_name(name).expect("column"),
            &arrow::datatypes::DataType::Utf8,
        )
        .expect("cast");
        let col = col.as_any().downcast_ref::<StringArray>().expect("strings");
        out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i).to_string())));
    }
    out
}

#[test]
fn every_format_gives_the_same_records() {
    let dir = tempfile::tempdir().expect("dir");
    let csv = "doc,kind,date,from,to,agency,office,nat,sex,age\nA-1,D,05/04/2023,Estados Unidos,Honduras,CRM,San Pedro,hondureño,Masculino,34\nB 2,voluntary,2023-12-01,México,Guatemala,IOM,,GT,F,\n";
    let csv_path = dir.path().join("r.csv");
    std::fs::write(&csv_path, csv).expect("csv");
    let tsv_path = dir.path().join("r.tsv");
    std::fs::write(&tsv_path, csv.replace(',', "\t")).expect("tsv");
    let json = r#"[{"doc":"A-1","kind":"D","date":"05/04/2023","from":"Estados Unidos","to":"Honduras","agency":"CRM","office":"San Pedro","nat":"hondureño","sex":"Masculino","age":34},
                  {"doc":"B 2","kind":"voluntary","date":"2023-12-01","from":"México","to":"Guatemala","agency":"IOM","office":null,"nat":"GT","sex":"F","age":null}]"#;
    let json_path = dir.path().join("r.json");
    std::fs::write(&json_path, json).expect("json");
    let ndjson_path = dir.path().join("r.ndjson");
    let values: serde_json::Value = serde_json::from_str(json).expect("valid");
    let lines: Vec<String> = values
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.to_string())
        .collect();
    std::fs::write(&ndjson_path, lines.join("\n") + "\n").expect("ndjson");
    // Parquet, written as another system would.
    let parquet_path = dir.path().join("r.parquet");
    {
        let names = [
            "doc", "kind", "date", "from", "to", "agency", "office", "nat", "sex", "age",
        ];
        let rows: Vec<Vec<Option<&str>>> = vec![
            vec![
                Some("A-1"),
                Some("D"),
                Some("05/04/2023"),
                Some("Estados Unidos"),
                Some("Honduras"),
                Some("CRM"),
                Some("San Pedro"),
                Some("hondureño"),
                Some("Masculino"),
                Some("34"),
            ],
            vec![
                Some("B 2"),
                Some("voluntary"),
                Some("2023-12-01"),
                Some("México"),
                Some("Guatemala"),
                Some("IOM"),
                None,
                Some("GT"),
                Some("F"),
                None,
            ],
        ];
        let schema = Arc::new(arrow::datatypes::Schema::new(
            names
                .iter()
                .map(|n| arrow::datatypes::Field::new(*n, arrow::datatypes::DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let columns: Vec<Arc<dyn Array>> = (0..names.len())
            .map(|c| {
                Arc::new(StringArray::from(
                    rows.iter().map(|r| r[c]).collect::<Vec<_>>(),
                )) as Arc<dyn Array>
            })
            .collect();
        let batch =
            arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).expect("batch");
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&parquet_path).expect("file"),
            schema,
            None,
        )
        .expect("writer");
        w.write(&batch).expect("write");
        w.close().expect("close");
    }
    // Windows-1252, detected.
    let latin_path = dir.path().join("r1252.csv");
    std::fs::write(&latin_path, encoding_rs::WINDOWS_1252.encode(csv).0).expect("1252");

    let mut reference = None;
    for path in [
        &csv_path,
        &tsv_path,
        &json_path,
        &ndjson_path,
        &parquet_path,
        &latin_path,
    ] {
        let (report, sink) = run(path, MAPPING);
        assert_eq!(
            (report.rows_read, report.stored),
            (2, 2),
            "{}: {:?}",
            path.display(),
            sink.quarantined
        );
        let got: Vec<Vec<Option<String>>> = [
            "person_key",
            "return_type",
            "return_date",
            "host_country",
            "destination_country",
            "reporting_organisation",
            "citizenship",
            "sex",
            "age",
        ]
        .iter()
        .map(|c| column(&sink, c))
        .collect();
        assert_eq!(
            got[1],
            vec![Some("forced".into()), Some("voluntary".into())]
        );
        assert_eq!(
            got[2],
            vec![Some("2023-04-05".into()), Some("2023-12-01".into())]
        );
        assert_eq!(got[3], vec![Some("USA".into()), Some("MEX".into())]);
        assert_eq!(
            got[5],
            vec![Some("CRM / San Pedro".into()), Some("IOM".into())],
            "columns are joined"
        );
        assert_eq!(got[6], vec![Some("HND".into()), Some("GTM".into())]);
        assert_eq!(got[7], vec![Some("M".into()), Some("F".into())]);
        assert_eq!(got[8], vec![Some("34".into()), None]);
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(r, &got, "{} maps differently", path.display()),
        }
    }
}

#[test]
fn a_json_line_that_is_not_json_is_quarantined_not_fatal() {
    let dir = tempfile::tempdir().expect("dir");
    let p = dir.path().join("r.ndjson");
    std::fs::write(
        &p,
        "{\"doc\":\"A\",\"kind\":\"D\",\"date\":\"2023-01-02\",\"from\":\"USA\",\"to\":\"HND\",\"nat\":\"HND\",\"sex\":\"M\"}\n{\"doc\":\"B\", \"kind\": \"D\" \"oops\n",
    )
    .expect("write");
    let (report, sink) = run(&p, MAPPING);
    assert_eq!(
        (report.rows_read, report.stored, report.quarantined),
        (2, 1, 1)
    );
    assert_eq!(sink.quarantined[0].reason, "invalid_json");
    assert_eq!(sink.quarantined[0].row, 2);
}
