//! The home page (headline indicators with trend charts), the release
//! list with checksums and signatures, the methods note, and the
//! synthetic-data explorer.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;

use super::chart::{self, Line};
use super::{Ctx, TOTAL, Visit, esc, missing, param, select, series, shell, time_dim};
use crate::api::Shared;
use crate::catalogue::{Release, TableData};

/// The headline indicators: label key and the measure they read. Net
/// migration is the difference of the two long-term measures.
const INDICATORS: &[(&str, &str)] = &[
    ("ind_arrivals", "arrivals"),
    ("ind_departures", "departures"),
    ("ind_migrant_arrivals", "migrant_arrivals"),
    ("ind_migrant_departures", "migrant_departures"),
    ("ind_stock", "nonresidents_present"),
    ("ind_returns", "returns"),
    ("ind_victims", "victims"),
];

/// The table of `measure` that best shows a trend: by year rather than
/// by month, with the fewest other dimensions.
fn trend_table<'r>(r: &'r Release, measure: &str) -> Option<&'r TableData> {
    r.tables
        .values()
        .filter(|t| t.measure == measure && time_dim(t).is_some())
        .min_by_key(|t| (!t.dims.iter().any(|d| d == "year"), t.dims.len()))
}

fn card(
    cx: &Ctx,
    r: &Release,
    title: &str,
    t: Option<&TableData>,
    xs: &[String],
    values: &[Option<f64>],
) -> String {
    let mut s = String::from("<section class=\"card\">");
    let _ = write!(s, "<h3>{}</h3>", esc(title));
    let known: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    if let Some(&(i, last)) = known.last() {
        let _ = write!(
            s,
            "<p><span class=\"big\">{}</span> <span class=\"note\">{} ({})</span>",
            chart::number(last),
            cx.t("latest"),
            esc(&xs[i])
        );
        if known.len() > 1 {
            let prev = known[known.len() - 2].1;
            let d = last - prev;
            let _ = write!(
                s,
                "<br><span class=\"note\">{}{} {}</span>",
                if d >= 0.0 { "+" } else { "" },
                chart::number(d),
                cx.t("change")
            );
        }
        s.push_str("</p>");
    }
    s.push_str(&chart::line_chart(
        title,
        xs,
        &[Line {
            name: title.to_string(),
            values: values.to_vec(),
        }],
        360,
        160,
    ));
    if let Some(t) = t {
        let _ = write!(
            s,
            "<p><a href=\"{}\">{}</a></p>",
            cx.href(&format!("/explore/{}/{}", r.id, t.name), &[]),
            cx.t("open_explorer")
        );
    }
    s.push_str("</section>");
    s
}

pub(crate) async fn home(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let Some(r) = cx.release(&c) else {
        let body = format!("<p>{}</p>", cx.t("no_release"));
        return shell(&cx, "home", cx.t("site"), &body);
    };
    let mut body = String::new();
    let _ = write!(
        body,
        "<p>{} <strong>{}</strong> ({}, {}).</p><h2>{}</h2><div class=\"cards\">",
        cx.t("release"),
        esc(r.manifest["title"].as_str().unwrap_or_default()),
        esc(r.manifest["version"].as_str().unwrap_or_default()),
        esc(r.manifest["reference_period"].as_str().unwrap_or_default()),
        cx.t("headline")
    );
    let empty = BTreeMap::new();
    let mut long_term: BTreeMap<&str, (Vec<String>, Vec<Option<f64>>)> = BTreeMap::new();
    for (key, measure) in INDICATORS {
        let Some(t) = trend_table(r, measure) else {
            continue;
        };
        let Some((xs, values)) = series(t, &empty) else {
            continue;
        };
        if matches!(*measure, "migrant_arrivals" | "migrant_departures") {
            long_term.insert(measure, (xs.clone(), values.clone()));
        }
        body.push_str(&card(&cx, r, cx.t(key), Some(t), &xs, &values));
        // Net migration follows its two parts.
        if *measure == "migrant_departures"
            && let (Some((xa, a)), Some((xd, d))) = (
                long_term.get("migrant_arrivals"),
                long_term.get("migrant_departures"),
            )
        {
            let xs: Vec<String> = xa.iter().filter(|x| xd.contains(x)).cloned().collect();
            let at = |xs: &[String], v: &[Option<f64>], x: &str| {
                xs.iter().position(|y| y == x).and_then(|i| v[i])
            };
            let net: Vec<Option<f64>> = xs
                .iter()
                .map(|x| Some(at(xa, a, x)? - at(xd, d, x)?))
                .collect();
            body.push_str(&card(&cx, r, cx.t("ind_net"), None, &xs, &net));
        }
    }
    body.push_str("</div>");
    // SDG 16.2.2 has no time dimension in a one-year release: its total.
    for t in r
        .tables
        .values()
        .filter(|t| t.measure == "victims" && time_dim(t).is_none())
    {
        let cols = super::Columns::of(t);
        if let Some(total) = t
            .rows
            .iter()
            .find(|row| row[..t.dims.len()].iter().all(|v| v == TOTAL))
            .and_then(|row| cols.value(row))
        {
            let _ = write!(
                body,
                "<p>{}: <strong>{}</strong> · <a href=\"{}\">{}</a></p>",
                esc(&t.title),
                chart::number(total),
                cx.href(&format!("/explore/{}/{}", r.id, t.name), &[]),
                cx.t("open_explorer")
            );
        }
    }
    let _ = write!(body, "<h2>{}</h2><ul>", cx.t("tables"));
    for t in r.tables.values() {
        let _ = write!(
            body,
            "<li><a href=\"{}\">{}</a></li>",
            cx.href(&format!("/explore/{}/{}", r.id, t.name), &[]),
            esc(&t.title)
        );
    }
    body.push_str("</ul>");
    shell(&cx, "home", cx.t("site"), &body)
}

pub(crate) async fn releases(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let mut body = String::new();
    if c.releases.is_empty() {
        let _ = write!(body, "<p>{}</p>", cx.t("no_release"));
    }
    for r in c.releases.iter().rev() {
        let m = &r.manifest;
        let file = |p: &str| format!("/api/releases/{}/files/{p}", r.id);
        let manifest_url = format!("/api/releases/{}", r.id);
        let _ = write!(
            body,
            "<section><h2>{} <small>{}</small></h2><p>{}: {} · <code>{}</code></p><p>{}</p>\
             <p><a href=\"{}\">{}</a> · <a href=\"{}\">release.json</a> · <a href=\"{}\">SHA256SUMS</a> · \
             <a href=\"{}\">{} (SHA256SUMS.sig)</a> · <a href=\"{}\">{}</a></p>",
            esc(m["title"].as_str().unwrap_or_default()),
            esc(m["version"].as_str().unwrap_or_default()),
            cx.t("built"),
            esc(m["built_at"].as_str().unwrap_or_default()),
            esc(&r.id),
            cx.t("verified"),
            cx.href("/methods", &[("release", &r.id)]),
            cx.t("methods_note"),
            manifest_url,
            file("SHA256SUMS"),
            file("SHA256SUMS.sig"),
            cx.t("signature"),
            file("signing-key.pub"),
            cx.t("public_key"),
        );
        let sums = tokio::fs::read_to_string(r.dir.join("SHA256SUMS"))
            .await
            .unwrap_or_default();
        let _ = write!(
            body,
            "<details><summary>{}</summary><div class=\"scroll\"><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">SHA-256</th></tr></thead><tbody>",
            cx.t("checksums"),
            cx.t("file")
        );
        for line in sums.lines() {
            if let Some((hash, path)) = line.split_once("  ") {
                let _ = write!(
                    body,
                    "<tr><td><a href=\"{}\">{}</a></td><td><code>{}</code></td></tr>",
                    esc(&file(path)),
                    esc(path),
                    esc(hash)
                );
            }
        }
        body.push_str("</tbody></table></div></details></section>");
    }
    shell(&cx, "releases", cx.t("releases"), &body)
}

pub(crate) async fn methods(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let Some(r) = cx.release(&c) else {
        return missing(&cx, "methods", cx.t("no_release"));
    };
    let rel = format!("methods/methods.{}.html", cx.lang.code());
    let html = if r.files.contains(&rel) {
        tokio::fs::read_to_string(r.dir.join(&rel))
            .await
            .unwrap_or_default()
    } else {
        String::new()
    };
    // The note is a whole page the release signed: its body goes inside
    // the portal's, as it is.
    let inner = html
        .split_once("<body>")
        .and_then(|(_, b)| b.rsplit_once("</body>").map(|(b, _)| b.to_string()))
        .unwrap_or(html);
    shell(&cx, "methods", cx.t("methods_note"), &inner)
}

/// The synthetic-data explorer: attribute filters, the published
/// aggregate count of the combination beside the synthetic data's, the
/// matching synthetic records and the utility report.
pub(crate) async fn synthetic(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let Some(r) = cx.release(&c) else {
        return missing(&cx, "synthetic", cx.t("no_release"));
    };
    let list: Vec<&serde_json::Value> = r.manifest["synthetic"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let Some(first) = list.first() else {
        return shell(
            &cx,
            "synthetic",
            cx.t("synthetic"),
            &format!("<p>{}</p>", cx.t("no_synthetic")),
        );
    };
    let name = param(cx.params, "name").unwrap_or(first["name"].as_str().unwrap_or_default());
    let Some(s) = list.iter().find(|s| s["name"] == name) else {
        return missing(&cx, "synthetic", &format!("{name}?"));
    };
    let file = |k: &str| {
        s["files"][k]
            .as_str()
            .filter(|p| r.files.contains(*p))
            .map(|p| r.dir.join(p))
    };
    let read = |p: Option<std::path::PathBuf>| -> Vec<csv::StringRecord> {
        p.and_then(|p| csv::Reader::from_path(p).ok())
            .map(|mut rd| rd.records().filter_map(Result::ok).collect())
            .unwrap_or_default()
    };
    let columns: Vec<String> = s["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    let records = read(file("synthetic"));
    let aggregates = read(file("aggregates"));
    let chosen: Vec<(usize, &str)> = columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| param(cx.params, &format!("a.{c}")).map(|v| (i, v)))
        .collect();

    let mut body = String::new();
    let _ = write!(
        body,
        "<p>{}</p><form class=\"filters\" method=\"get\" action=\"/synthetic\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><input type=\"hidden\" name=\"release\" value=\"{}\">",
        cx.t("synthetic_intro"),
        cx.lang.code(),
        esc(&r.id)
    );
    body.push_str(&select(
        "name",
        cx.t("synthetic"),
        list.iter().map(|x| {
            let n = x["name"].as_str().unwrap_or_default();
            (n.to_string(), x["title"].as_str().unwrap_or(n).to_string())
        }),
        |v| v == name,
        None,
    ));
    for (i, col) in columns.iter().enumerate() {
        let mut values: Vec<&str> = records
            .iter()
            .filter_map(|r| r.get(i))
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_unstable();
        values.dedup();
        let cur = chosen.iter().find(|(j, _)| *j == i).map(|(_, v)| *v);
        let any = (String::new(), cx.t("any").to_string());
        body.push_str(&select(
            &format!("a.{col}"),
            &r.labels.dim(col, cx.lang.spanish()),
            std::iter::once(any).chain(
                values
                    .iter()
                    .map(|v| (v.to_string(), r.labels.code(col, v, cx.lang.spanish()))),
            ),
            |v| cur == Some(v),
            None,
        ));
    }
    let _ = write!(
        body,
        "<div><button type=\"submit\">{}</button></div></form>",
        cx.t("show")
    );

    let matching: Vec<&csv::StringRecord> = records
        .iter()
        .filter(|rec| chosen.iter().all(|(i, v)| rec.get(*i) == Some(*v)))
        .collect();
    // The aggregates name a combination as `col:value;col:value`, in
    // column order.
    let combo: String = chosen
        .iter()
        .map(|(i, v)| format!("{}:{v}", columns[*i]))
        .collect::<Vec<_>>()
        .join(";");
    let published = aggregates
        .iter()
        .find(|a| a.get(0) == Some(combo.as_str()))
        .and_then(|a| a.get(2).map(str::to_string));
    let _ = write!(
        body,
        "<h2>{}</h2><table><tbody><tr><th scope=\"row\">{}</th><td>{}</td></tr>",
        cx.t("combination"),
        cx.t("combination"),
        if combo.is_empty() {
            cx.t("all").to_string()
        } else {
            esc(&combo)
        }
    );
    if !aggregates.is_empty() {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td class=\"n\" id=\"aggregate-count\">{}</td></tr>",
            cx.t("aggregate_count"),
            match (&published, combo.is_empty()) {
                (Some(n), _) => esc(n),
                (None, true) => s["persons"].to_string(),
                (None, false) => cx.t("not_published").to_string(),
            }
        );
    }
    let _ = write!(
        body,
        "<tr><th scope=\"row\">{}</th><td class=\"n\" id=\"synthetic-count\">{}</td></tr></tbody></table>",
        cx.t("synthetic_count"),
        matching.len()
    );
    let _ = write!(
        body,
        "<h2>{}</h2><p>{}:</p><ul>",
        cx.t("utility"),
        cx.t("mean_tvd")
    );
    for (k, v) in s["mean_tvd"].as_array().into_iter().flatten().enumerate() {
        let _ = write!(
            body,
            "<li>{}: {:.3}</li>",
            k + 1,
            v.as_f64().unwrap_or(f64::NAN)
        );
    }
    body.push_str("</ul>");
    for (k, label) in [
        ("report", cx.t("utility")),
        ("synthetic", "CSV"),
        ("aggregates", "aggregates.csv"),
        ("readme", "README"),
    ] {
        if let Some(p) = s["files"][k].as_str() {
            let _ = write!(
                body,
                "<a href=\"/api/releases/{}/files/{}\">{}</a> · ",
                esc(&r.id),
                esc(p),
                esc(label)
            );
        }
    }
    let _ = write!(
        body,
        "<h2>{} {} {}</h2><div class=\"scroll\"><table><thead><tr>",
        matching.len(),
        cx.t("records"),
        if matching.len() > 100 { "(100)" } else { "" }
    );
    for col in &columns {
        let _ = write!(
            body,
            "<th scope=\"col\">{}</th>",
            esc(&r.labels.dim(col, cx.lang.spanish()))
        );
    }
    body.push_str("</tr></thead><tbody>");
    for rec in matching.iter().take(100) {
        body.push_str("<tr>");
        for (i, col) in columns.iter().enumerate() {
            let v = rec.get(i).unwrap_or_default();
            let _ = write!(
                body,
                "<td>{}</td>",
                esc(&r.labels.code(col, v, cx.lang.spanish()))
            );
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    let title = s["title"].as_str().unwrap_or(name);
    shell(&cx, "synthetic", title, &body)
}
