//! The demo's trafficking cases, stored in a workspace: every value lies in
//! the code lists' domain, and a synthesis's internal review stays inside
//! the workspace while its synthetic-data folder, outside, holds no
//! sensitive SDG 16.2.2 count.

use std::path::Path;

use corridor_cases::{review_folder, workspace_cases, workspace_domain, workspace_population};
use corridor_store::Workspace;
use corridor_synth::{Context, DpOptions, Folders, KOptions};
use corridor_world::WorldConfig;
use corridor_world::mappings::{LINKAGE, PARTNERS_KEY};

fn workspace(root: &Path) -> Workspace {
    let world = root.join("world");
    let cfg = WorldConfig {
        persons: 1000,
        victims: Some(400),
        years: 2,
        ..WorldConfig::default()
    };
    corridor_world::generate(&cfg, &world, &|_, _| {}).expect("world");
    let ws = Workspace::init(&root.join("ws")).expect("workspace");
    let secret = std::fs::read_to_string(world.join(PARTNERS_KEY)).expect("partners' key");
    for l in &LINKAGE {
        let schema = corridor_link::schema::LinkageSchema::load(&world.join(l.schema)).unwrap();
        corridor_link::encode_file(
            &schema,
            secret.trim().as_bytes(),
            &world.join(l.raw),
            &world.join(l.encoded),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{}: {e}", l.raw));
        ws.submit(
            &world.join(l.mapping),
            &world.join(l.encoded),
            false,
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{}: {e}", l.encoded));
    }
    ws.submit(
        &world.join("sources/population/population.mapping.toml"),
        &world.join("sources/population/population.csv"),
        false,
        &mut |_| {},
    )
    .expect("population");
    ws
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn demo_cases_fit_the_code_lists_and_their_review_stays_in_the_workspace() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = workspace(tmp.path());
    let (table, records) = workspace_cases(&ws).unwrap();
    assert!(records > 300 && table.rows() > 300, "{records}");
    // Every value the demo's organisations record is in the code lists'
    // domain: none is lost as "outside the domain".
    let input = workspace_domain().apply(&table).unwrap();
    assert!(input.outside().is_empty(), "{:?}", input.outside());
    assert_eq!(input.table().values[4].len(), 1023);

    let ctx = Context {
        indicator: Default::default(),
        population: workspace_population(&ws),
        source: "the test workspace".into(),
    };
    assert!(ctx.population.is_some());
    let out = tmp.path().join("published/trafficking");
    for method in ["k-synthetic", "dp"] {
        let publish = out.join(method);
        let review = review_folder(&ws, &out).join(method);
        assert!(review.starts_with(ws.root().join("synth-review")));
        let folders = Folders {
            publish: &publish,
            review: &review,
        };
        if method == "dp" {
            let opts = DpOptions::new(corridor_synth::dp::rho_of(1.0, 1e-6), 1e-6, 1);
            let dp = |folders: Folders| {
                corridor_cases::write_workspace_dp(
                    &ws,
                    &table,
                    &workspace_domain(),
                    &opts,
                    &ctx,
                    folders,
                )
            };
            let elsewhere = |name: &str| tmp.path().join(name);
            // Without a budget nothing is drawn.
            let refused = dp(folders).map(|_| ()).unwrap_err();
            assert!(
                matches!(
                    refused,
                    corridor_cases::CasesError::Ledger(corridor_store::StoreError::NoBudget { .. })
                ),
                "{refused}"
            );
            assert!(!publish.exists());
            ws.set_privacy_budget(corridor_cases::CASES_DATASET, 2.5 * opts.rho)
                .unwrap();
            // Charged to the ledger in the same call, every time.
            let (_, _, _, spent) = dp(folders).unwrap();
            assert!((spent - opts.rho).abs() < 1e-9, "{spent}");
            let again = elsewhere("again");
            let (_, _, _, spent) = dp(Folders {
                publish: &again,
                review: &review_folder(&ws, &again),
            })
            .unwrap();
            assert!((spent - 2.0 * opts.rho).abs() < 1e-9, "{spent}");
            // A third would pass the budget: refused before any noise.
            let third = elsewhere("third");
            let refused = dp(Folders {
                publish: &third,
                review: &review_folder(&ws, &third),
            })
            .map(|_| ())
            .unwrap_err();
            assert!(
                matches!(
                    refused,
                    corridor_cases::CasesError::Ledger(
                        corridor_store::StoreError::OverBudget { .. }
                    )
                ),
                "{refused}"
            );
            assert!(!third.exists());
            let ledger = ws
                .privacy_ledger(Some(corridor_cases::CASES_DATASET))
                .unwrap();
            assert_eq!(ledger.len(), 2);
            let total: f64 = ledger.iter().map(|l| l.rho).sum();
            assert!((total - 2.0 * opts.rho).abs() < 1e-12);
        } else {
            let opts = KOptions {
                k: 10,
                length: 3,
                resolution: 10,
                seed: 1,
                keep_counts: true,
            };
            corridor_synth::write_ksynthetic(&table, &opts, &ctx, folders).unwrap();
        }
        // The review has the SDG cells below k, each with its count.
        let internal = json(&review.join("report.json"));
        let rare: Vec<&serde_json::Value> = internal["sdg_16_2_2"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| (1..10).contains(&r["sensitive"].as_u64().unwrap()))
            .collect();
        assert!(!rare.is_empty(), "{method}: the demo has rare SDG cells");
        let internal_html = std::fs::read_to_string(review.join("report.html")).unwrap();
        assert!(internal_html.contains("INTERNAL — contains sensitive counts, do not publish"));
        // The synthetic-data folder has none of those counts: its SDG rows
        // are the synthetic data's, and (k-synthetic) no rare cell.
        let html = std::fs::read_to_string(publish.join("report.html")).unwrap();
        let public = json(&publish.join("report.json"));
        for r in public["sdg_16_2_2"].as_array().unwrap() {
            assert!(r.get("sensitive").is_none() && r.get("sensitive_rate").is_none());
        }
        for r in &rare {
            let cell = format!(
                "<td>{}</td><td>{}</td><td>{}</td>",
                r["sex"].as_str().unwrap(),
                r["age"].as_str().unwrap(),
                r["form"].as_str().unwrap(),
            );
            assert!(
                internal_html.contains(&format!("{cell}<td>{}</td>", r["sensitive"])),
                "{cell}"
            );
            // A k-synthetic cell with a known value in each part holds
            // nothing rare; "_U" also gathers the values synthesis withheld.
            if method == "k-synthetic" && !cell.contains("<td>_U</td>") {
                assert!(!html.contains(&cell), "{cell}");
            }
        }
        assert!(!html.contains("<th>sensitive"), "{method}");
    }
    // Both reviews are inside the workspace, apart from the folders.
    assert!(
        ws.root()
            .join("synth-review/trafficking/dp/report.json")
            .is_file()
    );
    assert!(
        ws.root()
            .join("synth-review/trafficking/k-synthetic/report.json")
            .is_file()
    );
}
