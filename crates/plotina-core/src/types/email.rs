//! E-mail addresses.
//!
//! The domain is case-insensitive and is lowercased on input. The local part
//! is kept as typed (RFC 5321 says it *may* be case-sensitive, and users
//! notice when we change it); [`Email::normalized`] gives a fully lowercased
//! form for duplicate matching, where `Ivan@` and `ivan@` are the same person
//! in practice.

use email_address::{EmailAddress, Options};

use super::ValueError;

/// Maximum length of an address (RFC 5321 path limit).
pub const MAX_CHARS: usize = 254;

/// A syntactically valid bare address (`local@domain`, no display name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Trims, checks the length (`email_too_long`, arg `max`) and syntax
    /// (`email_invalid`). Display names (`Ivan <a@b.ru>`), domain literals
    /// (`a@[1.2.3.4]`) and dotless domains (`a@localhost`) are rejected: in a
    /// CRM they are almost always typos.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.chars().count() > MAX_CHARS {
            return Err(ValueError::new("email_too_long").with("max", MAX_CHARS));
        }
        let opts = Options::default()
            .with_required_tld()
            .without_display_text()
            .without_domain_literal();
        let parsed = EmailAddress::parse_with_options(s, opts)
            .map_err(|_| ValueError::new("email_invalid"))?;
        Ok(Email(format!(
            "{}@{}",
            parsed.local_part(),
            parsed.domain().to_lowercase()
        )))
    }

    /// The address with the domain lowercased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Fully lowercased address, the key for duplicate matching.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

string_value!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> &'static str {
        Email::parse(s).unwrap_err().code
    }

    #[test]
    fn valid_and_domain_lowercased() {
        assert_eq!(
            Email::parse("ivan@example.ru").unwrap().as_str(),
            "ivan@example.ru"
        );
        let e = Email::parse("  Ivan.Petrov@Example.RU ").unwrap();
        assert_eq!(e.as_str(), "Ivan.Petrov@example.ru");
        assert_eq!(e.to_string(), "Ivan.Petrov@example.ru");
        assert_eq!(e.normalized(), "ivan.petrov@example.ru");
        assert_eq!(
            Email::parse("sales+crm@mail.example.com").unwrap().as_str(),
            "sales+crm@mail.example.com"
        );
    }

    #[test]
    fn cyrillic_domain() {
        let e = Email::parse("Инфо@Пример.РФ").unwrap();
        assert_eq!(e.as_str(), "Инфо@пример.рф");
        assert_eq!(e.normalized(), "инфо@пример.рф");
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "ivan",
            "ivan@",
            "@example.ru",
            "ivan@@example.ru",
            "ivan example@example.ru",
            "ivan@localhost",
            "Ivan <ivan@example.ru>",
            "ivan@[127.0.0.1]",
            "ivan@example..ru",
        ] {
            assert_eq!(code(s), "email_invalid", "{s:?}");
        }
    }

    #[test]
    fn too_long() {
        let long = format!("{}@{}.ru", "a".repeat(60), "b".repeat(200));
        let e = Email::parse(&long).unwrap_err();
        assert_eq!(e.code, "email_too_long");
        assert_eq!(e.arg("max"), Some("254"));
    }

    #[test]
    fn serde_roundtrip() {
        let e = Email::parse("Ivan@Example.ru").unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"Ivan@example.ru\"");
        assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), e);
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }
}
