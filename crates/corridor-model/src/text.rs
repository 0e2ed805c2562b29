//! Text normalisation shared by every code-list lookup, and the one way a
//! value read from a file is shown in a message.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// A value with its accents removed (NFKD minus combining marks), case
/// and everything else kept: "Número de Pasaporte" → "Numero de Pasaporte".
pub fn without_accents(value: &str) -> String {
    unaccented(value).collect()
}

fn unaccented(value: &str) -> impl Iterator<Item = char> + '_ {
    value
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
}

/// Folds a value to the key used for matching: accents removed (NFKD minus
/// combining marks), lower case, and everything but letters and digits
/// dropped. "Côte d'Ivoire", "COTE D IVOIRE" and "cote-d'ivoire" all fold to
/// "cotedivoire"; "U.S.A." folds to "usa".
pub fn fold(value: &str) -> String {
    unaccented(value)
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Folds a value as [`fold`] does but keeps its words apart, joined by
/// `separator`: "María-José  LÓPEZ" → "maria_jose_lopez" with `_`. Anything
/// but a letter or a digit ends a word.
pub fn fold_words(value: &str, separator: &str) -> String {
    let spaced: String = unaccented(value)
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    spaced
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(separator)
}

/// A value from a file (a header, a cell, a sheet name) as a message shows
/// it: in single quotes, every control character escaped (`\n`, `\t`,
/// `\u{1b}`…, so that an escape sequence in an export never reaches a
/// terminal), and cut after `max_chars` characters with its length in
/// bytes: `'abc…' (52,428,800 bytes)`, so that a 50 MB cell never becomes
/// a 50 MB message. Writes straight into the formatter: no copy of the
/// value is made.
///
/// Escaped text holds no control character, so showing it again changes
/// nothing but the quotes (and the cut).
pub fn for_display(value: &str, max_chars: usize) -> ForDisplay<'_> {
    ForDisplay {
        value,
        max_chars,
        quoted: true,
        keep_newlines: false,
    }
}

/// Up to `max_items` values, each [`for_display`] within `max_chars` (but
/// without quotes, as a list of names reads), separated by commas, then
/// how many were left out: `a, b, …and 4,980 more`.
pub fn list_for_display<'a>(
    values: impl IntoIterator<Item = &'a str>,
    max_items: usize,
    max_chars: usize,
) -> String {
    use fmt::Write;
    let mut out = String::new();
    let mut left = 0usize;
    for (i, v) in values.into_iter().enumerate() {
        if i >= max_items {
            left += 1;
            continue;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}", for_display(v, max_chars).bare());
    }
    if left > 0 {
        let _ = write!(out, ", …and {} more", Thousands(left as u64));
    }
    out
}

/// See [`for_display`].
#[derive(Debug, Clone, Copy)]
pub struct ForDisplay<'a> {
    value: &'a str,
    max_chars: usize,
    quoted: bool,
    keep_newlines: bool,
}

impl ForDisplay<'_> {
    /// Without the quotes: for text that is a message itself (an error
    /// from a library that may quote the file).
    pub fn bare(self) -> Self {
        ForDisplay {
            quoted: false,
            ..self
        }
    }

    /// Keeping line breaks, each line cut on its own: for messages of
    /// several lines.
    pub fn keep_newlines(self) -> Self {
        ForDisplay {
            keep_newlines: true,
            ..self
        }
    }
}

/// How a character is shown: `None` as it is.
fn escape(c: char) -> Option<Escaped> {
    match c {
        '\n' => Some(Escaped::Short('n')),
        '\r' => Some(Escaped::Short('r')),
        '\t' => Some(Escaped::Short('t')),
        // Control characters (C0, DEL, C1: ESC and CSI start terminal
        // sequences), and the invisible marks that reorder or break text
        // on screen (bidirectional overrides, line separators, BOM).
        c if c.is_control()
            || matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}' | '\u{feff}') =>
        {
            Some(Escaped::Code(c as u32))
        }
        _ => None,
    }
}

enum Escaped {
    Short(char),
    Code(u32),
}

impl Escaped {
    fn width(&self) -> usize {
        match self {
            Escaped::Short(_) => 2,
            // \u{…}: four characters and the hex digits.
            Escaped::Code(n) => 4 + (32 - n.leading_zeros()).div_ceil(4).max(1) as usize,
        }
    }
}

impl fmt::Display for ForDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        if self.keep_newlines {
            let one = ForDisplay {
                keep_newlines: false,
                ..*self
            };
            for (i, line) in self.value.split('\n').enumerate() {
                if i > 0 {
                    f.write_char('\n')?;
                }
                ForDisplay { value: line, ..one }.fmt(f)?;
            }
            return Ok(());
        }
        let quote = |f: &mut fmt::Formatter<'_>| {
            if self.quoted {
                f.write_char('\'')
            } else {
                Ok(())
            }
        };
        quote(f)?;
        let mut width = 0;
        // Runs of plain characters are written as slices, not one by one.
        let mut plain_from = 0;
        for (at, c) in self.value.char_indices() {
            let escaped = escape(c);
            let w = escaped.as_ref().map_or(1, Escaped::width);
            if width + w > self.max_chars {
                f.write_str(&self.value[plain_from..at])?;
                f.write_char('…')?;
                quote(f)?;
                return write!(f, " ({} bytes)", Thousands(self.value.len() as u64));
            }
            width += w;
            if let Some(e) = escaped {
                f.write_str(&self.value[plain_from..at])?;
                plain_from = at + c.len_utf8();
                match e {
                    Escaped::Short(s) => write!(f, "\\{s}")?,
                    Escaped::Code(n) => write!(f, "\\u{{{n:x}}}")?,
                }
            }
        }
        f.write_str(&self.value[plain_from..])?;
        quote(f)
    }
}

/// A number with thousands separators: 52,428,800.
struct Thousands(u64);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        for (i, d) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{fold, fold_words, for_display, list_for_display, without_accents};
    use proptest::prelude::*;

    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(fold("Côte d'Ivoire"), "cotedivoire");
        assert_eq!(fold("U.S.A."), "usa");
        assert_eq!(fold("  Nicaragüense "), "nicaraguense");
        assert_eq!(fold_words("María-José  LÓPEZ", "_"), "maria_jose_lopez");
        assert_eq!(fold_words(" ¿Año?  ", " "), "ano");
        assert_eq!(fold_words("", "_"), "");
        assert_eq!(
            without_accents("Número de Pasaporte"),
            "Numero de Pasaporte"
        );
        assert_eq!(fold("ÅLAND"), "aland");
    }

    #[test]
    fn values_are_escaped_and_cut() {
        assert_eq!(
            for_display("Côte d'Ivoire", 64).to_string(),
            "'Côte d'Ivoire'"
        );
        assert_eq!(
            for_display("\x1b[2J\x1b]0;owned\x07", 64).to_string(),
            "'\\u{1b}[2J\\u{1b}]0;owned\\u{7}'"
        );
        assert_eq!(
            for_display("a\tb\r\nc\u{9b}d\u{202e}e", 64).to_string(),
            "'a\\tb\\r\\nc\\u{9b}d\\u{202e}e'"
        );
        let long = "abc".repeat(17_476_267);
        assert_eq!(long.len(), 52_428_801);
        assert_eq!(
            for_display(&long, 3).to_string(),
            "'abc…' (52,428,801 bytes)"
        );
        assert_eq!(for_display("abc", 3).to_string(), "'abc'");
        // An escape counts as the characters it shows as.
        assert_eq!(for_display("ab\x1bcd", 6).to_string(), "'ab…' (5 bytes)");
        assert_eq!(for_display("x\ny", 9).bare().to_string(), "x\\ny");
        assert_eq!(
            for_display("one\x1b\ntwo is long", 9)
                .bare()
                .keep_newlines()
                .to_string(),
            "one\\u{1b}\ntwo is lo… (11 bytes)"
        );
        assert_eq!(
            list_for_display(["a", "b\x1b", "c", "d"], 2, 10),
            "a, b\\u{1b}, …and 2 more"
        );
        assert_eq!(
            list_for_display((0..5000).map(|_| "h"), 20, 10)
                .matches(", ")
                .count(),
            20
        );
        assert!(list_for_display((0..5000).map(|_| "h"), 20, 10).ends_with("…and 4,980 more"));
    }

    proptest! {
        /// Whatever the value, what is shown holds no control character,
        /// is bounded by the limit, and showing it again shows the same.
        #[test]
        fn shown_values_are_safe_and_bounded(value in any::<String>(), max in 0usize..40) {
            let shown = for_display(&value, max).to_string();
            let unsafe_char = shown.chars().any(|c| c.is_control() || c == '\u{202e}');
            prop_assert!(!unsafe_char, "{:?}", shown);
            // Quotes, the cut's ellipsis and length, and one escape past the limit.
            prop_assert!(shown.chars().count() <= max + 40, "{}", shown);
            if shown.chars().count() <= max {
                let again = for_display(&shown, usize::MAX).bare().to_string();
                prop_assert_eq!(again, shown);
            }
        }
    }
}
