//! Corridor publish: releases, the only way figures leave a workspace.
//!
//! A publisher writes a [`ReleaseSpec`] (TOML: title, licence, version,
//! reference period, and each table with its protection method).
//! [`build_release`] computes each table (`corridor-stats`), has
//! `corridor-protect` protect it, and writes an immutable release folder:
//! every table as CSV and Parquet, SDMX-CSV 2.0 data with an SDMX-ML 3.0
//! structure message, a Frictionless `datapackage.json`, a methods note in
//! English and Spanish, a utility report, `SHA256SUMS` and its ed25519
//! signature. The folder's name is the release id, a digest of
//! `SHA256SUMS`: content-addressed, never overwritten.
//!
//! The writers take [`corridor_protect::Protected`] tables and nothing
//! else: no path here writes an unprotected figure.
//!
//! The API: [`ReleaseSpec`], [`TableRequest`], [`MethodName`],
//! [`build_release`] giving a [`Built`] release, [`protected_table`] (one
//! table on the protected path, outside a release, as analysts ask), [`list_releases`]
//! ([`ReleaseInfo`]), [`verify_release`] ([`Verified`]); errors are
//! [`PublishError`].

mod build;
mod domain;
mod microdata;
mod note;
mod nowcast;
mod package;
mod sdmx;
mod sign;
mod spec;
mod synthetic;

use std::path::{Path, PathBuf};

pub use build::{Built, RecordsBuilt, TableUtility, build_release, protected_table};
pub use sign::{ReleaseInfo, Verified, list_releases, verify_release};
pub use spec::{
    BORDER_DATASET, MethodName, MicrodataRequest, ReleaseSpec, SyntheticMethod, SyntheticRequest,
    TableRequest,
};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("release spec {path}: {why}")]
    Spec { path: String, why: String },
    #[error(transparent)]
    Stats(#[from] corridor_stats::StatsError),
    #[error("table `{table}`: {source}")]
    Protect {
        table: String,
        source: corridor_protect::ProtectError,
    },
    #[error(transparent)]
    Store(#[from] corridor_store::StoreError),
    #[error("{0}")]
    Write(String),
    #[error("{}: not a release: {why}", path.display())]
    NotARelease { path: PathBuf, why: String },
    #[error(
        "{}: verification FAILED: {why}. Do not use this copy; fetch the release again from its publisher",
        path.display()
    )]
    Tampered { path: PathBuf, why: String },
}

pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}
