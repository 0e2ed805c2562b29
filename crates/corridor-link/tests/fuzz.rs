//! Fuzz-style property tests of the linkage schema: any text, and the
//! seeds of `fuzz/corpus/linkage/` mutated, is parsed or refused with a
//! message, never a panic; a schema that parses encodes a file whose
//! columns it names, or refuses it.

use corridor_ingest::mapping::ReaderOptions;
use corridor_link::encode_file;
use corridor_link::schema::LinkageSchema;
use proptest::prelude::*;

#[path = "../../../fuzz/mutate.rs"]
mod mutate;

/// Parses `text`; when it is a schema, encodes a small file that has every
/// column the schema reads (personal details, record id, salts).
fn parse_and_encode(text: &str, cells: &[String]) {
    let Ok(mut schema) = LinkageSchema::parse(text) else {
        return;
    };
    // The file written here is a comma-separated UTF-8 CSV, whatever the
    // organisation's own export was.
    schema.reader = ReaderOptions {
        format: Some("csv".into()),
        delimiter: Some(",".into()),
        ..ReaderOptions::default()
    };
    let _ = schema.encoded_bits();
    let mut columns: Vec<String> = schema
        .personal_columns()
        .iter()
        .map(|c| c.to_string())
        .collect();
    columns.push(schema.record_id.clone());
    columns.extend(schema.fields.iter().filter_map(|f| f.salt.clone()));
    columns.sort();
    columns.dedup();
    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("cases.csv");
    let mut w = csv::Writer::from_path(&input).expect("csv");
    w.write_record(&columns).expect("header");
    for (r, cell) in cells.iter().enumerate() {
        let row: Vec<String> = (0..columns.len())
            .map(|c| {
                if c % 2 == 0 {
                    cell.clone()
                } else {
                    format!("{r}")
                }
            })
            .collect();
        w.write_record(&row).expect("row");
    }
    w.flush().expect("flush");
    drop(w);
    let _ = encode_file(
        &schema,
        &[0x5a; 32],
        &input,
        &dir.path().join("out.csv"),
        |_| {},
    );
}

#[test]
fn every_seed_of_the_corpus_is_a_schema() {
    for (name, bytes) in mutate::seeds("linkage") {
        if mutate::is_regression(&name) {
            parse_and_encode(&String::from_utf8_lossy(&bytes), &[]);
            continue;
        }
        let text = String::from_utf8(bytes).expect("linkage seeds are UTF-8");
        LinkageSchema::parse(&text).unwrap_or_else(|e| panic!("seed linkage/{name}: {e}"));
        parse_and_encode(&text, &["Ana María".into(), "1990-02-03".into()]);
    }
}

/// Cells of the encoded file: names, dates in several shapes, empty.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[A-Za-zéñ' -]{0,16}",
        "[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: mutate::cases(3000), ..ProptestConfig::default() })]

    #[test]
    fn the_linkage_schema_parser_takes_any_text(text in any::<String>()) {
        let _ = LinkageSchema::parse(&text);
    }

    #[test]
    fn mutated_linkage_schemas_are_parsed_or_refused(
        pick in any::<prop::sample::Index>(),
        mutations in mutate::mutations(),
        cells in prop::collection::vec(cell(), 0..6),
    ) {
        let seeds = mutate::seeds("linkage");
        let (_, seed) = &seeds[pick.index(seeds.len())];
        let text = String::from_utf8_lossy(&mutate::mutate(seed, &mutations)).into_owned();
        parse_and_encode(&text, &cells);
    }
}
