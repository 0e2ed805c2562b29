//! Date formats that read the same text as different dates: `%m/%d/%Y`
//! and `%d/%m/%Y` both read 03/04/2023, one as March, the other as
//! April. Trying them in order would store half of a column with day and
//! month swapped, so which one a column uses is decided from the file's
//! own values: the first value only one of them reads (25/04/2023) rules
//! the other out for the rest of the column.
//!
//! The decision is taken by the reading thread, which sees the rows in
//! file order, and travels with each block to the mapping threads
//! ([`Orders`]), so that it does not depend on which thread maps what.
//! While a column is undecided and has values either format reads, the
//! reader holds its blocks back (a few, so memory stays bounded) in case a
//! later value decides; values still ambiguous when their block goes are
//! read with the first format listed and counted, and the report says so.

use std::fmt::Write;
use std::sync::Arc;

use corridor_model::for_display;

use crate::read::RowBlock;
use crate::transform::Program;
use crate::value::{SHOWN_CHARS, date_in_format, date_of_days, format_is_valid};

/// Blocks the reader holds back at most while a column's format is open.
pub(crate) const HOLD_BLOCKS: usize = 8;

/// Dates each format writes for the others to read back: day and month
/// both 12 or less and different (and the same for hour, minute and
/// second), so that any swap shows.
const PROBES: [(i32, u32, u32, u32, u32, u32); 3] = [
    (2003, 4, 5, 6, 7, 8),
    (2011, 12, 10, 9, 11, 1),
    (1998, 1, 2, 11, 10, 3),
];

/// For each of `formats`, the others (as bits) that read some text it
/// writes as another date; `None` when no two of them conflict.
pub fn conflicts(formats: &[String]) -> Option<Vec<u64>> {
    if formats.len() < 2 || formats.len() > 64 {
        return None;
    }
    let mut out = vec![0u64; formats.len()];
    for i in 0..formats.len() {
        for j in 0..formats.len() {
            if i != j && example(formats, i, j).is_some() {
                out[i] |= 1 << j;
                out[j] |= 1 << i;
            }
        }
    }
    out.iter().any(|m| *m != 0).then_some(out)
}

/// A text format `i` writes that format `j` reads as another date: the
/// text and both dates.
pub fn example(formats: &[String], i: usize, j: usize) -> Option<(String, i32, i32)> {
    let (f, g) = (formats.get(i)?, formats.get(j)?);
    if !format_is_valid(f) || !format_is_valid(g) {
        return None;
    }
    PROBES.iter().find_map(|&(y, mo, d, h, mi, s)| {
        let dt = chrono::NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, s)?;
        let mut text = String::new();
        // `write!`, not `to_string`: a format chrono cannot write is an
        // error here, where `to_string` would panic.
        write!(text, "{}", dt.format(f)).ok()?;
        let by_f = date_in_format(&text, f)?;
        let by_g = date_in_format(&text, g)?;
        (by_f != by_g).then_some((text, by_f, by_g))
    })
}

/// Whether formats `active` still hold two that conflict.
pub(crate) fn open(active: u64, conflicts: &[u64]) -> bool {
    bits(active).any(|j| conflicts.get(j).is_some_and(|c| c & active != 0))
}

pub(crate) fn bits(mask: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |j| mask & (1 << j) != 0)
}

/// The formats named by `mask`, for messages: `'%d/%m/%Y' or '%m/%d/%Y'`.
pub(crate) fn names(formats: &[String], mask: u64, joiner: &str) -> String {
    bits(mask)
        .filter_map(|j| formats.get(j))
        .map(|f| format!("'{}'", for_display(f, SHOWN_CHARS).bare()))
        .collect::<Vec<_>>()
        .join(joiner)
}

/// How a column's formats were narrowed: at row `row`, `value` read only
/// in the formats `kept`, which ruled out `dropped`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub row: u64,
    /// The value as shown in messages (escaped, cut).
    pub value: String,
    pub kept: u64,
    pub dropped: u64,
}

/// The formats one date field is read with in a block.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldOrder {
    /// The field's place in the record type.
    pub field: usize,
    /// The formats still in use, as bits of the field's format list.
    pub active: u64,
    pub decisions: Vec<Decision>,
}

/// What every contested date field of a block is read with.
pub type Orders = Arc<Vec<FieldOrder>>;

struct Contested {
    name: &'static str,
    formats: Vec<String>,
    conflicts: Vec<u64>,
    order: FieldOrder,
}

/// The reading thread's side: decides each contested column's format from
/// the values in file order.
pub(crate) struct DateOrder {
    fields: Vec<Contested>,
    orders: Orders,
    changed: bool,
    /// A value two formats read differently was seen since the last
    /// blocks went out.
    ambiguous: bool,
}

impl DateOrder {
    pub fn new(program: &Program) -> DateOrder {
        let fields: Vec<Contested> = program
            .contested_dates()
            .map(|(field, name, formats, conflicts)| Contested {
                name,
                formats: formats.to_vec(),
                conflicts: conflicts.to_vec(),
                order: FieldOrder {
                    field,
                    active: full(formats.len()),
                    decisions: Vec::new(),
                },
            })
            .collect();
        let orders = Arc::new(fields.iter().map(|c| c.order.clone()).collect());
        DateOrder {
            fields,
            orders,
            changed: false,
            ambiguous: false,
        }
    }

    /// Whether every contested column is decided (or there is none).
    pub fn settled(&self) -> bool {
        !self
            .fields
            .iter()
            .any(|c| open(c.order.active, &c.conflicts))
    }

    /// Whether the reader should hold its blocks back: a column is open
    /// and has values that a decision would read differently.
    pub fn hold(&self) -> bool {
        self.ambiguous && !self.settled()
    }

    /// Looks at a block's values of the open columns, in file order.
    pub fn scan(&mut self, program: &Program, block: &RowBlock) {
        let mut cells = Vec::new();
        for i in 0..block.len() {
            if self.settled() {
                return;
            }
            let (number, problem) = block.row(i, &mut cells);
            if problem.is_some() {
                continue;
            }
            for c in &mut self.fields {
                if !open(c.order.active, &c.conflicts) {
                    continue;
                }
                let Some(text) = program.field_text(c.order.field, &cells) else {
                    continue;
                };
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let (mut parsed, mut first, mut differ) = (0u64, None, false);
                for j in bits(c.order.active) {
                    if let Some(day) = c.formats.get(j).and_then(|f| date_in_format(text, f)) {
                        parsed |= 1 << j;
                        differ |= first.is_some_and(|f| f != day);
                        first = first.or(Some(day));
                    }
                }
                if differ {
                    self.ambiguous = true;
                    continue;
                }
                let against = bits(parsed).fold(0, |m, j| m | c.conflicts.get(j).unwrap_or(&0))
                    & c.order.active
                    & !parsed;
                if against != 0 {
                    c.order.active &= !against;
                    c.order.decisions.push(Decision {
                        row: number,
                        value: for_display(text, SHOWN_CHARS).to_string(),
                        kept: parsed,
                        dropped: against,
                    });
                    self.changed = true;
                }
            }
        }
    }

    /// The formats blocks going out now are read with.
    pub fn orders(&mut self) -> Orders {
        self.ambiguous = false;
        if self.changed {
            self.changed = false;
            self.orders = Arc::new(self.fields.iter().map(|c| c.order.clone()).collect());
        }
        self.orders.clone()
    }

    /// What was decided, for the report: (field, how).
    pub fn decided(&self) -> Vec<(String, String)> {
        self.fields
            .iter()
            .filter(|c| !c.order.decisions.is_empty())
            .map(|c| {
                let how: Vec<String> = c
                    .order
                    .decisions
                    .iter()
                    .map(|d| {
                        format!(
                            "row {} ({}) reads only as {}, so not {}",
                            d.row,
                            d.value,
                            names(&c.formats, d.kept, " or "),
                            names(&c.formats, d.dropped, " or ")
                        )
                    })
                    .collect();
                (
                    format!("date format ({})", c.name),
                    format!(
                        "{}: {}",
                        names(&c.formats, c.order.active, ", "),
                        how.join("; ")
                    ),
                )
            })
            .collect()
    }

    /// The formats a field ended with, once the file is read.
    pub fn last(&self, field: usize) -> Option<&FieldOrder> {
        self.fields
            .iter()
            .map(|c| &c.order)
            .find(|o| o.field == field)
    }
}

fn full(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1 << n) - 1 }
}

/// A mapping's warning about a format list that reads some dates two
/// ways, with an example; `None` if it does not.
pub fn warning(what: &str, formats: &[String]) -> Option<String> {
    let conflicts = conflicts(formats)?;
    let (i, j) = conflicts
        .iter()
        .enumerate()
        .find_map(|(i, m)| bits(*m).next().map(|j| (i, j)))?;
    let (text, a, b) = example(formats, i, j)?;
    Some(format!(
        "{what}: {} and {} read some dates differently ({text} is {} in one, {} in the other). \
         Each column's format is decided from the dates only one of them reads, and dates that \
         stay ambiguous are counted in the report; if you know the format the export uses, list \
         only that one",
        names(formats, 1 << i, ""),
        names(formats, 1 << j, ""),
        date_of_days(a),
        date_of_days(b),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn formats_that_swap_day_and_month_conflict() {
        assert_eq!(
            conflicts(&f(&["%m/%d/%Y", "%d/%m/%Y"])),
            Some(vec![0b10, 0b01])
        );
        assert_eq!(
            conflicts(&f(&["%d/%m/%Y", "%m/%d/%Y", "%Y-%m-%d"])),
            Some(vec![0b010, 0b001, 0])
        );
        assert_eq!(conflicts(&f(&["%d/%m/%Y", "%d/%m/%Y %H:%M"])), None);
        assert_eq!(conflicts(&f(&["%d/%m/%Y", "%Y-%m-%d"])), None);
        assert_eq!(
            conflicts(&f(&["%d/%m/%y", "%y/%m/%d"])),
            Some(vec![0b10, 0b01])
        );
        assert_eq!(conflicts(&f(&["%d/%m/%Y", "%Q"])), None, "no panic");
        let w = warning("reader.date_formats", &f(&["%m/%d/%Y", "%d/%m/%Y"])).expect("warns");
        assert!(w.contains("'%m/%d/%Y' and '%d/%m/%Y'"), "{w}");
    }
}
