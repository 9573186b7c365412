//! Syntax tree of the filter language.
//!
//! Positions stored in the tree (`Path::pos`, the `usize` of every [`Literal`]) are
//! BYTE offsets into the parsed input. Use [`super::char_pos`] to turn them into the
//! character offsets shown to users (that is what [`super::FilterError::pos`] holds).

use std::fmt;

use chrono::{DateTime, Months, NaiveDate, TimeDelta, Utc};
use rust_decimal::Decimal;

/// A boolean filter expression.
///
/// The parser only produces `And`/`Or` with at least two children; `And(vec![])`
/// (always true) and `Or(vec![])` (always false) can only be built by code and have
/// no textual form.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cond(Condition),
}

/// `path <test>`, e.g. `company.industry in ("retail", "auto")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub path: Path,
    pub test: Test,
}

/// A dotted field path. Segments are ASCII identifiers, lowercased by the parser.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub segments: Vec<String>,
    /// Byte offset of the path in the input.
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Cmp(CmpOp, Literal),
    In { values: Vec<Literal>, negated: bool },
    IsNull { negated: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `~` — contains, case-insensitive.
    Contains,
    /// `!~` — does not contain, case-insensitive.
    NotContains,
    /// `^=` — starts with, case-insensitive.
    StartsWith,
}

/// A literal value; the `usize` is the byte offset of the literal in the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String, usize),
    Num(Decimal, usize),
    Bool(bool, usize),
    Null(usize),
    Me(usize),
    Rel(RelTime, usize),
}

/// `today`, `now`, `today+30d`, `now-2h`, …
///
/// A bare `today`/`now` is represented with `amount: 0, unit: Days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelTime {
    pub base: RelBase,
    pub amount: i64,
    pub unit: RelUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelBase {
    Today,
    Now,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelUnit {
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl Literal {
    /// Byte offset of the literal in the input.
    pub fn pos(&self) -> usize {
        match self {
            Literal::Str(_, p)
            | Literal::Num(_, p)
            | Literal::Bool(_, p)
            | Literal::Null(p)
            | Literal::Me(p)
            | Literal::Rel(_, p) => *p,
        }
    }

    fn with_pos(&self, pos: usize) -> Literal {
        match self {
            Literal::Str(s, _) => Literal::Str(s.clone(), pos),
            Literal::Num(d, _) => Literal::Num(*d, pos),
            Literal::Bool(b, _) => Literal::Bool(*b, pos),
            Literal::Null(_) => Literal::Null(pos),
            Literal::Me(_) => Literal::Me(pos),
            Literal::Rel(r, _) => Literal::Rel(*r, pos),
        }
    }
}

impl Expr {
    /// A copy of the tree with every position set to 0 — handy to compare trees
    /// parsed from differently formatted texts.
    pub fn without_positions(&self) -> Expr {
        match self {
            Expr::And(xs) => Expr::And(xs.iter().map(Expr::without_positions).collect()),
            Expr::Or(xs) => Expr::Or(xs.iter().map(Expr::without_positions).collect()),
            Expr::Not(x) => Expr::Not(Box::new(x.without_positions())),
            Expr::Cond(c) => Expr::Cond(Condition {
                path: Path {
                    segments: c.path.segments.clone(),
                    pos: 0,
                },
                test: match &c.test {
                    Test::Cmp(op, lit) => Test::Cmp(*op, lit.with_pos(0)),
                    Test::In { values, negated } => Test::In {
                        values: values.iter().map(|l| l.with_pos(0)).collect(),
                        negated: *negated,
                    },
                    Test::IsNull { negated } => Test::IsNull { negated: *negated },
                },
            }),
        }
    }
}

impl RelTime {
    /// Resolve against the caller's local "today"/"now" (computed by the caller in the
    /// user's time zone). The base is ignored (both resolve to `today`); hours are
    /// truncated (toward zero) to whole days. Months/years clamp to the end of the
    /// month (Jan 31 + 1m = Feb 28/29). Saturates at the chrono date range.
    pub fn to_date(&self, today: NaiveDate) -> NaiveDate {
        let r = match self.unit {
            RelUnit::Hours => add_days(today, self.amount / 24),
            RelUnit::Days => add_days(today, self.amount),
            RelUnit::Weeks => self.amount.checked_mul(7).and_then(|d| add_days(today, d)),
            RelUnit::Months => add_months(
                today,
                self.amount,
                NaiveDate::checked_add_months,
                NaiveDate::checked_sub_months,
            ),
            RelUnit::Years => self.amount.checked_mul(12).and_then(|m| {
                add_months(
                    today,
                    m,
                    NaiveDate::checked_add_months,
                    NaiveDate::checked_sub_months,
                )
            }),
        };
        r.unwrap_or(if self.amount >= 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        })
    }

    /// Resolve to an instant: base `Now` -> `now`, base `Today` -> `today_start_utc`
    /// (the start of the user's local day, expressed in UTC). Days/weeks are added as
    /// 24h/168h spans (no DST correction); months/years are calendar months.
    /// Saturates at the chrono range.
    pub fn to_datetime(&self, now: DateTime<Utc>, today_start_utc: DateTime<Utc>) -> DateTime<Utc> {
        let base = match self.base {
            RelBase::Now => now,
            RelBase::Today => today_start_utc,
        };
        let span = |d: Option<TimeDelta>| d.and_then(|d| base.checked_add_signed(d));
        let r = match self.unit {
            RelUnit::Hours => span(TimeDelta::try_hours(self.amount)),
            RelUnit::Days => span(TimeDelta::try_days(self.amount)),
            RelUnit::Weeks => span(TimeDelta::try_weeks(self.amount)),
            RelUnit::Months => add_months(
                base,
                self.amount,
                DateTime::<Utc>::checked_add_months,
                DateTime::<Utc>::checked_sub_months,
            ),
            RelUnit::Years => self.amount.checked_mul(12).and_then(|m| {
                add_months(
                    base,
                    m,
                    DateTime::<Utc>::checked_add_months,
                    DateTime::<Utc>::checked_sub_months,
                )
            }),
        };
        r.unwrap_or(if self.amount >= 0 {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        })
    }
}

fn add_days(d: NaiveDate, days: i64) -> Option<NaiveDate> {
    d.checked_add_signed(TimeDelta::try_days(days)?)
}

fn add_months<T>(
    base: T,
    months: i64,
    add: fn(T, Months) -> Option<T>,
    sub: fn(T, Months) -> Option<T>,
) -> Option<T> {
    let n = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 {
        add(base, n)
    } else {
        sub(base, n)
    }
}

// ---------------------------------------------------------------------------
// Canonical printing. `parse(&e.to_string())` yields `e` again (modulo positions)
// for every tree the parser can produce.
// ---------------------------------------------------------------------------

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Cond(c) => write!(f, "{c}"),
            Expr::Not(inner) => match **inner {
                Expr::And(_) | Expr::Or(_) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            Expr::And(xs) => {
                write_joined(f, xs, " and ", |e| matches!(e, Expr::And(_) | Expr::Or(_)))
            }
            Expr::Or(xs) => write_joined(f, xs, " or ", |e| matches!(e, Expr::Or(_))),
        }
    }
}

fn write_joined(
    f: &mut fmt::Formatter<'_>,
    xs: &[Expr],
    sep: &str,
    needs_parens: fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if needs_parens(x) {
            write!(f, "({x})")?;
        } else {
            write!(f, "{x}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        match &self.test {
            Test::Cmp(op, lit) => write!(f, " {op} {lit}"),
            Test::In { values, negated } => {
                f.write_str(if *negated { " not in (" } else { " in (" })?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Test::IsNull { negated: false } => f.write_str(" is null"),
            Test::IsNull { negated: true } => f.write_str(" is not null"),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Contains => "~",
            CmpOp::NotContains => "!~",
            CmpOp::StartsWith => "^=",
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s, _) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Literal::Num(d, _) => write!(f, "{d}"),
            Literal::Bool(b, _) => write!(f, "{b}"),
            Literal::Null(_) => f.write_str("null"),
            Literal::Me(_) => f.write_str("me"),
            Literal::Rel(r, _) => write!(f, "{r}"),
        }
    }
}

impl fmt::Display for RelTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.base {
            RelBase::Today => "today",
            RelBase::Now => "now",
        })?;
        if self.amount == 0 && self.unit == RelUnit::Days {
            return Ok(());
        }
        let unit = match self.unit {
            RelUnit::Hours => 'h',
            RelUnit::Days => 'd',
            RelUnit::Weeks => 'w',
            RelUnit::Months => 'm',
            RelUnit::Years => 'y',
        };
        let sign = if self.amount < 0 { '-' } else { '+' };
        write!(f, "{sign}{}{unit}", self.amount.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn dt(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn rel(base: RelBase, amount: i64, unit: RelUnit) -> RelTime {
        RelTime { base, amount, unit }
    }

    #[test]
    fn to_date_units() {
        let t = d("2026-01-31");
        assert_eq!(rel(RelBase::Today, 0, RelUnit::Days).to_date(t), t);
        assert_eq!(
            rel(RelBase::Today, 30, RelUnit::Days).to_date(t),
            d("2026-03-02")
        );
        assert_eq!(
            rel(RelBase::Today, -1, RelUnit::Days).to_date(t),
            d("2026-01-30")
        );
        assert_eq!(
            rel(RelBase::Today, 2, RelUnit::Weeks).to_date(t),
            d("2026-02-14")
        );
        assert_eq!(
            rel(RelBase::Today, 1, RelUnit::Months).to_date(t),
            d("2026-02-28")
        );
        assert_eq!(
            rel(RelBase::Today, -2, RelUnit::Months).to_date(t),
            d("2025-11-30")
        );
        assert_eq!(
            rel(RelBase::Today, 1, RelUnit::Years).to_date(t),
            d("2027-01-31")
        );
        assert_eq!(
            rel(RelBase::Today, -1, RelUnit::Years).to_date(d("2024-02-29")),
            d("2023-02-28")
        );
        // hours truncate toward zero
        assert_eq!(
            rel(RelBase::Now, 30, RelUnit::Hours).to_date(t),
            d("2026-02-01")
        );
        assert_eq!(rel(RelBase::Now, 23, RelUnit::Hours).to_date(t), t);
        assert_eq!(
            rel(RelBase::Now, -30, RelUnit::Hours).to_date(t),
            d("2026-01-30")
        );
        assert_eq!(
            rel(RelBase::Now, 5, RelUnit::Days).to_date(t),
            d("2026-02-05")
        );
    }

    #[test]
    fn to_date_saturates() {
        let t = d("2026-01-31");
        assert_eq!(
            rel(RelBase::Today, i64::MAX, RelUnit::Days).to_date(t),
            NaiveDate::MAX
        );
        assert_eq!(
            rel(RelBase::Today, i64::MIN, RelUnit::Weeks).to_date(t),
            NaiveDate::MIN
        );
        assert_eq!(
            rel(RelBase::Today, i64::MAX, RelUnit::Years).to_date(t),
            NaiveDate::MAX
        );
        assert_eq!(
            rel(RelBase::Today, -4_000_000_000, RelUnit::Months).to_date(t),
            NaiveDate::MIN
        );
    }

    #[test]
    fn to_datetime_units() {
        let now = dt("2026-01-31T15:30:00Z");
        let start = dt("2026-01-30T21:00:00Z"); // local midnight in UTC+3
        assert_eq!(
            rel(RelBase::Now, 0, RelUnit::Days).to_datetime(now, start),
            now
        );
        assert_eq!(
            rel(RelBase::Today, 0, RelUnit::Days).to_datetime(now, start),
            start
        );
        assert_eq!(
            rel(RelBase::Now, -2, RelUnit::Hours).to_datetime(now, start),
            dt("2026-01-31T13:30:00Z")
        );
        assert_eq!(
            rel(RelBase::Today, 1, RelUnit::Days).to_datetime(now, start),
            dt("2026-01-31T21:00:00Z")
        );
        assert_eq!(
            rel(RelBase::Today, -1, RelUnit::Weeks).to_datetime(now, start),
            dt("2026-01-23T21:00:00Z")
        );
        assert_eq!(
            rel(RelBase::Now, 1, RelUnit::Months).to_datetime(now, start),
            dt("2026-02-28T15:30:00Z")
        );
        assert_eq!(
            rel(RelBase::Now, 2, RelUnit::Years).to_datetime(now, start),
            dt("2028-01-31T15:30:00Z")
        );
        assert_eq!(
            rel(RelBase::Now, i64::MAX, RelUnit::Hours).to_datetime(now, start),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            rel(RelBase::Now, i64::MIN, RelUnit::Years).to_datetime(now, start),
            DateTime::<Utc>::MIN_UTC
        );
    }

    #[test]
    fn display_literals() {
        assert_eq!(
            Literal::Str("a\"b\\c\nd\te'f".into(), 0).to_string(),
            r#""a\"b\\c\nd\te'f""#
        );
        assert_eq!(
            Literal::Num("-12.50".parse().unwrap(), 0).to_string(),
            "-12.50"
        );
        assert_eq!(
            Literal::Rel(rel(RelBase::Today, 0, RelUnit::Days), 0).to_string(),
            "today"
        );
        assert_eq!(
            Literal::Rel(rel(RelBase::Today, 0, RelUnit::Weeks), 0).to_string(),
            "today+0w"
        );
        assert_eq!(
            Literal::Rel(rel(RelBase::Now, -2, RelUnit::Hours), 0).to_string(),
            "now-2h"
        );
        assert_eq!(
            Literal::Rel(rel(RelBase::Today, 30, RelUnit::Days), 0).to_string(),
            "today+30d"
        );
        assert_eq!(Literal::Me(3).pos(), 3);
    }
}
