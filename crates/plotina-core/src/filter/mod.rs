//! Plotina's filter language — one syntax for API list filters, saved views,
//! segments, automation conditions and exports.
//!
//! ```text
//! stage = "won" and amount >= 100000 and (owner = me or company.industry in ("retail", "auto")) and close_date < today+30d
//! ```
//!
//! Grammar (keywords are case-insensitive; `&&`, `||`, `!` are aliases of `and`, `or`, `not`):
//!
//! ```text
//! expr      := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | primary
//! primary   := "(" expr ")" | condition
//! condition := path op value
//!            | path ["not"] "in" "(" value ("," value)* ")"
//!            | path "is" ["not"] "null"
//! op        := "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~" | "^="
//! path      := ident ("." ident)*          ident := [A-Za-z_][A-Za-z0-9_]*  (lowercased)
//! value     := string | number | true | false | null | me | reldate
//! string    := "..." | '...'               escapes: \" \' \\ \n \t
//! number    := -?digits(.digits)?          (rust_decimal; no exponents)
//! reldate   := ("today" | "now") [("+"|"-") digits unit]   unit := d | w | m | y | h (h only with now; m = months)
//! ```
//!
//! A bare keyword (`and`, `in`, `today`, …) cannot be used as a one-segment field
//! name; inside a dotted path (`x.null`) it is an ordinary segment. A date literal is
//! just a string (`"2026-01-31"`); the compiler interprets it by field type.
//!
//! Errors are [`FilterError`]s: a stable `code` (for i18n), a CHARACTER offset and
//! named arguments. Codes:
//!
//! | code | args | when |
//! |---|---|---|
//! | `filter_unexpected_char` | `char` | a character that starts no token (`&`, `#`, `ы` outside quotes, …) |
//! | `filter_unterminated_string` | — | missing closing quote (pos = opening quote) |
//! | `filter_bad_escape` | `escape` | backslash escape other than `\" \' \\ \n \t` |
//! | `filter_bad_number` | `number` | `1e5`, `1.`, `12abc`, more digits than a decimal holds |
//! | `filter_bad_reldate` | `value` | `today+`, `today+3x`, `today+3h`, amount over 100000 |
//! | `filter_expected_field` | `token` | end of input where a condition should start |
//! | `filter_unexpected_token` | `token` | any other token where a condition should start (`and` first, keyword as field, …) |
//! | `filter_expected_operator` | `token` | after a field |
//! | `filter_expected_value` | `token` | after an operator / inside `in (…)` |
//! | `filter_expected_in` | `token` | `field not` not followed by `in` |
//! | `filter_expected_null` | `token` | `field is [not]` not followed by `null` |
//! | `filter_expected_open_paren` | `token` | `in` not followed by `(` |
//! | `filter_expected_close_paren` | `token` | unclosed `(` or bad separator in a list |
//! | `filter_empty_in` | — | `in ()` (pos = the `(`) |
//! | `filter_trailing_input` | `token` | extra tokens after a complete expression |
//! | `filter_too_long` | `max` | input over 4000 chars (pos 4000), or over 500 `in` values (pos = 501st value) |
//! | `filter_too_deep` | `max` | more than 32 nested parentheses / `not`s |
//!
//! `token` is the offending token's text (max 40 chars) or `""` at end of input.

pub mod ast;
pub mod eval;
mod lexer;
mod parser;

use std::fmt;

pub use ast::{CmpOp, Condition, Expr, Literal, Path, RelBase, RelTime, RelUnit, Test};
pub use eval::{eval, Resolve};

/// Longest accepted input, in characters.
pub const MAX_INPUT_CHARS: usize = 4000;
/// Deepest accepted nesting of parentheses and `not`s.
pub const MAX_DEPTH: usize = 32;
/// Most values accepted in one `in (...)` list.
pub const MAX_IN_VALUES: usize = 500;

/// A parse error. `pos` is a 0-based CHARACTER offset into the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub pos: usize,
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl FilterError {
    /// An error without arguments. `pos` is taken as-is; see [`FilterError::at_byte`].
    pub fn new(code: &'static str, pos: usize) -> Self {
        FilterError {
            pos,
            code,
            args: Vec::new(),
        }
    }

    /// An error at byte offset `byte_pos` of `input` (e.g. a [`Path::pos`]), with the
    /// position converted to characters — for compilers reporting e.g. unknown fields.
    pub fn at_byte(input: &str, byte_pos: usize, code: &'static str) -> Self {
        FilterError::new(code, char_pos(input, byte_pos))
    }

    pub fn with_arg(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.code, self.pos)?;
        for (k, v) in &self.args {
            write!(f, " {k}={v:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FilterError {}

/// Converts a byte offset into `input` to a character offset (clamped to the input;
/// an offset inside a multi-byte character counts as that character).
pub fn char_pos(input: &str, byte_pos: usize) -> usize {
    input
        .char_indices()
        .take_while(|(i, _)| *i < byte_pos)
        .count()
}

/// Parses a filter. Empty or whitespace-only input gives `Ok(None)`.
/// Never panics; errors carry character positions.
pub fn parse(input: &str) -> Result<Option<Expr>, FilterError> {
    if input.chars().nth(MAX_INPUT_CHARS).is_some() {
        return Err(FilterError::new("filter_too_long", MAX_INPUT_CHARS)
            .with_arg("max", MAX_INPUT_CHARS.to_string()));
    }
    parser::Parser::new(input)
        .and_then(parser::Parser::parse_all)
        .map_err(|mut e| {
            e.pos = char_pos(input, e.pos);
            e
        })
}

/// Conjunction of several filters, e.g. saved view + request
/// filter. Top-level `And`s are flattened; `None` when nothing is left.
pub fn and_all(exprs: Vec<Expr>) -> Option<Expr> {
    let mut out = Vec::with_capacity(exprs.len());
    for e in exprs {
        match e {
            Expr::And(xs) => out.extend(xs),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => None,
        1 => out.pop(),
        _ => Some(Expr::And(out)),
    }
}
