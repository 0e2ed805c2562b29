//! The Corridor data standard.
//!
//! This crate is the vocabulary every other layer speaks: the record types of
//! the standard ([`RecordType`], each with its fields and its Arrow schema),
//! the Rust types of those records ([`records`]), and the code lists
//! ([`codes`], [`countries`]) that give each coded field its allowed values.
//!
//! It knows nothing about files, SQL or HTTP: readers, stores and servers
//! live in the crates above it.
//!
//! The API: the record types ([`RecordType`], [`Field`]), the code lists
//! ([`CodeListId`], [`CodeList`], [`Countries`]), the age groups
//! ([`age::AgeGrouping`]), the day numbers ([`calendar`]) and text folding
//! ([`fold`], [`fold_words`], [`for_display`]).

pub mod age;
pub mod calendar;
pub(crate) mod codes;
pub(crate) mod countries;
pub mod docs;
pub mod records;
pub(crate) mod standard;
mod text;

pub use codes::{Code, CodeList, CodeListId, UnknownCode, sdg_exploitation_form};
pub use countries::{Countries, Country, CountryNotFound, time_zones};
pub use standard::{Field, FieldType, RecordType};
pub use text::{ForDisplay, fold, fold_words, for_display, list_for_display, without_accents};
