//! The demo pipeline as a library: every step, in order, with the
//! library's own reports, and the privacy ledger charged by the library.

use corridor_demo::{Options, Step};
use corridor_world::WorldConfig;

#[test]
fn the_demo_runs_every_step_in_order_and_charges_the_ledger() {
    let dir = tempfile::tempdir().expect("tmp");
    let options = Options {
        world: WorldConfig {
            persons: 1_500,
            seed: 3,
            ..WorldConfig::default()
        },
        force: false,
    };
    let mut steps: Vec<&'static str> = Vec::new();
    let mut facts = (0u64, 0.0f64, None::<f64>);
    let layout = corridor_demo::run(dir.path(), &options, &|_, _, _| {}, &mut |step| {
        steps.push(match step {
            Step::Generated { .. } => "generated",
            Step::Ingested { stored, .. } => {
                facts.0 += stored;
                "ingested"
            }
            Step::BorderEvents(_) => "border events",
            Step::Derived(_) => "derived",
            Step::Table { .. } => "table",
            Step::Mirror(_) => "mirror",
            Step::Nowcast { nowcast, truth, .. } => {
                assert_eq!(truth.len(), 3);
                assert!(nowcast.note.starts_with("Experimental"));
                "nowcast"
            }
            Step::Encoded { .. } => "encoded",
            Step::Deduplicated(_) => "deduplicated",
            Step::Evaluated(e) => {
                facts.1 = e.f1;
                "evaluated"
            }
            Step::Synthesised(s) => {
                facts.2 = s.rho_spent;
                "synthesised"
            }
            Step::Released { built, verified } => {
                assert_eq!(built.id, verified.id);
                assert!(verified.key_trusted);
                "released"
            }
        })
    })
    .expect("the demo runs");
    steps.dedup();
    assert_eq!(
        steps,
        [
            "generated",
            "ingested",
            "border events",
            "derived",
            "table",
            "mirror",
            "nowcast",
            "encoded",
            "deduplicated",
            "evaluated",
            "synthesised",
            "released"
        ]
    );
    assert!(facts.0 > 1_000, "rows stored: {}", facts.0);
    assert!(facts.1 > 0.8, "F1 against the truth: {}", facts.1);
    assert!(
        facts.2.is_some_and(|rho| rho > 0.0),
        "ρ spent: {:?}",
        facts.2
    );
    assert!(layout.trafficking.join("dp/privacy.json").is_file());
    let releases = corridor_publish::list_releases(&layout.releases).unwrap();
    assert_eq!(releases.len(), 1);
    corridor_publish::verify_release(&releases[0].dir, None).unwrap();
    assert!(layout.release_spec.is_file());
    assert!(
        layout
            .trafficking
            .join("k-synthetic/synthetic.csv")
            .is_file()
    );
    assert!(
        !layout.trafficking.join("k-synthetic/internal").exists()
            && layout
                .workspace
                .join("synth-review/trafficking/dp")
                .is_dir()
    );
    // A second run replaces the demo's own workspace without --force.
    corridor_demo::run(dir.path(), &options, &|_, _, _| {}, &mut |_| {}).expect("again");
}

#[test]
fn the_demo_refuses_a_workspace_it_did_not_make_before_writing_anything() {
    let dir = tempfile::tempdir().expect("tmp");
    corridor_store::Workspace::init(&dir.path().join("workspace")).expect("a real workspace");
    let options = Options {
        world: WorldConfig {
            persons: 200,
            ..WorldConfig::default()
        },
        force: false,
    };
    let err =
        corridor_demo::run(dir.path(), &options, &|_, _, _| {}, &mut |_| {}).expect_err("refused");
    assert!(err.to_string().contains("--force"), "{err}");
    assert!(!dir.path().join("world").exists());
}
