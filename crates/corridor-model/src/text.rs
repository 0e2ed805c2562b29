//! Text normalisation shared by every code-list lookup.

use unicode_normalization::UnicodeNormalization;

/// Folds a value to the key used for matching: accents removed (NFKD minus
/// combining marks), lower case, and everything but letters and digits
/// dropped. "Côte d'Ivoire", "COTE D IVOIRE" and "cote-d'ivoire" all fold to
/// "cotedivoire"; "U.S.A." folds to "usa".
pub fn fold(value: &str) -> String {
    value
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(fold("Côte d'Ivoire"), "cotedivoire");
        assert_eq!(fold("U.S.A."), "usa");
        assert_eq!(fold("  Nicaragüense "), "nicaraguense");
        assert_eq!(fold("ÅLAND"), "aland");
    }
}
