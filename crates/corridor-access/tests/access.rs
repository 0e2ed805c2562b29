//! Organisations, users and tokens in a real workspace folder, and the
//! audit log against every way of tampering with it.

use corridor_access::{Access, AccessError, Action, AuditLog, Role};
use proptest::prelude::*;
use serde_json::json;

#[test]
fn tokens_are_shown_once_stored_hashed_and_checked() {
    let ws = tempfile::tempdir().unwrap();
    let a = Access::open(ws.path()).unwrap();
    a.add_org("cli", "Border Agency GT").unwrap();
    a.add_org("cli", "NGO Esperanza").unwrap();
    assert!(matches!(
        a.add_org("cli", "NGO Esperanza"),
        Err(AccessError::Invalid(_))
    ));
    assert!(matches!(
        a.add_org("cli", "<script>"),
        Err(AccessError::Invalid(_))
    ));
    a.add_user("cli", "Border Agency GT", "ana", Role::Contributor)
        .unwrap();
    a.add_user("cli", "NGO Esperanza", "luis", Role::Analyst)
        .unwrap();
    assert!(matches!(
        a.add_user("cli", "Nowhere", "x", Role::Admin),
        Err(AccessError::NotFound(_))
    ));
    let (info, token) = a.new_token("cli", "ana").unwrap();
    assert!(token.starts_with(&format!("crt_{}_", info.id)));
    let who = a.authenticate(&token).unwrap();
    assert_eq!(
        (who.user.as_str(), who.org.as_str(), who.role),
        ("ana", "Border Agency GT", Role::Contributor)
    );

    // A wrong secret, a made-up id, junk, a revoked token: one answer.
    let secret = token.rsplit('_').next().unwrap();
    let mut wrong = token.clone();
    wrong.replace_range(
        wrong.len() - 1..,
        if token.ends_with('0') { "1" } else { "0" },
    );
    for bad in [
        wrong.as_str(),
        "crt_000000000000_00",
        "",
        "Bearer x",
        &token[..token.len() - 1],
    ] {
        assert!(
            matches!(a.authenticate(bad), Err(AccessError::Unauthorized)),
            "{bad}"
        );
    }
    a.revoke_token("cli", &info.id).unwrap();
    assert!(matches!(
        a.authenticate(&token),
        Err(AccessError::Unauthorized)
    ));

    // The secret is nowhere on disk; the hash is argon2id.
    for f in ["access.sqlite", "audit/audit.ndjson"] {
        let bytes = std::fs::read(ws.path().join(f)).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{f}"
        );
    }
    let db = rusqlite::Connection::open(ws.path().join("access.sqlite")).unwrap();
    let hash: String = db
        .query_row("SELECT hash FROM tokens", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    // Every action is in the audit log, chained.
    let report = a.audit().verify().unwrap();
    assert_eq!(report.entries, 6);
    let actions: Vec<String> = a
        .audit()
        .entries()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "org.add",
            "org.add",
            "user.add",
            "user.add",
            "token.new",
            "token.revoke"
        ]
    );
}

#[test]
fn each_role_does_its_own_job_only() {
    use Action::*;
    let table = [
        (Role::Admin, [true, false, false, false, false]),
        (Role::Contributor, [false, true, false, false, true]),
        (Role::Analyst, [false, false, true, false, true]),
        (Role::Publisher, [false, false, false, true, true]),
    ];
    for (role, allowed) in table {
        for (action, want) in [Administer, Submit, Analyse, Publish, ReadOwn]
            .into_iter()
            .zip(allowed)
        {
            assert_eq!(role.may(action), want, "{role:?} {action:?}");
        }
    }
    assert!(Role::parse("root").is_err());
}

fn log_with(n: usize) -> (tempfile::TempDir, AuditLog) {
    let ws = tempfile::tempdir().unwrap();
    let log = AuditLog::open(ws.path()).unwrap();
    for i in 0..n {
        log.append("cli", "", "test", json!({ "i": i })).unwrap();
    }
    (ws, log)
}

fn lines(ws: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(ws.join("audit/audit.ndjson"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(ws: &std::path::Path, l: &[String]) {
    let mut text = l.join("\n");
    if !l.is_empty() {
        text.push('\n');
    }
    std::fs::write(ws.join("audit/audit.ndjson"), text).unwrap();
}

#[test]
fn an_edited_reordered_or_deleted_entry_is_found() {
    let (ws, log) = log_with(5);
    assert_eq!(log.verify().unwrap().entries, 5);
    let orig = lines(ws.path());
    let tamper = |l: Vec<String>, what: &str| {
        write_lines(ws.path(), &l);
        let e = log.verify().expect_err(what).to_string();
        write_lines(ws.path(), &orig);
        e
    };
    let mut edited = orig.clone();
    edited[2] = edited[2].replace("\"i\":2", "\"i\":7");
    assert!(tamper(edited, "edit").contains("line 3 (entry 3) was edited"));
    let mut swapped = orig.clone();
    swapped.swap(1, 2);
    assert!(tamper(swapped, "swap").contains("line 2"));
    let mut deleted = orig.clone();
    deleted.remove(3);
    assert!(tamper(deleted, "delete").contains("line 4"));
    let mut truncated = orig.clone();
    truncated.pop();
    assert!(tamper(truncated, "truncate").contains("head says entry 5"));
    assert!(tamper(Vec::new(), "empty").contains("head"));
    // Untouched, it verifies, and goes on chaining.
    log.append("cli", "", "test", json!({})).unwrap();
    assert_eq!(log.verify().unwrap().entries, 6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any single edit, deletion or swap of entries is found.
    #[test]
    fn any_tampering_breaks_the_chain(n in 2usize..12, pick in 0usize..100, other in 0usize..100, how in 0u8..3) {
        let (ws, log) = log_with(n);
        let mut l = lines(ws.path());
        let i = pick % n;
        match how {
            0 => l[i] = l[i].replace("\"test\"", "\"tset\""),
            1 => { l.remove(i); }
            _ => {
                let j = other % n;
                prop_assume!(i != j);
                l.swap(i, j);
            }
        }
        write_lines(ws.path(), &l);
        prop_assert!(matches!(log.verify(), Err(AccessError::Tampered(_))));
    }
}
