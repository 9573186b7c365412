//! Phone numbers, stored in E.164 (`+79123456789`).
//!
//! One canonical form per number makes duplicate detection and search work
//! regardless of how the user typed it (`8 (912) …`, `+7 912 …`). Numbers
//! without a country code are interpreted as Russian.

use std::panic::{self, AssertUnwindSafe};

use phonenumber::{country::Id, Mode};

use super::ValueError;

/// Inputs longer than this are rejected before reaching the parser (cheap
/// protection against pathological input).
pub const MAX_INPUT_CHARS: usize = 40;

/// A valid phone number in E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Parses with region RU and formats as E.164. The `phonenumber` crate has
/// had panics on odd input, so a panic is caught and treated as invalid.
fn to_e164(s: &str) -> Option<String> {
    panic::catch_unwind(AssertUnwindSafe(|| {
        let n = phonenumber::parse(Some(Id::RU), s).ok()?;
        phonenumber::is_valid(&n).then(|| n.format().mode(Mode::E164).to_string())
    }))
    .ok()
    .flatten()
    .or_else(|| russian_by_digits(s))
}

/// A Russian number written the usual ways (`8 (812) …`, `+7 812 …`, `812…`) that the
/// library's metadata does not know (St Petersburg's 812 landlines among them): +7 and
/// ten digits in the geographic (3xx, 4xx, 8xx) or mobile (9xx) ranges.
fn russian_by_digits(s: &str) -> Option<String> {
    if s.chars()
        .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
    {
        return None;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.len() {
        11 if (digits.starts_with('8') && !s.trim_start().starts_with('+'))
            || (digits.starts_with('7') && s.trim_start().starts_with("+7")) =>
        {
            &digits[1..]
        }
        10 if !s.trim_start().starts_with('+') => &digits[..],
        _ => return None,
    };
    matches!(national.as_bytes()[0], b'3' | b'4' | b'8' | b'9').then(|| format!("+7{national}"))
}

impl Phone {
    /// Trims and normalises to E.164. Errors: `phone_too_long` (arg `max`)
    /// for more than [`MAX_INPUT_CHARS`] characters, `phone_invalid` for
    /// input without digits or that is not a valid number.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.chars().count() > MAX_INPUT_CHARS {
            return Err(ValueError::new("phone_too_long").with("max", MAX_INPUT_CHARS));
        }
        if !s.chars().any(|c| c.is_ascii_digit()) {
            return Err(ValueError::new("phone_invalid"));
        }
        to_e164(s)
            .map(Phone)
            .ok_or_else(|| ValueError::new("phone_invalid"))
    }

    /// Search helper: the E.164 form of `input` if it is a complete valid
    /// number (so `8 912 345-67-89` finds `+79123456789`), else `None` and
    /// the caller falls back to plain text search.
    pub fn digits_for_search(input: &str) -> Option<String> {
        Phone::parse(input).ok().map(|p| p.0)
    }

    /// The E.164 form, e.g. `+79123456789`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(Phone);

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> &'static str {
        Phone::parse(s).unwrap_err().code
    }

    #[test]
    fn st_petersburg_landlines_are_numbers_too() {
        assert_eq!(
            Phone::parse("8 (812) 123-45-67").unwrap().as_str(),
            "+78121234567"
        );
        assert_eq!(
            Phone::parse("+7 812 315-00-00").unwrap().as_str(),
            "+78123150000"
        );
        assert_eq!(code("+7 812 315"), "phone_invalid");
    }

    #[test]
    fn russian_spellings_normalise_to_e164() {
        for s in [
            "8 (912) 345-67-89",
            "+7 912 345 67 89",
            "89123456789",
            "+7(912)3456789",
            "  +7 (912) 345-67-89 ",
            "9123456789",
            "+7-912-345-67-89",
        ] {
            assert_eq!(
                Phone::parse(s).map(|p| p.to_string()),
                Ok("+79123456789".to_owned()),
                "{s:?}"
            );
        }
    }

    #[test]
    fn moscow_landline() {
        assert_eq!(
            Phone::parse("8 (495) 123-45-67").unwrap().as_str(),
            "+74951234567"
        );
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        assert_eq!(
            Phone::parse("+1 650 253 0000").unwrap().as_str(),
            "+16502530000"
        );
        assert_eq!(
            Phone::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            Phone::parse("+375 29 123-45-67").unwrap().as_str(),
            "+375291234567"
        );
    }

    #[test]
    fn too_long() {
        let e = Phone::parse(&"1".repeat(41)).unwrap_err();
        assert_eq!(e.code, "phone_too_long");
        assert_eq!(e.arg("max"), Some("40"));
        assert_eq!(
            code(&format!("+7 912 345 67 89{}", " ".repeat(30) + "x")),
            "phone_too_long"
        );
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "   ",
            "abc",
            "тел. нет",
            "+",
            "123",
            "8 912 345",
            "+7 912 345 67 89 00 11",
            "+999 123 456 789",
            "00000000000",
        ] {
            assert_eq!(code(s), "phone_invalid", "{s:?}");
        }
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "+7;ext=",
            "tel:+7-912;phone-context=",
            "+7 ()()()()()()()()()()()()()()()",
            "++++++++++++++++++++++++1",
            "8\u{0}912",
            "１２３４５６７８９０１",
            "+7 912 345 67 89 доб. 123",
        ] {
            let _ = Phone::parse(s);
        }
    }

    #[test]
    fn digits_for_search() {
        assert_eq!(
            Phone::digits_for_search("8 912 345-67-89").as_deref(),
            Some("+79123456789")
        );
        assert_eq!(Phone::digits_for_search("912 34"), None);
        assert_eq!(Phone::digits_for_search("Иванов"), None);
    }

    #[test]
    fn serde_roundtrip() {
        let p = Phone::parse("89123456789").unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"+79123456789\"");
        assert_eq!(
            serde_json::from_str::<Phone>("\"8 912 345 67 89\"").unwrap(),
            p
        );
        assert!(serde_json::from_str::<Phone>("\"123\"").is_err());
    }
}
