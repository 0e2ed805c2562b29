//! The members' routes: what an organisation's users do with a bearer
//! token. A contributor uploads files to its organisation's sources; an
//! analyst runs tables on the protected path; a publisher builds and
//! publishes releases; every member reads its own organisation's sources,
//! submissions and quarantine, and no other's; an admin reads the audit
//! log. Each calls the library function the CLI calls (`submit`,
//! `protected_table`, `build_release`), never code of its own, and each
//! action, allowed or refused, is written to the audit log.

// A refusal is the response the client gets, made at most once per
// request: its size does not matter.
#![allow(clippy::result_large_err)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use corridor_access::{Access, AccessError, Action, Principal, Role};
use corridor_store::{StoreError, Workspace};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use crate::api::{ApiError, App, error, set};
use crate::throttle::Throttle;
use crate::{Catalogue, ServerError};

/// The workspace behind the members' routes.
pub struct Members {
    ws: Workspace,
    releases: PathBuf,
    max_upload: u64,
    throttle: Throttle,
    /// One release build at a time: each reads the whole workspace.
    builds: tokio::sync::Mutex<()>,
}

/// The largest upload accepted unless the server is told otherwise.
pub const DEFAULT_MAX_UPLOAD: u64 = 1 << 30;
/// The largest table or release request (JSON or TOML).
const MAX_REQUEST: usize = 1 << 20;

impl Members {
    /// The members' side of `workspace`, whose releases the server
    /// publishes. Uploads over `max_upload` bytes are refused (413).
    /// What crashed uploads left behind is removed first.
    pub fn open(workspace: &FsPath, max_upload: u64) -> Result<Members, ServerError> {
        let ws = Workspace::open(workspace).map_err(|e| ServerError::Workspace(e.to_string()))?;
        Access::open(ws.root()).map_err(|e| ServerError::Workspace(e.to_string()))?;
        ws.clear_uploads()
            .map_err(|e| ServerError::Workspace(e.to_string()))?;
        Ok(Members {
            releases: ws.root().join("releases"),
            ws,
            max_upload,
            throttle: Throttle::new(),
            builds: tokio::sync::Mutex::new(()),
        })
    }

    /// Where the workspace's releases are: what the server publishes.
    pub fn releases_dir(&self) -> &FsPath {
        &self.releases
    }

    fn access(&self) -> Result<Access, Response> {
        Access::open(self.ws.root()).map_err(|e| internal(&e.to_string()))
    }
}

pub(crate) fn routes() -> Router<App> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/sources", get(sources))
        .route(
            "/api/sources/{source}/submissions",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/submissions", get(submissions))
        .route("/api/submissions/{id}", get(submission))
        .route("/api/submissions/{id}/quarantine", get(quarantine))
        .route("/api/tables", post(table))
        .route("/api/budgets", get(budgets))
        .route("/api/audit", get(audit))
}

/// A request made with a valid token: who makes it, for which
/// organisation, with which role.
pub(crate) struct Member {
    who: Principal,
    m: Arc<Members>,
    app: App,
}

fn internal(why: &str) -> Response {
    tracing::error!(why, "members' route failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server could not do that; its log says why",
    )
}

fn unauthorized(why: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, why);
    set(
        &mut r,
        header::WWW_AUTHENTICATE,
        "Bearer realm=\"corridor\"",
    );
    r
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequestParts<App> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Member, Response> {
        let Some(m) = app.members.clone() else {
            return Err(error(
                StatusCode::NOT_FOUND,
                "this server publishes releases only; members' routes need `corridor serve --workspace WS`",
            ));
        };
        let client: Option<IpAddr> = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(wait) = m.throttle.blocked(client) {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed token attempts: try again in {} s",
                    wait.as_secs().max(1)
                ),
            );
            set(
                &mut r,
                header::RETRY_AFTER,
                &wait.as_secs().max(1).to_string(),
            );
            return Err(r);
        }
        let Some(token) = bearer(&parts.headers) else {
            return Err(unauthorized(
                "this route needs a token: send `Authorization: Bearer crt_…` (`corridor admin token-new` makes one)",
            ));
        };
        let root = m.ws.root().to_path_buf();
        let checked =
            tokio::task::spawn_blocking(move || Access::open(&root)?.authenticate(&token)).await;
        match checked {
            Ok(Ok(who)) => Ok(Member {
                who,
                m,
                app: app.clone(),
            }),
            Ok(Err(AccessError::Unauthorized)) => {
                m.throttle.failed(client);
                Err(unauthorized(
                    "not a valid token: it is unknown, revoked or mistyped",
                ))
            }
            Ok(Err(e)) => Err(internal(&e.to_string())),
            Err(e) => Err(internal(&e.to_string())),
        }
    }
}

impl Member {
    /// Writes `action` to the audit log as this member's.
    fn record(&self, action: &str, detail: Value) -> Result<(), Response> {
        self.m
            .access()?
            .audit()
            .append(&self.who.user, &self.who.org, action, detail)
            .map(|_| ())
            .map_err(|e| internal(&e.to_string()))
    }

    /// Refuses (403, and written to the audit log) unless the role may
    /// take `action`.
    fn may(&self, action: Action, what: &str) -> Result<(), Response> {
        if self.who.role.may(action) {
            return Ok(());
        }
        self.refused(what, "role")?;
        let needs = Role::ALL
            .iter()
            .filter(|r| r.may(action))
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(" or ");
        Err(error(
            StatusCode::FORBIDDEN,
            format!(
                "{what} needs the role {needs}; `{}` is {}",
                self.who.user,
                self.who.role.name()
            ),
        ))
    }

    fn refused(&self, what: &str, why: &str) -> Result<(), Response> {
        self.record("denied", json!({ "what": what, "why": why }))
    }

    /// The organisation's sources.
    fn own_sources(&self) -> Result<Vec<String>, Response> {
        Ok(self
            .m
            .access()?
            .sources()
            .map_err(|e| internal(&e.to_string()))?
            .into_iter()
            .filter(|(_, org)| *org == self.who.org)
            .map(|(s, _)| s)
            .collect())
    }

    /// The submission `id` if it is the organisation's: 404 if there is
    /// none, 403 if it is another's.
    fn own_submission(
        &self,
        id: &str,
    ) -> Result<(corridor_store::SubmissionInfo, String), Response> {
        let found = self
            .m
            .ws
            .submission(id)
            .map_err(|e| internal(&e.to_string()))?;
        let Some((info, report)) = found else {
            return Err(error(
                StatusCode::NOT_FOUND,
                format!("no submission `{id}`: /api/submissions lists your organisation's"),
            ));
        };
        if !self.own_sources()?.contains(&info.source) {
            self.refused(&format!("submission {id}"), "another organisation's")?;
            return Err(error(
                StatusCode::FORBIDDEN,
                format!("submission `{id}` is not your organisation's"),
            ));
        }
        Ok((info, report))
    }
}

/// Runs `f` off the async threads (it reads files, SQLite or DataFusion)
/// and gives its response.
async fn blocking(f: impl FnOnce() -> Result<Response, Response> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r) | Err(r)) => r,
        Err(e) => internal(&e.to_string()),
    }
}

/// Who a token acts as.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: String,
    pub organisation: String,
    /// admin, contributor, analyst or publisher.
    pub role: String,
    /// The token's public id (never its secret).
    pub token: String,
}

#[utoipa::path(
    get,
    path = "/api/me",
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Who the token acts as", body = Me),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn me(member: Member) -> Response {
    blocking(move || {
        member.record("me", json!({}))?;
        Ok(axum::Json(Me {
            user: member.who.user.clone(),
            organisation: member.who.org.clone(),
            role: member.who.role.name().to_string(),
            token: member.who.token.clone(),
        })
        .into_response())
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/sources",
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organisation's sources, with their current submissions and rows", body = [Object]),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "The role may not read them", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn sources(member: Member) -> Response {
    blocking(move || {
        member.may(Action::ReadOwn, "reading sources")?;
        let own = member.own_sources()?;
        let (status, _) = member.m.ws.status().map_err(|e| internal(&e.to_string()))?;
        let list: Vec<Value> = own
            .iter()
            .map(|s| match status.iter().find(|x| &x.id == s) {
                Some(st) => json!(st),
                None => {
                    json!({ "id": s, "submissions": 0, "rows_stored": 0, "rows_quarantined": 0 })
                }
            })
            .collect();
        member.record("sources.read", json!({}))?;
        Ok(axum::Json(list).into_response())
    })
    .await
}

/// How an upload is named and whether it replaces.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The file's own name, with its extension (the reader goes by it),
    /// e.g. `arrivals_2024.csv`. A file of a name already submitted to
    /// the source supersedes it.
    file_name: String,
    /// Replace a current submission of the same file name even when the
    /// content is the same.
    #[serde(default)]
    replace: bool,
}

#[utoipa::path(
    post,
    path = "/api/sources/{source}/submissions",
    tag = "members",
    security(("bearer" = [])),
    params(("source" = String, Path, description = "One of the organisation's sources"), UploadQuery),
    request_body(content = Vec<u8>, description = "The file, as it is (CSV, TSV, xlsx, xls, ods, JSON, NDJSON, Parquet)", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored: the submission, its intake report (rows stored and quarantined, by reason) and what it superseded", body = Object),
        (status = 200, description = "The same file was already submitted with this mapping: nothing done", body = Object),
        (status = 400, description = "No file name, a bad one, an empty or cut-short upload", body = ApiError),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Not a contributor, or another organisation's source", body = ApiError),
        (status = 404, description = "No such source", body = ApiError),
        (status = 409, description = "The source has no registered mapping", body = ApiError),
        (status = 413, description = "Larger than the server's upload limit", body = ApiError),
        (status = 422, description = "The file could not be read with the source's mapping: nothing stored", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn upload(
    member: Member,
    Path(source): Path<String>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let m = member.m.clone();
    let who = Arc::new(member);
    let checked = {
        let who = who.clone();
        let source = source.clone();
        tokio::task::spawn_blocking(move || upload_target(&who, &source)).await
    };
    let mapping = match checked {
        Ok(Ok(p)) => p,
        Ok(Err(r)) => return r,
        Err(e) => return internal(&e.to_string()),
    };
    let Ok(Query(q)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "name the file: ?file_name=arrivals_2024.csv (its own name, with its extension)",
        );
    };
    let name = match corridor_store::upload_file_name(&q.file_name) {
        Ok(n) => n.to_string(),
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > m.max_upload) {
        return too_large(m.max_upload);
    }
    let upload = match m.ws.new_upload() {
        Ok(u) => u,
        Err(e) => return internal(&e.to_string()),
    };
    let path = upload.path(&name);
    if let Err(r) = receive(body, &path, m.max_upload).await {
        let what = format!("upload to {source}");
        let _ = tokio::task::spawn_blocking(move || who.refused(&what, "bad upload")).await;
        return r;
    }
    let replace = q.replace;
    blocking(move || {
        let outcome = who
            .m
            .ws
            .submit(&mapping, &path, replace, &mut |_| {})
            .map_err(|e| {
                let _ = who.refused(&format!("upload to {source}"), "unreadable");
                error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "{name}: {}; nothing was stored",
                        in_words(&e, upload.path("").as_path())
                    ),
                )
            })?;
        drop(upload);
        let summary = outcome.summary();
        let (status, detail) = match &outcome {
            corridor_store::Outcome::Committed {
                submission,
                superseded,
                ..
            } => (
                StatusCode::CREATED,
                json!({
                    "source": source, "submission": submission.id,
                    "file_sha256": submission.file_sha256, "rows_read": submission.rows_read,
                    "rows_stored": submission.rows_stored, "rows_quarantined": submission.rows_quarantined,
                    "superseded": superseded,
                }),
            ),
            corridor_store::Outcome::AlreadyIngested { submission } => (
                StatusCode::OK,
                json!({ "source": source, "already_ingested": submission.id }),
            ),
        };
        who.record("submission", detail)?;
        Ok((status, axum::Json(summary)).into_response())
    })
    .await
}

/// The source's registered mapping, if the member may upload to it.
fn upload_target(who: &Member, source: &str) -> Result<PathBuf, Response> {
    who.may(Action::Submit, "uploading")?;
    let owner = who
        .m
        .access()?
        .source_owner(source)
        .map_err(|e| internal(&e.to_string()))?;
    match owner {
        None => {
            return Err(error(
                StatusCode::NOT_FOUND,
                format!("no source `{source}`: /api/sources lists your organisation's"),
            ));
        }
        Some(org) if org != who.who.org => {
            who.refused(&format!("upload to {source}"), "another organisation's")?;
            return Err(error(
                StatusCode::FORBIDDEN,
                format!("source `{source}` is not your organisation's"),
            ));
        }
        Some(_) => {}
    }
    who.m.ws.mapping_of(source).ok_or_else(|| {
        error(
            StatusCode::CONFLICT,
            format!(
                "source `{source}` has no mapping in the workspace: its administrator registers one with `corridor admin source-add`"
            ),
        )
    })
}

fn too_large(max: u64) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the file is larger than this server's upload limit of {max} bytes: split it, or ask for a larger --max-upload"
        ),
    )
}

/// Streams `body` to a new private file at `path`, at most `max` bytes.
async fn receive(mut body: Body, path: &FsPath, max: u64) -> Result<(), Response> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path).map_err(|e| internal(&e.to_string()))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                format!("the upload was cut short after {total} bytes: nothing was stored; send it again"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > max {
            return Err(too_large(max));
        }
        file.write_all(&data)
            .await
            .map_err(|e| internal(&e.to_string()))?;
    }
    if total == 0 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "the upload is empty: send the file as the request's body",
        ));
    }
    file.flush().await.map_err(|e| internal(&e.to_string()))?;
    Ok(())
}

/// A store error as the uploader should read it: without the server's
/// own folders.
fn in_words(e: &StoreError, upload_dir: &FsPath) -> String {
    let text = e.to_string();
    let dir = upload_dir.display().to_string();
    text.replace(&dir, "")
}

#[utoipa::path(
    get,
    path = "/api/submissions",
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organisation's submissions, oldest first", body = [Object]),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "The role may not read them", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn submissions(member: Member) -> Response {
    blocking(move || {
        member.may(Action::ReadOwn, "reading submissions")?;
        let own = member.own_sources()?;
        let all = member
            .m
            .ws
            .submissions()
            .map_err(|e| internal(&e.to_string()))?;
        let mine: Vec<_> = all
            .into_iter()
            .filter(|s| own.contains(&s.source))
            .collect();
        member.record("submissions.read", json!({}))?;
        Ok(axum::Json(mine).into_response())
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/submissions/{id}",
    tag = "members",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A submission of the organisation")),
    responses(
        (status = 200, description = "The submission and its intake report", body = Object),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Another organisation's, or the role may not read it", body = ApiError),
        (status = 404, description = "No such submission", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn submission(member: Member, Path(id): Path<String>) -> Response {
    blocking(move || {
        member.may(Action::ReadOwn, "reading a submission")?;
        let (info, report) = member.own_submission(&id)?;
        let report: Value = serde_json::from_str(&report).unwrap_or(Value::Null);
        member.record("submission.read", json!({ "submission": id }))?;
        Ok(axum::Json(json!({ "submission": info, "report": report })).into_response())
    })
    .await
}

#[utoipa::path(
    get,
    path = "/api/submissions/{id}/quarantine",
    tag = "members",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "A submission of the organisation")),
    responses(
        (status = 200, description = "The quarantined rows, with their reasons (CSV)", content_type = "text/csv"),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Another organisation's, or the role may not read it", body = ApiError),
        (status = 404, description = "No such submission", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn quarantine(member: Member, Path(id): Path<String>) -> Response {
    blocking(move || {
        member.may(Action::ReadOwn, "reading a quarantine")?;
        let (info, _) = member.own_submission(&id)?;
        let path = member.m.ws.root().join(&info.quarantine_path);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // A submission without quarantined rows may have no file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(internal(&e.to_string())),
        };
        member.record("quarantine.read", json!({ "submission": id }))?;
        let mut r = (StatusCode::OK, bytes).into_response();
        set(&mut r, header::CONTENT_TYPE, "text/csv; charset=utf-8");
        set(&mut r, header::CACHE_CONTROL, "private, no-store");
        Ok(r)
    })
    .await
}

/// What a `[[table]]` of a release spec holds, as the OpenAPI document
/// shows it; the request itself is `corridor_publish::TableRequest`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TableRequest)]
#[allow(dead_code)]
struct TableRequestSchema {
    /// The table's name: lower-case letters, digits and `_`.
    #[schema(pattern = "^[a-z][a-z0-9_]*$", max_length = 64)]
    name: String,
    title: Option<String>,
    /// A standard table of `corridor table --standard`.
    standard: Option<String>,
    /// Or a measure, with `by` and `where`.
    measure: Option<String>,
    #[serde(default)]
    by: Vec<String>,
    /// A condition over the measure's dimensions.
    #[serde(rename = "where")]
    filter: Option<String>,
    method: MethodSchema,
    /// The perturbation table's parameters (cell_key only).
    #[schema(value_type = Option<Object>)]
    ptable: Option<serde_json::Value>,
    /// The zCDP ρ the table spends (dp only).
    #[schema(exclusive_minimum = 0.0)]
    rho: Option<f64>,
    /// The ledger dataset it is charged to (dp only).
    dataset: Option<String>,
    /// Categories of a dimension, where the code lists' are not the ones
    /// to publish (dp only).
    #[serde(default)]
    domain: std::collections::BTreeMap<String, Vec<String>>,
}

/// How a table is protected.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum MethodSchema {
    CellKey,
    Rr3,
    Suppression,
    Dp,
}

/// A table asked for on the protected path.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TableAsk {
    /// As a release spec's `[[table]]`: `name`, `standard` or `measure`
    /// with `by` and `where`, `method` (`cell_key`, `rr3`, `suppression`
    /// or `dp`), and for DP `rho`, `dataset` and `domain`.
    #[schema(value_type = TableRequestSchema)]
    pub table: corridor_publish::TableRequest,
    /// The period a DP table's time dimension covers (its domain, which
    /// never comes from the data), e.g. `2022-01/2023-12`.
    #[serde(default)]
    pub reference_period: Option<String>,
    /// The threshold rule of a suppressed table.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub suppression: Option<corridor_protect::SuppressionParams>,
}

#[utoipa::path(
    post,
    path = "/api/tables",
    tag = "members",
    security(("bearer" = [])),
    request_body = TableAsk,
    responses(
        (status = 200, description = "The protected table: codes and protected values only", body = Object),
        (status = 400, description = "Not a table request; the message says what to change", body = ApiError),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Not an analyst", body = ApiError),
        (status = 409, description = "A DP table the ledger's budget cannot pay for", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn table(member: Member, body: axum::body::Bytes) -> Response {
    blocking(move || {
        member.may(Action::Analyse, "a protected table")?;
        let ask: TableAsk = parse_json(&body)?;
        let period = ask.reference_period.unwrap_or_default();
        let suppression = ask.suppression.unwrap_or_default();
        let output = format!(
            "table `{}` for {} ({}) over the API",
            ask.table.name, member.who.user, member.who.org
        );
        let done = corridor_publish::protected_table(
            &member.m.ws,
            &ask.table,
            &period,
            &suppression,
            &output,
        );
        let method = serde_json::to_value(ask.table.method).unwrap_or(Value::Null);
        match done {
            Ok(t) => {
                member.record(
                    "table",
                    json!({ "name": ask.table.name, "measure": t.measure, "dims": t.dims, "method": method, "rho": ask.table.rho }),
                )?;
                Ok(axum::Json(json!({ "name": ask.table.name, "method": method, "table": t }))
                    .into_response())
            }
            Err(e) => {
                member.record(
                    "table.refused",
                    json!({ "name": ask.table.name, "method": method }),
                )?;
                let status = match &e {
                    corridor_publish::PublishError::Store(
                        StoreError::OverBudget { .. } | StoreError::NoBudget { .. },
                    ) => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                Err(error(status, e.to_string()))
            }
        }
    })
    .await
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    if body.len() > MAX_REQUEST {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a request is at most {MAX_REQUEST} bytes"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("the request's JSON: {e}")))
}

#[utoipa::path(
    get,
    path = "/api/budgets",
    tag = "members",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each dataset's privacy-loss budget (zCDP ρ) and what is spent", body = [Object]),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Not an analyst or a publisher", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn budgets(member: Member) -> Response {
    blocking(move || {
        if !matches!(member.who.role, Role::Analyst | Role::Publisher) {
            member.may(Action::Analyse, "reading budgets")?;
        }
        let b = member
            .m
            .ws
            .privacy_budgets()
            .map_err(|e| internal(&e.to_string()))?;
        member.record("budgets.read", json!({}))?;
        Ok(axum::Json(b).into_response())
    })
    .await
}

#[utoipa::path(
    post,
    path = "/api/releases",
    tag = "members",
    security(("bearer" = [])),
    request_body(description = "A release spec (TOML), as `corridor release build` reads", content(
        (String = "application/toml"),
        (String = "text/plain")
    )),
    responses(
        (status = 201, description = "Built, signed and published: the release and how protection changed each table", body = Object),
        (status = 400, description = "Not a release spec; the message says what to change", body = ApiError),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Not a publisher", body = ApiError),
        (status = 409, description = "A DP table the ledger's budget cannot pay for", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn publish(member: Member, body: axum::body::Bytes) -> Response {
    let m = member.m.clone();
    // One build at a time; the others wait their turn.
    let _turn = if member.who.role.may(Action::Publish) {
        Some(m.builds.lock().await)
    } else {
        None
    };
    let app = member.app.clone();
    blocking(move || {
        member.may(Action::Publish, "publishing")?;
        if body.len() > MAX_REQUEST {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a release spec is at most {MAX_REQUEST} bytes"),
            ));
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| error(StatusCode::BAD_REQUEST, "a release spec is UTF-8 TOML"))?;
        let spec = corridor_publish::ReleaseSpec::parse(text, "the release spec")
            .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
        let out = member.m.releases.clone();
        let built = corridor_publish::build_release(&member.m.ws, &spec, &out, &|_, _, _| {});
        let built = match built {
            Ok(b) => b,
            Err(e) => {
                member.record("release.refused", json!({ "version": spec.version }))?;
                let status = match &e {
                    corridor_publish::PublishError::Store(
                        StoreError::OverBudget { .. } | StoreError::NoBudget { .. },
                    ) => StatusCode::CONFLICT,
                    _ => StatusCode::BAD_REQUEST,
                };
                return Err(error(status, e.to_string()));
            }
        };
        member.record(
            "release.publish",
            json!({ "release": built.id, "version": built.version, "files": built.files }),
        )?;
        // The server publishes it at once.
        let catalogue = Catalogue::load(&out).map_err(|e| internal(&e.to_string()))?;
        app.replace(catalogue);
        let mut v = serde_json::to_value(&built).unwrap_or(Value::Null);
        v["dir"] = json!(format!("releases/{}", built.id));
        v["url"] = json!(format!("/api/releases/{}", built.id));
        Ok((StatusCode::CREATED, axum::Json(v)).into_response())
    })
    .await
}

/// How much of the audit log to show.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// The newest entries to return (default 100).
    #[param(minimum = 0, maximum = 100000)]
    last: Option<usize>,
}

#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "members",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The chain verified, and its newest entries", body = Object),
        (status = 400, description = "`last` is not a count", body = ApiError),
        (status = 401, description = "No token, or not a valid one", body = ApiError),
        (status = 403, description = "Not an admin", body = ApiError),
        (status = 429, description = "Too many failed attempts", body = ApiError)
    )
)]
pub(crate) async fn audit(
    member: Member,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "?last= takes the number of newest entries to show",
        );
    };
    let last = query.last.unwrap_or(100).min(100_000);
    blocking(move || {
        member.may(Action::Administer, "reading the audit log")?;
        member.record("audit.read", json!({}))?;
        let access = member.m.access()?;
        let log = access.audit();
        let verified = log.verify();
        let entries = log.entries().map_err(|e| internal(&e.to_string()))?;
        let newest = &entries[entries.len().saturating_sub(last)..];
        Ok(axum::Json(json!({
            "verified": verified.is_ok(),
            "problem": verified.as_ref().err().map(|e| e.to_string()),
            "entries": entries.len(),
            "newest": newest,
        }))
        .into_response())
    })
    .await
}
