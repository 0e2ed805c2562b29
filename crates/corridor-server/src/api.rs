//! The public, read-only routes: releases, a table's observations,
//! files, and the OpenAPI document that describes them. Releases never
//! change, so every response about one carries an ETag and a year-long,
//! immutable cache header; every route answers cross-origin requests.

use std::fmt::Write as _;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use sha2::Digest;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::catalogue::{Catalogue, Release, TableData};
use crate::members::Members;

pub(crate) type Shared = Arc<Catalogue>;

/// The router's state: the releases published now (replaced whole when a
/// publisher publishes one) and, when the server has a workspace, the
/// members' side.
#[derive(Clone)]
pub(crate) struct App {
    live: Arc<RwLock<Shared>>,
    pub(crate) members: Option<Arc<Members>>,
}

impl App {
    /// Publishes `catalogue` in place of the one served: requests under
    /// way finish on the one they began with.
    pub(crate) fn replace(&self, catalogue: Catalogue) {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        *live = Arc::new(catalogue);
    }
}

impl FromRef<App> for Shared {
    fn from_ref(app: &App) -> Shared {
        app.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The most observations one response holds.
const MAX_LIMIT: usize = 100_000;
const DEFAULT_LIMIT: usize = 1_000;
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The list grows when a release is published.
const LIST_CACHE: &str = "public, max-age=60";
const SDMX_CSV: &str = "application/vnd.sdmx.data+csv; version=2.0.0; charset=utf-8";

/// The OpenAPI 3.1 document of the API, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Corridor API",
        description = "Published releases of migration and trafficking statistics: every figure here has passed disclosure control; read-only, no login. The operations tagged `members` need a bearer token (`corridor admin token-new`): uploads to an organisation's sources, protected tables, releases, and the organisation's own submissions."
    ),
    paths(
        list_releases,
        get_release,
        observations,
        download,
        sdmx_structure,
        sdmx_data,
        crate::members::me,
        crate::members::sources,
        crate::members::upload,
        crate::members::submissions,
        crate::members::submission,
        crate::members::quarantine,
        crate::members::table,
        crate::members::budgets,
        crate::members::publish,
        crate::members::audit
    ),
    modifiers(&BearerToken),
    components(schemas(
        ReleaseSummary,
        TableSummary,
        Observations,
        ApiError,
        FormatName,
        StructureType,
        References,
        DataContext,
        crate::members::Me,
        crate::members::TableAsk
    ))
)]
pub struct ApiDoc;

/// The members' operations name the `bearer` scheme: a Corridor token.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token, crt_…, shown once by `corridor admin token-new`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The public routes over `catalogue`.
pub fn router(catalogue: Catalogue) -> Router {
    router_with(catalogue, None)
}

/// The public routes over `catalogue` and, with `members`, the members'
/// routes over its workspace.
pub fn router_with(catalogue: Catalogue, members: Option<Members>) -> Router {
    let app = App {
        live: Arc::new(RwLock::new(Arc::new(catalogue))),
        members: members.map(Arc::new),
    };
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route(
            "/api/releases",
            get(list_releases).post(crate::members::publish),
        )
        .route("/api/releases/{id}", get(get_release))
        .route("/api/releases/{id}/tables/{table}", get(observations))
        .route("/api/releases/{id}/files/{*path}", get(download))
        .route("/sdmx/v2/structure/{*rest}", get(sdmx_structure))
        .route("/sdmx/v2/data/{*rest}", get(sdmx_data))
        .route("/api/releases/{id}/sdmx/v2/{*rest}", get(sdmx_of_release))
        .merge(crate::portal::routes())
        .merge(crate::members::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(log_and_cors))
        .with_state(app)
}

/// An error, as every route gives it.
#[derive(Serialize, ToSchema)]
pub struct ApiError {
    /// What went wrong and what to do.
    pub error: String,
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

/// One release in the list.
#[derive(Serialize, ToSchema)]
pub struct ReleaseSummary {
    /// Content-addressed: `r` + 20 hex digits of SHA-256 of `SHA256SUMS`.
    pub id: String,
    pub version: String,
    pub title: String,
    pub built_at: String,
    pub tables: Vec<TableSummary>,
    /// This release's manifest.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct TableSummary {
    pub name: String,
    pub title: String,
    pub measure: String,
    pub dims: Vec<String>,
    /// Its observations.
    pub url: String,
}

/// A page of a table's observations.
#[derive(Serialize, ToSchema)]
pub struct Observations<'a> {
    pub release: String,
    pub table: String,
    pub title: String,
    pub measure: String,
    pub dims: Vec<String>,
    /// Observations that match the filters, on all pages.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    /// The next page, if there is one.
    pub next: Option<String>,
    /// One object per cell: each dimension's code (`_T` total, `_U`
    /// unknown), `value` (null where withheld), `obs_status` (A normal,
    /// P provisional), `conf_status` (F free, C withheld), and
    /// `error_bound_95` for differentially private tables.
    #[schema(value_type = Vec<Object>)]
    pub observations: Vec<ObsRow<'a>>,
}

/// The paging and format of observations; any other parameter filters a
/// dimension of the table by one code or several, comma-separated
/// (`?sex=F&year=2023,2024`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read from the query by hand: its dimensions are the table's.
struct Paging {
    /// Observations to skip (default 0).
    #[param(maximum = 1000000000)]
    offset: Option<usize>,
    /// Observations to return (default 1000, at most 100000).
    #[param(maximum = 100000)]
    limit: Option<usize>,
    /// `json` (default), `csv` (the release's CSV columns), `sdmx-csv`
    /// (SDMX-CSV 2.0) or `xlsx` (a spreadsheet of the CSV columns); or ask with `Accept: text/csv` or
    /// `application/vnd.sdmx.data+csv`.
    format: Option<FormatName>,
}

// The closed sets of values some parameters take, for the OpenAPI
// document only: the handlers read them as text and refuse the rest.

/// The formats of a table's observations.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
enum FormatName {
    Json,
    Csv,
    SdmxCsv,
    Xlsx,
}

/// The SDMX structure types a release holds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum StructureType {
    Dataflow,
    Datastructure,
    Codelist,
    Conceptscheme,
    #[serde(rename = "*")]
    Any,
}

/// What a structure query adds to the artefacts it names.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum References {
    None,
    Parents,
    Parentsandsiblings,
    Ancestors,
    Children,
    Descendants,
    All,
    Dataflow,
    Datastructure,
    Codelist,
    Conceptscheme,
}

/// The contexts data are reported against.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum DataContext {
    Dataflow,
    #[serde(rename = "*")]
    Any,
}

async fn openapi() -> Response {
    let body = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    let mut r = (StatusCode::OK, body).into_response();
    set(&mut r, header::CONTENT_TYPE, "application/json");
    r
}

async fn not_found(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!(
            "nothing at {}: the API starts at /api/releases, and /api/openapi.json describes it",
            uri.path()
        ),
    )
}

/// The published releases, oldest first.
#[utoipa::path(
    get,
    path = "/api/releases",
    responses((status = 200, description = "The published releases, oldest first", body = [ReleaseSummary]))
)]
async fn list_releases(State(c): State<Shared>) -> Response {
    let list: Vec<ReleaseSummary> = c.releases.iter().map(summary).collect();
    // The list changes as releases are published: no tag, a short life.
    set_cache(axum::Json(list).into_response(), LIST_CACHE, None)
}

fn summary(r: &Release) -> ReleaseSummary {
    let m = &r.manifest;
    let text = |k: &str| m[k].as_str().unwrap_or_default().to_string();
    ReleaseSummary {
        id: r.id.clone(),
        version: text("version"),
        title: text("title"),
        built_at: text("built_at"),
        tables: r
            .tables
            .values()
            .map(|t| TableSummary {
                name: t.name.clone(),
                title: t.title.clone(),
                measure: t.measure.clone(),
                dims: t.dims.clone(),
                url: format!("/api/releases/{}/tables/{}", r.id, t.name),
            })
            .collect(),
        url: format!("/api/releases/{}", r.id),
    }
}

/// One release's manifest (`release.json`): its tables, microdata and
/// synthetic data with their methods and files. `latest` names the newest.
#[utoipa::path(
    get,
    path = "/api/releases/{id}",
    params(("id" = String, Path, description = "A release id, or `latest`")),
    responses(
        (status = 200, description = "The release's manifest (release.json)", body = Object),
        (status = 404, description = "No such release", body = ApiError)
    )
)]
async fn get_release(
    State(c): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(r) = c.release(&id) else {
        return no_release(&id);
    };
    cached(
        &headers,
        &uri,
        &r.id,
        cache_for(&id),
        axum::Json(&r.manifest).into_response(),
    )
}

fn no_release(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no published release `{id}`: /api/releases lists them"),
    )
}

/// `latest` moves when a release is published; an id never does.
fn cache_for(id: &str) -> &'static str {
    if id == "latest" {
        LIST_CACHE
    } else {
        IMMUTABLE
    }
}

/// A table's observations, filtered by any of its dimensions and paged,
/// as JSON, CSV or SDMX-CSV 2.0.
#[utoipa::path(
    get,
    path = "/api/releases/{id}/tables/{table}",
    params(
        ("id" = String, Path, description = "A release id, or `latest`"),
        ("table" = String, Path, description = "A table of the release"),
        Paging
    ),
    responses(
        (status = 200, description = "The observations that match", content(
            (Observations = "application/json"),
            (String = "text/csv"),
            (String = "application/vnd.sdmx.data+csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )),
        (status = 400, description = "A parameter that is neither a dimension nor paging", body = ApiError),
        (status = 404, description = "No such release or table", body = ApiError)
    )
)]
async fn observations(
    State(c): State<Shared>,
    Path((id, table)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(r) = c.release(&id) else {
        return no_release(&id);
    };
    let Some(t) = r.tables.get(&table) else {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "release {} has no table `{table}`; its tables: {}",
                r.id,
                r.tables.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    };
    let query = match ObsQuery::parse(t, &params, &headers) {
        Ok(q) => q,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let csv_filters = query.columns(|d| t.dims.iter().position(|x| x == d));
    let response = match query.format {
        Format::Json => {
            let (matched, total) = indexed_page(t, &csv_filters, &query);
            let next = (query.offset + matched.len() < total)
                .then(|| next_page(uri.path(), &params, query.offset + matched.len()));
            let body = Observations {
                release: r.id.clone(),
                table: t.name.clone(),
                title: t.title.clone(),
                measure: t.measure.clone(),
                dims: t.dims.clone(),
                total,
                offset: query.offset,
                limit: query.limit,
                next,
                observations: matched.iter().map(|row| ObsRow { t, row }).collect(),
            };
            axum::Json(body).into_response()
        }
        Format::Csv => {
            let (matched, _) = indexed_page(t, &csv_filters, &query);
            csv_response(&t.header, &matched, "text/csv; charset=utf-8")
        }
        Format::Xlsx => {
            let (matched, _) = indexed_page(t, &csv_filters, &query);
            xlsx_response(t, &matched)
        }
        Format::SdmxCsv => {
            // A total or unknown period has no SDMX row, so a filter on
            // one matches nothing there.
            let filters = query.columns(|d| sdmx_column(&t.sdmx_header, d));
            let (matched, _) = page(&t.sdmx_rows, &filters, &query);
            csv_response(&t.sdmx_header, &matched, SDMX_CSV)
        }
    };
    cached(&headers, &uri, &r.id, cache_for(&id), response)
}

/// SDMX REST 2.0 structure queries on the newest release: the release's
/// own SDMX-ML 3.0 structure message, cut to the artefacts asked for and,
/// with `references`, the ones they reference or are referenced by.
#[utoipa::path(
    get,
    path = "/sdmx/v2/structure/{type}/{agency}/{id}/{version}",
    params(
        ("type" = StructureType, Path, description = "dataflow, datastructure, codelist, conceptscheme, or `*`"),
        ("agency" = String, Path, description = "Agency id (CORRIDOR), or `*`"),
        ("id" = String, Path, description = "Artefact id, or `*`; several comma-separated"),
        ("version" = String, Path, description = "Version, `~` for the latest, or `*`"),
        ("references" = Option<References>, Query, description = "none (default), parents, parentsandsiblings, ancestors, children, descendants, all, or a structure type"),
        ("detail" = Option<String>, Query, description = "Accepted; structures are always given in full")
    ),
    responses(
        (status = 200, description = "SDMX-ML 3.0 structure message", content_type = "application/vnd.sdmx.structure+xml; version=3.0.0", body = String),
        (status = 400, description = "A malformed query", body = ApiError),
        (status = 404, description = "No such artefact", body = ApiError),
        (status = 406, description = "A format other than SDMX-ML 3.0 was asked for", body = ApiError)
    )
)]
async fn sdmx_structure(
    State(c): State<Shared>,
    Path(rest): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    sdmx(
        &c,
        "latest",
        &format!("structure/{rest}"),
        &params,
        &headers,
        &uri,
    )
}

/// SDMX REST 2.0 data queries on the newest release: one dataflow's
/// observations as SDMX-CSV 2.0 (1.0 when `Accept` asks for it), filtered
/// by the key (dimension codes in the data structure's order, `.`
/// between dimensions, `,` or `+` between codes, `*` or nothing for any)
/// and by `c[COMPONENT]` (`c[TIME_PERIOD]=ge:2022-01+le:2022-06`,
/// `c[SEX]=F,M`).
#[utoipa::path(
    get,
    path = "/sdmx/v2/data/{context}/{agency}/{flow}/{version}/{key}",
    params(
        ("context" = DataContext, Path, description = "`dataflow` or `*`"),
        ("agency" = String, Path, description = "Agency id (CORRIDOR), or `*`"),
        ("flow" = String, Path, description = "Dataflow id, e.g. FLOWS_BY_CITIZENSHIP"),
        ("version" = String, Path, description = "Version, `~` for the latest, or `*`"),
        ("key" = String, Path, description = "Series key, e.g. ARRIVALS.GTM.*, or `*` for all"),
        ("startPeriod" = Option<String>, Query, description = "First period (inclusive)"),
        ("endPeriod" = Option<String>, Query, description = "Last period (inclusive)"),
        ("firstNObservations" = Option<usize>, Query, description = "The first N observations of each series"),
        ("lastNObservations" = Option<usize>, Query, description = "The last N observations of each series")
    ),
    responses(
        (status = 200, description = "SDMX-CSV observations", content_type = "application/vnd.sdmx.data+csv; version=2.0.0", body = String),
        (status = 400, description = "A malformed query", body = ApiError),
        (status = 404, description = "No such dataflow, or no observation matches", body = ApiError),
        (status = 406, description = "A format other than SDMX-CSV was asked for", body = ApiError)
    )
)]
async fn sdmx_data(
    State(c): State<Shared>,
    Path(rest): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    sdmx(
        &c,
        "latest",
        &format!("data/{rest}"),
        &params,
        &headers,
        &uri,
    )
}

/// The same SDMX REST 2.0 service over one release named by its id:
/// `/api/releases/{id}/sdmx/v2/structure/...` and `.../data/...`.
async fn sdmx_of_release(
    State(c): State<Shared>,
    Path((id, rest)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    sdmx(&c, &id, &rest, &params, &headers, &uri)
}

fn sdmx(
    c: &Catalogue,
    id: &str,
    rest: &str,
    params: &[(String, String)],
    headers: &HeaderMap,
    uri: &Uri,
) -> Response {
    let Some(r) = c.release(id) else {
        return no_release(id);
    };
    let resp = if let Some(q) = rest.strip_prefix("structure/") {
        crate::sdmx::structure_query(r, q, params, headers)
    } else if let Some(q) = rest.strip_prefix("data/") {
        crate::sdmx::data_query(r, q, params, headers)
    } else {
        error(
            StatusCode::NOT_FOUND,
            "SDMX REST 2.0 has structure/ and data/ queries",
        )
    };
    cached(headers, uri, &r.id, cache_for(id), resp)
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Csv,
    SdmxCsv,
    Xlsx,
}

struct ObsQuery {
    offset: usize,
    limit: usize,
    format: Format,
    /// Dimension → the codes it may take.
    filters: Vec<(String, Vec<String>)>,
}

impl ObsQuery {
    fn parse(
        t: &TableData,
        params: &[(String, String)],
        headers: &HeaderMap,
    ) -> Result<ObsQuery, String> {
        let mut q = ObsQuery {
            offset: 0,
            limit: DEFAULT_LIMIT,
            format: accepted(headers),
            filters: Vec::new(),
        };
        let number = |k: &str, v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("`{k}` is a whole number of 0 or more, not `{v}`"))
        };
        for (k, v) in params {
            match k.as_str() {
                "offset" => q.offset = number(k, v)?,
                "limit" => {
                    q.limit = number(k, v)?;
                    if q.limit > MAX_LIMIT {
                        return Err(format!("`limit` is at most {MAX_LIMIT}"));
                    }
                }
                "format" => {
                    q.format = match v.as_str() {
                        "json" => Format::Json,
                        "csv" => Format::Csv,
                        "sdmx-csv" => Format::SdmxCsv,
                        "xlsx" => Format::Xlsx,
                        other => {
                            return Err(format!(
                                "format `{other}`: use json, csv, sdmx-csv or xlsx"
                            ));
                        }
                    }
                }
                dim if t.dims.iter().any(|d| d == dim) => {
                    let codes = v.split(',').map(|c| c.trim().to_string()).collect();
                    q.filters.push((dim.to_string(), codes));
                }
                other => {
                    return Err(format!(
                        "unknown parameter `{other}`: filter on the table's dimensions ({}), or page with offset and limit, or choose a format",
                        t.dims.join(", ")
                    ));
                }
            }
        }
        Ok(q)
    }

    /// The filters as (column, codes), each dimension's column found by
    /// `at`.
    fn columns(&self, at: impl Fn(&str) -> Option<usize>) -> Vec<(usize, &[String])> {
        self.filters
            .iter()
            .filter_map(|(d, codes)| at(d).map(|i| (i, codes.as_slice())))
            .collect()
    }
}

/// The SDMX-CSV column of a dimension: its name upper-cased, or
/// TIME_PERIOD for the time dimension.
fn sdmx_column(header: &[String], dim: &str) -> Option<usize> {
    let upper = dim.to_uppercase();
    header.iter().position(|h| *h == upper).or_else(|| {
        matches!(dim, "month" | "year" | "quarter")
            .then(|| header.iter().position(|h| h == "TIME_PERIOD"))
            .flatten()
    })
}

/// The format `Accept` asks for; JSON unless it names CSV or SDMX-CSV.
fn accepted(headers: &HeaderMap) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accept.contains("application/vnd.sdmx.data+csv") {
        Format::SdmxCsv
    } else if accept.contains("text/csv") {
        Format::Csv
    } else {
        Format::Json
    }
}

/// The rows that match every filter, paged; and how many match in all.
fn page<'a>(
    rows: &'a [Vec<String>],
    filters: &[(usize, &[String])],
    q: &ObsQuery,
) -> (Vec<&'a Vec<String>>, usize) {
    let mut total = 0;
    let mut out = Vec::new();
    for row in rows {
        if filters
            .iter()
            .all(|(i, codes)| row.get(*i).is_some_and(|v| codes.contains(v)))
        {
            if total >= q.offset && out.len() < q.limit {
                out.push(row);
            }
            total += 1;
        }
    }
    (out, total)
}

/// [`page`] over a table's own rows, read through its index: the rows of
/// each filter's codes, intersected from the rarest filter up.
fn indexed_page<'a>(
    t: &'a TableData,
    filters: &[(usize, &[String])],
    q: &ObsQuery,
) -> (Vec<&'a Vec<String>>, usize) {
    if filters.is_empty() {
        return page(&t.rows, filters, q);
    }
    let mut lists: Vec<Vec<u32>> = filters
        .iter()
        .map(|(d, codes)| t.rows_with(*d, codes))
        .collect();
    lists.sort_by_key(Vec::len);
    let mut hits = lists.swap_remove(0);
    for other in &lists {
        // Both ascending: keep the rows the other list holds too.
        let mut j = 0;
        hits.retain(|&r| {
            while j < other.len() && other[j] < r {
                j += 1;
            }
            j < other.len() && other[j] == r
        });
    }
    let total = hits.len();
    let out = hits
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .filter_map(|&i| t.rows.get(i as usize))
        .collect();
    (out, total)
}

fn next_page(path: &str, params: &[(String, String)], offset: usize) -> String {
    let mut q: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "offset")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    q.push(format!("offset={offset}"));
    format!("{path}?{}", q.join("&"))
}

/// Percent-encodes what a query value may not hold as it is.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One cell as a JSON object, written straight from the release's row:
/// dimensions and statuses as text, the value and its error bound as
/// numbers (null where withheld).
pub struct ObsRow<'a> {
    t: &'a TableData,
    row: &'a [String],
}

impl Serialize for ObsRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let t = self.t;
        let mut m = s.serialize_map(Some(t.header.len()))?;
        for (i, h) in t.header.iter().enumerate() {
            let v = self.row.get(i).map_or("", String::as_str);
            if i < t.dims.len() || h == "obs_status" || h == "conf_status" {
                m.serialize_entry(h, v)?;
            } else if t.number {
                m.serialize_entry(h, &v.parse::<f64>().ok())?;
            } else {
                m.serialize_entry(h, &v.parse::<i64>().ok())?;
            }
        }
        m.end()
    }
}

fn csv_response(header: &[String], rows: &[&Vec<String>], content_type: &str) -> Response {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(*r);
    }
    let body = w.into_inner().unwrap_or_default();
    let mut r = (StatusCode::OK, body).into_response();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// The rows as a spreadsheet: the CSV's columns, values as numbers.
fn xlsx_response(t: &TableData, rows: &[&Vec<String>]) -> Response {
    let value_cols: Vec<bool> = t
        .header
        .iter()
        .map(|h| h == "value" || h == "error_bound_95")
        .collect();
    let written = (|| -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        // Excel's sheet names hold at most 31 characters.
        sheet.set_name(t.name.chars().take(31).collect::<String>())?;
        for (c, h) in t.header.iter().enumerate() {
            sheet.write_string(0, c as u16, h)?;
        }
        for (r, row) in rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, v) in row.iter().enumerate() {
                match v.parse::<f64>() {
                    Ok(x) if value_cols.get(c) == Some(&true) => {
                        sheet.write_number(r, c as u16, x)?
                    }
                    _ => sheet.write_string(r, c as u16, v)?,
                };
            }
        }
        book.save_to_buffer()
    })();
    match written {
        Ok(bytes) => {
            let mut r = (StatusCode::OK, bytes).into_response();
            set(
                &mut r,
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            );
            set(
                &mut r,
                header::CONTENT_DISPOSITION,
                &format!("attachment; filename=\"{}.xlsx\"", t.name),
            );
            r
        }
        Err(e) => {
            tracing::error!(table = %t.name, "cannot write a spreadsheet: {e}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the spreadsheet could not be written",
            )
        }
    }
}

/// A file of a release, byte for byte. Only the files the release's
/// `SHA256SUMS` lists (and the two that seal it) can be named: any other
/// path, `..` included, is not found.
#[utoipa::path(
    get,
    path = "/api/releases/{id}/files/{path}",
    params(
        ("id" = String, Path, description = "A release id, or `latest`"),
        ("path" = String, Path, description = "A file of the release, as SHA256SUMS lists it, e.g. data/flows_by_citizenship.csv")
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such release or file", body = ApiError)
    )
)]
async fn download(
    State(c): State<Shared>,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let Some(r) = c.release(&id) else {
        return no_release(&id);
    };
    if !r.files.contains(&path) {
        return error(
            StatusCode::NOT_FOUND,
            format!(
                "release {} has no file `{path}`; its SHA256SUMS lists every file",
                r.id
            ),
        );
    }
    let bytes = match tokio::fs::read(r.dir.join(&path)).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(release = %r.id, file = %path, "cannot read a release file: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be read",
            );
        }
    };
    let mut resp = (StatusCode::OK, Body::from(bytes)).into_response();
    set(&mut resp, header::CONTENT_TYPE, content_type(&path));
    cached(&headers, &uri, &r.id, cache_for(&id), resp)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" => "text/html; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "parquet" => "application/vnd.apache.parquet",
        "pub" | "sig" | "" => "text/plain; charset=utf-8",
        _ if path == "SHA256SUMS" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Adds the ETag (the release and the request, hashed) and the cache
/// header, and answers 304 when the client already holds this response.
fn cached(
    headers: &HeaderMap,
    uri: &Uri,
    scope: &str,
    cache: &str,
    mut resp: Response,
) -> Response {
    if !resp.status().is_success() {
        return resp;
    }
    let mut h = sha2::Sha256::new();
    h.update(scope.as_bytes());
    h.update([0]);
    h.update(uri.to_string().as_bytes());
    h.update([0]);
    if let Some(a) = headers.get(header::ACCEPT) {
        h.update(a.as_bytes());
    }
    let etag = format!("\"{}\"", &hex::encode(h.finalize())[..24]);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if matches {
        resp = StatusCode::NOT_MODIFIED.into_response();
    }
    set_cache(resp, cache, Some(&etag))
}

fn set_cache(mut resp: Response, cache: &str, etag: Option<&str>) -> Response {
    set(&mut resp, header::CACHE_CONTROL, cache);
    if let Some(e) = etag {
        set(&mut resp, header::ETAG, e);
    }
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    resp
}

pub(crate) fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Logs each request (method, path, status, time: never the query, which
/// may one day hold a token) and adds the CORS headers; answers CORS
/// preflight requests itself.
async fn log_and_cors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let mut resp = if method == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        set(
            &mut r,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, HEAD, OPTIONS",
        );
        set(
            &mut r,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Accept, Accept-Language, If-None-Match",
        );
        set(&mut r, header::ACCESS_CONTROL_MAX_AGE, "86400");
        r
    } else {
        next.run(req).await
    };
    set(&mut resp, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    set(&mut resp, header::ACCESS_CONTROL_EXPOSE_HEADERS, "ETag");
    tracing::info!(
        %method,
        %path,
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(rows: Vec<Vec<String>>) -> TableData {
        TableData {
            name: "t".into(),
            title: "t".into(),
            measure: "m".into(),
            dataflow: String::new(),
            dims: vec!["a".into(), "b".into(), "c".into()],
            header: ["a", "b", "c", "value"].map(String::from).to_vec(),
            index: crate::catalogue::index(3, &rows),
            rows,
            number: false,
            sdmx_header: Vec::new(),
            sdmx_rows: Vec::new(),
        }
    }

    proptest! {
        /// Reading through the index finds exactly the rows, the total and
        /// the page that a scan of every row finds.
        #[test]
        fn the_index_finds_what_a_scan_finds(
            rows in prop::collection::vec(prop::collection::vec(0u8..4, 3), 0..200),
            filters in prop::collection::vec((0usize..3, prop::collection::vec(0u8..5, 1..3)), 0..3),
            offset in 0usize..50,
            limit in 0usize..60,
        ) {
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut v: Vec<String> = r.iter().map(|c| format!("C{c}")).collect();
                    v.push(i.to_string());
                    v
                })
                .collect();
            let t = table(rows);
            let codes: Vec<(usize, Vec<String>)> = filters
                .into_iter()
                .map(|(d, cs)| (d, cs.iter().map(|c| format!("C{c}")).collect()))
                .collect();
            let f: Vec<(usize, &[String])> = codes.iter().map(|(d, c)| (*d, c.as_slice())).collect();
            let q = ObsQuery { offset, limit, format: Format::Json, filters: Vec::new() };
            let (a, ta) = indexed_page(&t, &f, &q);
            let (b, tb) = page(&t.rows, &f, &q);
            prop_assert_eq!(ta, tb);
            prop_assert_eq!(a, b);
        }
    }
}
