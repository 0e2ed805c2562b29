//! Code lists: every country resolves from each of its names; aliases never
//! collide; failures name the closest candidates.

use corridor_model::{CodeListId, Countries};
use proptest::prelude::*;

#[test]
fn all_249_iso_countries_with_unique_codes() {
    let all = Countries::get().all();
    assert_eq!(all.len(), 249);
    let mut a3: Vec<&str> = all.iter().map(|c| c.alpha3.as_str()).collect();
    let mut a2: Vec<&str> = all.iter().map(|c| c.alpha2.as_str()).collect();
    let mut num: Vec<&str> = all.iter().map(|c| c.numeric.as_str()).collect();
    for v in [&mut a3, &mut a2, &mut num] {
        v.sort();
        v.dedup();
        assert_eq!(v.len(), 249);
    }
    for c in all {
        assert_eq!(c.alpha3.len(), 3);
        assert_eq!(c.alpha2.len(), 2);
        assert_eq!(c.numeric.len(), 3);
        assert!(
            !c.name_en.is_empty() && !c.name_es.is_empty() && !c.name_fr.is_empty(),
            "{}",
            c.alpha3
        );
    }
}

#[test]
fn every_country_resolves_from_each_name_and_code() {
    let countries = Countries::get();
    for c in countries.all() {
        for key in [
            &c.alpha3, &c.alpha2, &c.numeric, &c.name_en, &c.name_es, &c.name_fr,
        ] {
            let got = countries
                .resolve(key)
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(
                got.alpha3, c.alpha3,
                "'{key}' resolved to {} not {}",
                got.alpha3, c.alpha3
            );
        }
        if !c.official_name_en.is_empty() {
            assert_eq!(
                countries
                    .resolve(&c.official_name_en)
                    .map(|x| x.alpha3.as_str())
                    .ok(),
                Some(c.alpha3.as_str())
            );
        }
    }
}

#[test]
fn variants_seen_in_exports() {
    let countries = Countries::get();
    for (value, code) in [
        ("EEUU", "USA"),
        ("EE.UU.", "USA"),
        ("Estados Unidos de América", "USA"),
        ("U.S.A.", "USA"),
        ("united states of america", "USA"),
        ("Côte d'Ivoire", "CIV"),
        ("COTE D IVOIRE", "CIV"),
        ("Ivory Coast", "CIV"),
        ("guatemalteca", "GTM"),
        ("GUATEMALA", "GTM"),
        ("Salvadoreño", "SLV"),
        ("hondureña", "HND"),
        ("nicaragüense", "NIC"),
        ("México", "MEX"),
        ("Méjico", "MEX"),
        ("Korea, Republic of", "KOR"),
        ("Corea del Sur", "KOR"),
        ("Reino Unido", "GBR"),
        ("Allemagne", "DEU"),
        ("Alemania", "DEU"),
        ("Estados Unidos", "USA"),
        ("République dominicaine", "DOM"),
        ("Türkiye", "TUR"),
        ("Viet Nam", "VNM"),
        ("Vietnam", "VNM"),
    ] {
        match countries.resolve(value) {
            Ok(c) => assert_eq!(c.alpha3, code, "{value}"),
            Err(e) => panic!("{value}: {e}"),
        }
    }
}

#[test]
fn failures_name_the_closest_candidates() {
    let countries = Countries::get();
    let err = countries
        .resolve("Guatamala")
        .expect_err("a typo is not a country");
    assert_eq!(
        err.candidates.first().map(String::as_str),
        Some("GTM"),
        "{err}"
    );
    assert!(err.to_string().contains("Guatamala"));
    let err = countries.resolve("Hondura").expect_err("not exact");
    assert!(err.candidates.contains(&"HND".to_string()), "{err}");
    for nonsense in ["EXTRANJERO", "N/D", "C.A.", "XXX", "", "Narnia"] {
        assert!(
            countries.resolve(nonsense).is_err(),
            "{nonsense} must not resolve"
        );
    }
    // Ambiguous short forms are not guessed.
    assert!(countries.resolve("Korea").is_err());
    assert!(
        countries
            .resolve("Congo")
            .map(|c| c.alpha3 == "COG")
            .unwrap_or(true)
    );
}

#[test]
fn countries_have_their_time_zones() {
    use corridor_model::time_zones;
    assert_eq!(time_zones("GTM"), ["America/Guatemala"]);
    assert_eq!(
        time_zones("ESP"),
        ["Europe/Madrid", "Africa/Ceuta", "Atlantic/Canary"]
    );
    assert!(time_zones("USA").contains(&"America/Los_Angeles"));
    assert!(time_zones("XXX").is_empty());
    // zone.tab lists every ISO country but the two uninhabited islands.
    let without: Vec<&str> = Countries::get()
        .all()
        .iter()
        .map(|c| c.alpha3.as_str())
        .filter(|c| time_zones(c).is_empty())
        .collect();
    assert_eq!(without, ["BVT", "HMD"]);
}

#[test]
fn typing_slips_have_one_code() {
    let typo = |list: CodeListId, v: &str| list.list().typo_of(v).map(|c| c.code.clone());
    for (v, code) in [
        ("Guatamala", "GTM"),
        ("Hondruas", "HND"),
        ("GUATEALA", "GTM"),
        ("Kolombia", "COL"),
        ("Belise", "BLZ"),
        ("Nicaragwa", "NIC"),
    ] {
        assert_eq!(typo(CodeListId::Country, v).as_deref(), Some(code), "{v}");
    }
    // Regions, other words, and values near two codes are left to people.
    for v in ["CENTROAMERICA", "Marte", "Nigeri", "GTM"] {
        assert_eq!(typo(CodeListId::Country, v), None, "{v}");
    }
    assert_eq!(typo(CodeListId::Sex, "Femenimo").as_deref(), Some("F"));
}

#[test]
fn m49_regions_are_complete() {
    let regions = CodeListId::M49Region.list();
    let codes: Vec<&str> = regions.codes.iter().map(|c| c.code.as_str()).collect();
    for c in Countries::get().all() {
        for code in [&c.m49_region, &c.m49_subregion, &c.m49_intermediate] {
            assert!(
                code.is_empty() || codes.contains(&code.as_str()),
                "{}: {code}",
                c.alpha3
            );
        }
        if c.alpha3 != "ATA" {
            assert!(!c.m49_region.is_empty(), "{} has no region", c.alpha3);
        }
    }
    for code in ["GTM", "HND", "SLV", "MEX", "NIC", "CRI", "PAN", "BLZ"] {
        let c = Countries::get().by_alpha3(code).expect("country");
        assert_eq!(
            (
                c.m49_region.as_str(),
                c.m49_subregion.as_str(),
                c.m49_intermediate.as_str()
            ),
            ("019", "419", "013"),
            "{code}"
        );
    }
    assert_eq!(
        regions.get("013").map(|c| c.label_es.as_str()),
        Some("Centroamérica")
    );
}

#[test]
fn small_lists_resolve_every_label_and_alias_to_its_own_code() {
    for id in CodeListId::ALL {
        if id == CodeListId::Country {
            continue;
        }
        let list = id.list();
        assert!(
            !list.source_notes.is_empty(),
            "{} names no source",
            id.name()
        );
        let mut codes: Vec<&str> = list.codes.iter().map(|c| c.code.as_str()).collect();
        codes.sort();
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "{}: duplicate codes", id.name());
        for code in &list.codes {
            assert_eq!(list.resolve(&code.code).map(|c| &c.code), Ok(&code.code));
            for alias in &code.aliases {
                let got = list.resolve(alias).map(|c| c.code.clone());
                assert_eq!(got, Ok(code.code.clone()), "{}: alias '{alias}'", id.name());
            }
        }
    }
    let sex = CodeListId::Sex.list();
    assert_eq!(sex.resolve("Masculino").map(|c| c.code.as_str()), Ok("M"));
    assert_eq!(sex.resolve("FEMENINO").map(|c| c.code.as_str()), Ok("F"));
    assert_eq!(sex.resolve("1").map(|c| c.code.as_str()), Ok("M"));
    assert!(sex.resolve("Z").is_err());
}

#[test]
fn every_code_list_file_names_its_source() {
    for id in CodeListId::ALL {
        let (file, text) = id.source_file();
        assert!(
            text.starts_with('#'),
            "{file} must start with a comment naming its source"
        );
    }
}

fn scramble_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

proptest! {
    /// Case, surrounding space and punctuation never change what a country
    /// name resolves to.
    #[test]
    fn resolution_ignores_case_and_punctuation(i in 0usize..249, mask in any::<u64>(), lang in 0usize..3, punct in prop::sample::select(vec!["", ".", " ", "-", "  ", "'"])) {
        let c = &Countries::get().all()[i];
        let name = [&c.name_en, &c.name_es, &c.name_fr][lang];
        let value = format!("{punct}{}{punct}", scramble_case(name, mask));
        let got = Countries::get().resolve(&value).map(|x| x.alpha3.clone());
        prop_assert_eq!(got, Ok(c.alpha3.clone()));
    }

    /// Resolution never panics, whatever the input.
    #[test]
    fn resolution_is_total(value in ".{0,40}") {
        let _ = Countries::get().resolve(&value);
        let _ = CodeListId::Sex.list().resolve(&value);
    }
}
