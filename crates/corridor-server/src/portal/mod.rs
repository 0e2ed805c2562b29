//! The portal: HTML pages over the published releases, rendered on the
//! server, with charts as SVG. Every page works without JavaScript, in
//! English and Spanish (`?lang=`, else `Accept-Language`), on a phone's
//! width, and by keyboard. Its every number comes from a release's own
//! files, through the same catalogue the API serves: the portal computes
//! nothing that was not published, except arithmetic shown beside the
//! figures it comes from (net migration, changes on the period before,
//! mirror asymmetries, counts of published synthetic records).

mod chart;
mod explore;
mod pages;
mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub(crate) use crate::api::encode as enc;
use crate::catalogue::{Catalogue, Release, TableData};
pub(crate) use text::Lang;

/// The portal's routes.
pub(crate) fn routes() -> Router<crate::api::App> {
    Router::new()
        .route("/", get(pages::home))
        .route("/releases", get(pages::releases))
        .route("/methods", get(pages::methods))
        .route("/synthetic", get(pages::synthetic))
        .route("/explore", get(explore::index))
        .route("/explore/{release}/{table}", get(explore::table))
        .route("/map", get(explore::map))
        .route("/mirror", get(explore::mirror))
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What a page request brings: its URI, query and headers.
pub(crate) struct Visit {
    uri: Uri,
    params: Vec<(String, String)>,
    headers: HeaderMap,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Visit {
    type Rejection = axum::extract::rejection::QueryRejection;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Visit, Self::Rejection> {
        let axum::extract::Query(params) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)?;
        Ok(Visit {
            uri: parts.uri.clone(),
            params,
            headers: parts.headers.clone(),
        })
    }
}

impl Visit {
    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx::new(&self.uri, &self.params, &self.headers)
    }
}

/// What every page knows: the language, the query it was asked with, and
/// the release it shows.
pub(crate) struct Ctx<'a> {
    pub lang: Lang,
    pub uri: &'a Uri,
    pub params: &'a [(String, String)],
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        uri: &'a Uri,
        params: &'a [(String, String)],
        headers: &HeaderMap,
    ) -> Ctx<'a> {
        let lang = Lang::choose(param(params, "lang"), headers);
        Ctx { lang, uri, params }
    }

    pub(crate) fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// A link within the portal, in this page's language.
    pub(crate) fn href(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut q: Vec<String> = query
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        q.push(format!("lang={}", self.lang.code()));
        esc(&format!("{path}?{}", q.join("&")))
    }

    /// This page in `lang`.
    fn in_lang(&self, lang: Lang) -> String {
        let mut q: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| k != "lang")
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        q.push(format!("lang={}", lang.code()));
        esc(&format!("{}?{}", self.uri.path(), q.join("&")))
    }

    /// The release `?release=` names, or the newest.
    pub(crate) fn release<'c>(&self, c: &'c Catalogue) -> Option<&'c Release> {
        c.release(param(self.params, "release").unwrap_or("latest"))
    }
}

pub(crate) fn param<'p>(params: &'p [(String, String)], key: &str) -> Option<&'p str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

const STYLE: &str = "\
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}\
a{color:#0b4f8a}a:focus,button:focus,select:focus,input:focus{outline:3px solid #e69f00;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:1em;top:1em;background:#fff;padding:.5em;z-index:9}\
header{background:#0b3d66;color:#fff;padding:.6em 1em}header a{color:#fff}header .site{font-weight:700;font-size:1.1em;text-decoration:none}\
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.2em 1em;margin:.4em 0 0;padding:0}nav a[aria-current]{text-decoration-thickness:3px}\
.langs{float:right}.langs a{margin-left:.6em}main{max-width:72em;margin:0 auto;padding:1em}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(20em,1fr));gap:1em}.card{border:1px solid #ccc;border-radius:6px;padding:.8em}\
.card h3{margin:.1em 0;font-size:1em}.big{font-size:1.8em;font-weight:700}\
svg.chart,svg.map{width:100%;height:auto;max-height:32em}ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1em;font-size:.9em}\
.swatch{display:inline-block;width:1em;height:1em;margin-right:.3em;vertical-align:-.15em;border:1px solid #888}\
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.scroll{overflow-x:auto}form.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(14em,1fr));gap:.6em 1em;align-items:start}\
form.filters label{display:block;font-weight:600}select{width:100%;font-size:1em;padding:.2em}button{font-size:1em;padding:.4em 1.2em;background:#0b4f8a;color:#fff;border:0;border-radius:4px}\
.note{color:#444;font-size:.92em}code{word-break:break-all}footer{max-width:72em;margin:2em auto;padding:1em;color:#444;font-size:.9em;border-top:1px solid #ddd}";

/// The page around `body`.
pub(crate) fn shell(cx: &Ctx, current: &str, title: &str, body: &str) -> Response {
    let mut h = String::with_capacity(body.len() + 4096);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} · Corridor</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<a class=\"skip\" href=\"#main\">{skip}</a>\n<header>\n<span class=\"langs\" aria-label=\"{language}\">",
        lang = cx.lang.code(),
        title = esc(title),
        skip = cx.t("skip"),
        language = cx.t("language"),
    );
    for (l, name) in [(Lang::En, "English"), (Lang::Es, "Español")] {
        if l == cx.lang {
            let _ = write!(
                h,
                "<a href=\"{}\" aria-current=\"true\" lang=\"{}\">{name}</a>",
                cx.in_lang(l),
                l.code()
            );
        } else {
            let _ = write!(
                h,
                "<a href=\"{}\" lang=\"{}\" hreflang=\"{}\">{name}</a>",
                cx.in_lang(l),
                l.code(),
                l.code()
            );
        }
    }
    let _ = write!(
        h,
        "</span>\n<a class=\"site\" href=\"{}\">{}</a>\n<nav aria-label=\"{}\"><ul>",
        cx.href("/", &[]),
        cx.t("site"),
        cx.t("nav")
    );
    for (key, path) in [
        ("home", "/"),
        ("explore", "/explore"),
        ("map", "/map"),
        ("mirror", "/mirror"),
        ("synthetic", "/synthetic"),
        ("methods", "/methods"),
        ("releases", "/releases"),
    ] {
        let release = param(cx.params, "release").unwrap_or_default();
        let cur = if key == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<li><a href=\"{}\"{cur}>{}</a></li>",
            cx.href(path, &[("release", release)]),
            cx.t(key)
        );
    }
    let _ = write!(
        h,
        "</ul></nav>\n</header>\n<main id=\"main\">\n<h1>{}</h1>\n{body}\n</main>\n<footer>{} <a href=\"/api/openapi.json\">/api/openapi.json</a> · SDMX REST: <code>/sdmx/v2/</code></footer>\n</body>\n</html>\n",
        esc(title),
        cx.t("footer")
    );
    let mut resp = (StatusCode::OK, h).into_response();
    crate::api::set(&mut resp, header::CONTENT_TYPE, "text/html; charset=utf-8");
    crate::api::set(&mut resp, header::CONTENT_LANGUAGE, cx.lang.code());
    crate::api::set(&mut resp, header::CACHE_CONTROL, "public, max-age=60");
    resp.headers_mut().insert(
        header::VARY,
        axum::http::HeaderValue::from_static("Accept-Language"),
    );
    resp
}

/// A page that says what is missing, with the status it deserves.
pub(crate) fn missing(cx: &Ctx, current: &str, message: &str) -> Response {
    let mut r = shell(
        cx,
        current,
        cx.t("not_found"),
        &format!("<p>{}</p>", esc(message)),
    );
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// A labelled `<select>` of `options` (value, text), with the chosen ones
/// selected; `multiple` gives the visible rows of a multiple choice.
pub(crate) fn select(
    name: &str,
    label: &str,
    options: impl IntoIterator<Item = (String, String)>,
    chosen: impl Fn(&str) -> bool,
    multiple: Option<usize>,
) -> String {
    let id = format!("f-{}", name.replace('.', "-"));
    let mut s = format!(
        "<div><label for=\"{id}\">{}</label><select id=\"{id}\" name=\"{}\"{}>",
        esc(label),
        esc(name),
        multiple.map_or(String::new(), |n| format!(" multiple size=\"{n}\""))
    );
    for (value, text) in options {
        let _ = write!(
            s,
            "<option value=\"{}\"{}>{}</option>",
            esc(&value),
            if chosen(&value) { " selected" } else { "" },
            esc(&text)
        );
    }
    s.push_str("</select></div>");
    s
}

/// The period `?period=` names if the table has it, else the whole
/// period (`_T`) if published, else the latest.
pub(crate) fn chosen_period(params: &[(String, String)], periods: &[String]) -> Option<String> {
    param(params, "period")
        .filter(|p| periods.iter().any(|x| x == p))
        .map(str::to_string)
        .or_else(|| periods.iter().find(|p| *p == "_T").cloned())
        .or_else(|| periods.last().cloned())
}

/// The choice of a period, the whole period named in words.
pub(crate) fn period_select(cx: &Ctx, periods: &[String], period: Option<&String>) -> String {
    select(
        "period",
        cx.t("period"),
        periods.iter().map(|p| {
            let name = if p == "_T" {
                cx.t("total_period").to_string()
            } else {
                p.clone()
            };
            (p.clone(), name)
        }),
        |v| Some(v) == period.map(String::as_str),
        None,
    )
}

/// The columns of a table's CSV that hold the value and its statuses.
pub(crate) struct Columns {
    pub value: usize,
    pub obs_status: Option<usize>,
    pub conf_status: Option<usize>,
    pub error_bound: Option<usize>,
}

impl Columns {
    pub(crate) fn of(t: &TableData) -> Columns {
        let at = |n: &str| t.header.iter().position(|h| h == n);
        Columns {
            value: at("value").unwrap_or(t.dims.len()),
            obs_status: at("obs_status"),
            conf_status: at("conf_status"),
            error_bound: at("error_bound_95"),
        }
    }

    pub(crate) fn value(&self, row: &[String]) -> Option<f64> {
        row.get(self.value).and_then(|v| v.parse().ok())
    }
}

/// The time dimension of a table: `month`, `quarter` or `year`.
pub(crate) fn time_dim(t: &TableData) -> Option<usize> {
    ["month", "quarter", "year"]
        .iter()
        .find_map(|d| t.dims.iter().position(|x| x == d))
}

/// Whether `row` has every dimension at its total but the `free` ones and
/// the time dimension, which must be at `period`.
pub(crate) fn at_totals(
    t: &TableData,
    row: &[String],
    free: &[usize],
    period: Option<&str>,
) -> bool {
    let time = time_dim(t);
    (0..t.dims.len()).all(|k| {
        free.contains(&k)
            || if Some(k) == time {
                Some(row[k].as_str()) == period
            } else {
                row[k] == TOTAL
            }
    })
}

/// A table's series over time where every other dimension is at
/// `fixed[d]` (or its total `_T` where `fixed` is silent): periods in
/// order, values (None where withheld). None when some dimension has no
/// such code.
pub(crate) fn series(
    t: &TableData,
    fixed: &BTreeMap<usize, &str>,
) -> Option<(Vec<String>, Vec<Option<f64>>)> {
    let time = time_dim(t)?;
    let cols = Columns::of(t);
    let mut points: BTreeMap<String, Option<f64>> = BTreeMap::new();
    for row in &t.rows {
        let ok = (0..t.dims.len())
            .all(|d| d == time || row[d] == *fixed.get(&d).copied().unwrap_or(TOTAL));
        if ok && !row[time].starts_with('_') {
            points.insert(row[time].clone(), cols.value(row));
        }
    }
    if points.is_empty() {
        return None;
    }
    Some(points.into_iter().unzip())
}

/// The code of a total, as the releases write it.
pub(crate) const TOTAL: &str = "_T";
