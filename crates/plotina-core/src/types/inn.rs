//! ИНН — Russian taxpayer identification number.
//!
//! 10 digits for legal entities, 12 for individuals (incl. sole proprietors).
//! The trailing check digit(s) catch most typos, so we verify them instead of
//! only checking the shape.

use super::ValueError;

const W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const W12_1: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const W12_2: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// A checksum-verified INN, stored as its digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Inn(String);

/// Official algorithm: weighted sum mod 11, then mod 10 (so a remainder of 10
/// becomes 0).
fn check_digit(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    (sum % 11 % 10) as u8
}

/// Digit values of an all-ASCII-digit string, `None` otherwise.
fn digit_values(s: &str) -> Option<Vec<u8>> {
    s.bytes()
        .map(|b| b.is_ascii_digit().then(|| b - b'0'))
        .collect()
}

impl Inn {
    /// Trims surrounding whitespace, then checks digits (`inn_digits`),
    /// length 10/12 (`inn_length`, arg `len`) and check digits (`inn_checksum`).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        let d = digit_values(s).ok_or_else(|| ValueError::new("inn_digits"))?;
        let ok = match d.len() {
            10 => check_digit(&d[..9], &W10) == d[9],
            12 => check_digit(&d[..10], &W12_1) == d[10] && check_digit(&d[..11], &W12_2) == d[11],
            n => return Err(ValueError::new("inn_length").with("len", n)),
        };
        if ok {
            Ok(Inn(s.to_owned()))
        } else {
            Err(ValueError::new("inn_checksum"))
        }
    }

    /// Completes a prefix with its check digit(s): 9 digits give a 10-digit
    /// (legal entity) INN, 10 digits give a 12-digit (individual) INN.
    /// Anything else returns `None`. Used by the demo-data generator.
    pub fn with_checksum(prefix: &str) -> Option<Inn> {
        let mut d = digit_values(prefix)?;
        match d.len() {
            9 => d.push(check_digit(&d, &W10)),
            10 => {
                d.push(check_digit(&d, &W12_1));
                d.push(check_digit(&d, &W12_2));
            }
            _ => return None,
        }
        Some(Inn(d.iter().map(|v| char::from(b'0' + v)).collect()))
    }

    /// The digits of the INN.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for a 10-digit INN (organisation), false for 12 digits (person).
    pub fn is_legal_entity(&self) -> bool {
        self.0.len() == 10
    }
}

string_value!(Inn);

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> &'static str {
        Inn::parse(s).unwrap_err().code
    }

    #[test]
    fn valid_legal_entities() {
        for s in ["7707083893", "7736050003", "7702070139", "7728168971"] {
            let inn = Inn::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(inn.as_str(), s);
            assert!(inn.is_legal_entity());
        }
    }

    #[test]
    fn valid_individual() {
        let inn = Inn::parse("500100732259").unwrap();
        assert!(!inn.is_legal_entity());
        assert_eq!(inn.to_string(), "500100732259");
    }

    #[test]
    fn trims_whitespace() {
        assert_eq!(
            Inn::parse("  7707083893\t\n").unwrap().as_str(),
            "7707083893"
        );
    }

    #[test]
    fn rejects_non_digits() {
        assert_eq!(code("77070838a3"), "inn_digits");
        assert_eq!(code("7707 083893"), "inn_digits");
        assert_eq!(code("-707083893"), "inn_digits");
        // Full-width / non-ASCII digits are not accepted.
        assert_eq!(code("７７０７０８３８９３"), "inn_digits");
    }

    #[test]
    fn rejects_wrong_length() {
        let e = Inn::parse("123").unwrap_err();
        assert_eq!(e.code, "inn_length");
        assert_eq!(e.arg("len"), Some("3"));
        assert_eq!(code(""), "inn_length");
        assert_eq!(code("   "), "inn_length");
        assert_eq!(code("77070838931"), "inn_length");
        assert_eq!(code("5001007322590"), "inn_length");
    }

    #[test]
    fn rejects_bad_checksums() {
        assert_eq!(code("7707083894"), "inn_checksum");
        assert_eq!(code("7707083839"), "inn_checksum");
        assert_eq!(code("7736050004"), "inn_checksum");
        // 11th digit wrong.
        assert_eq!(code("500100732249"), "inn_checksum");
        // 12th digit wrong.
        assert_eq!(code("500100732258"), "inn_checksum");
        // Transposed digits.
        assert_eq!(code("500100732295"), "inn_checksum");
    }

    #[test]
    fn with_checksum_reproduces_known_inns() {
        assert_eq!(
            Inn::with_checksum("770708389").unwrap().as_str(),
            "7707083893"
        );
        assert_eq!(
            Inn::with_checksum("773605000").unwrap().as_str(),
            "7736050003"
        );
        assert_eq!(
            Inn::with_checksum("5001007322").unwrap().as_str(),
            "500100732259"
        );
    }

    #[test]
    fn with_checksum_output_always_parses() {
        for i in 0..500u64 {
            let p9 = format!("{:09}", i * 1_999_993 % 1_000_000_000);
            let inn = Inn::with_checksum(&p9).unwrap();
            assert_eq!(Inn::parse(inn.as_str()).unwrap(), inn);
            let p10 = format!("{:010}", i * 19_999_999 % 10_000_000_000);
            let inn = Inn::with_checksum(&p10).unwrap();
            assert_eq!(Inn::parse(inn.as_str()).unwrap(), inn);
        }
    }

    #[test]
    fn with_checksum_rejects_bad_prefix() {
        assert!(Inn::with_checksum("12345678").is_none());
        assert!(Inn::with_checksum("12345678901").is_none());
        assert!(Inn::with_checksum("12345678a").is_none());
        assert!(Inn::with_checksum("").is_none());
    }

    #[test]
    fn serde_roundtrip() {
        let inn = Inn::parse("7707083893").unwrap();
        let json = serde_json::to_string(&inn).unwrap();
        assert_eq!(json, "\"7707083893\"");
        assert_eq!(serde_json::from_str::<Inn>(&json).unwrap(), inn);
        assert!(serde_json::from_str::<Inn>("\"7707083894\"").is_err());
    }
}
