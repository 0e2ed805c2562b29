//! The public API over a real release, through real HTTP on a local port:
//! lists, filters and pages, content negotiation, byte-for-byte downloads,
//! caching, CORS, path traversal, the OpenAPI document, and a tampered
//! release refused.

mod common;

use common::{Server, header, json, release};

#[test]
fn the_public_api_serves_releases_as_published() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = release(tmp.path());
    let server = Server::start(&releases);

    // The list, with its tables.
    let (status, hs, body) = server.get("/api/releases", &[]);
    assert_eq!(status, 200);
    assert_eq!(header(&hs, "access-control-allow-origin"), Some("*"));
    let list = json(&body);
    let id = list[0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with('r') && id.len() == 21, "{id}");
    let names: Vec<&str> = list[0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "arrivals_by_counterpart",
            "by_sex",
            "departures_by_counterpart",
            "flows"
        ]
    );

    // Observations: every row of the file, then filtered and paged.
    let file = std::fs::read_to_string(releases.join(&id).join("data/by_sex.csv")).unwrap();
    let rows: Vec<&str> = file.lines().skip(1).collect();
    let (status, hs, body) = server.get(
        &format!("/api/releases/{id}/tables/by_sex?limit=100000"),
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(
        header(&hs, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let all = json(&body);
    assert_eq!(all["total"], rows.len());
    assert_eq!(all["observations"].as_array().unwrap().len(), rows.len());
    assert!(all["next"].is_null());
    let women: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|r| r.split(',').nth(2) == Some("F"))
        .collect();
    let (_, _, body) = server.get(
        &format!("/api/releases/{id}/tables/by_sex?sex=F&limit=2"),
        &[],
    );
    let page = json(&body);
    assert_eq!(page["total"], women.len());
    assert_eq!(page["observations"].as_array().unwrap().len(), 2);
    assert!(
        page["observations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["sex"] == "F")
    );
    let first = &page["observations"][0];
    let cols: Vec<&str> = women[0].split(',').collect();
    assert_eq!(first["year"], cols[0]);
    assert_eq!(first["value"], cols[3].parse::<i64>().unwrap());
    let next = page["next"].as_str().unwrap().to_string();
    assert!(
        next.contains("offset=2") && next.contains("sex=F"),
        "{next}"
    );
    let (_, _, body) = server.get(&next, &[]);
    assert_eq!(json(&body)["offset"], 2);
    // Several codes, comma-separated; CSV by parameter or by Accept.
    let (_, hs, body) = server.get(
        &format!("/api/releases/{id}/tables/by_sex?sex=F,M&format=csv&limit=100000"),
        &[],
    );
    assert!(header(&hs, "content-type").unwrap().starts_with("text/csv"));
    let csv = String::from_utf8(body).unwrap();
    let expected: Vec<&str> = std::iter::once(file.lines().next().unwrap())
        .chain(
            rows.iter()
                .copied()
                .filter(|r| matches!(r.split(',').nth(2), Some("F" | "M"))),
        )
        .collect();
    assert_eq!(csv.lines().collect::<Vec<_>>(), expected);
    let (_, hs, body) = server.get(
        &format!("/api/releases/{id}/tables/by_sex?year=2022"),
        &[("Accept", "application/vnd.sdmx.data+csv")],
    );
    assert!(
        header(&hs, "content-type")
            .unwrap()
            .starts_with("application/vnd.sdmx.data+csv")
    );
    let sdmx = String::from_utf8(body).unwrap();
    assert!(
        sdmx.starts_with("STRUCTURE,STRUCTURE_ID,ACTION,MEASURE,"),
        "{sdmx}"
    );
    assert!(sdmx.lines().skip(1).all(|l| l.contains(",2022,")), "{sdmx}");
    assert!(sdmx.lines().count() > 1);

    // Bad parameters and names: a clear 4xx naming what to do.
    let (status, _, body) =
        server.get(&format!("/api/releases/{id}/tables/by_sex?colour=red"), &[]);
    assert_eq!(status, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("year, reporting_country, sex")
    );
    let (status, _, _) = server.get(&format!("/api/releases/{id}/tables/by_sex?limit=x"), &[]);
    assert_eq!(status, 400);
    let (status, _, body) = server.get(&format!("/api/releases/{id}/tables/nope"), &[]);
    assert_eq!(status, 404);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("by_sex, departures_by_counterpart, flows")
    );
    let (status, _, _) = server.get("/api/releases/r000/tables/by_sex", &[]);
    assert_eq!(status, 404);

    // Downloads, byte for byte; `latest` names the newest release.
    for path in [
        "data/flows.parquet",
        "sdmx/structure.xml",
        "SHA256SUMS.sig",
        "methods/methods.es.html",
    ] {
        let (status, _, body) = server.get(&format!("/api/releases/latest/files/{path}"), &[]);
        assert_eq!(status, 200, "{path}");
        assert_eq!(
            body,
            std::fs::read(releases.join(&id).join(path)).unwrap(),
            "{path}"
        );
    }
    // Nothing outside the release's own files, however it is spelled.
    std::fs::write(releases.join("secret.txt"), "no").unwrap();
    for bad in [
        "../secret.txt",
        "%2e%2e/secret.txt",
        "..%2Fsecret.txt",
        "data/../../secret.txt",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "data",
        "data/",
    ] {
        let (status, _, body) = server.get(&format!("/api/releases/{id}/files/{bad}"), &[]);
        assert!(status == 404 || status == 400, "{bad}: {status}");
        assert!(
            !String::from_utf8_lossy(&body).contains("no\n") && body != b"no",
            "{bad}"
        );
    }

    // Caching: the ETag comes back as 304.
    let url = format!("/api/releases/{id}/tables/flows?limit=5");
    let (_, hs, _) = server.get(&url, &[]);
    let etag = header(&hs, "etag").unwrap().to_string();
    let (status, hs, body) = server.get(&url, &[("If-None-Match", &etag)]);
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(header(&hs, "etag"), Some(etag.as_str()));
    let (status, _, _) = server.get(&format!("{url}&offset=5"), &[("If-None-Match", &etag)]);
    assert_eq!(status, 200, "another request, another tag");
    // CORS preflight.
    let (status, hs, _) = server.request("OPTIONS", &url, &[("Origin", "https://example.org")]);
    assert_eq!(status, 204);
    assert!(
        header(&hs, "access-control-allow-headers")
            .unwrap()
            .contains("If-None-Match")
    );

    // The OpenAPI document describes every route.
    let (status, _, body) = server.get("/api/openapi.json", &[]);
    assert_eq!(status, 200);
    let doc = json(&body);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for p in [
        "/api/releases",
        "/api/releases/{id}",
        "/api/releases/{id}/tables/{table}",
        "/api/releases/{id}/files/{path}",
    ] {
        assert!(doc["paths"][p]["get"].is_object(), "{p}");
    }
    // The index page lists the release.
    let (status, _, body) = server.get("/", &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("Server test release"));
    let (status, _, _) = server.get("/nothing/here", &[]);
    assert_eq!(status, 404);
    drop(server);

    // A release whose files were changed is refused, not served.
    let copy = tmp.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(releases.join(&id))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let f = copy.join(&id).join("data/by_sex.csv");
    let mut perms = std::fs::metadata(&f).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&f, perms).unwrap();
    std::fs::write(
        &f,
        "year,reporting_country,sex,value,obs_status,conf_status\n2022,GTM,F,1,A,F\n",
    )
    .unwrap();
    let c = corridor_server::Catalogue::load(&copy).unwrap();
    assert!(c.ids().is_empty());
    assert_eq!(c.refused().len(), 1);
    assert!(
        c.refused()[0].why.contains("by_sex.csv"),
        "{}",
        c.refused()[0].why
    );
}
