//! The standard's schemas, Rust types and generated reference agree.

use std::path::PathBuf;

use chrono::NaiveDate;
use corridor_model::records::*;
use corridor_model::{CodeListId, RecordType};
use serde::Serialize;

fn keys<T: Serialize>(record: &T) -> Vec<String> {
    match serde_json::to_value(record).expect("records serialise") {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("not an object: {other}"),
    }
}

fn nulls<T: Serialize>(record: &T) -> Vec<String> {
    match serde_json::to_value(record).expect("records serialise") {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter(|(_, v)| v.is_null())
            .map(|(k, _)| k)
            .collect(),
        other => panic!("not an object: {other}"),
    }
}

fn check<T: Serialize>(t: RecordType, sparse: &T) {
    let mut spec: Vec<String> = t.fields().iter().map(|f| f.name.to_string()).collect();
    let optional: Vec<String> = t
        .fields()
        .iter()
        .filter(|f| !f.required && !matches!(f.ty, corridor_model::FieldType::CodeSet(_)))
        .map(|f| f.name.to_string())
        .collect();
    let mut got = keys(sparse);
    // Every optional field is an Option in the Rust type (serialises as null
    // when absent), and every required one is not.
    let mut got_nulls = nulls(sparse);
    let mut want_nulls = optional.clone();
    got_nulls.sort();
    want_nulls.sort();
    assert_eq!(got_nulls, want_nulls, "{}: optional fields", t.name());
    spec.sort();
    got.sort();
    assert_eq!(got, spec, "{}: Rust type and field list differ", t.name());
    assert_eq!(t.arrow_schema().fields().len(), t.fields().len());
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 31).expect("valid")
}

#[test]
fn rust_types_match_field_lists() {
    check(
        RecordType::BorderEvent,
        &BorderEvent {
            person_key: "k".into(),
            reporting_country: "GTM".into(),
            direction: "entry".into(),
            event_date: date(),
            event_time: None,
            border_post: None,
            transport_mode: None,
            counterpart_country: None,
            citizenship: "HND".into(),
            country_of_birth: None,
            country_of_residence: None,
            document_issuing_state: None,
            sex: "F".into(),
            date_of_birth: None,
            age: None,
            document_type: None,
            travel_purpose: None,
            visa_type: None,
            permitted_stay_days: None,
            residence_status: None,
        },
    );
    check(
        RecordType::ResidencePermit,
        &ResidencePermit {
            person_key: "k".into(),
            issuing_country: "GTM".into(),
            permit_type: "work".into(),
            decision: None,
            issue_date: date(),
            valid_from: None,
            valid_until: None,
            citizenship: "NIC".into(),
            sex: "M".into(),
            date_of_birth: None,
            age: None,
        },
    );
    check(
        RecordType::Return,
        &Return {
            person_key: None,
            return_type: "forced".into(),
            return_date: date(),
            host_country: "USA".into(),
            destination_country: "HND".into(),
            reporting_country: "HND".into(),
            reporting_organisation: None,
            citizenship: "HND".into(),
            sex: "M".into(),
            age: None,
            transport_mode: None,
            unaccompanied_minor: None,
            reintegration_assistance: None,
        },
    );
    check(
        RecordType::TraffickingCase,
        &TraffickingCase {
            case_key: "k".into(),
            reporting_organisation: "org".into(),
            registration_year: 2024,
            registration_date: None,
            sex: "F".into(),
            age: None,
            age_group: None,
            majority_status: None,
            citizenship: None,
            country_of_exploitation: None,
            exploitation_types: vec![],
            labour_industry: None,
            means_of_control: vec![],
            recruiter_relationship: None,
            is_abduction: None,
            linkage_encoding: None,
        },
    );
    check(
        RecordType::Population,
        &Population {
            country: "GTM".into(),
            reference_year: 2024,
            sex: "_T".into(),
            age_group: "_T".into(),
            population: 1,
            source: None,
        },
    );
    check(
        RecordType::Signal,
        &Signal {
            signal: "search_interest".into(),
            origin_country: "GTM".into(),
            destination_country: "USA".into(),
            period_start: date(),
            value: 1.0,
            sex: None,
            age_group: None,
            provider: None,
        },
    );
}

#[test]
fn schemas_are_well_formed() {
    for t in RecordType::ALL {
        let schema = t.arrow_schema();
        let mut names: Vec<&str> = t.fields().iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            t.fields().len(),
            "{}: duplicate field",
            t.name()
        );
        for f in t.fields() {
            let af = schema.field_with_name(f.name).expect("field in schema");
            assert_eq!(af.is_nullable(), !f.required, "{}.{}", t.name(), f.name);
            assert!(
                !f.description.is_empty(),
                "{}.{} has no meaning",
                t.name(),
                f.name
            );
            // snake_case names, so SQL needs no quoting.
            assert!(
                f.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}.{}",
                t.name(),
                f.name
            );
        }
        assert_eq!(RecordType::from_name(t.name()), Some(t));
    }
    // Spot-check the Arrow types that later layers rely on.
    let be = RecordType::BorderEvent.arrow_schema();
    assert_eq!(
        be.field_with_name("event_date").expect("field").data_type(),
        &arrow_schema::DataType::Date32
    );
    assert!(
        !be.field_with_name("person_key")
            .expect("field")
            .is_nullable()
    );
    let tc = RecordType::TraffickingCase.arrow_schema();
    assert!(matches!(
        tc.field_with_name("exploitation_types")
            .expect("field")
            .data_type(),
        arrow_schema::DataType::List(_)
    ));
}

#[test]
fn coded_fields_name_existing_lists() {
    for t in RecordType::ALL {
        for f in t.fields() {
            if let Some(list) = f.ty.code_list() {
                assert!(!list.list().codes.is_empty(), "{}.{}", t.name(), f.name);
                assert_eq!(CodeListId::from_name(list.name()), Some(list));
            }
        }
    }
}

#[test]
fn docs_standard_md_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/standard.md");
    let generated = corridor_model::docs::standard_markdown();
    if std::env::var_os("CORRIDOR_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/standard.md");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/standard.md is out of date: run `CORRIDOR_UPDATE_DOCS=1 cargo test -p corridor-model --test standard`"
    );
}
