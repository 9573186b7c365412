//! КПП — tax registration reason code of an organisation's subdivision.
//!
//! Format `NNNNPPXXX`: 4-digit tax office code, 2-char reason (digits or
//! Latin capitals since 2019), 3-digit sequence number. There is no checksum.

use super::ValueError;

/// A well-formed KPP (uppercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kpp(String);

impl Kpp {
    /// Trims, uppercases ASCII letters and checks the `NNNNPPXXX` shape;
    /// any deviation is `kpp_format`.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        let ok = b.len() == 9
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4..6]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && b[6..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(Kpp(s))
        } else {
            Err(ValueError::new("kpp_format"))
        }
    }

    /// The nine characters of the KPP.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(Kpp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid() {
        assert_eq!(Kpp::parse("773601001").unwrap().as_str(), "773601001");
        assert_eq!(Kpp::parse(" 7736AB001 ").unwrap().as_str(), "7736AB001");
        assert_eq!(Kpp::parse("7736ab001").unwrap().as_str(), "7736AB001");
        assert_eq!(Kpp::parse("77360Z001").unwrap().to_string(), "77360Z001");
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "77360100",
            "7736010011",
            "7736 01001",
            "A73601001",
            "773601A01",
            "7736АВ001", // Cyrillic А and В
            "7736-1001",
            "77360100١", // Arabic-Indic digit
        ] {
            assert_eq!(Kpp::parse(s).unwrap_err().code, "kpp_format", "{s:?}");
        }
    }

    #[test]
    fn serde_roundtrip() {
        let k = Kpp::parse("773601001").unwrap();
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, "\"773601001\"");
        assert_eq!(serde_json::from_str::<Kpp>(&json).unwrap(), k);
        assert!(serde_json::from_str::<Kpp>("\"77360100\"").is_err());
    }
}
