//! Linkage on the generator's three organisations, against its truth: each
//! organisation encodes its own export, no personal detail survives in what
//! it shares, and the pooled encodings (and, under agreement, the plaintext)
//! find the true duplicate clusters.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use corridor_link::schema::LinkageSchema;
use corridor_link::{Encoder, LinkOptions, Pool};
use corridor_world::WorldConfig;
use corridor_world::mappings::{LINKAGE, PARTNERS_KEY};

struct World {
    root: PathBuf,
    world: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn build(name: &str) -> World {
    let root = corridor_world::scratch_dir(&format!("link-{name}"));
    let world = root.join("world");
    let cfg = WorldConfig {
        persons: 2000,
        victims: Some(1500),
        years: 2,
        ..WorldConfig::default()
    };
    corridor_world::generate(&cfg, &world, &|_, _| {}).expect("world");
    World { root, world }
}

fn truth(world: &Path) -> HashMap<String, String> {
    corridor_world::truth::read_rows(&world.join("truth/case_records.csv"))
        .unwrap()
        .into_iter()
        .map(|r| (r["case_id"].clone(), r["victim_id"].clone()))
        .collect()
}

fn encode_all(w: &World) -> Vec<(LinkageSchema, PathBuf)> {
    let secret = std::fs::read_to_string(w.world.join(PARTNERS_KEY)).unwrap();
    LINKAGE
        .iter()
        .map(|l| {
            let schema = LinkageSchema::load(&w.world.join(l.schema)).unwrap();
            let out = w.world.join(l.encoded);
            let report = corridor_link::encode_file(
                &schema,
                secret.trim().as_bytes(),
                &w.world.join(l.raw),
                &out,
                |_| {},
            )
            .unwrap_or_else(|e| panic!("{}: {e}", l.raw));
            assert_eq!(report.rows_read, report.rows_written, "{}", l.raw);
            assert_eq!(report.rows_rejected, 0);
            // Every detail that is present is read: no date is unreadable.
            for f in &report.fields {
                assert_eq!(f.unreadable, 0, "{}: {:?}", l.raw, f);
                assert!(f.present > 0);
            }
            (schema, out)
        })
        .collect()
}

fn f1(
    pool: &Pool,
    linkage: &corridor_link::Linkage,
    truth: &HashMap<String, String>,
) -> corridor_link::Evaluation {
    let records: Vec<(String, String)> = pool
        .ids
        .iter()
        .zip(&linkage.clusters.of_record)
        .map(|(id, c)| (id.clone(), c.to_string()))
        .collect();
    let cands: Vec<(String, String)> = linkage
        .pairs
        .iter()
        .map(|p| {
            (
                pool.ids[p.a as usize].clone(),
                pool.ids[p.b as usize].clone(),
            )
        })
        .collect();
    corridor_link::evaluate(&records, &cands, truth)
}

#[test]
fn encoded_files_hold_no_personal_detail_and_link_well() {
    let w = build("encoded");
    let encoded = encode_all(&w);

    // Every name, name part, birth date (in the formats the organisations
    // use) and place of birth of the input: none may appear in the output.
    let details =
        corridor_world::truth::read_rows(&w.world.join("truth/case_details.csv")).unwrap();
    let mut needles: Vec<String> = Vec::new();
    let countries = corridor_model::Countries::get();
    for d in &details {
        for key in ["given_name", "family_name", "place_of_birth"] {
            // A place of birth abroad is recorded as a country, which the
            // nationality column shares legitimately.
            if key == "place_of_birth" && countries.resolve(&d[key]).is_ok() {
                continue;
            }
            for part in d[key]
                .split_whitespace()
                .filter(|p| p.chars().count() >= 4 && countries.resolve(p).is_err())
            {
                needles.push(part.to_string());
                needles.push(part.to_uppercase());
            }
        }
        let dob = &d["birth_date"];
        if let Ok(date) = chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d") {
            for f in ["%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y"] {
                needles.push(date.format(f).to_string());
            }
        }
    }
    needles.sort();
    needles.dedup();
    assert!(needles.len() > 1000, "{}", needles.len());
    for (_, path) in &encoded {
        // The encoding column is base64 (where any short word can occur by
        // chance): scan the other columns as text and the encodings as the
        // bytes they decode to.
        use base64::Engine;
        let mut r = csv::Reader::from_path(path).unwrap();
        let last = r.headers().unwrap().len() - 1;
        assert_eq!(&r.headers().unwrap()[last], "linkage_encoding");
        let mut text = String::new();
        for rec in r.records() {
            let rec = rec.unwrap();
            for (i, v) in rec.iter().enumerate() {
                if i == last {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(v).unwrap();
                    text.push_str(&String::from_utf8_lossy(&bytes));
                } else {
                    text.push_str(v);
                }
                text.push('\u{1f}');
            }
        }
        let found: Vec<&String> = needles
            .iter()
            .filter(|n| text.contains(n.as_str()))
            .take(5)
            .collect();
        assert!(
            found.is_empty(),
            "{} holds personal details: {found:?}",
            path.display()
        );
    }

    // Pool the three organisations' encodings and deduplicate.
    let mut pool = Pool::default();
    for (schema, path) in &encoded {
        pool.add_encoded_file(schema, path, &path.display().to_string())
            .unwrap();
    }
    pool.check_unique().unwrap();
    // Every candidate kept, for the blocking's pair completeness.
    let all = LinkOptions {
        keep_pairs_from: 0.0,
        ..LinkOptions::default()
    };
    let linkage = corridor_link::link(&pool, &encoded[0].0, &all);
    let e = f1(&pool, &linkage, &truth(&w.world));
    println!("encoded: {e:?}");
    assert!(e.true_pairs > 200, "{e:?}");
    assert!(e.pair_completeness > 0.9, "{e:?}");
    // The encoding alone, without any attribute beside it (each
    // organisation's files code sex and citizenship differently until
    // intake harmonises them): the workspace path adds them.
    assert!(e.f1 > 0.82, "{e:?}");
    assert!(linkage.model.lambda > 0.0 && linkage.model.lambda < 1.0);
}

#[test]
fn plaintext_under_agreement_links_with_string_comparators() {
    let w = build("plaintext");
    let schema = LinkageSchema::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/case_details.linkage.toml"),
    )
    .unwrap();
    let encoder = Encoder::new(&schema, b"throw-away blocking key");
    let mut pool = Pool::default();
    pool.add_plaintext_file(
        &schema,
        &encoder,
        &w.world.join("truth/case_details.csv"),
        "all",
    )
    .unwrap();
    let linkage = corridor_link::link(&pool, &schema, &LinkOptions::default());
    let e = f1(&pool, &linkage, &truth(&w.world));
    println!("plaintext: {e:?}");
    assert!(e.f1 > 0.92, "{e:?}");
}

#[test]
fn the_wrong_secret_links_nothing() {
    let w = build("secret");
    let encoded = encode_all(&w);
    // Organisation A encodes again with another secret: its records no
    // longer meet anyone else's.
    let l = &LINKAGE[0];
    let other = w.world.join("other.csv");
    corridor_link::encode_file(
        &encoded[0].0,
        b"not the partners' secret at all",
        &w.world.join(l.raw),
        &other,
        |_| {},
    )
    .unwrap();
    let mut pool = Pool::default();
    pool.add_encoded_file(&encoded[0].0, &other, "a-other")
        .unwrap();
    pool.add_encoded_file(&encoded[1].0, &encoded[1].1, "b")
        .unwrap();
    let linkage = corridor_link::link(
        &pool,
        &encoded[0].0,
        &LinkOptions {
            threshold: 0.5,
            across_sources_only: true,
            keep_pairs_from: 0.0,
            one_to_one: false,
        },
    );
    let linked = linkage.pairs.iter().filter(|p| p.similarity > 0.8).count();
    assert_eq!(linked, 0);
}
