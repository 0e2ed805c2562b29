//! Charts as SVG, drawn on the server so that a page needs no script: a
//! line chart over time, a bar chart over categories, and a choropleth
//! of the world. Each has a title and a description for screen readers,
//! and every mark carries its value in a `<title>`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use super::esc;

/// Colours that stay apart for colour-blind readers (Okabe–Ito).
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// One line: its name and a value (or a gap) at each x.
pub(crate) struct Line {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// A figure as the portal prints it: thousands apart, at most two
/// decimals.
pub(crate) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let s = format!("{}", v as i64);
        // Thousands separated by thin spaces, readable in both languages.
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('\u{202f}');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A round step for about four intervals over `span`.
fn nice_step(span: f64) -> f64 {
    nice_max(span / 4.0)
}

/// A line chart of `lines` over `xs`, `width` × `height` pixels.
pub(crate) fn line_chart(
    title: &str,
    xs: &[String],
    lines: &[Line],
    width: u32,
    height: u32,
) -> String {
    let (w, h) = (width as f64, height as f64);
    let (left, right, top, bottom) = (56.0, 24.0, 12.0, 28.0);
    let top_value = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let low_value = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.min(b));
    let step = nice_step(top_value - low_value);
    let (min, max) = (
        (low_value / step).floor() * step,
        ((top_value / step).ceil() * step).max(step),
    );
    let span = (max - min).max(1e-9);
    let px = |i: usize| {
        if xs.len() <= 1 {
            left + (w - left - right) / 2.0
        } else {
            left + (w - left - right) * i as f64 / (xs.len() - 1) as f64
        }
    };
    let py = |v: f64| top + (h - top - bottom) * (1.0 - (v - min) / span);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"t-{id}\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"t-{id}\">{t}</title>",
        id = slug(title),
        t = esc(title)
    );
    // Axes and gridlines at quarters of the range.
    let ticks = (span / step).round() as usize;
    for k in 0..=ticks {
        let v = min + step * k as f64;
        let y = py(v);
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ccc\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            w - right,
            left - 4.0,
            y + 4.0,
            number(v)
        );
    }
    // About one label per 70 pixels.
    let room = ((w - left - right) / 70.0).max(1.0) as usize;
    let step = xs.len().div_ceil(room).max(1);
    for (i, x) in xs.iter().enumerate() {
        if i % step == 0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                px(i),
                h - 8.0,
                esc(x)
            );
        }
    }
    for (n, line) in lines.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        let mut d = String::new();
        let mut pen = false;
        for (i, v) in line.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1}",
                        if pen { "L" } else { "M" },
                        px(i),
                        py(*v)
                    );
                    pen = true;
                }
                None => pen = false,
            }
        }
        let _ = write!(
            s,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{}</title></path>",
            esc(&line.name)
        );
        for (i, v) in line.values.iter().enumerate() {
            if let Some(v) = v {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\"><title>{}, {}: {}</title></circle>",
                    px(i),
                    py(*v),
                    esc(&line.name),
                    esc(&xs[i]),
                    number(*v)
                );
            }
        }
    }
    s.push_str("</svg>");
    if lines.len() > 1 {
        s.push_str(&legend(lines.iter().map(|l| l.name.as_str())));
    }
    s
}

/// Horizontal bars, one per `(label, value)`, grouped by line where there
/// are several.
pub(crate) fn bar_chart(title: &str, labels: &[String], lines: &[Line], width: u32) -> String {
    let bar = 16.0;
    let groups = lines.len().max(1) as f64;
    let row = bar * groups + 8.0;
    let left = 180.0;
    let w = width as f64;
    let h = row * labels.len() as f64 + 24.0;
    let max = nice_max(
        lines
            .iter()
            .flat_map(|l| l.values.iter().flatten())
            .fold(0.0f64, |a, &b| a.max(b)),
    );
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"t-{id}\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"t-{id}\">{t}</title>",
        id = slug(title),
        t = esc(title)
    );
    for (i, label) in labels.iter().enumerate() {
        let y0 = 4.0 + row * i as f64;
        let short: String = label.chars().take(28).collect();
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text>",
            left - 6.0,
            y0 + row / 2.0,
            esc(&short)
        );
        for (n, line) in lines.iter().enumerate() {
            let Some(v) = line.values.get(i).copied().flatten() else {
                continue;
            };
            let len = (w - left - 60.0) * (v.max(0.0) / max);
            let y = y0 + bar * n as f64;
            let _ = write!(
                s,
                "<rect x=\"{left}\" y=\"{y:.1}\" width=\"{len:.1}\" height=\"{}\" fill=\"{}\"><title>{}{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
                bar - 2.0,
                PALETTE[n % PALETTE.len()],
                esc(label),
                if lines.len() > 1 {
                    format!(", {}", esc(&line.name))
                } else {
                    String::new()
                },
                number(v),
                left + len + 3.0,
                y + bar - 5.0,
                number(v)
            );
        }
    }
    s.push_str("</svg>");
    if lines.len() > 1 {
        s.push_str(&legend(lines.iter().map(|l| l.name.as_str())));
    }
    s
}

fn legend<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut s = String::from("<ul class=\"legend\">");
    for (n, name) in names.enumerate() {
        let _ = write!(
            s,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            PALETTE[n % PALETTE.len()],
            esc(name)
        );
    }
    s.push_str("</ul>");
    s
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The world's countries, ISO 3166-1 alpha-3 → SVG path, from
/// `assets/world-110m.csv` (Natural Earth, built by `tools/world_map.py`).
fn world() -> &'static BTreeMap<String, String> {
    static WORLD: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut r =
            csv::Reader::from_reader(include_str!("../../assets/world-110m.csv").as_bytes());
        r.records()
            .filter_map(Result::ok)
            .filter_map(|rec| Some((rec.get(0)?.to_string(), rec.get(1)?.to_string())))
            .collect()
    })
}

/// Sequential blues, light to dark, that keep their order in greyscale.
const BINS: [&str; 5] = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];

/// A choropleth: each country of `values` shaded by its quintile, the rest
/// grey. `name` gives a country's name for its tooltip.
pub(crate) fn choropleth(
    title: &str,
    values: &BTreeMap<String, f64>,
    name: impl Fn(&str) -> String,
    no_data: &str,
) -> String {
    let mut sorted: Vec<f64> = values.values().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let cut = |q: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    };
    let cuts = [cut(0.2), cut(0.4), cut(0.6), cut(0.8)];
    let bin = |v: f64| cuts.iter().filter(|c| v > **c).count();
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"map\" viewBox=\"0 0 1000 487\" role=\"img\" aria-labelledby=\"t-map\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"t-map\">{}</title><rect width=\"1000\" height=\"487\" fill=\"#f4f8fb\"/>",
        esc(title)
    );
    for (code, path) in world() {
        let (fill, tip) = match values.get(code) {
            Some(v) => (BINS[bin(*v)], format!("{}: {}", name(code), number(*v))),
            None => ("#d9d9d9", format!("{}: {no_data}", name(code))),
        };
        let _ = write!(
            s,
            "<path d=\"{path}\" fill=\"{fill}\" stroke=\"#fff\" stroke-width=\"0.4\" data-country=\"{code}\"><title>{}</title></path>",
            esc(&tip)
        );
    }
    s.push_str("</svg><ul class=\"legend\">");
    let mut lo = sorted.first().copied().unwrap_or(0.0);
    for (i, colour) in BINS.iter().enumerate() {
        let hi = cuts
            .get(i)
            .copied()
            .unwrap_or(sorted.last().copied().unwrap_or(0.0));
        let _ = write!(
            s,
            "<li><span class=\"swatch\" style=\"background:{colour}\"></span>{} – {}</li>",
            number(lo),
            number(hi)
        );
        lo = hi;
    }
    let _ = write!(
        s,
        "<li><span class=\"swatch\" style=\"background:#d9d9d9\"></span>{}</li></ul>",
        esc(no_data)
    );
    s
}

/// Whether the map knows `code`.
pub(crate) fn on_map(code: &str) -> bool {
    world().contains_key(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well_and_scales_are_round() {
        assert_eq!(number(1234567.0), "1\u{202f}234\u{202f}567");
        assert_eq!(number(-1200.0), "-1\u{202f}200");
        assert_eq!(number(12.3456), "12.35");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(nice_step(250.0), 100.0);
        assert_eq!(nice_max(873.0), 1000.0);
        assert_eq!(nice_max(180.0), 200.0);
        assert_eq!(nice_max(0.0), 1.0);
    }

    #[test]
    fn the_map_has_the_countries_of_the_code_lists() {
        for c in ["GTM", "MEX", "USA", "ESP", "CHN", "BRA"] {
            assert!(on_map(c), "{c}");
        }
        let svg = choropleth(
            "t",
            &[("GTM".to_string(), 5.0)].into(),
            |c| c.to_string(),
            "none",
        );
        assert!(svg.contains("data-country=\"GTM\"") && svg.contains("GTM: 5"));
    }
}
