//! The portal's pages over a real release, through real HTTP: every page
//! answers in English and Spanish with no label left untranslated, the
//! explorer's filters select exactly the release's rows, the xlsx
//! download opens as a spreadsheet with the release's values, the map and
//! the mirror view show the published figures, and nothing a visitor puts
//! in a URL comes back as markup.

mod common;

use common::{Server, header, json, release};

fn page(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, hs, body) = server.get(path, headers);
    if status == 200 {
        assert_eq!(
            header(&hs, "content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
    }
    (status, String::from_utf8(body).unwrap())
}

/// The release's CSV of `table`: header and rows.
fn csv_rows(dir: &std::path::Path, table: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(dir.join(format!("data/{table}.csv"))).unwrap();
    let h = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_string).collect())
        .collect();
    (h, rows)
}

#[test]
fn the_portal_shows_the_release_in_both_languages() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = release(tmp.path());
    let server = Server::start(&releases);
    let id = json(&server.get("/api/releases", &[]).2)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = releases.join(&id);

    // Every page, in both languages; Accept-Language picks Spanish too.
    let pages = [
        "/".to_string(),
        "/explore".into(),
        format!("/explore/{id}/by_sex"),
        "/map".into(),
        "/mirror".into(),
        "/synthetic".into(),
        "/methods".into(),
        "/releases".into(),
    ];
    for p in &pages {
        for (lang, word) in [("en", "Home"), ("es", "Inicio")] {
            let sep = if p.contains('?') { '&' } else { '?' };
            let (status, html) = page(&server, &format!("{p}{sep}lang={lang}"), &[]);
            assert_eq!(status, 200, "{p} {lang}");
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{p}");
            assert!(html.contains(word), "{p} {lang}");
            assert!(
                !html.contains("⟦missing label⟧"),
                "{p} {lang}: an untranslated label"
            );
        }
    }
    let (_, html) = page(
        &server,
        "/",
        &[("Accept-Language", "es-GT,es;q=0.9,en;q=0.5")],
    );
    assert!(html.contains("Indicadores principales") && html.contains("<svg"));
    let (_, html) = page(&server, "/", &[]);
    assert!(html.contains("Headline indicators") && html.contains("class=\"card\""));

    // The explorer: sex F along the years, every other dimension at its
    // total, exactly the release's rows.
    let (h, rows) = csv_rows(&dir, "by_sex");
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let want: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| {
            r[col("sex")] == "F" && r[col("reporting_country")] == "_T" && r[col("year")] != "_T"
        })
        .collect();
    let (_, html) = page(&server, &format!("/explore/{id}/by_sex?sex=F"), &[]);
    assert!(
        html.contains(&format!("<span id=\"matched\">{}</span>", want.len())),
        "{html}"
    );
    for r in &want {
        assert!(
            html.contains(&format!("<td>{}</td>", r[col("year")])),
            "{}",
            r[col("year")]
        );
    }
    assert!(html.contains("<figure id=\"chart\"><svg"));
    // Two codes of a dimension that is neither axis nor line: a table, no chart.
    let (_, html) = page(&server, &format!("/explore/{id}/by_sex?sex=F,M"), &[]);
    assert!(!html.contains("<figure id=\"chart\">"));
    // One line per sex.
    let (_, html) = page(&server, &format!("/explore/{id}/by_sex?series=sex"), &[]);
    assert!(html.contains("class=\"legend\""));

    // The view's spreadsheet holds the release's values.
    let (status, hs, body) = server.get(
        &format!("/api/releases/{id}/tables/by_sex?sex=F&reporting_country=_T&format=xlsx"),
        &[],
    );
    assert_eq!(status, 200);
    assert!(
        header(&hs, "content-type")
            .unwrap()
            .contains("spreadsheetml")
    );
    use calamine::Reader as _;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(body)).unwrap();
    let sheet = book.worksheet_range("by_sex").unwrap();
    let got: Vec<Vec<String>> = sheet
        .rows()
        .skip(1)
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    let mut expect: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r[col("sex")] == "F" && r[col("reporting_country")] == "_T")
        .cloned()
        .collect();
    expect.sort();
    let mut got = got;
    got.sort();
    assert_eq!(got, expect);

    // The map shades the countries the table has.
    let (_, html) = page(&server, "/map?table=flows&dim=citizenship", &[]);
    assert!(html.matches("data-country=").count() > 150);
    let (h, rows) = csv_rows(&dir, "flows");
    let c = h.iter().position(|x| x == "citizenship").unwrap();
    let some = rows
        .iter()
        .map(|r| &r[c])
        .find(|v| !v.starts_with('_'))
        .unwrap();
    assert!(!html.contains(&format!(
        "fill=\"#d9d9d9\" stroke=\"#fff\" stroke-width=\"0.4\" data-country=\"{some}\""
    )));

    // The mirror view pairs A's departures to B with B's arrivals from A.
    let (dh, drows) = csv_rows(&dir, "departures_by_counterpart");
    let (_, arows) = csv_rows(&dir, "arrivals_by_counterpart");
    let dc = |n: &str| dh.iter().position(|x| x == n).unwrap();
    let (rep, cp, year, value) = (
        dc("reporting_country"),
        dc("counterpart_country"),
        dc("year"),
        dc("value"),
    );
    let reporters: std::collections::BTreeSet<&String> = arows
        .iter()
        .map(|r| &r[rep])
        .filter(|r| !r.starts_with('_'))
        .collect();
    let pair = drows
        .iter()
        .find(|r| r[year] == "_T" && reporters.contains(&r[cp]) && !r[rep].starts_with('_'))
        .expect("a pair of reporting countries");
    let back = arows
        .iter()
        .find(|r| r[year] == "_T" && r[rep] == pair[cp] && r[cp] == pair[rep])
        .expect("the mirror figure");
    let (_, html) = page(&server, "/mirror?period=_T", &[]);
    let fmt = |v: &str| {
        let n: i64 = v.parse().unwrap();
        let s = n.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push('\u{202f}');
            }
            out.push(ch);
        }
        out
    };
    let row = format!(
        "({})</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
        pair[cp],
        fmt(&pair[value]),
        fmt(&back[value])
    );
    assert!(html.contains(&row), "{row}\n{html}");

    // The methods note in Spanish is the release's, inside the portal.
    let note = std::fs::read_to_string(dir.join("methods/methods.es.html")).unwrap();
    let first_heading = note.lines().find(|l| l.starts_with("<h1")).unwrap();
    let (_, html) = page(&server, "/methods?lang=es", &[]);
    assert!(html.contains(first_heading));
    // The release list shows every checksum.
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let (_, html) = page(&server, "/releases", &[]);
    for line in sums.lines() {
        assert!(html.contains(line.split_once("  ").unwrap().0));
    }

    // What a visitor types comes back escaped, or not at all.
    for p in [
        format!("/explore/{id}/by_sex?x=%3Cscript%3Ealert(1)%3C/script%3E"),
        format!("/explore/{id}/by_sex?sex=%22%3E%3Cscript%3Ealert(1)%3C/script%3E"),
        "/map?table=%3Cscript%3E&period=%3Cimg%20src=x%3E".into(),
        "/?lang=%22%3E%3Cscript%3E".into(),
    ] {
        let (status, html) = page(&server, &p, &[]);
        assert_eq!(status, 200, "{p}");
        assert!(!html.contains("<script") && !html.contains("<img"), "{p}");
    }
    let (status, _) = page(&server, &format!("/explore/{id}/nope"), &[]);
    assert_eq!(status, 404);
    let (status, _) = page(&server, "/explore/r000/by_sex", &[]);
    assert_eq!(status, 404);
}
