//! The Corridor data standard.
//!
//! This crate is the vocabulary every other layer speaks: the record types of
//! the standard ([`RecordType`], each with its fields and its Arrow schema),
//! the Rust types of those records ([`records`]), and the code lists
//! ([`codes`], [`countries`]) that give each coded field its allowed values.
//!
//! It knows nothing about files, SQL or HTTP: readers, stores and servers
//! live in the crates above it.

pub mod age;
pub mod calendar;
pub mod codes;
pub mod countries;
pub mod docs;
pub mod records;
pub mod standard;
mod text;

pub use codes::{Code, CodeList, CodeListId, UnknownCode};
pub use countries::{Countries, Country, CountryNotFound};
pub use standard::{Field, FieldType, RecordType};
pub use text::{ForDisplay, for_display, list_for_display};
