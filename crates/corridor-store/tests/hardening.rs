//! A workspace under attack or misuse: SQL that tries to write or read
//! files, weak or missing secrets, runaway queries, files others could
//! read, a damaged catalog, a failed commit, and the demo's replacement
//! rule. Each test fails without the fix it guards.

use std::path::{Path, PathBuf};

use corridor_store::{Outcome, QueryLimits, StoreError, Workspace};

const MAPPING: &str = "record_type = \"population\"\nsource = \"pop\"\n[reader]\nformat = \"csv\"\n[fields]\ncountry = { column = \"country\" }\nreference_year = { column = \"year\" }\nsex = { column = \"sex\" }\nage_group = { column = \"age\" }\npopulation = { column = \"n\" }\n";
const ROWS: &str = "country,year,sex,age,n\nGTM,2024,F,0-4,1000\nHND,2024,M,85+,20\nSLV,2024,F,15-19,300\nGTM,20x4,F,15-19,1\n";

/// A fresh workspace with one population file ingested; returns its root,
/// the mapping and the file.
fn workspace(name: &str) -> (Workspace, PathBuf, PathBuf) {
    let root = corridor_world::scratch_dir(&format!("hardening-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("root");
    let ws = Workspace::init(&root.join("ws")).expect("init");
    let mapping = root.join("pop.mapping.toml");
    std::fs::write(&mapping, MAPPING).expect("mapping");
    let file = root.join("pop.csv");
    std::fs::write(&file, ROWS).expect("rows");
    let out = ws
        .submit(&mapping, &file, false, &mut |_| {})
        .expect("submit");
    assert!(matches!(out, Outcome::Committed { .. }));
    (ws, mapping, file)
}

fn count(ws: &Workspace) -> i64 {
    let b = ws
        .sql("SELECT count(*) AS n FROM population")
        .expect("count");
    arrow::array::cast::as_primitive_array::<arrow::datatypes::Int64Type>(b[0].column(0)).value(0)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn analysts_sql_cannot_write_or_read_files() {
    let (ws, _, _) = workspace("sql");
    let root = ws.root().to_path_buf();
    let before = count(&ws);
    let outside = root.parent().expect("parent").join("stolen.csv");
    let part = root.join("data/population/source=pop/submission=x/part-99999.parquet");
    let secret = root.join("secret.key");
    let secret_before = std::fs::read(&secret).expect("secret");
    let attempts = [
        format!("COPY (SELECT * FROM population) TO '{}'", outside.display()),
        format!(
            "COPY (SELECT * FROM population) TO '{}' STORED AS PARQUET",
            part.display()
        ),
        format!(
            "COPY (SELECT '0000' AS k) TO '{}' STORED AS CSV",
            secret.display()
        ),
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'".to_string(),
        "CREATE EXTERNAL TABLE p STORED AS PARQUET LOCATION '/no/such/file.parquet'".to_string(),
        "CREATE TABLE t AS SELECT * FROM population".to_string(),
        "CREATE VIEW v AS SELECT * FROM population".to_string(),
        "INSERT INTO population SELECT * FROM population".to_string(),
        "DROP TABLE population".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        format!("EXPLAIN ANALYZE COPY (SELECT 1) TO '{}'", outside.display()),
    ];
    for q in &attempts {
        let err = ws.sql(q).expect_err(q);
        assert!(matches!(err, StoreError::ReadOnly(_)), "{q}: {err}");
        assert!(err.to_string().contains("only reads"), "{q}: {err}");
    }
    // A file named as a table is not read: URL tables are off.
    for q in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM '/etc/hostname'",
    ] {
        let err = ws.sql(q).expect_err(q).to_string();
        assert!(!err.contains("root:"), "{q}: {err}");
        assert!(
            err.contains("not found") || err.contains("table"),
            "{q}: {err}"
        );
    }
    assert!(!outside.exists());
    assert!(!part.exists());
    assert_eq!(std::fs::read(&secret).expect("secret"), secret_before);
    assert_eq!(count(&ws), before);
    // Queries still run, and a newcomer can list tables and columns.
    let tables = ws.sql("SHOW TABLES").expect("show tables");
    let text = arrow::util::pretty::pretty_format_batches(&tables)
        .expect("fmt")
        .to_string();
    assert!(
        text.contains("population") && text.contains("border_events"),
        "{text}"
    );
    let cols = ws
        .sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'population'")
        .expect("information_schema");
    let text = arrow::util::pretty::pretty_format_batches(&cols)
        .expect("fmt")
        .to_string();
    assert!(
        text.contains("reference_year") && text.contains("record_key"),
        "{text}"
    );
    ws.sql("EXPLAIN SELECT count(*) FROM population")
        .expect("explain a query");
}

#[test]
fn a_runaway_query_fails_cleanly_under_its_memory_limit() {
    let (ws, _, _) = workspace("memory");
    let limits = QueryLimits {
        memory_bytes: 8 << 20,
    };
    // 249³ ≈ 15 million strings gathered into one array: an aggregate
    // that cannot spill, far beyond 8 MiB.
    let q = "SELECT array_agg(a.alpha3 || b.alpha3 || c.alpha3) \
             FROM countries a, countries b, countries c";
    let err = ws.sql_with(q, &limits).expect_err("over the limit");
    let text = err.to_string();
    assert!(text.contains("--memory-limit"), "{text}");
    // The same workspace still answers small queries.
    assert_eq!(count(&ws), 3);
}

#[test]
fn weak_or_missing_workspace_secrets_are_refused() {
    let (ws, mapping, file) = workspace("secret");
    let secret = ws.root().join("secret.key");
    let other = file.with_file_name("pop2.csv");
    std::fs::write(&other, ROWS.replace("1000", "1001")).expect("rows");
    for weak in ["", "\n", "00", "deadbeef", &"0".repeat(64)] {
        std::fs::write(&secret, weak).expect("write");
        let err = ws
            .submit(&mapping, &other, false, &mut |_| {})
            .expect_err("weak secret");
        assert!(err.to_string().contains("weak"), "{weak:?}: {err}");
    }
    std::fs::remove_file(&secret).expect("rm");
    let err = ws
        .submit(&mapping, &other, false, &mut |_| {})
        .expect_err("no secret")
        .to_string();
    assert!(
        err.contains("can no longer be matched") && err.contains("backup"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn record_level_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (ws, _, _) = workspace("modes");
    // One row is quarantined (its year is no number), so the quarantine
    // file holds values.
    for p in walk(ws.root()) {
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        let rel = p
            .strip_prefix(ws.root())
            .expect("rel")
            .to_string_lossy()
            .into_owned();
        if p.is_dir() {
            assert_eq!(mode, 0o700, "{rel}: {mode:o}");
        } else if rel.starts_with("data")
            || rel.starts_with("quarantine")
            || rel.starts_with("reports")
            || rel == "secret.key"
            || rel == "catalog.sqlite"
        {
            assert_eq!(mode, 0o600, "{rel}: {mode:o}");
        }
    }
    let quarantined: Vec<PathBuf> = walk(&ws.root().join("quarantine"))
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(quarantined.len(), 1);
    assert!(
        std::fs::read_to_string(&quarantined[0])
            .expect("q")
            .contains("row")
    );
}

#[test]
fn a_missing_or_damaged_catalog_is_refused_not_recreated() {
    let (ws, _, _) = workspace("catalog");
    let catalog = ws.root().join("catalog.sqlite");
    let saved = catalog.with_extension("saved");
    std::fs::rename(&catalog, &saved).expect("mv");
    let err = ws.status().expect_err("missing catalog").to_string();
    assert!(err.contains("docs/recovery.md"), "{err}");
    assert!(!catalog.exists(), "status recreated the catalog");
    std::fs::write(
        &catalog,
        b"this is not a database, just bytes that fill a page......",
    )
    .expect("w");
    let err = ws.status().expect_err("damaged catalog").to_string();
    assert!(err.contains("docs/recovery.md"), "{err}");
    std::fs::remove_file(&catalog).expect("rm");
    std::fs::rename(&saved, &catalog).expect("restore");
    assert_eq!(count(&ws), 3);
}

#[test]
fn a_failed_commit_leaves_no_stray_files() {
    let (ws, mapping, file) = workspace("commit");
    drop(refuse_submissions(&ws.root().join("catalog.sqlite")));
    let files_before: Vec<PathBuf> = walk(ws.root());
    let other = file.with_file_name("pop3.csv");
    std::fs::write(&other, ROWS.replace("1000", "1002")).expect("rows");
    ws.submit(&mapping, &other, false, &mut |_| {})
        .expect_err("the catalog refuses the commit");
    let files_after: Vec<PathBuf> = walk(ws.root())
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("catalog.sqlite"))
        .collect();
    let files_before: Vec<PathBuf> = files_before
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains("catalog.sqlite"))
        .collect();
    assert_eq!(files_after, files_before);
}

/// Makes every new submission row fail to insert, as a full or broken
/// catalog would.
fn refuse_submissions(catalog: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(catalog).expect("open");
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON submissions BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;",
    )
    .expect("trigger");
    conn
}

#[test]
fn the_demo_replaces_only_its_own_workspace() {
    let root = corridor_world::scratch_dir("hardening-demo");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("root");
    let real = root.join("workspace");
    Workspace::init(&real).expect("a real workspace");
    std::fs::write(real.join("precious.txt"), "keep me").expect("w");
    let err = Workspace::init_demo(&real, false)
        .expect_err("not the demo's")
        .to_string();
    assert!(err.contains("--force") && err.contains("--dir"), "{err}");
    assert!(real.join("precious.txt").is_file());
    // The demo's own workspace is replaced; --force replaces any.
    let demo = root.join("demo-ws");
    Workspace::init_demo(&demo, false).expect("new");
    std::fs::write(demo.join("old.txt"), "x").expect("w");
    Workspace::init_demo(&demo, false).expect("again");
    assert!(!demo.join("old.txt").exists());
    Workspace::init_demo(&real, true).expect("forced");
    assert!(!real.join("precious.txt").exists());
}
