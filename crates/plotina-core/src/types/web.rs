//! Web site addresses (a company's site field).
//!
//! Only `http`/`https` are accepted: other schemes (`javascript:`, `data:`,
//! `file:`) are useless for a site link and dangerous in an `href`. Users
//! usually type a bare domain, so `example.ru` becomes `https://example.ru/`.
//! The stored form is the `url` crate's serialisation: lowercase scheme and
//! host, IDN hosts in punycode (`пример.рф` → `xn--e1afmkfd.xn--p1ai`), and
//! a `/` path for bare hosts.

use url::Url;

use super::ValueError;

/// Longest accepted input; longer "URLs" are pasted garbage.
pub const MAX_CHARS: usize = 2000;

/// An absolute http(s) URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebUrl(String);

/// Does `s` start with an explicit scheme (`xxx:`)? A `host:port` prefix
/// (`example.ru:8080/…`) is not a scheme.
fn has_scheme(s: &str) -> bool {
    let Some((head, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = head.chars();
    let is_scheme_token = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme_token {
        return false;
    }
    let port_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let is_port = port_len > 0
        && matches!(
            rest.as_bytes().get(port_len),
            None | Some(b'/' | b'?' | b'#')
        );
    !is_port
}

impl WebUrl {
    /// Trims and validates. Errors: `url_too_long` (arg `max`), `url_invalid`
    /// (unparseable, no host, or a bare word without a dot), `url_scheme`
    /// (anything but http/https).
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.chars().count() > MAX_CHARS {
            return Err(ValueError::new("url_too_long").with("max", MAX_CHARS));
        }
        if s.is_empty() {
            return Err(ValueError::new("url_invalid"));
        }
        let bare = !has_scheme(s);
        let url = if bare {
            Url::parse(&format!("https://{s}"))
        } else {
            Url::parse(s)
        }
        .map_err(|_| ValueError::new("url_invalid"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ValueError::new("url_scheme"));
        }
        let host = url.host_str().unwrap_or("");
        // A bare word ("нет", "localhost") typed into the site field is not a site.
        if host.is_empty() || (bare && !host.contains('.')) {
            return Err(ValueError::new("url_invalid"));
        }
        Ok(WebUrl(url.into()))
    }

    /// The normalised absolute URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(WebUrl);

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        WebUrl::parse(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .to_string()
    }

    fn code(s: &str) -> &'static str {
        WebUrl::parse(s).unwrap_err().code
    }

    #[test]
    fn explicit_schemes() {
        assert_eq!(ok("https://example.ru"), "https://example.ru/");
        assert_eq!(
            ok("http://example.ru/about?x=1#top"),
            "http://example.ru/about?x=1#top"
        );
        assert_eq!(ok("HTTPS://Example.RU/Path"), "https://example.ru/Path");
        assert_eq!(ok("https://localhost:8080/"), "https://localhost:8080/");
    }

    #[test]
    fn bare_domains_get_https() {
        assert_eq!(ok("example.ru"), "https://example.ru/");
        assert_eq!(ok("  www.example.ru "), "https://www.example.ru/");
        assert_eq!(ok("example.ru/contacts"), "https://example.ru/contacts");
        assert_eq!(ok("example.ru:8080/x"), "https://example.ru:8080/x");
        assert_eq!(
            ok("example.ru/go?to=http://other.ru"),
            "https://example.ru/go?to=http://other.ru"
        );
        assert_eq!(ok("пример.рф"), "https://xn--e1afmkfd.xn--p1ai/");
    }

    #[test]
    fn wrong_scheme() {
        for s in [
            "ftp://example.ru",
            "mailto:ivan@example.ru",
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
            "file:///etc/passwd",
        ] {
            assert_eq!(code(s), "url_scheme", "{s:?}");
        }
    }

    #[test]
    fn invalid() {
        for s in [
            "",
            "   ",
            "нет",
            "localhost",
            "https://",
            "http://exa mple.ru",
            "example.ru:99999",
        ] {
            assert_eq!(code(s), "url_invalid", "{s:?}");
        }
    }

    #[test]
    fn too_long() {
        let s = format!("https://example.ru/{}", "a".repeat(MAX_CHARS));
        let e = WebUrl::parse(&s).unwrap_err();
        assert_eq!(e.code, "url_too_long");
        assert_eq!(e.arg("max"), Some("2000"));
        let fits = format!("https://example.ru/{}", "a".repeat(MAX_CHARS - 19));
        assert!(WebUrl::parse(&fits).is_ok());
    }

    #[test]
    fn serde_roundtrip() {
        let u = WebUrl::parse("example.ru").unwrap();
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(json, "\"https://example.ru/\"");
        assert_eq!(serde_json::from_str::<WebUrl>(&json).unwrap(), u);
        assert!(serde_json::from_str::<WebUrl>("\"ftp://x.ru\"").is_err());
    }
}
