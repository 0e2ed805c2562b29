//! The explorer of any release table (dimensions and filters, a chart,
//! the table, downloads; the URL reproduces the view), the choropleth
//! map, and the mirror-statistics view.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Response;

use super::chart::{self, Line};
use super::{
    Columns, TOTAL, Visit, at_totals, chosen_period, enc, esc, missing, param, period_select,
    select, shell, time_dim,
};
use crate::api::Shared;
use crate::catalogue::{Release, TableData};

/// The most rows the explorer's table shows; downloads hold them all.
const SHOWN: usize = 500;
/// The most lines or bar groups a chart draws by default.
const DEFAULT_SERIES: usize = 8;

/// Every code of each dimension, in order (totals first, then the rest
/// sorted), from the table's index.
fn codes(t: &TableData) -> Vec<Vec<String>> {
    t.index
        .iter()
        .map(|ix| {
            let set: BTreeSet<&str> = ix.keys().map(String::as_str).collect();
            let mut v: Vec<String> = set
                .iter()
                .filter(|c| **c == TOTAL)
                .map(|c| c.to_string())
                .collect();
            v.extend(set.iter().filter(|c| **c != TOTAL).map(|c| c.to_string()));
            v
        })
        .collect()
}

pub(crate) async fn index(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let Some(r) = cx.release(&c) else {
        return missing(&cx, "explore", cx.t("no_release"));
    };
    let mut body = format!("<h2>{}</h2><ul>", cx.t("tables"));
    for t in r.tables.values() {
        let dims: Vec<String> = t
            .dims
            .iter()
            .map(|d| r.labels.dim(d, cx.lang.spanish()))
            .collect();
        let _ = write!(
            body,
            "<li><a href=\"{}\">{}</a> <span class=\"note\">({})</span></li>",
            cx.href(&format!("/explore/{}/{}", r.id, t.name), &[]),
            esc(&t.title),
            esc(&dims.join(", "))
        );
    }
    body.push_str("</ul>");
    shell(&cx, "explore", cx.t("explore"), &body)
}

/// The codes chosen for each dimension: what the query names, or the
/// defaults (every code along the axis, the first few per line, the total
/// elsewhere).
fn chosen(
    t: &TableData,
    all: &[Vec<String>],
    params: &[(String, String)],
    x: usize,
    series: Option<usize>,
) -> Vec<Vec<String>> {
    (0..t.dims.len())
        .map(|d| {
            let asked: Vec<String> = params
                .iter()
                .filter(|(k, _)| *k == t.dims[d])
                .flat_map(|(_, v)| v.split(','))
                .filter(|c| all[d].iter().any(|a| a == c))
                .map(str::to_string)
                .collect();
            if !asked.is_empty() {
                return asked;
            }
            let not_total = || all[d].iter().filter(|c| *c != TOTAL).cloned();
            if d == x {
                not_total().collect()
            } else if Some(d) == series {
                not_total().take(DEFAULT_SERIES).collect()
            } else if all[d].iter().any(|c| c == TOTAL) {
                vec![TOTAL.to_string()]
            } else {
                all[d].iter().take(1).cloned().collect()
            }
        })
        .collect()
}

pub(crate) async fn table(
    State(c): State<Shared>,
    Path((release, table)): Path<(String, String)>,
    visit: Visit,
) -> Response {
    let cx = visit.ctx();
    let Some(r) = c.release(&release) else {
        return missing(
            &cx,
            "explore",
            &format!("{release}: {}", cx.t("no_release")),
        );
    };
    let Some(t) = r.tables.get(&table) else {
        return missing(&cx, "explore", &format!("{table}?"));
    };
    let sp = cx.lang.spanish();
    let dim_at = |name: Option<&str>| name.and_then(|n| t.dims.iter().position(|d| d == n));
    let x = dim_at(param(cx.params, "x"))
        .or_else(|| time_dim(t))
        .unwrap_or(0);
    let series = dim_at(param(cx.params, "series")).filter(|s| *s != x);
    let all = codes(t);
    let pick = chosen(t, &all, cx.params, x, series);
    let cols = Columns::of(t);
    let matching: Vec<&Vec<String>> = t
        .rows
        .iter()
        .filter(|row| (0..t.dims.len()).all(|d| pick[d].contains(&row[d])))
        .collect();

    // The form: the axis, the lines, and the codes of every dimension.
    let mut body = String::new();
    let protection = r.manifest["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == t.name.as_str());
    let method = protection
        .and_then(|m| m["protection"]["method"].as_str())
        .unwrap_or_default();
    let _ = write!(
        body,
        "<p class=\"note\">{}: {} · {}: {} · <a href=\"{}\">{}</a></p>",
        cx.t("release"),
        esc(&r.id),
        cx.t("protection"),
        esc(method),
        cx.href("/methods", &[("release", &r.id)]),
        cx.t("methods_note")
    );
    let _ = write!(
        body,
        "<h2>{}</h2><form class=\"filters\" method=\"get\" action=\"/explore/{}/{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">",
        cx.t("filters"),
        esc(&r.id),
        esc(&t.name),
        cx.lang.code()
    );
    let dim_options = |none: bool| {
        let first = none.then(|| (String::new(), cx.t("none").to_string()));
        first
            .into_iter()
            .chain(t.dims.iter().map(|d| (d.clone(), r.labels.dim(d, sp))))
            .collect::<Vec<_>>()
    };
    body.push_str(&select(
        "x",
        cx.t("x_axis"),
        dim_options(false),
        |v| v == t.dims[x],
        None,
    ));
    body.push_str(&select(
        "series",
        cx.t("series"),
        dim_options(true),
        |v| series.map(|s| t.dims[s].as_str()) == Some(v),
        None,
    ));
    for (d, dim) in t.dims.iter().enumerate() {
        body.push_str(&select(
            dim,
            &r.labels.dim(dim, sp),
            all[d].iter().map(|c| (c.clone(), label(r, dim, c, sp))),
            |v| pick[d].iter().any(|p| p == v),
            Some(all[d].len().clamp(2, 6)),
        ));
    }
    let _ = write!(
        body,
        "<div><button type=\"submit\" id=\"show\">{}</button></div></form>",
        cx.t("show")
    );

    // The chart: needs one code of every other dimension.
    let _ = write!(body, "<h2>{}</h2>", cx.t("chart"));
    let one_each = (0..t.dims.len()).all(|d| d == x || Some(d) == series || pick[d].len() == 1);
    if one_each && !matching.is_empty() {
        let xs = &pick[x];
        let line_codes: Vec<Option<&String>> = match series {
            Some(s) => pick[s].iter().map(Some).collect(),
            None => vec![None],
        };
        let mut values: BTreeMap<(&str, Option<&str>), Option<f64>> = BTreeMap::new();
        for row in &matching {
            values.insert(
                (row[x].as_str(), series.map(|s| row[s].as_str())),
                cols.value(row),
            );
        }
        let lines: Vec<Line> = line_codes
            .iter()
            .map(|lc| Line {
                name: match (series, lc) {
                    (Some(s), Some(code)) => label(r, &t.dims[s], code, sp),
                    _ => t.title.clone(),
                },
                values: xs
                    .iter()
                    .map(|xc| {
                        values
                            .get(&(xc.as_str(), lc.map(String::as_str)))
                            .copied()
                            .flatten()
                    })
                    .collect(),
            })
            .collect();
        let labels: Vec<String> = xs.iter().map(|c| label(r, &t.dims[x], c, sp)).collect();
        body.push_str("<figure id=\"chart\">");
        if Some(x) == time_dim(t) {
            body.push_str(&chart::line_chart(&t.title, xs, &lines, 900, 320));
        } else {
            body.push_str(&chart::bar_chart(&t.title, &labels, &lines, 900));
        }
        body.push_str("</figure>");
    } else {
        let _ = write!(body, "<p id=\"chart\">{}</p>", cx.t("chart_needs_one"));
    }

    // Downloads: the whole table's files, and this view through the API.
    let files = protection.map(|m| &m["files"]);
    let file = |k: &str| {
        files
            .and_then(|f| f[k].as_str())
            .map(|p| format!("/api/releases/{}/files/{p}", r.id))
    };
    let filters: String = (0..t.dims.len())
        .filter(|&d| pick[d].len() < all[d].len())
        .map(|d| format!("{}={}&", enc(&t.dims[d]), enc(&pick[d].join(","))))
        .collect();
    let view = |f: &str| {
        esc(&format!(
            "/api/releases/{}/tables/{}?{filters}limit=100000&format={f}",
            r.id, t.name
        ))
    };
    let _ = write!(
        body,
        "<h2>{}</h2><p>{}: <a id=\"dl-csv\" href=\"{}\">CSV</a> · <a href=\"{}\">SDMX-CSV</a> · <a href=\"{}\">xlsx</a> · <a href=\"{}\">JSON</a></p><p>{}: ",
        cx.t("downloads"),
        cx.t("this_view"),
        view("csv"),
        view("sdmx-csv"),
        view("xlsx"),
        view("json"),
        cx.t("whole_table")
    );
    for (k, name) in [
        ("csv", "CSV"),
        ("parquet", "Parquet"),
        ("sdmx_csv", "SDMX-CSV"),
    ] {
        if let Some(f) = file(k) {
            let _ = write!(
                body,
                "<a id=\"file-{k}\" href=\"{}\" download>{name}</a> · ",
                esc(&f)
            );
        }
    }
    body.push_str("</p>");

    // The table.
    let _ = write!(
        body,
        "<h2>{}</h2><p class=\"note\"><span id=\"matched\">{}</span> {} {}</p><div class=\"scroll\"><table id=\"observations\"><thead><tr>",
        cx.t("table"),
        matching.len(),
        cx.t("rows_shown"),
        matching.len().min(SHOWN)
    );
    for d in &t.dims {
        let _ = write!(body, "<th scope=\"col\">{}</th>", esc(&r.labels.dim(d, sp)));
    }
    let _ = write!(
        body,
        "<th scope=\"col\">{}</th><th scope=\"col\">{}</th>",
        cx.t("value"),
        cx.t("status")
    );
    if cols.error_bound.is_some() {
        let _ = write!(body, "<th scope=\"col\">{}</th>", cx.t("error_bound"));
    }
    body.push_str("</tr></thead><tbody>");
    for row in matching.iter().take(SHOWN) {
        body.push_str("<tr>");
        for (d, dim) in t.dims.iter().enumerate() {
            let _ = write!(body, "<td>{}</td>", esc(&label(r, dim, &row[d], sp)));
        }
        let value = cols.value(row).map(chart::number).unwrap_or_default();
        let mut status = Vec::new();
        if cols
            .obs_status
            .and_then(|i| row.get(i))
            .is_some_and(|s| s == "P")
        {
            status.push(cx.t("provisional"));
        }
        if cols
            .conf_status
            .and_then(|i| row.get(i))
            .is_some_and(|s| s == "C")
        {
            status.push(cx.t("withheld"));
        }
        let _ = write!(
            body,
            "<td class=\"n\">{value}</td><td>{}</td>",
            status.join(", ")
        );
        if let Some(i) = cols.error_bound {
            let _ = write!(
                body,
                "<td class=\"n\">±{}</td>",
                esc(row.get(i).map_or("", String::as_str))
            );
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    shell(&cx, "explore", &t.title, &body)
}

/// A code's name with the code beside it (`Guatemala (GTM)`).
fn label(r: &Release, dim: &str, code: &str, spanish: bool) -> String {
    let name = r.labels.code(dim, code, spanish);
    if name == code || matches!(dim, "month" | "year" | "quarter") {
        name
    } else {
        format!("{name} ({code})")
    }
}

/// Dimensions that hold countries, in the order the map prefers them.
const COUNTRY_DIMS: &[&str] = &[
    "citizenship",
    "country_of_exploitation",
    "destination_country",
    "counterpart_country",
    "host_country",
    "reporting_country",
];

pub(crate) async fn map(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let Some(r) = cx.release(&c) else {
        return missing(&cx, "map", cx.t("no_release"));
    };
    let sp = cx.lang.spanish();
    // Every table and country dimension the map can draw.
    let mut choices: Vec<(&TableData, usize)> = Vec::new();
    for want in COUNTRY_DIMS {
        for t in r.tables.values() {
            if let Some(d) = t.dims.iter().position(|x| x == want)
                && t.rows.iter().any(|row| chart::on_map(&row[d]))
            {
                choices.push((t, d));
            }
        }
    }
    let asked = (param(cx.params, "table"), param(cx.params, "dim"));
    let Some(&(t, d)) = choices
        .iter()
        .find(|(t, d)| Some(t.name.as_str()) == asked.0 && asked.1.is_none_or(|a| a == t.dims[*d]))
        .or_else(|| choices.first())
    else {
        return shell(
            &cx,
            "map",
            cx.t("map"),
            &format!("<p>{}</p>", cx.t("no_map")),
        );
    };
    let time = time_dim(t);
    let periods: Vec<String> = time.map(|ti| codes(t)[ti].clone()).unwrap_or_default();
    let period = chosen_period(cx.params, &periods);
    let cols = Columns::of(t);
    let mut values: BTreeMap<String, f64> = BTreeMap::new();
    for row in &t.rows {
        if at_totals(t, row, &[d], period.as_deref())
            && chart::on_map(&row[d])
            && let Some(v) = cols.value(row)
        {
            values.insert(row[d].clone(), v);
        }
    }
    let mut body = format!(
        "<form class=\"filters\" method=\"get\" action=\"/map\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><input type=\"hidden\" name=\"release\" value=\"{}\">",
        cx.lang.code(),
        esc(&r.id),
    );
    let mut seen = BTreeSet::new();
    body.push_str(&select(
        "table",
        cx.t("table"),
        choices
            .iter()
            .filter(|(ct, _)| seen.insert(&ct.name))
            .map(|(ct, _)| (ct.name.clone(), ct.title.clone())),
        |v| v == t.name,
        None,
    ));
    body.push_str(&select(
        "dim",
        cx.t("map_dim"),
        choices
            .iter()
            .filter(|(ct, _)| ct.name == t.name)
            .map(|(ct, cd)| (ct.dims[*cd].clone(), r.labels.dim(&ct.dims[*cd], sp))),
        |v| v == t.dims[d],
        None,
    ));
    if !periods.is_empty() {
        body.push_str(&period_select(&cx, &periods, period.as_ref()));
    }
    let _ = write!(
        body,
        "<div><button type=\"submit\">{}</button></div></form>",
        cx.t("show")
    );
    let title = format!(
        "{} · {}{}",
        t.title,
        r.labels.dim(&t.dims[d], sp),
        period
            .as_ref()
            .map(|p| format!(" · {p}"))
            .unwrap_or_default()
    );
    let dim = t.dims[d].clone();
    let _ = write!(
        body,
        "<figure id=\"map\">{}</figure>",
        chart::choropleth(
            &title,
            &values,
            |code| r.labels.code(&dim, code, sp),
            cx.t("no_data")
        )
    );
    let mut ranked: Vec<(&String, &f64)> = values.iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(a.1));
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        cx.t("country"),
        cx.t("value")
    );
    for (code, v) in ranked {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&label(r, &dim, code, sp)),
            chart::number(*v)
        );
    }
    body.push_str("</tbody></table></div>");
    shell(&cx, "map", cx.t("map_of"), &body)
}

/// A table of `measure` by reporting and counterpart country.
fn by_counterpart<'r>(r: &'r Release, measure: &str) -> Option<&'r TableData> {
    r.tables.values().find(|t| {
        t.measure == measure
            && t.dims.iter().any(|d| d == "reporting_country")
            && t.dims.iter().any(|d| d == "counterpart_country")
    })
}

pub(crate) async fn mirror(State(c): State<Shared>, visit: Visit) -> Response {
    let cx = visit.ctx();
    let Some(r) = cx.release(&c) else {
        return missing(&cx, "mirror", cx.t("no_release"));
    };
    let sp = cx.lang.spanish();
    let (Some(dep), Some(arr)) = (
        by_counterpart(r, "departures"),
        by_counterpart(r, "arrivals"),
    ) else {
        let body = format!(
            "<p>{}</p><p>{}</p>",
            cx.t("mirror_intro"),
            cx.t("no_mirror")
        );
        return shell(&cx, "mirror", cx.t("mirror"), &body);
    };
    let periods: Vec<String> = time_dim(dep)
        .map(|ti| codes(dep)[ti].clone())
        .unwrap_or_default();
    let period = chosen_period(cx.params, &periods);
    // (reporter, counterpart) → value, the other dimensions at their total.
    let pairs = |t: &TableData| -> BTreeMap<(String, String), Option<f64>> {
        let cols = Columns::of(t);
        let rep = t.dims.iter().position(|d| d == "reporting_country");
        let cp = t.dims.iter().position(|d| d == "counterpart_country");
        let mut out = BTreeMap::new();
        let (Some(rep), Some(cp)) = (rep, cp) else {
            return out;
        };
        for row in &t.rows {
            if at_totals(t, row, &[rep, cp], period.as_deref())
                && !row[rep].starts_with('_')
                && !row[cp].starts_with('_')
            {
                out.insert((row[rep].clone(), row[cp].clone()), cols.value(row));
            }
        }
        out
    };
    let (d, a) = (pairs(dep), pairs(arr));
    let reporters_b: BTreeSet<&String> = a.keys().map(|(rep, _)| rep).collect();
    let mut body = format!(
        "<p>{}</p><form class=\"filters\" method=\"get\" action=\"/mirror\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><input type=\"hidden\" name=\"release\" value=\"{}\">{}",
        cx.t("mirror_intro"),
        cx.lang.code(),
        esc(&r.id),
        period_select(&cx, &periods, period.as_ref())
    );
    let _ = write!(
        body,
        "<div><button type=\"submit\">{}</button></div></form>",
        cx.t("show")
    );
    let mut labels = Vec::new();
    let (mut says_a, mut says_b) = (Vec::new(), Vec::new());
    let mut rows = String::new();
    for ((from, to), va) in &d {
        if !reporters_b.contains(to) {
            continue;
        }
        let vb = a.get(&(to.clone(), from.clone())).copied().flatten();
        let asym = match (va, vb) {
            (Some(x), Some(y)) if x + y > 0.0 => format!("{:+.2}", (x - y) / ((x + y) / 2.0)),
            _ => String::new(),
        };
        let name = |c: &str| label(r, "reporting_country", c, sp);
        labels.push(format!("{from} → {to}"));
        says_a.push(*va);
        says_b.push(vb);
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{asym}</td></tr>",
            esc(&name(from)),
            esc(&name(to)),
            va.map(chart::number).unwrap_or_default(),
            vb.map(chart::number).unwrap_or_default()
        );
    }
    let lines = [
        Line {
            name: cx.t("a_says").to_string(),
            values: says_a,
        },
        Line {
            name: cx.t("b_says").to_string(),
            values: says_b,
        },
    ];
    let _ = write!(
        body,
        "<figure id=\"mirror-chart\">{}</figure><div class=\"scroll\"><table id=\"mirror\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>{rows}</tbody></table></div>",
        chart::bar_chart(cx.t("mirror"), &labels, &lines, 900),
        cx.t("from"),
        cx.t("to"),
        cx.t("a_says"),
        cx.t("b_says"),
        cx.t("asymmetry")
    );
    let _ = write!(
        body,
        "<p class=\"note\"><a href=\"{}\">{}</a> · <a href=\"{}\">{}</a></p>",
        cx.href(&format!("/explore/{}/{}", r.id, dep.name), &[]),
        esc(&dep.title),
        cx.href(&format!("/explore/{}/{}", r.id, arr.name), &[]),
        esc(&arr.title)
    );
    shell(&cx, "mirror", cx.t("mirror"), &body)
}
