//! The reference document of the standard, generated from the code.
//!
//! `docs/standard.md` is this function's output; a test fails when the two
//! differ, and `CORRIDOR_UPDATE_DOCS=1 cargo test -p corridor-model` (or
//! `corridor standard > docs/standard.md`) rewrites it.

use std::fmt::Write;

use crate::codes::CodeListId;
use crate::countries::Countries;
use crate::standard::RecordType;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The whole standard as Markdown: record types, fields, code lists.
pub fn standard_markdown() -> String {
    let mut out = String::new();
    let w = &mut out;
    // Writing to a String cannot fail.
    let _ = writeln!(w, "# The Corridor data standard\n");
    let _ = writeln!(
        w,
        "<!-- Generated from crates/corridor-model by `corridor standard`; do not edit by hand. -->\n"
    );
    let _ = writeln!(
        w,
        "Every source an agency submits is mapped to one of these record types. Each is an \
         Apache Arrow schema (the types below are the logical types; the Arrow type is in \
         brackets). Required fields must be present in every stored record; a row that lacks \
         one is quarantined with the reason. Coded fields take the codes of the named code \
         list; intake resolves labels and known spellings to codes.\n"
    );
    let _ = writeln!(w, "## Record types\n");
    for t in RecordType::ALL {
        let _ = writeln!(w, "- [`{}`](#{}) — {}", t.name(), t.name(), t.title());
    }
    let _ = writeln!(w);
    for t in RecordType::ALL {
        let _ = writeln!(w, "### `{}`\n", t.name());
        let _ = writeln!(w, "{}\n", t.description());
        let _ = writeln!(w, "| field | type | required | meaning |");
        let _ = writeln!(w, "|---|---|---|---|");
        for f in t.fields() {
            let _ = writeln!(
                w,
                "| `{}` | {} [{}] | {} | {} |",
                f.name,
                f.ty.describe(),
                f.ty.arrow_type(),
                if f.required { "yes" } else { "no" },
                cell(f.description)
            );
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "## Sex, gender and age\n");
    let _ = writeln!(
        w,
        "Sex takes the SDMX codes (`F`, `M`, `_O` other, `_U` unknown). HTCDS records gender as \
         Male, Female or Transgender/NonConforming: the last, and transgender, non-binary or \
         other genders in any export, are `_O`, never folded into `F` or `M`. Sex is required \
         in every record type; an export that does not say is mapped with `default = \"_U\"`, \
         so that the unknown stay visible in every table.\n\n\
         Age is where the standard's records differ. A trafficking case must say the \
         person's age in some form, because victims are counted by age group and sex (SDG \
         16.2.2; HTCDS's `ageBroad` and `majorityStatus`): its mapping maps one of `age`, \
         `age_group` or `majority_status`, and a source that records none says so with \
         `age_group = {{ constant = \"_U\" }}` (a mapping with none of them is refused, and the \
         draft writes that line when it finds no column of ages). Each row may still leave \
         the age empty: it is counted in the age group `_U`, not dropped. Border events, \
         permits and returns need no age: their exports often lack both date of birth and \
         age, and a record without them still counts in flows and stocks, in `_U`. Where an \
         export has a date of birth, `age = {{ age_at = \"event_date\" }}` derives the age on \
         the event's date.\n"
    );
    let _ = writeln!(w, "## Stored records\n");
    let _ = writeln!(
        w,
        "Intake adds these fields to every stored record of every type (they are not mapped from sources):\n"
    );
    let _ = writeln!(w, "| field | type | meaning |");
    let _ = writeln!(w, "|---|---|---|");
    for (name, ty, description) in crate::standard::STORED_FIELDS {
        let _ = writeln!(w, "| `{name}` | {ty} | {} |", cell(description));
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "## Code lists\n");
    let _ = writeln!(
        w,
        "Matching of values against a code list ignores case, accents and punctuation, and \
         accepts the code, the English, Spanish or French label, and the listed aliases.\n"
    );
    for id in CodeListId::ALL {
        let list = id.list();
        let (file, _) = id.source_file();
        let _ = writeln!(w, "### `{}`\n", id.name());
        let _ = writeln!(w, "File: `crates/corridor-model/data/{file}`. ");
        for note in &list.source_notes {
            let _ = writeln!(w, "{}  ", cell(note));
        }
        let _ = writeln!(w);
        if id == CodeListId::Country {
            let _ = writeln!(
                w,
                "{} entries (ISO 3166-1). Each has alpha-2, alpha-3 (the code stored), numeric, \
                 English, Spanish and French names and its UN M49 region, sub-region and \
                 intermediate region; curated variants and nationality adjectives are in \
                 `country_variants.csv`. Reporting countries of the demo: GTM, HND, SLV.\n",
                Countries::get().all().len()
            );
            continue;
        }
        let _ = writeln!(w, "| code | English | Español | Français |");
        let _ = writeln!(w, "|---|---|---|---|");
        for c in &list.codes {
            let _ = writeln!(
                w,
                "| `{}` | {} | {} | {} |",
                c.code,
                cell(&c.label_en),
                cell(&c.label_es),
                cell(&c.label_fr)
            );
        }
        let _ = writeln!(w);
    }
    out
}
