//! A table's `where`: a condition over the measure's dimensions, and
//! nothing else. It is parsed, checked and written out again before it
//! reaches the SQL, so that a filter can name only the dimensions, compare
//! them with literals and combine the comparisons: no subquery, no
//! function, no other table or column, no second statement. The text that
//! runs is the parsed expression's, never the caller's.

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, UnaryOperator, Value};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::StatsError;

/// The filter as it will run, checked against `dims`.
pub(crate) fn checked(filter: &str, dims: &[&str]) -> Result<String, StatsError> {
    let bad = |why: String| {
        StatsError::Spec(format!(
            "where `{}`: {why}",
            corridor_model::for_display(filter, 200).bare()
        ))
    };
    let dialect = GenericDialect {};
    // A comment has no place in a condition; in a filter it is the mark of
    // text written to cut off what follows it.
    let tokens = Tokenizer::new(&dialect, filter)
        .tokenize()
        .map_err(|e| bad(e.to_string()))?;
    if tokens.iter().any(|t| {
        matches!(
            t,
            Token::Whitespace(
                Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_)
            )
        )
    }) {
        return Err(bad("a filter holds no comments (`--`, `/* */`)".into()));
    }
    let mut parser = Parser::new(&dialect).with_tokens(tokens);
    let expr = parser.parse_expr().map_err(|e| bad(e.to_string()))?;
    if parser.peek_token().token != Token::EOF {
        return Err(bad(
            "write one condition, e.g. citizenship = 'HND' AND month >= '2024-01'".into(),
        ));
    }
    check(&expr, dims, 0).map_err(bad)?;
    Ok(expr.to_string())
}

/// Deep enough for any condition a person writes; a bound on recursion
/// for ones a program does.
const MAX_DEPTH: usize = 64;

fn check(e: &Expr, dims: &[&str], depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err("the condition is nested too deeply".into());
    }
    let sub = |x: &Expr| check(x, dims, depth + 1);
    match e {
        Expr::Identifier(id) => {
            if dims.contains(&id.value.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "`{}` is not a dimension of this measure; use {}",
                    id.value,
                    dims.join(", ")
                ))
            }
        }
        Expr::Value(v) => match &v.value {
            Value::Number(..) | Value::SingleQuotedString(_) | Value::Boolean(_) | Value::Null => {
                Ok(())
            }
            other => Err(format!(
                "`{other}`: a literal is a number or a 'quoted' code"
            )),
        },
        Expr::BinaryOp { left, op, right } => {
            use BinaryOperator::*;
            match op {
                Eq | NotEq | Lt | LtEq | Gt | GtEq | And | Or => {
                    sub(left)?;
                    sub(right)
                }
                other => Err(format!(
                    "`{other}`: compare with = <> < <= > >=, combine with AND, OR"
                )),
            }
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => sub(expr),
        Expr::Nested(x) | Expr::IsNull(x) | Expr::IsNotNull(x) => sub(x),
        Expr::InList { expr, list, .. } => {
            sub(expr)?;
            list.iter().try_for_each(sub)
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            sub(expr)?;
            sub(low)?;
            sub(high)
        }
        Expr::Like {
            expr,
            pattern,
            escape_char: None,
            any: false,
            ..
        } => {
            sub(expr)?;
            sub(pattern)
        }
        other => Err(format!(
            "`{other}` is not allowed: a filter compares dimensions with literals (=, <>, <, >, IN, BETWEEN, LIKE, IS NULL) and combines them with AND, OR, NOT"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIMS: &[&str] = &["month", "citizenship", "sex"];

    #[test]
    fn conditions_over_dimensions_pass_and_are_rewritten() {
        for (given, runs) in [
            ("citizenship = 'HND'", "citizenship = 'HND'"),
            (
                "citizenship = 'HND' AND month >= '2024-01'",
                "citizenship = 'HND' AND month >= '2024-01'",
            ),
            ("sex IN ('F','M')", "sex IN ('F', 'M')"),
            (
                "NOT (month BETWEEN '2024-01' AND '2024-06')",
                "NOT (month BETWEEN '2024-01' AND '2024-06')",
            ),
            ("citizenship LIKE 'H%'", "citizenship LIKE 'H%'"),
            ("sex IS NOT NULL", "sex IS NOT NULL"),
        ] {
            assert_eq!(checked(given, DIMS).unwrap(), runs, "{given}");
        }
    }

    #[test]
    fn anything_but_a_condition_over_dimensions_is_refused() {
        for bad in [
            "1=1) UNION SELECT person_key FROM border_events --",
            "citizenship = 'HND'; DROP TABLE x",
            "month = (SELECT max(month) FROM stocks)",
            "person_key = 'abc'",
            "t.citizenship = 'HND'",
            "EXISTS (SELECT 1 FROM border_events)",
            "lower(citizenship) = 'hnd'",
            "citizenship = 'HND' OR 1 = 1 -- ",
            "citizenship = $1",
            "",
            "citizenship IN (SELECT citizenship FROM border_events)",
        ] {
            assert!(checked(bad, DIMS).is_err(), "{bad} passed");
        }
    }

    #[test]
    fn a_refusal_names_the_dimensions() {
        let e = checked("person_key = 'x'", DIMS).unwrap_err().to_string();
        assert!(e.contains("month, citizenship, sex"), "{e}");
    }

    proptest! {
        /// Whatever the text, a filter that passes names no column but
        /// the dimensions, and runs as a text that passes again unchanged.
        #[test]
        fn what_passes_is_a_fixed_point(text in "[ -~]{0,60}") {
            if let Ok(runs) = checked(&text, DIMS) {
                prop_assert_eq!(checked(&runs, DIMS).unwrap(), runs);
            }
        }

        #[test]
        fn built_conditions_pass(
            dim in prop::sample::select(DIMS.to_vec()),
            code in "[A-Z0-9_-]{1,8}",
            op in prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]),
        ) {
            let f = format!("{dim} {op} '{code}' AND sex = 'F'");
            prop_assert!(checked(&f, DIMS).is_ok());
        }
    }
}
