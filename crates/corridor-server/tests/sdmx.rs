//! SDMX REST over a real release: a real SDMX client (pysdmx's
//! RestService, query builders and readers, run by
//! `tools/sdmx_client_check.py`) pulls every dataflow's structure and data
//! and compares them with the release's files; and the service's answers
//! to malformed or unanswerable queries.

mod common;

use common::{Server, json, release};

/// The Python with pysdmx: CORRIDOR_PYTHON (as `.ci/run` sets it). In CI
/// a missing one fails the test.
fn sdmx_python() -> Option<String> {
    match std::env::var("CORRIDOR_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var("CI").is_err(),
                "CI must set CORRIDOR_PYTHON to a Python with pysdmx (see .ci/run)"
            );
            eprintln!("CORRIDOR_PYTHON not set: skipping the SDMX client");
            None
        }
    }
}

#[test]
fn an_sdmx_client_pulls_the_release_as_published() {
    let tmp = tempfile::tempdir().unwrap();
    let releases = release(tmp.path());
    let server = Server::start(&releases);
    let id = json(&server.get("/api/releases", &[]).2)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Structure: the dataflow alone, then with what it references.
    let (status, hs, body) = server.get("/sdmx/v2/structure/dataflow/CORRIDOR/FLOWS/1.0", &[]);
    assert_eq!(status, 200);
    assert!(
        common::header(&hs, "content-type")
            .unwrap()
            .contains("structure+xml")
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("<str:Dataflow id=\"FLOWS\""), "{text}");
    assert!(!text.contains("<str:DataStructure ") && !text.contains("<str:Codelist "));
    let (_, _, body) = server.get(
        "/sdmx/v2/structure/dataflow/CORRIDOR/FLOWS/~?references=descendants",
        &[],
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("<str:DataStructure id=\"DSD_FLOWS\""));
    assert!(text.contains("id=\"CL_COUNTRY\"") && !text.contains("<str:Dataflow id=\"BY_SEX\""));
    // A code list's parents are the data structures that use it.
    let (_, _, body) = server.get(
        "/sdmx/v2/structure/codelist/CORRIDOR/CL_SEX/1.0?references=parents",
        &[],
    );
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("DSD_BY_SEX") && !text.contains("DSD_FLOWS\""),
        "{text}"
    );

    // Data: the key and c[...] filters, against the release's SDMX-CSV.
    let file = std::fs::read_to_string(releases.join(&id).join("sdmx/flows.csv")).unwrap();
    let mut lines = file.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (country, time) = (col("REPORTING_COUNTRY"), col("TIME_PERIOD"));
    let some = rows[rows.len() / 2][country];
    let want: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r[country] == some && r[time] >= "2023-01" && r[time] <= "2023-06")
        .collect();
    assert!(!want.is_empty());
    let (status, hs, body) = server.get(
        &format!("/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/ARRIVALS.{some}.*/?c%5BTIME_PERIOD%5D=ge%3A2023-01%2Ble%3A2023-06"),
        &[("Accept", "application/vnd.sdmx.data+csv;version=2.0.0")],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        common::header(&hs, "content-type")
            .unwrap()
            .contains("data+csv; version=2.0.0")
    );
    let got = String::from_utf8(body).unwrap();
    assert_eq!(got.lines().count(), want.len() + 1, "{got}");
    assert_eq!(got.lines().next().unwrap(), header.join(","));
    // The same over one release named by its id, and as SDMX-CSV 1.0.
    let (status, _, body) = server.get(
        &format!("/api/releases/{id}/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/ARRIVALS.{some}.*?startPeriod=2023-01&endPeriod=2023-06"),
        &[("Accept", "application/vnd.sdmx.data+csv;version=1.0.0")],
    );
    assert_eq!(status, 200);
    let v1 = String::from_utf8(body).unwrap();
    assert!(v1.starts_with("DATAFLOW,MEASURE,"), "{v1}");
    assert_eq!(v1.lines().count(), want.len() + 1);
    // The last observation of each series.
    let (_, _, body) = server.get(
        "/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/*?lastNObservations=1",
        &[],
    );
    let series: std::collections::BTreeSet<Vec<&str>> =
        rows.iter().map(|r| r[3..time].to_vec()).collect();
    assert_eq!(
        String::from_utf8(body).unwrap().lines().count(),
        series.len() + 1
    );

    // What the service refuses, and how.
    for (path, accept, want) in [
        ("/sdmx/v2/data/dataflow/CORRIDOR/NOPE/1.0", "", 404),
        ("/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/A.B", "", 400),
        ("/sdmx/v2/data/dataflow/*/*/*", "", 400),
        (
            "/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/*?c%5BNOPE%5D=1",
            "",
            400,
        ),
        (
            "/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/*?bogus=1",
            "",
            400,
        ),
        ("/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0/ZZZ..", "", 404),
        (
            "/sdmx/v2/data/dataflow/CORRIDOR/FLOWS/1.0",
            "application/vnd.sdmx.data+json",
            406,
        ),
        ("/sdmx/v2/structure/nonsense", "", 400),
        ("/sdmx/v2/structure/hierarchy", "", 404),
        ("/sdmx/v2/structure/codelist/CORRIDOR/CL_SEX/1.0/F", "", 501),
        ("/sdmx/v2/structure/dataflow?references=sideways", "", 400),
        (
            "/sdmx/v2/structure/dataflow",
            "application/vnd.sdmx.structure+json",
            406,
        ),
    ] {
        let headers: Vec<(&str, &str)> = if accept.is_empty() {
            vec![]
        } else {
            vec![("Accept", accept)]
        };
        let (status, _, body) = server.get(path, &headers);
        assert_eq!(status, want, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(json(&body)["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    // A real client, through every dataflow.
    let Some(python) = sdmx_python() else { return };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/sdmx_client_check.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(format!("http://{}", server.addr))
        .arg(releases.join(&id))
        .output()
        .expect("python");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("0 failed") && report.matches("ok ").count() >= 8,
        "{report}"
    );
}
