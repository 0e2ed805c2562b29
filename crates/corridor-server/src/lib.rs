//! Corridor server: what the public and partner countries see of a
//! workspace, over HTTP: the public, read-only API, SDMX REST 2.0 and the
//! bilingual portal, all over published releases and nothing else.
//! Releases are loaded from their folders, verified (checksums and
//! signature), and served as they are; no route reads a workspace's
//! records, and no route writes.
//!
//! The API: [`Catalogue`] (the verified releases of a folder, with the
//! ones refused and why), [`router`] (the axum routes: release list, a
//! table's observations filtered, paginated, as JSON, CSV, SDMX-CSV or
//! xlsx, file downloads, SDMX structure and data queries, the portal's
//! pages, the OpenAPI document), [`serve`] and [`serve_blocking`]; errors
//! are [`ServerError`].

mod api;
mod catalogue;
mod members;
mod portal;
mod sdmx;
mod throttle;

use std::future::Future;
use std::net::SocketAddr;

pub use api::{ApiDoc, router, router_with};
pub use catalogue::{Catalogue, Refused};
pub use members::{DEFAULT_MAX_UPLOAD, Members};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Releases(#[from] corridor_publish::PublishError),
    #[error("reading release {id}: {why}")]
    Release { id: String, why: String },
    #[error("the workspace: {0}")]
    Workspace(String),
}

/// Serves `catalogue` on `listener` until `shutdown` completes; requests
/// under way are finished first (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    catalogue: Catalogue,
    members: Option<Members>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let app = router_with(catalogue, members).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)
}

/// Binds `addr`, tells `ready` the address it got (port 0 picks one), and
/// serves until Ctrl-C or SIGTERM.
pub fn serve_blocking(
    addr: &str,
    catalogue: Catalogue,
    members: Option<Members>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Runtime::new().map_err(ServerError::Serve)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let bound = listener.local_addr().map_err(ServerError::Serve)?;
        ready(bound);
        serve(listener, catalogue, members, stop_signal()).await
    })
}

/// Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("stopping: finishing the requests under way");
}
