//! The members' routes over a real workspace: tokens and roles on every
//! route (401 without a token, 403 for the wrong role or another
//! organisation), uploads through the same intake as `corridor ingest`
//! (bad ones refused with a clear 4xx and nothing stored), protected
//! tables charged to the ledger, a release published over HTTP and served
//! at once, token guesses throttled, every action in the audit log, and
//! no token or identifier in the server's logs.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use common::{Server, header, json, release};
use corridor_access::{Access, Role};
use corridor_store::Workspace;

/// The server's logs, for every test of this binary.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .try_init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const A_SOURCE: &str = "sources/gtm-igm/movimientos_migratorios.mapping.toml";
const A_FILE: &str = "sources/gtm-igm/movimientos_migratorios.csv";
const B_SOURCE: &str = "sources/slv-dgme/movimientos.mapping.toml";

/// A workspace with two organisations, each with one source, and a user
/// of every role in A (and a contributor in B), with their tokens.
struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    ws: PathBuf,
    server: Server,
    tokens: std::collections::HashMap<&'static str, String>,
    a_source: String,
    b_source: String,
}

impl World {
    fn new(max_upload: u64) -> World {
        logs();
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let releases = release(&root);
        let ws_dir = root.join("ws");
        let ws = Workspace::open(&ws_dir).unwrap();
        let access = Access::open(&ws_dir).unwrap();
        access.add_org("test", "agency-a").unwrap();
        access.add_org("test", "agency-b").unwrap();
        let mut tokens = std::collections::HashMap::new();
        for (user, org, role) in [
            ("a-contributor", "agency-a", Role::Contributor),
            ("a-analyst", "agency-a", Role::Analyst),
            ("a-publisher", "agency-a", Role::Publisher),
            ("a-admin", "agency-a", Role::Admin),
            ("b-contributor", "agency-b", Role::Contributor),
            ("b-analyst", "agency-b", Role::Analyst),
        ] {
            access.add_user("test", org, user, role).unwrap();
            let (_, token) = access.new_token("test", user).unwrap();
            tokens.insert(user, token);
        }
        let world = root.join("world");
        let a = ws.register_mapping(&world.join(A_SOURCE)).unwrap();
        let b = ws.register_mapping(&world.join(B_SOURCE)).unwrap();
        access.assign_source("test", "agency-a", &a.source).unwrap();
        access.assign_source("test", "agency-b", &b.source).unwrap();
        ws.set_privacy_budget("border_records", 1.0).unwrap();
        let members = corridor_server::Members::open(&ws_dir, max_upload).unwrap();
        let server = Server::start_with(&releases, Some(members));
        World {
            _tmp: tmp,
            root,
            ws: ws_dir,
            server,
            tokens,
            a_source: a.source,
            b_source: b.source,
        }
    }

    fn auth(&self, user: &str) -> String {
        format!("Bearer {}", self.tokens[user])
    }

    fn call(
        &self,
        user: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let auth = user.map(|u| self.auth(u));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        self.server.send(method, path, &headers, body, None)
    }

    /// Rows `from..to` of A's CSV under its header: a new file each time.
    fn part(&self, from: usize, to: usize) -> Vec<u8> {
        let bytes = std::fs::read(self.root.join("world").join(A_FILE)).unwrap();
        let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
        let mut out = lines[0].to_vec();
        for l in &lines[1 + from..(1 + to).min(lines.len())] {
            out.extend_from_slice(l);
        }
        out
    }

    fn submissions(&self) -> Vec<corridor_store::SubmissionInfo> {
        Workspace::open(&self.ws).unwrap().submissions().unwrap()
    }

    /// Nothing of an upload is left in the workspace's upload folder.
    fn no_uploads_left(&self) {
        let left: Vec<_> = std::fs::read_dir(self.ws.join("uploads"))
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

fn upload_path(source: &str, name: &str) -> String {
    format!("/api/sources/{source}/submissions?file_name={name}")
}

const TABLE: &str = r#"{"table": {"name": "arrivals_by_sex", "measure": "arrivals", "by": ["year", "sex"], "method": "rr3"}}"#;

#[test]
fn every_members_route_needs_a_token_and_the_right_role_and_organisation() {
    let w = World::new(corridor_server::DEFAULT_MAX_UPLOAD);
    let a_up = upload_path(&w.a_source, "part.csv");
    let part = w.part(0, 50);
    let spec = b"title = \"t\"\nlicence = \"CC-BY-4.0\"\nversion = \"m1\"\nreference_period = \"2022-01/2023-12\"\n[[table]]\nname = \"by_year\"\nmeasure = \"arrivals\"\nby = [\"year\"]\nmethod = \"rr3\"\n";
    // Every members' route, and who may use it.
    let routes: Vec<(&str, String, Vec<u8>, &[&str])> = vec![
        (
            "GET",
            "/api/me".into(),
            vec![],
            &[
                "a-contributor",
                "a-analyst",
                "a-publisher",
                "a-admin",
                "b-contributor",
            ],
        ),
        (
            "GET",
            "/api/sources".into(),
            vec![],
            &["a-contributor", "a-analyst", "a-publisher", "b-contributor"],
        ),
        ("POST", a_up.clone(), part.clone(), &["a-contributor"]),
        (
            "GET",
            "/api/submissions".into(),
            vec![],
            &["a-contributor", "a-analyst", "a-publisher", "b-contributor"],
        ),
        ("POST", "/api/tables".into(), TABLE.into(), &["a-analyst"]),
        (
            "GET",
            "/api/budgets".into(),
            vec![],
            &["a-analyst", "a-publisher"],
        ),
        (
            "POST",
            "/api/releases".into(),
            spec.to_vec(),
            &["a-publisher"],
        ),
        ("GET", "/api/audit".into(), vec![], &["a-admin"]),
    ];
    let everyone = [
        "a-contributor",
        "a-analyst",
        "a-publisher",
        "a-admin",
        "b-contributor",
    ];
    for (method, path, body, allowed) in &routes {
        let (status, hs, _) = w.call(None, method, path, body);
        assert_eq!(status, 401, "{method} {path} without a token");
        assert!(header(&hs, "www-authenticate").is_some());
        let wrong = "Bearer crt_000000000000_".to_string() + &"0".repeat(64);
        let (status, _, _) = w
            .server
            .send(method, path, &[("Authorization", &wrong)], body, None);
        assert_eq!(status, 401, "{method} {path} with a wrong token");
        for user in everyone {
            let (status, _, text) = w.call(Some(user), method, path, body);
            let text = String::from_utf8_lossy(&text);
            if allowed.contains(&user) {
                assert!(
                    (200..300).contains(&status),
                    "{user}: {method} {path}: {status} {text}"
                );
            } else {
                assert_eq!(status, 403, "{user}: {method} {path}: {text}");
            }
        }
    }
    // A's submission, as A and B see it.
    let subs = w.submissions();
    let mine = subs
        .iter()
        .find(|s| s.source == w.a_source && s.file_name == "part.csv")
        .expect("the upload is a submission");
    for path in [
        format!("/api/submissions/{}", mine.id),
        format!("/api/submissions/{}/quarantine", mine.id),
    ] {
        let (status, _, _) = w.call(None, "GET", &path, &[]);
        assert_eq!(status, 401, "{path}");
        let (status, _, body) = w.call(Some("a-analyst"), "GET", &path, &[]);
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        for other in ["b-contributor", "b-analyst", "a-admin"] {
            let (status, _, body) = w.call(Some(other), "GET", &path, &[]);
            assert_eq!(status, 403, "{other}: {path}");
            assert!(!String::from_utf8_lossy(&body).contains("rows_stored"));
        }
    }
    // Nor may A upload to B's source.
    let (status, _, _) = w.call(
        Some("a-contributor"),
        "POST",
        &upload_path(&w.b_source, "x.ndjson"),
        b"{}\n",
    );
    assert_eq!(status, 403);
    // B's lists hold nothing of A's.
    for path in ["/api/submissions", "/api/sources"] {
        let (_, _, body) = w.call(Some("b-contributor"), "GET", path, &[]);
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(&w.a_source), "{path}: {text}");
        let (_, _, body) = w.call(Some("a-contributor"), "GET", path, &[]);
        assert!(String::from_utf8_lossy(&body).contains(&w.a_source));
    }
    // The upload's answer is intake's report, as `corridor ingest --json` gives it.
    let (_, _, body) = w.call(
        Some("a-contributor"),
        "GET",
        &format!("/api/submissions/{}", mine.id),
        &[],
    );
    let v = json(&body);
    assert_eq!(
        v["report"]["rows_read"].as_u64(),
        Some(mine.rows_read),
        "{v}"
    );
    assert_eq!(mine.rows_read, 50);
    assert_eq!(mine.rows_read, mine.rows_stored + mine.rows_quarantined);
    // The release published over HTTP is served at once.
    let (_, _, body) = w.call(None, "GET", "/api/releases", &[]);
    let list = json(&body);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|r| r["version"] == "m1"),
        "{list}"
    );
    // Every action is in the audit log, which verifies.
    let access = Access::open(&w.ws).unwrap();
    assert!(access.audit().verify().is_ok());
    let entries = access.audit().entries().unwrap();
    for action in ["submission", "table", "release.publish", "denied", "me"] {
        assert!(
            entries.iter().any(|e| e.action == action),
            "no {action} in the audit log"
        );
    }
    let upload = entries.iter().find(|e| e.action == "submission").unwrap();
    assert_eq!(
        (upload.actor.as_str(), upload.org.as_str()),
        ("a-contributor", "agency-a")
    );
    // The audit log through the API, for the admin.
    let (_, _, body) = w.call(Some("a-admin"), "GET", "/api/audit?last=5", &[]);
    let v = json(&body);
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["newest"].as_array().unwrap().len(), 5);
    // No token's secret, nor any in the audit log.
    let logs = String::from_utf8_lossy(&logs().lock().unwrap()).to_string();
    assert!(logs.contains("request"), "the server logs its requests");
    let audit_text = std::fs::read_to_string(w.ws.join("audit/audit.ndjson")).unwrap();
    for token in w.tokens.values() {
        let secret = token.rsplit('_').next().unwrap();
        assert!(!logs.contains(secret), "a token reached the logs");
        assert!(
            !audit_text.contains(secret),
            "a token reached the audit log"
        );
    }
    w.no_uploads_left();
}

#[test]
fn bad_uploads_get_a_clear_4xx_and_nothing_is_stored() {
    let w = World::new(64 * 1024);
    let before = w.submissions().len();
    let good = w.part(0, 20);
    let up = |name: &str| upload_path(&w.a_source, name);
    let auth = w.auth("a-contributor");
    let h = [("Authorization", auth.as_str())];
    // Larger than the limit, declared or not.
    let big = w.part(0, 2_000);
    assert!(big.len() > 64 * 1024, "the fixture's file is large enough");
    let (status, _, body) = w.server.send("POST", &up("big.csv"), &h, &big, None);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("upload limit"));
    // Cut short: the connection closes before the declared length.
    let (status, _, body) =
        w.server
            .send("POST", &up("cut.csv"), &h, &good, Some(good.len() + 10_000));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("cut short"));
    // Empty; no name; names that would leave the upload folder.
    let (status, _, _) = w.server.send("POST", &up("empty.csv"), &h, &[], None);
    assert_eq!(status, 400);
    let (status, _, body) = w.server.send(
        "POST",
        &format!("/api/sources/{}/submissions", w.a_source),
        &h,
        &good,
        None,
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    for name in [
        "..%2F..%2Fx.csv",
        "%2Fetc%2Fpasswd",
        ".hidden.csv",
        "noext",
        "a%00b.csv",
    ] {
        let (status, _, body) = w.server.send("POST", &up(name), &h, &good, None);
        assert_eq!(status, 400, "{name}: {}", String::from_utf8_lossy(&body));
    }
    // Not what the mapping reads: an xlsx that is not one.
    let (status, _, body) = w.server.send(
        "POST",
        &up("garbage.xlsx"),
        &h,
        b"PK\x03\x04 not a zip",
        None,
    );
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("nothing was stored"), "{text}");
    assert!(!text.contains(w.ws.to_str().unwrap()), "{text}");
    // An unknown source.
    let (status, _, _) = w.server.send(
        "POST",
        "/api/sources/no-such-source/submissions?file_name=x.csv",
        &h,
        &good,
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(w.submissions().len(), before, "nothing was stored");
    w.no_uploads_left();
    // Then a good one goes through; sent twice, it is stored once.
    let (status, _, body) = w.server.send("POST", &up("good.csv"), &h, &good, None);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    assert_eq!(v["report"]["rows_read"], 20, "{v}");
    let (status, _, body) = w.server.send("POST", &up("good.csv"), &h, &good, None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(json(&body)["already_ingested"].is_object());
    assert_eq!(w.submissions().len(), before + 1);
    w.no_uploads_left();
}

#[test]
fn token_guesses_are_throttled() {
    let w = World::new(corridor_server::DEFAULT_MAX_UPLOAD);
    let mut statuses = Vec::new();
    for i in 0..15 {
        let guess = format!("Bearer crt_{:012x}_{}", i, "a".repeat(64));
        let (status, hs, _) =
            w.server
                .send("GET", "/api/me", &[("Authorization", &guess)], &[], None);
        if status == 429 {
            assert!(header(&hs, "retry-after").is_some());
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Held, even a valid token waits: the guesser cannot tell.
    let (status, _, _) = w.call(Some("a-analyst"), "GET", "/api/me", &[]);
    assert_eq!(status, 429);
}

#[test]
fn a_dp_table_is_charged_to_the_ledger_and_refused_beyond_the_budget() {
    let w = World::new(corridor_server::DEFAULT_MAX_UPLOAD);
    let ask = |rho: f64| {
        format!(
            r#"{{"table": {{"name": "dp_arrivals", "measure": "arrivals", "by": ["year", "sex"], "method": "dp", "rho": {rho}}}, "reference_period": "2022-01/2023-12"}}"#
        )
    };
    let (status, _, body) = w.call(
        Some("a-analyst"),
        "POST",
        "/api/tables",
        ask(0.6).as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    assert!(v["table"]["cells"].as_array().unwrap().len() > 3, "{v}");
    assert!(v["table"]["cells"][0]["error_bound"].is_number(), "{v}");
    let (status, _, body) = w.call(
        Some("a-analyst"),
        "POST",
        "/api/tables",
        ask(0.6).as_bytes(),
    );
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    let b = Workspace::open(&w.ws)
        .unwrap()
        .privacy_budget("border_records")
        .unwrap();
    assert!(b.spent <= 1.0 + 1e-9 && b.spent > 0.5, "{b:?}");
    // A filter that reaches beyond the dimensions is refused.
    let sneaky = r#"{"table": {"name": "t", "measure": "arrivals", "by": ["year"], "where": "1=1) UNION SELECT person_key FROM border_events --", "method": "rr3"}}"#;
    let (status, _, body) = w.call(Some("a-analyst"), "POST", "/api/tables", sneaky.as_bytes());
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}

#[test]
fn sixteen_uploaders_and_sixteen_readers_at_once_lose_nothing_and_never_overspend() {
    let w = Arc::new(World::new(corridor_server::DEFAULT_MAX_UPLOAD));
    let before = w.submissions().len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut threads = Vec::new();
    for u in 0..16usize {
        let w = w.clone();
        threads.push(std::thread::spawn(move || {
            let mut stored = Vec::new();
            let mut j = 0;
            while std::time::Instant::now() < deadline && j < 4 {
                let body = w.part(u * 40 + j * 10, u * 40 + j * 10 + 10);
                let name = format!("u{u}-{j}.csv");
                let (status, _, text) = w.call(
                    Some("a-contributor"),
                    "POST",
                    &upload_path(&w.a_source, &name),
                    &body,
                );
                assert_eq!(status, 201, "{name}: {}", String::from_utf8_lossy(&text));
                stored.push(
                    json(&text)["submission"]["id"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                );
                j += 1;
            }
            stored
        }));
    }
    let mut readers = Vec::new();
    for r in 0..16usize {
        let w = w.clone();
        readers.push(std::thread::spawn(move || {
            let mut n = 0;
            while std::time::Instant::now() < deadline && n < 40 {
                let (status, _, _) = if r % 4 == 0 {
                    // Analysts spending the budget at once, a little each.
                    let ask = r#"{"table": {"name": "dp", "measure": "arrivals", "by": ["year"], "method": "dp", "rho": 0.05}, "reference_period": "2022-01/2023-12"}"#;
                    w.call(Some("a-analyst"), "POST", "/api/tables", ask.as_bytes())
                } else if r % 2 == 0 {
                    w.call(Some("a-analyst"), "GET", "/api/submissions", &[])
                } else {
                    w.call(None, "GET", "/api/releases/latest/tables/by_sex?limit=50", &[])
                };
                assert!(
                    status == 200 || status == 409,
                    "reader {r}: {status}"
                );
                n += 1;
            }
        }));
    }
    let mut ids: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    for r in readers {
        r.join().unwrap();
    }
    let subs = w.submissions();
    let uploaded: Vec<_> = subs
        .iter()
        .filter(|s| s.file_name.starts_with('u') && s.source == w.a_source)
        .collect();
    assert_eq!(
        subs.len(),
        before + ids.len(),
        "no lost or extra submission"
    );
    assert_eq!(uploaded.len(), ids.len());
    assert!(ids.len() >= 16, "every uploader stored something");
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "no duplicated submission");
    for s in &uploaded {
        assert_eq!(s.rows_read, 10, "{}", s.file_name);
    }
    let b = Workspace::open(&w.ws)
        .unwrap()
        .privacy_budget("border_records")
        .unwrap();
    assert!(b.spent <= 1.0 * (1.0 + 1e-9), "overspent: {b:?}");
    w.no_uploads_left();
}
