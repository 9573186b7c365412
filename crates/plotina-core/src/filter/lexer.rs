//! On-demand tokenizer. All positions here are BYTE offsets; `filter::parse`
//! converts error positions to character offsets.

use rust_decimal::Decimal;

use super::ast::{CmpOp, RelBase, RelTime, RelUnit};
use super::FilterError;

/// Largest accepted `today±N<unit>` amount.
pub(crate) const MAX_REL_AMOUNT: u64 = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LParen,
    RParen,
    Comma,
    Op(CmpOp),
    And,
    Or,
    Not,
    In,
    Is,
    Null,
    True,
    False,
    Me,
    /// A non-keyword identifier or dotted path, lowercased.
    Path(Vec<String>),
    Str(String),
    Num(Decimal),
    Rel(RelTime),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte range of the token in the input.
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    fn skip_ws_from(&self, mut at: usize) -> usize {
        while let Some(c) = self.src.get(at..).and_then(|s| s.chars().next()) {
            if !c.is_whitespace() {
                break;
            }
            at += c.len_utf8();
        }
        at
    }

    /// End of the run of bytes satisfying `f`, starting at `at`.
    fn run(&self, mut at: usize, f: impl Fn(u8) -> bool) -> usize {
        while self.byte(at).is_some_and(&f) {
            at += 1;
        }
        at
    }

    pub(crate) fn next_token(&mut self) -> Result<Token, FilterError> {
        self.pos = self.skip_ws_from(self.pos);
        let start = self.pos;
        let Some(c) = self.src[start..].chars().next() else {
            return Ok(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
        };
        let next = self.byte(start + 1);
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '=' => (Tok::Op(CmpOp::Eq), 1),
            '~' => (Tok::Op(CmpOp::Contains), 1),
            '!' => match next {
                Some(b'=') => (Tok::Op(CmpOp::Ne), 2),
                Some(b'~') => (Tok::Op(CmpOp::NotContains), 2),
                _ => (Tok::Not, 1),
            },
            '<' if next == Some(b'=') => (Tok::Op(CmpOp::Le), 2),
            '<' => (Tok::Op(CmpOp::Lt), 1),
            '>' if next == Some(b'=') => (Tok::Op(CmpOp::Ge), 2),
            '>' => (Tok::Op(CmpOp::Gt), 1),
            '^' if next == Some(b'=') => (Tok::Op(CmpOp::StartsWith), 2),
            '&' if next == Some(b'&') => (Tok::And, 2),
            '|' if next == Some(b'|') => (Tok::Or, 2),
            '"' | '\'' => return self.lex_string(c),
            '-' if next.is_some_and(|b| b.is_ascii_digit()) => return self.lex_number(),
            c if c.is_ascii_digit() => return self.lex_number(),
            c if c.is_ascii() && is_ident_start(c as u8) => return self.lex_word(),
            c => {
                return Err(FilterError::new("filter_unexpected_char", start)
                    .with_arg("char", c.to_string()));
            }
        };
        self.pos = start + len;
        Ok(Token {
            tok,
            start,
            end: self.pos,
        })
    }

    fn lex_string(&mut self, quote: char) -> Result<Token, FilterError> {
        let start = self.pos;
        let body = start + 1; // quotes are ASCII
        let mut out = String::new();
        let mut it = self.src[body..].char_indices();
        let unterminated = || FilterError::new("filter_unterminated_string", start);
        loop {
            match it.next() {
                None => return Err(unterminated()),
                Some((i, c)) if c == quote => {
                    self.pos = body + i + 1;
                    return Ok(Token {
                        tok: Tok::Str(out),
                        start,
                        end: self.pos,
                    });
                }
                Some((i, '\\')) => match it.next() {
                    None => return Err(unterminated()),
                    Some((_, e)) => out.push(match e {
                        '"' => '"',
                        '\'' => '\'',
                        '\\' => '\\',
                        'n' => '\n',
                        't' => '\t',
                        other => {
                            return Err(FilterError::new("filter_bad_escape", body + i)
                                .with_arg("escape", format!("\\{other}")));
                        }
                    }),
                },
                Some((_, c)) => out.push(c),
            }
        }
    }

    fn lex_number(&mut self) -> Result<Token, FilterError> {
        let start = self.pos;
        let mut p = start;
        if self.byte(p) == Some(b'-') {
            p += 1;
        }
        p = self.run(p, |b| b.is_ascii_digit());
        let mut ok = true;
        if self.byte(p) == Some(b'.') {
            if self.byte(p + 1).is_some_and(|b| b.is_ascii_digit()) {
                p = self.run(p + 1, |b| b.is_ascii_digit());
            } else {
                ok = false;
            }
        }
        // `1e400`, `12abc`, `1.2.3`: a number must not run into letters or dots.
        if self.byte(p).is_some_and(|b| is_ident_char(b) || b == b'.') {
            ok = false;
        }
        let value = if ok {
            Decimal::from_str_exact(&self.src[start..p]).ok()
        } else {
            None
        };
        match value {
            Some(d) => {
                self.pos = p;
                Ok(Token {
                    tok: Tok::Num(d),
                    start,
                    end: p,
                })
            }
            None => {
                // Show the whole offending run, including exponent signs (`1e+400`).
                let mut end = p;
                while let Some(b) = self.byte(end) {
                    let exp_sign =
                        (b == b'+' || b == b'-') && matches!(self.byte(end - 1), Some(b'e' | b'E'));
                    if is_ident_char(b) || b == b'.' || exp_sign {
                        end += 1;
                    } else {
                        break;
                    }
                }
                Err(FilterError::new("filter_bad_number", start)
                    .with_arg("number", self.src[start..end].to_string()))
            }
        }
    }

    fn lex_word(&mut self) -> Result<Token, FilterError> {
        let start = self.pos;
        let mut segments = Vec::new();
        let mut p = start;
        loop {
            let seg_end = self.run(p, is_ident_char);
            segments.push(self.src[p..seg_end].to_ascii_lowercase());
            p = seg_end;
            if self.byte(p) == Some(b'.') && self.byte(p + 1).is_some_and(is_ident_start) {
                p += 1;
            } else {
                break;
            }
        }
        self.pos = p;
        let tok = if segments.len() == 1 {
            match segments[0].as_str() {
                "and" => Tok::And,
                "or" => Tok::Or,
                "not" => Tok::Not,
                "in" => Tok::In,
                "is" => Tok::Is,
                "null" => Tok::Null,
                "true" => Tok::True,
                "false" => Tok::False,
                "me" => Tok::Me,
                "today" => return self.lex_reldate(start, RelBase::Today),
                "now" => return self.lex_reldate(start, RelBase::Now),
                _ => Tok::Path(segments),
            }
        } else {
            Tok::Path(segments)
        };
        Ok(Token { tok, start, end: p })
    }

    /// Called with `self.pos` just after `today`/`now`.
    fn lex_reldate(&mut self, start: usize, base: RelBase) -> Result<Token, FilterError> {
        let word_end = self.pos;
        let mut p = self.skip_ws_from(word_end);
        let negative = match self.byte(p) {
            Some(b'+') => false,
            Some(b'-') => true,
            _ => {
                return Ok(Token {
                    tok: Tok::Rel(RelTime {
                        base,
                        amount: 0,
                        unit: RelUnit::Days,
                    }),
                    start,
                    end: word_end,
                });
            }
        };
        p = self.skip_ws_from(p + 1);
        let digits_start = p;
        p = self.run(p, |b| b.is_ascii_digit());
        let digits = &self.src[digits_start..p];
        let unit = match self.byte(p).map(|b| b.to_ascii_lowercase()) {
            Some(b'h') if base == RelBase::Now => Some(RelUnit::Hours),
            Some(b'd') => Some(RelUnit::Days),
            Some(b'w') => Some(RelUnit::Weeks),
            Some(b'm') => Some(RelUnit::Months),
            Some(b'y') => Some(RelUnit::Years),
            _ => None,
        };
        let amount = digits.parse::<u64>().ok().filter(|n| *n <= MAX_REL_AMOUNT);
        let unit_end = p + 1;
        match (unit, amount) {
            (Some(unit), Some(n)) if !self.byte(unit_end).is_some_and(is_ident_char) => {
                self.pos = unit_end;
                let n = n as i64; // <= MAX_REL_AMOUNT
                Ok(Token {
                    tok: Tok::Rel(RelTime {
                        base,
                        amount: if negative { -n } else { n },
                        unit,
                    }),
                    start,
                    end: unit_end,
                })
            }
            _ => {
                let end = self.run(p, is_ident_char);
                Err(FilterError::new("filter_bad_reldate", start)
                    .with_arg("value", self.src[start..end].to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut lx = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token().unwrap();
            if t.tok == Tok::Eof {
                return out;
            }
            out.push(t.tok);
        }
    }

    fn err(s: &str) -> FilterError {
        let mut lx = Lexer::new(s);
        loop {
            match lx.next_token() {
                Ok(t) if t.tok == Tok::Eof => panic!("no error in {s:?}"),
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    }

    fn num(s: &str) -> Tok {
        Tok::Num(s.parse().unwrap())
    }

    #[test]
    fn operators_and_aliases() {
        use CmpOp::*;
        assert_eq!(
            toks("= != < <= > >= ~ !~ ^= && || ! ( ) ,"),
            vec![
                Tok::Op(Eq),
                Tok::Op(Ne),
                Tok::Op(Lt),
                Tok::Op(Le),
                Tok::Op(Gt),
                Tok::Op(Ge),
                Tok::Op(Contains),
                Tok::Op(NotContains),
                Tok::Op(StartsWith),
                Tok::And,
                Tok::Or,
                Tok::Not,
                Tok::LParen,
                Tok::RParen,
                Tok::Comma
            ]
        );
        assert_eq!(
            toks("a>=1"),
            vec![Tok::Path(vec!["a".into()]), Tok::Op(Ge), num("1")]
        );
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            toks("AND Or nOt IN Is NULL True FALSE Me"),
            vec![
                Tok::And,
                Tok::Or,
                Tok::Not,
                Tok::In,
                Tok::Is,
                Tok::Null,
                Tok::True,
                Tok::False,
                Tok::Me
            ]
        );
    }

    #[test]
    fn paths() {
        assert_eq!(
            toks("Company.Industry custom.region_2 _x"),
            vec![
                Tok::Path(vec!["company".into(), "industry".into()]),
                Tok::Path(vec!["custom".into(), "region_2".into()]),
                Tok::Path(vec!["_x".into()]),
            ]
        );
        // keywords inside a dotted path are plain segments
        assert_eq!(
            toks("x.null"),
            vec![Tok::Path(vec!["x".into(), "null".into()])]
        );
        let e = err("company.");
        assert_eq!((e.code, e.pos), ("filter_unexpected_char", 7));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            toks("0 -5 12.50 007"),
            vec![num("0"), num("-5"), num("12.50"), num("7")]
        );
        for bad in [
            "1e400",
            "1E5",
            "1.",
            "1.2.3",
            "12abc",
            "99999999999999999999999999999999",
            "1_000",
        ] {
            let e = err(bad);
            assert_eq!((e.code, e.pos), ("filter_bad_number", 0), "{bad}");
        }
        assert_eq!(err("1e+400").args, vec![("number", "1e+400".to_string())]);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            toks(r#""a\"b" 'c\'d' "\\ \n \t" 'Привет, мир' "it's" 'say "hi"'"#),
            vec![
                Tok::Str("a\"b".into()),
                Tok::Str("c'd".into()),
                Tok::Str("\\ \n \t".into()),
                Tok::Str("Привет, мир".into()),
                Tok::Str("it's".into()),
                Tok::Str("say \"hi\"".into()),
            ]
        );
        assert_eq!(err(r#""abc"#).code, "filter_unterminated_string");
        assert_eq!(err(r#""abc\"#).code, "filter_unterminated_string");
        let e = err(r#"  "ab\x""#);
        assert_eq!((e.code, e.pos), ("filter_bad_escape", 5));
    }

    #[test]
    fn reldates() {
        let r = |base, amount, unit| Tok::Rel(RelTime { base, amount, unit });
        assert_eq!(
            toks("today TODAY+30d today - 2w now-3h now + 1M today+1y Now"),
            vec![
                r(RelBase::Today, 0, RelUnit::Days),
                r(RelBase::Today, 30, RelUnit::Days),
                r(RelBase::Today, -2, RelUnit::Weeks),
                r(RelBase::Now, -3, RelUnit::Hours),
                r(RelBase::Now, 1, RelUnit::Months),
                r(RelBase::Today, 1, RelUnit::Years),
                r(RelBase::Now, 0, RelUnit::Days),
            ]
        );
        assert_eq!(
            toks("today)"),
            vec![r(RelBase::Today, 0, RelUnit::Days), Tok::RParen]
        );
        for bad in [
            "today+",
            "today+d",
            "today+3",
            "today+3x",
            "today+3h",
            "today+30days",
            "now-",
            "today+1000001d",
        ] {
            let e = err(bad);
            assert_eq!((e.code, e.pos), ("filter_bad_reldate", 0), "{bad}");
        }
        assert_eq!(
            err("today+30days").args,
            vec![("value", "today+30days".to_string())]
        );
    }

    #[test]
    fn unexpected_chars() {
        for (s, pos, c) in [
            ("a & b", 2, "&"),
            ("a | b", 2, "|"),
            ("^a", 0, "^"),
            ("a # 1", 2, "#"),
            ("- 1", 0, "-"),
            ("+1", 0, "+"),
        ] {
            let e = err(s);
            assert_eq!((e.code, e.pos), ("filter_unexpected_char", pos), "{s}");
            assert_eq!(e.args, vec![("char", c.to_string())]);
        }
        // non-ASCII letters are not identifiers; the position here is still in bytes
        let e = err("имя = 1");
        assert_eq!((e.code, e.pos), ("filter_unexpected_char", 0));
    }
}
