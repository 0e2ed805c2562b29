//! Code lists: the allowed values of coded fields.
//!
//! Each list is a CSV file under `data/` whose `#` header lines name its
//! source. Lists are parsed once, on first use, from the copy compiled into
//! the binary, so a deployment can never run with a different list than the
//! one it was tested with.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::text::fold;

/// Identifies a code list of the standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeListId {
    /// ISO 3166-1 alpha-3 country codes; see [`crate::countries`].
    Country,
    /// UN M49 regions, sub-regions and intermediate regions.
    M49Region,
    Sex,
    AgeGroup,
    Direction,
    TransportMode,
    TravelPurpose,
    DocumentType,
    VisaType,
    ResidenceStatus,
    PermitType,
    PermitDecision,
    ReturnType,
    ExploitationType,
    /// The forms of exploitation SDG 16.2.2 counts victims by.
    ExploitationForm,
    LabourIndustry,
    MeansOfControl,
    RecruiterRelationship,
    SignalKind,
}

impl CodeListId {
    /// Every code list, in documentation order.
    pub const ALL: [CodeListId; 19] = [
        CodeListId::Country,
        CodeListId::M49Region,
        CodeListId::Sex,
        CodeListId::AgeGroup,
        CodeListId::Direction,
        CodeListId::TransportMode,
        CodeListId::TravelPurpose,
        CodeListId::DocumentType,
        CodeListId::VisaType,
        CodeListId::ResidenceStatus,
        CodeListId::PermitType,
        CodeListId::PermitDecision,
        CodeListId::ReturnType,
        CodeListId::ExploitationType,
        CodeListId::ExploitationForm,
        CodeListId::LabourIndustry,
        CodeListId::MeansOfControl,
        CodeListId::RecruiterRelationship,
        CodeListId::SignalKind,
    ];

    /// The list's name as used in docs and mapping files (`sex`, `country`…).
    pub fn name(self) -> &'static str {
        match self {
            CodeListId::Country => "country",
            CodeListId::M49Region => "m49_region",
            CodeListId::Sex => "sex",
            CodeListId::AgeGroup => "age_group",
            CodeListId::Direction => "direction",
            CodeListId::TransportMode => "transport_mode",
            CodeListId::TravelPurpose => "travel_purpose",
            CodeListId::DocumentType => "document_type",
            CodeListId::VisaType => "visa_type",
            CodeListId::ResidenceStatus => "residence_status",
            CodeListId::PermitType => "permit_type",
            CodeListId::PermitDecision => "permit_decision",
            CodeListId::ReturnType => "return_type",
            CodeListId::ExploitationType => "exploitation_type",
            CodeListId::ExploitationForm => "exploitation_form",
            CodeListId::LabourIndustry => "labour_industry",
            CodeListId::MeansOfControl => "means_of_control",
            CodeListId::RecruiterRelationship => "recruiter_relationship",
            CodeListId::SignalKind => "signal_kind",
        }
    }

    /// The code list a table dimension's codes come from (the dimensions
    /// of `corridor table`): the categories a published table may have,
    /// known before any record is read.
    pub fn of_dimension(dim: &str) -> Option<CodeListId> {
        Some(match dim {
            "reporting_country"
            | "citizenship"
            | "counterpart_country"
            | "host_country"
            | "destination_country"
            | "country_of_exploitation" => CodeListId::Country,
            "citizenship_region" => CodeListId::M49Region,
            "decision" => CodeListId::PermitDecision,
            other => return Self::from_name(other),
        })
    }

    /// Looks a list up by its [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<CodeListId> {
        Self::ALL.into_iter().find(|id| id.name() == name)
    }

    /// The CSV file behind the list, as compiled into the binary.
    pub fn source_file(self) -> (&'static str, &'static str) {
        match self {
            CodeListId::Country => ("countries.csv", include_str!("../data/countries.csv")),
            CodeListId::M49Region => ("m49_regions.csv", include_str!("../data/m49_regions.csv")),
            CodeListId::Sex => ("sex.csv", include_str!("../data/sex.csv")),
            CodeListId::AgeGroup => ("age_groups.csv", include_str!("../data/age_groups.csv")),
            CodeListId::Direction => ("direction.csv", include_str!("../data/direction.csv")),
            CodeListId::TransportMode => (
                "transport_mode.csv",
                include_str!("../data/transport_mode.csv"),
            ),
            CodeListId::TravelPurpose => (
                "travel_purpose.csv",
                include_str!("../data/travel_purpose.csv"),
            ),
            CodeListId::DocumentType => (
                "document_type.csv",
                include_str!("../data/document_type.csv"),
            ),
            CodeListId::VisaType => ("visa_type.csv", include_str!("../data/visa_type.csv")),
            CodeListId::ResidenceStatus => (
                "residence_status.csv",
                include_str!("../data/residence_status.csv"),
            ),
            CodeListId::PermitType => ("permit_type.csv", include_str!("../data/permit_type.csv")),
            CodeListId::PermitDecision => (
                "permit_decision.csv",
                include_str!("../data/permit_decision.csv"),
            ),
            CodeListId::ReturnType => ("return_type.csv", include_str!("../data/return_type.csv")),
            CodeListId::ExploitationType => (
                "exploitation_type.csv",
                include_str!("../data/exploitation_type.csv"),
            ),
            CodeListId::ExploitationForm => (
                "exploitation_form.csv",
                include_str!("../data/exploitation_form.csv"),
            ),
            CodeListId::LabourIndustry => (
                "labour_industry.csv",
                include_str!("../data/labour_industry.csv"),
            ),
            CodeListId::MeansOfControl => (
                "means_of_control.csv",
                include_str!("../data/means_of_control.csv"),
            ),
            CodeListId::RecruiterRelationship => (
                "recruiter_relationship.csv",
                include_str!("../data/recruiter_relationship.csv"),
            ),
            CodeListId::SignalKind => ("signal_kind.csv", include_str!("../data/signal_kind.csv")),
        }
    }

    /// The parsed list. Countries are also available, with their richer
    /// record, through [`crate::countries::Countries`].
    pub fn list(self) -> &'static CodeList {
        static LISTS: OnceLock<BTreeMap<CodeListId, CodeList>> = OnceLock::new();
        let lists = LISTS.get_or_init(|| {
            CodeListId::ALL
                .into_iter()
                .map(|id| (id, CodeList::parse_builtin(id)))
                .collect()
        });
        &lists[&self]
    }
}

/// One code of a list, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub label_en: String,
    pub label_es: String,
    pub label_fr: String,
    /// Spellings seen in exports that mean this code (matched after folding).
    pub aliases: Vec<String>,
    /// Any further columns of the list (e.g. `htcds`, `sdg`, `from`, `to`).
    pub extra: BTreeMap<String, String>,
}

/// A parsed code list.
#[derive(Debug, Clone)]
pub struct CodeList {
    pub id: CodeListId,
    /// The `#` header lines of the source file: where the list comes from.
    pub source_notes: Vec<String>,
    pub codes: Vec<Code>,
    /// Upper-cased code (and, for countries, alpha-2 and numeric codes) →
    /// index into `codes`. Codes match exactly: "C.A." is not "CA".
    exact: HashMap<String, usize>,
    /// Folded label or alias → index into `codes`.
    index: HashMap<String, usize>,
    /// Every key of `index` and `exact`, as its characters and their
    /// counts, with its index into `codes`: what misspelling suggestions
    /// compare with.
    keys: Vec<(KeyShape, usize)>,
}

/// A value that is not in a code list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a code of the {list} list{}", suggest(.candidates))]
pub struct UnknownCode {
    pub list: &'static str,
    pub value: String,
    /// The closest codes, best first.
    pub candidates: Vec<String>,
}

pub(crate) fn suggest(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", candidates.join(", "))
    }
}

/// Splits a code-list file into its `#` notes and its CSV body.
pub(crate) fn split_notes(text: &str) -> (Vec<String>, String) {
    let mut notes = Vec::new();
    let mut body = String::with_capacity(text.len());
    for line in text.lines() {
        match line.strip_prefix('#') {
            Some(note) => notes.push(note.trim().to_string()),
            None => {
                body.push_str(line);
                body.push('\n');
            }
        }
    }
    (notes, body)
}

impl CodeList {
    fn parse_builtin(id: CodeListId) -> CodeList {
        let (file, text) = id.source_file();
        // The lists are compiled in and covered by tests, so a parse failure
        // is a build defect, not a user error.
        CodeList::parse(id, text).unwrap_or_else(|e| panic!("built-in code list {file}: {e}"))
    }

    /// Parses a code list from CSV text with `#` notes.
    pub fn parse(id: CodeListId, text: &str) -> Result<CodeList, csv::Error> {
        let (source_notes, body) = split_notes(text);
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let headers = reader.headers()?.clone();
        let mut codes = Vec::new();
        for record in reader.records() {
            let record = record?;
            let get = |name: &str| -> String {
                headers
                    .iter()
                    .position(|h| h == name)
                    .and_then(|i| record.get(i))
                    .unwrap_or_default()
                    .to_string()
            };
            let (code, label_en, label_es, label_fr, aliases);
            if id == CodeListId::Country {
                code = get("alpha3");
                label_en = get("name_en");
                label_es = get("name_es");
                label_fr = get("name_fr");
                aliases = crate::countries::aliases_of(
                    &code,
                    &[get("official_name_en")],
                    [&label_en, &label_es, &label_fr],
                );
            } else {
                code = get("code");
                label_en = get("label_en");
                label_es = get(if id == CodeListId::M49Region {
                    "name_es"
                } else {
                    "label_es"
                });
                label_fr = get(if id == CodeListId::M49Region {
                    "name_fr"
                } else {
                    "label_fr"
                });
                aliases = get("aliases")
                    .split('|')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            let label_en = if label_en.is_empty() && id == CodeListId::M49Region {
                get("name_en")
            } else {
                label_en
            };
            let known = [
                "code", "label_en", "label_es", "label_fr", "aliases", "alpha3", "name_en",
                "name_es", "name_fr",
            ];
            let extra = headers
                .iter()
                .zip(record.iter())
                .filter(|(h, _)| !known.contains(h))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            codes.push(Code {
                code,
                label_en,
                label_es,
                label_fr,
                aliases,
                extra,
            });
        }
        let mut exact = HashMap::new();
        for (i, c) in codes.iter().enumerate() {
            exact.insert(c.code.to_uppercase(), i);
        }
        if id == CodeListId::Country {
            for (i, c) in codes.iter().enumerate() {
                for key in ["alpha2", "numeric"] {
                    if let Some(v) = c.extra.get(key) {
                        exact.entry(v.to_uppercase()).or_insert(i);
                    }
                }
            }
        }
        let mut index = HashMap::new();
        // Labels first, then aliases: a stronger key is never overwritten
        // by a weaker one.
        for (i, c) in codes.iter().enumerate() {
            for label in [&c.label_en, &c.label_es, &c.label_fr] {
                index.entry(fold(label)).or_insert(i);
            }
        }
        // An alias that two codes claim ("Korea" from both Koreas' names)
        // means neither: it is left out rather than guessed.
        let mut alias_owner: HashMap<String, Option<usize>> = HashMap::new();
        for (i, c) in codes.iter().enumerate() {
            for alias in &c.aliases {
                alias_owner
                    .entry(fold(alias))
                    .and_modify(|owner| {
                        if *owner != Some(i) {
                            *owner = None;
                        }
                    })
                    .or_insert(Some(i));
            }
        }
        for (key, owner) in alias_owner {
            if let Some(i) = owner {
                index.entry(key).or_insert(i);
            }
        }
        index.remove("");
        let keys = index
            .iter()
            .chain(exact.iter())
            .map(|(key, &i)| (KeyShape::of(key), i))
            .collect();
        Ok(CodeList {
            id,
            source_notes,
            codes,
            exact,
            index,
            keys,
        })
    }

    /// The code with exactly this code value.
    pub fn get(&self, code: &str) -> Option<&Code> {
        self.codes.iter().find(|c| c.code == code)
    }

    /// Whether `code` is one of the list's codes (exact, case-sensitive).
    pub fn contains(&self, code: &str) -> bool {
        self.get(code).is_some()
    }

    /// Resolves a value without suggesting alternatives on failure (cheap).
    pub fn lookup(&self, value: &str) -> Option<&Code> {
        let i = self
            .exact
            .get(&value.trim().to_uppercase())
            .or_else(|| self.index.get(&fold(value)))?;
        Some(&self.codes[*i])
    }

    /// Resolves a value as found in an export (a code, a label in English,
    /// Spanish or French, or a known alias), ignoring case, accents and
    /// punctuation.
    pub fn resolve(&self, value: &str) -> Result<&Code, UnknownCode> {
        if let Some(code) = self.lookup(value) {
            return Ok(code);
        }
        Err(UnknownCode {
            list: self.id.name(),
            value: value.to_string(),
            candidates: self.closest(value, 3),
        })
    }

    /// The codes whose keys are most similar to `value`, best first.
    pub fn closest(&self, value: &str, n: usize) -> Vec<String> {
        self.closest_where(value, n, true)
    }

    /// The code `value` is a typing slip of: the only code with a key one
    /// edit away (two for values of nine characters or more; none for
    /// values under six, where one edit makes another word: "Marte" is
    /// not Malte), a swap of
    /// neighbouring letters counting as one (Damerau–Levenshtein on the
    /// folded texts). `None` when no code is that close, or several are:
    /// "Guatamala" is Guatemala, "Centroamerica" is nobody's. (A key
    /// itself is no edit away: its own code.)
    pub fn typo_of(&self, value: &str) -> Option<&Code> {
        let shape = Shape::of(&fold(value));
        let n = shape.text.len();
        if n < 6 {
            return None;
        }
        let max = if n >= 9 { 2 } else { 1 };
        let mut found: Option<usize> = None;
        for (key, i) in &self.keys {
            if key.text.len().abs_diff(n) > max
                || strsim::generic_damerau_levenshtein(&shape.text, &key.text) > max
            {
                continue;
            }
            match found {
                Some(j) if self.codes[j].code != self.codes[*i].code => return None,
                _ => found = Some(*i),
            }
        }
        found.map(|i| &self.codes[i])
    }

    /// `closest`, skipping (when `bound`) the keys that cannot score 0.8:
    /// a misspelt country is compared with every name of every country, in
    /// three languages, so most of the work is on hopeless pairs.
    fn closest_where(&self, value: &str, n: usize, bound: bool) -> Vec<String> {
        let shape = Shape::of(&fold(value));
        // Compared as characters decoded once: `strsim::jaro_winkler` on
        // two `&str` decodes the key again for every character of the value.
        let mut scored: Vec<(f64, usize)> = self
            .keys
            .iter()
            .filter(|(key, _)| !bound || shape.may_reach(key, 0.8))
            .map(|(key, i)| (strsim::generic_jaro_winkler(&shape.text, &key.text), *i))
            .filter(|(score, _)| *score >= 0.8)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut out: Vec<String> = Vec::new();
        for (_, i) in scored {
            let code = &self.codes[i].code;
            if !out.contains(code) {
                out.push(code.clone());
            }
            if out.len() == n {
                break;
            }
        }
        out
    }
}

/// A code list key's characters, counted once when the list is read.
#[derive(Debug, Clone)]
struct KeyShape {
    /// The key's characters.
    text: Vec<char>,
    non_ascii: usize,
    /// Each ASCII character of the key and how often it occurs.
    ascii: Vec<(u8, u16)>,
}

impl KeyShape {
    fn of(key: &str) -> KeyShape {
        let mut ascii: Vec<(u8, u16)> = Vec::new();
        let mut non_ascii = 0;
        for c in key.chars() {
            if !c.is_ascii() {
                non_ascii += 1;
            } else if let Some(seen) = ascii.iter_mut().find(|(a, _)| *a == c as u8) {
                seen.1 = seen.1.saturating_add(1);
            } else {
                ascii.push((c as u8, 1));
            }
        }
        KeyShape {
            text: key.chars().collect(),
            non_ascii,
            ascii,
        }
    }
}

/// Character counts of a folded value, for an upper bound of its
/// Jaro–Winkler similarity with a key that costs no more than reading the
/// key.
struct Shape {
    /// The value's characters.
    text: Vec<char>,
    ascii: [u16; 128],
}

impl Shape {
    fn of(value: &str) -> Shape {
        let text: Vec<char> = value.chars().collect();
        let mut ascii = [0u16; 128];
        for &c in text.iter().filter(|c| c.is_ascii()) {
            ascii[c as usize] = ascii[c as usize].saturating_add(1);
        }
        Shape { text, ascii }
    }

    /// Whether `strsim::jaro_winkler(value, key)` can reach `min` (≥ 0.7).
    /// The Winkler boost applies only when the Jaro similarity exceeds 0.7,
    /// so the pair needs Jaro > 0.7; Jaro is at most (m/|a| + m/|b| + 1)/3,
    /// where the matches m are at most the characters the two share (a
    /// non-ASCII character of the key counts as shared); and the boost,
    /// which grows with Jaro, is 0.1 × the common prefix (up to four
    /// characters) × (1 − Jaro). Most keys share no first character with
    /// a misspelling, so they need Jaro ≥ `min` itself.
    fn may_reach(&self, key: &KeyShape, min: f64) -> bool {
        let (chars, key_chars) = (self.text.len(), key.text.len());
        if chars == 0 || key_chars == 0 {
            return chars == key_chars;
        }
        let shared = key.non_ascii
            + key
                .ascii
                .iter()
                .map(|&(c, n)| usize::from(n.min(self.ascii[usize::from(c)])))
                .sum::<usize>();
        let m = shared.min(chars) as f64;
        let jaro_max = (m / chars as f64 + m / key_chars as f64 + 1.0) / 3.0;
        let prefix = self
            .text
            .iter()
            .zip(&key.text)
            .take(4)
            .take_while(|(a, b)| a == b)
            .count() as f64;
        let boosted_max = jaro_max + 0.1 * prefix * (1.0 - jaro_max);
        jaro_max > 0.7 - 1e-9 && boosted_max >= min - 1e-9
    }
}

/// The SDG 16.2.2 form of exploitation (a code of `exploitation_form`) of
/// a victim exploited in `forms` (codes of `exploitation_type`): the `sdg`
/// form each counts under, `mixed` when they fall under more than one,
/// `None` when none is known. A code the list lacks counts as `other`.
pub fn sdg_exploitation_form<'a>(forms: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let list = CodeListId::ExploitationType.list();
    let mut found: Option<&'static str> = None;
    for f in forms.into_iter().map(str::trim).filter(|f| !f.is_empty()) {
        let sdg = list
            .codes
            .iter()
            .find(|c| c.code == f)
            .and_then(|c| c.extra.get("sdg"))
            .map_or("other", String::as_str);
        let sdg = CodeListId::ExploitationForm
            .list()
            .codes
            .iter()
            .find(|c| c.code == sdg)
            .map_or("other", |c| c.code.as_str());
        match found {
            None => found = Some(sdg),
            Some(x) if x != sdg => return Some("mixed"),
            Some(_) => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Skipping the keys that cannot score never changes the answer:
        /// misspellings of real names, and noise.
        #[test]
        fn the_bound_never_drops_a_candidate(
            name in 0usize..249,
            edits in prop::collection::vec((0usize..40, "[a-zñéü ]"), 0..4),
            noise in "[A-Za-zÉñ' -]{0,14}",
        ) {
            let list = CodeListId::Country.list();
            let code = &list.codes[name % list.codes.len()];
            let label = if name % 2 == 0 { &code.label_es } else { &code.label_en };
            let mut value: Vec<char> = label.chars().collect();
            for (at, with) in &edits {
                let at = at % (value.len() + 1);
                if at < value.len() && with == " " {
                    value.remove(at);
                } else {
                    value.insert(at, with.chars().next().unwrap_or('x'));
                }
            }
            let value: String = value.into_iter().collect();
            for v in [value.as_str(), noise.as_str()] {
                prop_assert_eq!(list.closest_where(v, 3, true), list.closest_where(v, 3, false), "{}", v);
            }
        }

        /// Scoring decoded characters gives strsim's score of the strings,
        /// to the bit.
        #[test]
        fn characters_score_as_strings_do(key in 0usize..2000, value in "[A-Za-zÉñü' -]{0,16}") {
            let list = CodeListId::Country.list();
            let (shape, _) = &list.keys[key % list.keys.len()];
            let text: String = shape.text.iter().collect();
            let folded = fold(&value);
            let by_chars = strsim::generic_jaro_winkler(&Shape::of(&folded).text, &shape.text);
            prop_assert_eq!(by_chars.to_bits(), strsim::jaro_winkler(&folded, &text).to_bits());
        }
    }

    #[test]
    fn a_victims_forms_count_under_one_sdg_form() {
        assert_eq!(sdg_exploitation_form(["sexual"]), Some("sexual"));
        assert_eq!(sdg_exploitation_form(["forced_labour"]), Some("labour"));
        assert_eq!(
            sdg_exploitation_form(["begging", "forced_marriage"]),
            Some("other")
        );
        assert_eq!(
            sdg_exploitation_form(["sexual", "forced_labour"]),
            Some("mixed")
        );
        assert_eq!(sdg_exploitation_form(["no_such_form"]), Some("other"));
        assert_eq!(sdg_exploitation_form(["", " "]), None);
        for c in &CodeListId::ExploitationType.list().codes {
            let sdg = &c.extra["sdg"];
            assert!(
                CodeListId::ExploitationForm.list().get(sdg).is_some(),
                "{}: sdg form {sdg} is not in exploitation_form",
                c.code
            );
        }
    }
}
