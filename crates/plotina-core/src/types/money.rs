//! Money amounts and currencies.
//!
//! Amounts are exact decimals with exactly two fraction digits (kopecks,
//! cents), never floats. Input is parsed from text so that `0.1` is really
//! 0.10, not 0.1000000000000000055…; JSON numbers are converted through their
//! textual form for the same reason.

use std::fmt;

use rust_decimal::Decimal;

use super::ValueError;

/// Largest accepted amount in major units (10^15, a quadrillion roubles).
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;
/// Largest accepted amount in minor units (kopecks).
pub const MAX_MINOR: i64 = MAX_AMOUNT * 100;

/// Thousands separator used by [`Money::format_ru`]: U+202F NARROW NO-BREAK
/// SPACE (the modern Russian typographic choice; it never wraps).
/// [`Money::parse`] accepts it back, as well as plain, no-break and thin spaces.
pub const RU_GROUP_SEPARATOR: char = '\u{202F}';

/// A non-negative amount with two decimals, at most [`MAX_AMOUNT`].
///
/// Invariant: the inner decimal always has scale 2, so `Eq`, `Hash` and
/// `Display` agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Money(Decimal);

fn is_group_separator(c: char) -> bool {
    matches!(c, ' ' | '\u{00A0}' | '\u{202F}' | '\u{2009}')
}

/// Validates digit groups of the integer part: either plain digits, or
/// `1-3 digits` followed by groups of exactly 3 (`1 234 567`).
fn integer_digits(part: &str) -> Option<String> {
    let groups: Vec<&str> = part.split(is_group_separator).collect();
    let all_digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !groups.iter().all(|g| all_digits(g)) {
        return None;
    }
    if groups.len() > 1 && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return None;
    }
    Some(groups.concat())
}

/// Rewrites `1.5e3` / `1e-5` into plain decimal notation, purely on text.
/// Only used for JSON numbers (serde_json prints large/small floats this way).
fn expand_exponent(text: &str) -> Option<String> {
    let (mantissa, exp) = text.split_once(['e', 'E'])?;
    let exp: i32 = exp.parse().ok().filter(|e: &i32| e.abs() <= 400)?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let point = i32::try_from(int.len()).ok()? + exp;
    let len = digits.len() as i32;
    let plain = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= len {
        format!("{digits}{}", "0".repeat((point - len) as usize))
    } else {
        let (a, b) = digits.split_at(point as usize);
        format!("{a}.{b}")
    };
    Some(format!("{sign}{plain}"))
}

/// Parses the textual form of a number (may use an exponent).
fn parse_number_text(text: &str) -> Result<Money, ValueError> {
    if text.contains(['e', 'E']) {
        let plain = expand_exponent(text).ok_or_else(|| ValueError::new("money_invalid"))?;
        Money::parse(&plain)
    } else {
        Money::parse(text)
    }
}

impl Money {
    /// Parses user input. Accepted: `1234.5`, `1234,50`, `1 234 567,89`
    /// (space, U+00A0, U+202F or U+2009 between groups of three digits).
    /// Both `.` and `,` are *decimal* separators, never thousands separators,
    /// so `12,345` means 12.345 and fails with `money_scale`, and `1,234.56`
    /// is `money_invalid`.
    ///
    /// Errors, checked in this order:
    /// - `money_invalid`: empty, letters, exponent (`1e5`), `+5`, `.5`, `5.`,
    ///   misplaced group separators, two decimal separators;
    /// - `money_negative`: a leading `-` (or U+2212) on a non-zero amount
    ///   (`-0` is accepted as zero);
    /// - `money_scale` (arg `max`=2): more than two significant decimals
    ///   (trailing zeros are fine: `1.500` is 1.50);
    /// - `money_range` (arg `max`): above [`MAX_AMOUNT`].
    pub fn parse(input: &str) -> Result<Money, ValueError> {
        let invalid = || ValueError::new("money_invalid");
        let s = input.trim();
        let (negative, body) = match s.strip_prefix(['-', '\u{2212}']) {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let mut parts = body.split(['.', ',']);
        let int_part = parts.next().unwrap_or("");
        let frac_part = parts.next();
        if parts.next().is_some() {
            return Err(invalid());
        }
        let int = integer_digits(int_part).ok_or_else(invalid)?;
        let frac = match frac_part {
            None => "",
            Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => f,
            Some(_) => return Err(invalid()),
        };

        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        if negative && !(int.is_empty() && frac.is_empty()) {
            return Err(ValueError::new("money_negative"));
        }
        if frac.len() > 2 {
            return Err(ValueError::new("money_scale").with("max", 2));
        }
        let range = || ValueError::new("money_range").with("max", MAX_AMOUNT);
        if int.len() > 16 {
            return Err(range());
        }
        let minor: i64 = format!("{int}{frac:0<2}").parse().map_err(|_| range())?;
        if minor > MAX_MINOR {
            return Err(range());
        }
        Ok(Money::from_minor(minor))
    }

    /// From a JSON value: a string goes through [`Money::parse`]; a number is
    /// converted via its textual form (exponents allowed), never via `f64`
    /// arithmetic. Other JSON types are `money_invalid`.
    pub fn from_json(v: &serde_json::Value) -> Result<Money, ValueError> {
        match v {
            serde_json::Value::String(s) => Money::parse(s),
            serde_json::Value::Number(n) => parse_number_text(&n.to_string()),
            _ => Err(ValueError::new("money_invalid")),
        }
    }

    /// From minor units (kopecks). Does not validate: meant for values read
    /// back from storage that were validated on the way in. Use
    /// [`Money::try_from_minor`] for untrusted input.
    pub fn from_minor(minor: i64) -> Money {
        Money(Decimal::new(minor, 2))
    }

    /// From minor units with the same checks as `parse`
    /// (`money_negative`, `money_range`).
    pub fn try_from_minor(minor: i64) -> Result<Money, ValueError> {
        if minor < 0 {
            Err(ValueError::new("money_negative"))
        } else if minor > MAX_MINOR {
            Err(ValueError::new("money_range").with("max", MAX_AMOUNT))
        } else {
            Ok(Money::from_minor(minor))
        }
    }

    /// The amount in minor units (kopecks); the storage representation.
    pub fn to_minor(self) -> i64 {
        let mut d = self.0;
        d.rescale(2);
        // Every constructor builds the decimal from an i64 at scale 2.
        i64::try_from(d.mantissa()).expect("Money minor units fit in i64")
    }

    /// The exact decimal amount (scale 2).
    pub fn amount(self) -> Decimal {
        self.0
    }

    /// Russian display form: `1 234 567,00` with [`RU_GROUP_SEPARATOR`]
    /// (U+202F) between groups and a decimal comma.
    pub fn format_ru(self) -> String {
        self.format_with(RU_GROUP_SEPARATOR, ',')
    }

    /// English display form: `1,234,567.00`.
    pub fn format_en(self) -> String {
        self.format_with(',', '.')
    }

    fn format_with(self, group: char, decimal: char) -> String {
        let plain = self.to_string();
        let (sign, plain) = match plain.strip_prefix('-') {
            Some(p) => ("-", p),
            None => ("", plain.as_str()),
        };
        let (int, frac) = plain.split_once('.').unwrap_or((plain, "00"));
        let mut out = String::from(sign);
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(group);
            }
            out.push(c);
        }
        out.push(decimal);
        out.push_str(frac);
        out
    }
}

impl Default for Money {
    fn default() -> Self {
        Money::from_minor(0)
    }
}

/// Plain machine form with exactly two decimals: `1234.50`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

impl std::str::FromStr for Money {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

/// Serialised as a string (`"1234.50"`) so JSON clients never see a float.
impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Accepts a string (any form `parse` accepts) or a number (via its text).
impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a money amount as a string or number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
                Money::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                Money::parse(&v.to_string()).map_err(E::custom)
            }
            // Rust's f64 Display is the shortest round-trip text, no exponent.
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                parse_number_text(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Supported ISO 4217 codes. A fixed list rather than all ~180 codes: it
/// catches typos (`RUR`, `EUO`) and covers what our customers invoice in.
pub const SUPPORTED_CURRENCIES: [&str; 12] = [
    "RUB", "USD", "EUR", "CNY", "KZT", "BYN", "UAH", "GBP", "TRY", "AED", "JPY", "CHF",
];

/// An ISO 4217 currency code from [`SUPPORTED_CURRENCIES`]; defaults to RUB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static str);

impl Currency {
    pub const RUB: Currency = Currency("RUB");

    /// Trims and uppercases (`rub` → `RUB`); unknown codes are
    /// `currency_unknown`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let code = input.trim().to_ascii_uppercase();
        SUPPORTED_CURRENCIES
            .iter()
            .find(|c| **c == code)
            .map(|c| Currency(c))
            .ok_or_else(|| ValueError::new("currency_unknown"))
    }

    /// The three-letter code.
    pub fn as_str(&self) -> &str {
        self.0
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::RUB
    }
}

string_value!(Currency);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minor(s: &str) -> i64 {
        Money::parse(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .to_minor()
    }

    fn code(s: &str) -> &'static str {
        Money::parse(s).unwrap_err().code
    }

    #[test]
    fn parses_plain_and_russian_forms() {
        assert_eq!(minor("0"), 0);
        assert_eq!(minor("0.01"), 1);
        assert_eq!(minor("0,01"), 1);
        assert_eq!(minor("1234.5"), 123_450);
        assert_eq!(minor("1234,50"), 123_450);
        assert_eq!(minor("1 234 567,89"), 123_456_789);
        assert_eq!(minor("1\u{00A0}234\u{00A0}567,89"), 123_456_789);
        assert_eq!(minor("1\u{202F}234,89"), 123_489);
        assert_eq!(minor("1\u{2009}234"), 123_400);
        assert_eq!(minor("  42  "), 4200);
        assert_eq!(minor("007"), 700);
        assert_eq!(minor("1.500"), 150);
        assert_eq!(minor("-0"), 0);
        assert_eq!(minor("-0.00"), 0);
    }

    #[test]
    fn invalid() {
        for s in [
            "", " ", "abc", "1e5", "1E5", "+5", ".5", "5.", "1,234.56", "1.2.3", "12 34",
            "1234 567", "1  234", " 1 23", "1_000", "NaN", "inf", "5 руб", "５", "- 5", "--5",
        ] {
            assert_eq!(code(s), "money_invalid", "{s:?}");
        }
    }

    #[test]
    fn negative() {
        assert_eq!(code("-5"), "money_negative");
        assert_eq!(code("-0.01"), "money_negative");
        assert_eq!(code("\u{2212}1 000,00"), "money_negative");
    }

    #[test]
    fn scale() {
        // A comma is always the decimal separator, so this is 12.345.
        let e = Money::parse("12,345").unwrap_err();
        assert_eq!(e.code, "money_scale");
        assert_eq!(e.arg("max"), Some("2"));
        assert_eq!(code("0.001"), "money_scale");
        assert_eq!(code("1.505"), "money_scale");
        assert_eq!(code("1.0001"), "money_scale");
    }

    #[test]
    fn range() {
        assert_eq!(minor("1000000000000000"), MAX_MINOR);
        assert_eq!(minor("1 000 000 000 000 000,00"), MAX_MINOR);
        let e = Money::parse("1000000000000000.01").unwrap_err();
        assert_eq!(e.code, "money_range");
        assert_eq!(e.arg("max"), Some("1000000000000000"));
        assert_eq!(code("9223372036854775807"), "money_range");
        assert_eq!(
            code("99999999999999999999999999999999999999999"),
            "money_range"
        );
        // Leading zeros do not count towards the range.
        assert_eq!(minor("0000000000000000000000001"), 100);
    }

    #[test]
    fn minor_units_roundtrip() {
        for m in [0, 1, 99, 100, 123_456_789, MAX_MINOR, i64::MAX] {
            assert_eq!(Money::from_minor(m).to_minor(), m);
        }
        assert_eq!(Money::from_minor(150).amount(), Decimal::new(150, 2));
        assert_eq!(Money::try_from_minor(5).unwrap().to_minor(), 5);
        assert_eq!(
            Money::try_from_minor(-1).unwrap_err().code,
            "money_negative"
        );
        assert_eq!(
            Money::try_from_minor(MAX_MINOR + 1).unwrap_err().code,
            "money_range"
        );
    }

    #[test]
    fn display_always_two_decimals() {
        assert_eq!(Money::parse("1234.5").unwrap().to_string(), "1234.50");
        assert_eq!(Money::parse("0").unwrap().to_string(), "0.00");
        assert_eq!(Money::parse("1.500").unwrap().to_string(), "1.50");
        assert_eq!(Money::default().to_string(), "0.00");
        assert_eq!(Money::from_minor(7).to_string(), "0.07");
    }

    #[test]
    fn localized_formats() {
        let m = Money::parse("1234567").unwrap();
        assert_eq!(m.format_ru(), "1\u{202F}234\u{202F}567,00");
        assert_eq!(m.format_en(), "1,234,567.00");
        assert_eq!(Money::from_minor(5).format_ru(), "0,05");
        assert_eq!(Money::from_minor(99_900).format_en(), "999.00");
        assert_eq!(Money::from_minor(100_000).format_en(), "1,000.00");
        assert_eq!(
            Money::from_minor(12_345_678).format_ru(),
            "123\u{202F}456,78"
        );
        assert_eq!(
            Money::from_minor(MAX_MINOR).format_en(),
            "1,000,000,000,000,000.00"
        );
        // The Russian form parses back.
        for m in [0, 5, 100_000, 12_345_678, MAX_MINOR] {
            let m = Money::from_minor(m);
            assert_eq!(Money::parse(&m.format_ru()).unwrap(), m);
        }
    }

    #[test]
    fn equality_and_order() {
        assert_eq!(Money::parse("1.5").unwrap(), Money::parse("1,50").unwrap());
        assert!(Money::parse("2").unwrap() > Money::parse("1.99").unwrap());
        let mut v = vec![
            Money::from_minor(300),
            Money::from_minor(100),
            Money::from_minor(200),
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Money::from_minor(100),
                Money::from_minor(200),
                Money::from_minor(300)
            ]
        );
    }

    #[test]
    fn from_json() {
        let ok = |v: serde_json::Value| Money::from_json(&v).unwrap().to_minor();
        let err = |v: serde_json::Value| Money::from_json(&v).unwrap_err().code;
        assert_eq!(ok(json!(1234.5)), 123_450);
        assert_eq!(ok(json!(0.1)), 10);
        assert_eq!(ok(json!(100)), 10_000);
        assert_eq!(ok(json!(1234567.89)), 123_456_789);
        assert_eq!(ok(json!(1e15)), MAX_MINOR);
        assert_eq!(ok(json!("1 234,5")), 123_450);
        assert_eq!(err(json!(12.345)), "money_scale");
        // 0.1 + 0.2 in f64 is 0.30000000000000004: rejected, not rounded.
        assert_eq!(err(json!(0.1 + 0.2)), "money_scale");
        assert_eq!(err(json!(1e-5)), "money_scale");
        assert_eq!(err(json!(1e20)), "money_range");
        assert_eq!(err(json!(1.5e300)), "money_range");
        assert_eq!(err(json!(-1)), "money_negative");
        assert_eq!(err(json!(-2.5)), "money_negative");
        assert_eq!(err(json!("1e5")), "money_invalid");
        assert_eq!(err(json!(null)), "money_invalid");
        assert_eq!(err(json!(true)), "money_invalid");
        assert_eq!(err(json!([1])), "money_invalid");
    }

    #[test]
    fn expand_exponent_text() {
        assert_eq!(expand_exponent("1e5").as_deref(), Some("100000"));
        assert_eq!(expand_exponent("1.5e3").as_deref(), Some("1500"));
        assert_eq!(expand_exponent("1.25e1").as_deref(), Some("12.5"));
        assert_eq!(expand_exponent("1e-5").as_deref(), Some("0.00001"));
        assert_eq!(expand_exponent("-2.5E+2").as_deref(), Some("-250"));
        assert_eq!(expand_exponent("1e9999"), None);
        assert_eq!(expand_exponent("xe5"), None);
        assert_eq!(expand_exponent("12"), None);
    }

    #[test]
    fn serde() {
        let m = Money::parse("1234.5").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"1234.50\"");
        assert_eq!(serde_json::from_str::<Money>("\"1234.50\"").unwrap(), m);
        assert_eq!(serde_json::from_str::<Money>("1234.5").unwrap(), m);
        assert_eq!(
            serde_json::from_str::<Money>("1234").unwrap().to_minor(),
            123_400
        );
        assert!(serde_json::from_str::<Money>("12.345").is_err());
        assert!(serde_json::from_str::<Money>("-1").is_err());
        assert!(serde_json::from_str::<Money>("null").is_err());
    }

    #[test]
    fn currency() {
        assert_eq!(Currency::default(), Currency::RUB);
        assert_eq!(Currency::default().as_str(), "RUB");
        assert_eq!(Currency::parse("USD").unwrap().as_str(), "USD");
        assert_eq!(Currency::parse(" eur ").unwrap().to_string(), "EUR");
        for c in SUPPORTED_CURRENCIES {
            assert_eq!(Currency::parse(c).unwrap().as_str(), c);
        }
        for s in ["", "RUR", "US", "USDD", "руб", "XXX", "R U B"] {
            assert_eq!(
                Currency::parse(s).unwrap_err().code,
                "currency_unknown",
                "{s:?}"
            );
        }
        assert_eq!(serde_json::to_string(&Currency::RUB).unwrap(), "\"RUB\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"cny\"")
                .unwrap()
                .as_str(),
            "CNY"
        );
        assert!(serde_json::from_str::<Currency>("\"RUR\"").is_err());
    }
}
