//! Validated value newtypes (INN, KPP, phone, e-mail, money, URL) and name
//! normalisation helpers.
//!
//! Every newtype can only be built through `parse`, so holding one is proof
//! that the value was validated and normalised. Errors carry a stable machine
//! `code` instead of a human message: the UI looks the code up in the
//! localisation bundle, so the core crate stays language-neutral.

use std::fmt;

/// A value that failed to parse. `code` is a stable machine code (snake_case)
/// used to look up the localized message; `args` are message arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl ValueError {
    /// An error with the given code and no arguments.
    pub fn new(code: &'static str) -> Self {
        ValueError {
            code,
            args: Vec::new(),
        }
    }

    /// Adds a message argument (builder style).
    pub fn with(mut self, k: &'static str, v: impl ToString) -> Self {
        self.args.push((k, v.to_string()));
        self
    }

    /// The value of argument `k`, if present.
    pub fn arg(&self, k: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Machine-readable form, e.g. `inn_length(len=5)`; never shown to users.
impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)?;
        if !self.args.is_empty() {
            f.write_str("(")?;
            for (i, (k, v)) in self.args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValueError {}

/// Implements the boilerplate shared by the string-backed newtypes:
/// `Display`, `FromStr`, `AsRef<str>`, serde as a plain string (deserialising
/// goes through `parse`, so invalid values cannot sneak in via JSON).
/// The type must provide `parse(&str) -> Result<Self, ValueError>` and
/// `as_str(&self) -> &str`.
macro_rules! string_value {
    ($ty:ident) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::types::ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub mod email;
pub mod inn;
pub mod kpp;
pub mod money;
pub mod names;
pub mod phone;
pub mod web;

pub use email::Email;
pub use inn::Inn;
pub use kpp::Kpp;
pub use money::{Currency, Money};
pub use names::{normalize_company_name, normalize_person_name, search_text};
pub use phone::Phone;
pub use web::WebUrl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_error_builder_and_display() {
        let e = ValueError::new("inn_length").with("len", 5).with("x", "y");
        assert_eq!(e.code, "inn_length");
        assert_eq!(e.arg("len"), Some("5"));
        assert_eq!(e.arg("nope"), None);
        assert_eq!(e.to_string(), "inn_length(len=5, x=y)");
        assert_eq!(ValueError::new("kpp_format").to_string(), "kpp_format");
    }

    #[test]
    fn value_error_is_std_error() {
        let e: Box<dyn std::error::Error> = Box::new(ValueError::new("x"));
        assert_eq!(e.to_string(), "x");
    }
}
