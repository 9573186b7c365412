//! In-memory evaluation of filters (automation conditions, previews).
//!
//! # Semantics
//!
//! * **Missing and JSON `null` are the same "null".** On a null value every positive
//!   test is false (`=`, `<`, `<=`, `>`, `>=`, `~`, `^=`, `in`) and its negation is
//!   true (`!=`, `!~`, `not in`), so `x != v` always equals `not (x = v)`.
//!   `is null` is true, `is not null` false. (This extends "only `is null` and `!=`
//!   hold" to `!~` and `not in`, which are the negations of `~`/`in`.)
//! * `x = null` behaves like `x is null`, `x != null` like `x is not null`; any other
//!   operator against the `null` literal is false. `in (…, null)` matches null values.
//! * **Type mismatches** (e.g. `amount = 5` on a non-numeric string, `me` when there
//!   is no current user) are "not equal" and unordered: `=`/ordering false, `!=` true.
//! * **Numbers**: a number literal compares numerically with JSON numbers and with
//!   decimal strings (`"100.50"`, as rust_decimal serializes). A string literal
//!   compares numerically only against a JSON number.
//! * **Strings**: `=`, `!=`, `<`… are case-sensitive (ordering is by code point, which
//!   orders ISO dates correctly); `~`, `!~`, `^=` are case-insensitive (Unicode
//!   lowercase) and apply to the text of strings, numbers and booleans.
//!   Two RFC 3339 datetimes compare chronologically. A date literal (`"2026-01-31"`)
//!   against a datetime value compares with the value's LOCAL date (see below), so
//!   `created_at = "2026-01-31"` means "created that day".
//! * **`me`** equals the numeric id from [`Resolve::me`] (JSON number or numeric
//!   string).
//! * **Relative dates**: against a date value (`YYYY-MM-DD`) the reldate resolves via
//!   [`RelTime::to_date`] and dates compare. Against a datetime value: `now…` resolves
//!   to an instant ([`RelTime::to_datetime`]) and instants compare; `today…` compares
//!   DAYS: the value's local date against `to_date(today)`, so `created_at = today`
//!   means "created today" and `created_at <= today` includes all of today.
//!   The local date of an instant is derived from [`Resolve::today_start_utc`].
//! * **Arrays** (e.g. `children.stage`, multi-selects): a non-empty array satisfies a
//!   condition if ANY element does — for every test, including negative ones
//!   (`tags != "x"` holds if some tag is not `"x"`; use `not (tags = "x")` for
//!   "no tag is x"). An empty array is treated as null.

use std::cmp::Ordering;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::ast::{CmpOp, Expr, Literal, RelBase, RelTime, Test};

/// Supplies field values and the evaluation context.
pub trait Resolve {
    /// The value at `path` (lowercased segments), `None` if absent.
    fn get(&self, path: &[String]) -> Option<Value>;
    /// Current user id, if any.
    fn me(&self) -> Option<i64>;
    /// The user's local date.
    fn today(&self) -> NaiveDate;
    fn now(&self) -> DateTime<Utc>;
    /// Start of the user's local `today()` as a UTC instant. The default assumes the
    /// user's zone is UTC; implement it when the zone is known.
    fn today_start_utc(&self) -> DateTime<Utc> {
        self.today().and_time(NaiveTime::MIN).and_utc()
    }
}

/// Evaluates `expr` against `r`. See the module docs for the semantics.
pub fn eval(expr: &Expr, r: &dyn Resolve) -> bool {
    match expr {
        Expr::And(xs) => xs.iter().all(|x| eval(x, r)),
        Expr::Or(xs) => xs.iter().any(|x| eval(x, r)),
        Expr::Not(x) => !eval(x, r),
        Expr::Cond(c) => match r.get(&c.path.segments) {
            Some(Value::Array(items)) if !items.is_empty() => {
                items.iter().any(|v| test(&c.test, Some(v), r))
            }
            Some(Value::Array(_)) | None => test(&c.test, None, r),
            Some(v) => test(&c.test, Some(&v), r),
        },
    }
}

fn test(t: &Test, v: Option<&Value>, r: &dyn Resolve) -> bool {
    let v = v.filter(|v| !v.is_null());
    match t {
        Test::IsNull { negated } => v.is_none() != *negated,
        Test::In { values, negated } => values.iter().any(|l| equals(v, l, r)) != *negated,
        Test::Cmp(op, lit) => match op {
            CmpOp::Eq => equals(v, lit, r),
            CmpOp::Ne => !equals(v, lit, r),
            CmpOp::Contains => text_test(v, lit, r, |h, n| h.contains(n)),
            CmpOp::NotContains => !text_test(v, lit, r, |h, n| h.contains(n)),
            CmpOp::StartsWith => text_test(v, lit, r, |h, n| h.starts_with(n)),
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
                let Some(ord) = v.and_then(|v| compare(v, lit, r)) else {
                    return false;
                };
                match op {
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }
            }
        },
    }
}

fn equals(v: Option<&Value>, lit: &Literal, r: &dyn Resolve) -> bool {
    match (v, lit) {
        (None, Literal::Null(_)) => true,
        (None, _) | (Some(_), Literal::Null(_)) => false,
        (Some(v), lit) => compare(v, lit, r) == Some(Ordering::Equal),
    }
}

/// Orders a non-null value against a literal; `None` when they are incomparable.
fn compare(v: &Value, lit: &Literal, r: &dyn Resolve) -> Option<Ordering> {
    match lit {
        Literal::Null(_) => None,
        Literal::Num(d, _) => Some(number_of(v)?.cmp(d)),
        Literal::Me(_) => Some(number_of(v)?.cmp(&Decimal::from(r.me()?))),
        Literal::Bool(b, _) => match v {
            Value::Bool(x) => Some(x.cmp(b)),
            Value::String(s) => Some(parse_bool(s)?.cmp(b)),
            _ => None,
        },
        Literal::Str(s, _) => match v {
            Value::String(x) => Some(compare_strings(x, s, r)),
            Value::Number(_) => Some(number_of(v)?.cmp(&Decimal::from_str(s.trim()).ok()?)),
            Value::Bool(x) => Some(x.cmp(&parse_bool(s)?)),
            _ => None,
        },
        Literal::Rel(rt, _) => match v {
            Value::String(x) => compare_rel(x, rt, r),
            _ => None,
        },
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn number_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Decimal::from(i))
            } else if let Some(u) = n.as_u64() {
                Some(Decimal::from(u))
            } else {
                Decimal::try_from(n.as_f64()?).ok()
            }
        }
        Value::String(s) => {
            let s = s.trim();
            Decimal::from_str(s)
                .ok()
                .or_else(|| Decimal::from_scientific(s).ok())
        }
        _ => None,
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z") {
        return Some(dt.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

/// The user's local calendar date of an instant.
fn local_date(dt: DateTime<Utc>, r: &dyn Resolve) -> Option<NaiveDate> {
    let today = r.today();
    let shift = today
        .and_time(NaiveTime::MIN)
        .and_utc()
        .signed_duration_since(r.today_start_utc());
    Some(dt.checked_add_signed(shift)?.date_naive())
}

fn compare_strings(value: &str, lit: &str, r: &dyn Resolve) -> Ordering {
    if let Some(day) = parse_date(lit) {
        if parse_date(value).is_none() {
            if let Some(local) = parse_datetime(value).and_then(|dt| local_date(dt, r)) {
                return local.cmp(&day);
            }
        }
    }
    if let (Some(a), Some(b)) = (parse_datetime(value), parse_datetime(lit)) {
        return a.cmp(&b);
    }
    value.cmp(lit)
}

fn compare_rel(value: &str, rt: &RelTime, r: &dyn Resolve) -> Option<Ordering> {
    if let Some(d) = parse_date(value) {
        return Some(d.cmp(&rt.to_date(r.today())));
    }
    let dt = parse_datetime(value)?;
    match rt.base {
        RelBase::Now => Some(dt.cmp(&rt.to_datetime(r.now(), r.today_start_utc()))),
        RelBase::Today => Some(local_date(dt, r)?.cmp(&rt.to_date(r.today()))),
    }
}

fn text_test(v: Option<&Value>, lit: &Literal, r: &dyn Resolve, f: fn(&str, &str) -> bool) -> bool {
    let hay = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return false,
    };
    let needle = match lit {
        Literal::Str(s, _) => s.clone(),
        Literal::Num(d, _) => d.to_string(),
        Literal::Bool(b, _) => b.to_string(),
        Literal::Me(_) => match r.me() {
            Some(id) => id.to_string(),
            None => return false,
        },
        Literal::Rel(rt, _) => rt.to_date(r.today()).format("%Y-%m-%d").to_string(),
        Literal::Null(_) => return false,
    };
    f(&hay.to_lowercase(), &needle.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::parse;
    use serde_json::json;

    struct Rec {
        data: Value,
        me: Option<i64>,
        today: NaiveDate,
        now: DateTime<Utc>,
        start: DateTime<Utc>,
    }

    impl Resolve for Rec {
        fn get(&self, path: &[String]) -> Option<Value> {
            let mut cur = &self.data;
            for (i, seg) in path.iter().enumerate() {
                match cur {
                    Value::Object(m) => cur = m.get(seg)?,
                    // `children.stage`: collect the rest of the path from every element
                    Value::Array(items) => {
                        let rest = &path[i..];
                        let vals = items
                            .iter()
                            .filter_map(|it| {
                                Rec {
                                    data: it.clone(),
                                    ..self.clone_ctx()
                                }
                                .get(rest)
                            })
                            .collect();
                        return Some(Value::Array(vals));
                    }
                    _ => return None,
                }
            }
            Some(cur.clone())
        }
        fn me(&self) -> Option<i64> {
            self.me
        }
        fn today(&self) -> NaiveDate {
            self.today
        }
        fn now(&self) -> DateTime<Utc> {
            self.now
        }
        fn today_start_utc(&self) -> DateTime<Utc> {
            self.start
        }
    }

    impl Rec {
        fn clone_ctx(&self) -> Rec {
            Rec {
                data: Value::Null,
                me: self.me,
                today: self.today,
                now: self.now,
                start: self.start,
            }
        }
    }

    /// User in UTC+3: local date 2026-01-31, local midnight = 2026-01-30T21:00Z.
    fn rec(data: Value) -> Rec {
        Rec {
            data,
            me: Some(7),
            today: NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
            now: DateTime::parse_from_rfc3339("2026-01-31T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            start: DateTime::parse_from_rfc3339("2026-01-30T21:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    fn check(r: &Rec, f: &str) -> bool {
        eval(&parse(f).unwrap().unwrap(), r)
    }

    fn deal() -> Rec {
        rec(json!({
            "stage": "won",
            "amount": "150000.00",
            "owner": 7,
            "score": 42.5,
            "active": true,
            "title": "Поставка Оборудования",
            "close_date": "2026-02-15",
            "created_at": "2026-01-30T22:30:00Z",
            "updated_at": "2026-01-31T10:00:00Z",
            "empty_tags": [],
            "tags": ["vip", "Retail"],
            "notes": null,
            "company": {"industry": "retail", "employees": 120},
            "children": [{"stage": "won"}, {"stage": "lost"}],
        }))
    }

    #[test]
    fn spec_example() {
        let r = deal();
        assert!(check(
            &r,
            r#"stage = "won" and amount >= 100000 and (owner = me or company.industry in ("retail", "auto")) and close_date < today+30d"#
        ));
        assert!(!check(
            &r,
            r#"stage = "won" and amount >= 100000 and close_date < today+7d"#
        ));
    }

    #[test]
    fn numbers() {
        let r = deal();
        assert!(check(&r, "amount = 150000"));
        assert!(check(&r, "amount > 149999.99 and amount < 150000.01"));
        assert!(check(
            &r,
            "score >= 42.5 and score <= 42.50 and score != 42"
        ));
        assert!(check(&r, r#"score = "42.5""#));
        assert!(check(&r, "company.employees in (100, 120)"));
        assert!(
            !check(&r, "stage > 1"),
            "non-numeric string is unordered vs a number"
        );
        assert!(check(&r, "stage != 1"));
    }

    #[test]
    fn strings_and_text_ops() {
        let r = deal();
        assert!(check(&r, r#"stage = "won""#));
        assert!(!check(&r, r#"stage = "WON""#), "= is case-sensitive");
        assert!(check(&r, r#"stage != "WON""#));
        assert!(check(&r, r#"stage ~ "O""#));
        assert!(
            check(&r, r#"title ~ "оборудован""#),
            "Unicode case-insensitive contains"
        );
        assert!(check(&r, r#"title ^= "поставка""#));
        assert!(!check(&r, r#"title ^= "оборудования""#));
        assert!(check(&r, r#"title !~ "услуги""#));
        assert!(!check(&r, r#"title !~ "ПОСТАВКА""#));
        assert!(check(&r, r#"stage > "lost" and stage < "zzz""#));
        assert!(check(&r, "amount ~ 1500"), "contains on a number's text");
        assert!(check(&r, "active = true and active != false"));
        assert!(check(&r, r#"active = "true""#));
    }

    #[test]
    fn null_semantics() {
        let r = deal();
        for f in ["notes", "missing", "empty_tags"] {
            assert!(check(&r, &format!("{f} is null")), "{f}");
            assert!(!check(&r, &format!("{f} is not null")), "{f}");
            assert!(check(&r, &format!("{f} = null")), "{f}");
            assert!(!check(&r, &format!("{f} != null")), "{f}");
            assert!(!check(&r, &format!(r#"{f} = "x""#)), "{f}");
            assert!(check(&r, &format!(r#"{f} != "x""#)), "{f}");
            assert!(!check(&r, &format!("{f} < 1")), "{f}");
            assert!(!check(&r, &format!("{f} >= 1")), "{f}");
            assert!(!check(&r, &format!(r#"{f} ~ """#)), "{f}");
            assert!(check(&r, &format!(r#"{f} !~ "x""#)), "{f}");
            assert!(!check(&r, &format!(r#"{f} ^= "x""#)), "{f}");
            assert!(!check(&r, &format!(r#"{f} in ("x", 1)"#)), "{f}");
            assert!(check(&r, &format!(r#"{f} in ("x", null)"#)), "{f}");
            assert!(check(&r, &format!(r#"{f} not in ("x")"#)), "{f}");
            assert!(!check(&r, &format!("{f} = me")), "{f}");
            assert!(check(&r, &format!("{f} > today or {f} != today")), "{f}");
        }
        assert!(check(&r, "stage is not null and stage != null"));
        assert!(!check(&r, "stage = null or stage < null"));
    }

    #[test]
    fn me_values() {
        let mut r = deal();
        assert!(check(&r, "owner = me"));
        r.data["owner"] = json!("7");
        assert!(check(&r, "owner = me and owner in (me, 1)"));
        r.me = None;
        assert!(!check(&r, "owner = me"));
        assert!(check(&r, "owner != me"));
        assert!(!check(&r, "owner ~ me"));
    }

    #[test]
    fn dates_and_reldates() {
        let r = deal(); // today = 2026-01-31
        assert!(check(&r, "close_date > today and close_date < today+30d"));
        assert!(check(&r, "close_date = today+15d"));
        assert!(check(&r, "close_date < today+1m and close_date > today+2w"));
        assert!(check(
            &r,
            r#"close_date >= "2026-02-15" and close_date < "2026-02-16""#
        ));
        assert!(!check(&r, "close_date < now+14d"));
        assert!(check(&r, "close_date <= now+15d"));
        // created 2026-01-30T22:30Z = 2026-01-31 01:30 local (UTC+3): created "today"
        assert!(check(&r, "created_at = today"));
        assert!(check(&r, "created_at >= today and created_at <= today"));
        assert!(!check(&r, "created_at < today"));
        assert!(check(&r, r#"created_at = "2026-01-31""#));
        assert!(!check(&r, r#"created_at = "2026-01-30""#));
        assert!(check(&r, r#"created_at > "2026-01-30T22:00:00Z""#));
        assert!(
            check(&r, r#"created_at > "2026-01-31T00:00:00+03:00""#),
            "chronological, not textual"
        );
        // now = 12:00Z
        assert!(check(&r, "updated_at > now-3h and updated_at < now-1h"));
        assert!(!check(&r, "updated_at > now-1h"));
        assert!(check(&r, "updated_at < now and created_at > now-1d"));
        assert!(check(&r, "close_date ~ today+15d"));
        assert!(!check(&r, "stage < today"), "non-date string is unordered");
    }

    #[test]
    fn arrays_match_any_element() {
        let r = deal();
        assert!(check(&r, r#"tags = "vip""#));
        assert!(check(&r, r#"tags ~ "retail""#));
        assert!(check(&r, r#"tags in ("x", "Retail")"#));
        assert!(check(&r, r#"tags != "vip""#), "some tag is not vip");
        assert!(!check(&r, r#"not (tags = "vip")"#));
        assert!(check(
            &r,
            r#"children.stage = "lost" and children.stage = "won""#
        ));
        assert!(!check(&r, r#"children.stage = "open""#));
        assert!(check(&r, r#"children.stage is not null"#));
        assert!(!check(&r, r#"empty_tags = "vip""#));
    }

    #[test]
    fn odd_values_never_panic() {
        let values = [
            json!(null),
            json!(""),
            json!("1e99999"),
            json!("-1e-99999"),
            json!("99999999999999999999999999999999999"),
            json!(1e300),
            json!(-1e-300),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("+262143-12-31"),
            json!("9999-12-31T23:59:59Z"),
            json!("0000-01-01"),
            json!("2026-02-30"),
            json!("Ж"),
            json!({"a": 1}),
            json!([[1, 2], null, {"x": "y"}]),
            json!(true),
        ];
        let filters = [
            "x = 1",
            "x != 1",
            "x < 1.5",
            "x >= -1",
            "x ~ 'ж'",
            "x !~ 1",
            "x ^= true",
            "x = me",
            "x in (1, 'a', null, me, now)",
            "x not in (today+100000y)",
            "x is null",
            "x is not null",
            "x < today-100000y",
            "x > now+100000h",
            "x = '2026-01-31'",
            "x > '9999-12-31T23:59:59+14:00'",
            "x <= today+100000m",
            "x = true",
            "x = null",
            "x > null",
        ];
        for v in values {
            let mut r = rec(json!({ "x": v }));
            for extreme in [false, true] {
                if extreme {
                    r.start = DateTime::<Utc>::MIN_UTC;
                    r.now = DateTime::<Utc>::MAX_UTC;
                    r.today = NaiveDate::MAX;
                    r.me = Some(i64::MIN);
                }
                for f in filters {
                    let e = parse(f).unwrap().unwrap();
                    std::hint::black_box(eval(&e, &r));
                }
            }
        }
    }

    #[test]
    fn boolean_structure() {
        let r = deal();
        assert!(check(
            &r,
            r#"stage = "lost" or stage = "won" and owner = me"#
        ));
        assert!(!check(
            &r,
            r#"(stage = "lost" or stage = "won") and owner = 8"#
        ));
        assert!(check(
            &r,
            r#"not stage = "lost" && !(owner = 8) || stage = "x""#
        ));
        assert!(eval(&Expr::And(vec![]), &r));
        assert!(!eval(&Expr::Or(vec![]), &r));
    }
}
