//! Rust types of the standard's records, one per [`RecordType`].
//!
//! Field names and order match [`RecordType::fields`] (a test serialises each
//! type and compares). Coded fields hold the code as a string (`"GTM"`,
//! `"F"`): the code lists, not Rust enums, are the authority on what is
//! allowed, so a list can grow without a new release of every crate.
//!
//! [`RecordType`]: crate::RecordType
//! [`RecordType::fields`]: crate::RecordType::fields

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// See [`crate::RecordType::BorderEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BorderEvent {
    pub person_key: String,
    pub reporting_country: String,
    pub direction: String,
    pub event_date: NaiveDate,
    pub event_time: Option<NaiveTime>,
    pub border_post: Option<String>,
    pub transport_mode: Option<String>,
    pub counterpart_country: Option<String>,
    pub citizenship: String,
    pub country_of_birth: Option<String>,
    pub country_of_residence: Option<String>,
    pub document_issuing_state: Option<String>,
    pub sex: String,
    pub date_of_birth: Option<NaiveDate>,
    pub age: Option<i32>,
    pub document_type: Option<String>,
    pub travel_purpose: Option<String>,
    pub visa_type: Option<String>,
    pub permitted_stay_days: Option<i32>,
    pub residence_status: Option<String>,
}

/// See [`crate::RecordType::ResidencePermit`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidencePermit {
    pub person_key: String,
    pub issuing_country: String,
    pub permit_type: String,
    pub decision: Option<String>,
    pub issue_date: NaiveDate,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub citizenship: String,
    pub sex: String,
    pub date_of_birth: Option<NaiveDate>,
    pub age: Option<i32>,
}

/// See [`crate::RecordType::Return`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Return {
    pub person_key: Option<String>,
    pub return_type: String,
    pub return_date: NaiveDate,
    pub host_country: String,
    pub destination_country: String,
    pub reporting_country: String,
    pub reporting_organisation: Option<String>,
    pub citizenship: String,
    pub sex: String,
    pub age: Option<i32>,
    pub transport_mode: Option<String>,
    pub unaccompanied_minor: Option<bool>,
    pub reintegration_assistance: Option<bool>,
}

/// See [`crate::RecordType::TraffickingCase`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraffickingCase {
    pub case_key: String,
    pub reporting_organisation: String,
    pub registration_year: i16,
    pub registration_date: Option<NaiveDate>,
    pub sex: String,
    pub age: Option<i32>,
    pub age_group: Option<String>,
    pub majority_status: Option<String>,
    pub citizenship: Option<String>,
    pub country_of_exploitation: Option<String>,
    pub exploitation_types: Vec<String>,
    pub labour_industry: Option<String>,
    pub means_of_control: Vec<String>,
    pub recruiter_relationship: Option<String>,
    pub is_abduction: Option<bool>,
    pub linkage_encoding: Option<Vec<u8>>,
}

/// See [`crate::RecordType::Population`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Population {
    pub country: String,
    pub reference_year: i16,
    pub sex: String,
    pub age_group: String,
    pub population: u64,
    pub source: Option<String>,
}

/// See [`crate::RecordType::Signal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub signal: String,
    pub origin_country: String,
    pub destination_country: String,
    pub period_start: NaiveDate,
    pub value: f64,
    pub sex: Option<String>,
    pub age_group: Option<String>,
    pub provider: Option<String>,
}
