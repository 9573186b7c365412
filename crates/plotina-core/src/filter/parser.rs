//! Recursive-descent parser. Works on BYTE offsets; `filter::parse` converts the
//! error position to a character offset.

use super::ast::{Condition, Expr, Literal, Path, Test};
use super::lexer::{Lexer, Tok, Token};
use super::{FilterError, MAX_DEPTH, MAX_IN_VALUES};

/// Longest token text echoed back in an error argument.
const MAX_TOKEN_ECHO: usize = 40;

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    cur: Token,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> Result<Self, FilterError> {
        let mut lexer = Lexer::new(src);
        let cur = lexer.next_token()?;
        Ok(Parser {
            src,
            lexer,
            cur,
            depth: 0,
        })
    }

    /// Parses the whole input; `Ok(None)` if it holds no tokens.
    pub(crate) fn parse_all(mut self) -> Result<Option<Expr>, FilterError> {
        if self.cur.tok == Tok::Eof {
            return Ok(None);
        }
        let e = self.parse_or()?;
        if self.cur.tok != Tok::Eof {
            return Err(self.error_here("filter_trailing_input"));
        }
        Ok(Some(e))
    }

    fn bump(&mut self) -> Result<Token, FilterError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.cur, next))
    }

    /// Error at the current token, with its text as the `token` argument
    /// (empty at end of input).
    fn error_here(&self, code: &'static str) -> FilterError {
        let text = self.src.get(self.cur.start..self.cur.end).unwrap_or("");
        let mut echo: String = text.chars().take(MAX_TOKEN_ECHO).collect();
        if text.chars().nth(MAX_TOKEN_ECHO).is_some() {
            echo.push('…');
        }
        FilterError::new(code, self.cur.start).with_arg("token", echo)
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::new("filter_too_deep", self.cur.start)
                .with_arg("max", MAX_DEPTH.to_string()));
        }
        Ok(())
    }

    fn parse_or(&mut self) -> Result<Expr, FilterError> {
        let first = self.parse_and()?;
        if self.cur.tok != Tok::Or {
            return Ok(first);
        }
        let mut xs = vec![first];
        while self.cur.tok == Tok::Or {
            self.bump()?;
            xs.push(self.parse_and()?);
        }
        Ok(Expr::Or(xs))
    }

    fn parse_and(&mut self) -> Result<Expr, FilterError> {
        let first = self.parse_unary()?;
        if self.cur.tok != Tok::And {
            return Ok(first);
        }
        let mut xs = vec![first];
        while self.cur.tok == Tok::And {
            self.bump()?;
            xs.push(self.parse_unary()?);
        }
        Ok(Expr::And(xs))
    }

    fn parse_unary(&mut self) -> Result<Expr, FilterError> {
        if self.cur.tok != Tok::Not {
            return self.parse_primary();
        }
        self.enter()?;
        self.bump()?;
        let inner = self.parse_unary()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner)))
    }

    fn parse_primary(&mut self) -> Result<Expr, FilterError> {
        match self.cur.tok {
            Tok::LParen => {
                self.enter()?;
                self.bump()?;
                let e = self.parse_or()?;
                if self.cur.tok != Tok::RParen {
                    return Err(self.error_here("filter_expected_close_paren"));
                }
                self.bump()?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Path(_) => self.parse_condition(),
            Tok::Eof => Err(self.error_here("filter_expected_field")),
            _ => Err(self.error_here("filter_unexpected_token")),
        }
    }

    fn parse_condition(&mut self) -> Result<Expr, FilterError> {
        let t = self.bump()?;
        let Tok::Path(segments) = t.tok else {
            return Err(FilterError::new("filter_expected_field", t.start));
        };
        let path = Path {
            segments,
            pos: t.start,
        };
        let test = match self.cur.tok {
            Tok::Op(op) => {
                self.bump()?;
                Test::Cmp(op, self.parse_value()?)
            }
            Tok::In => {
                self.bump()?;
                Test::In {
                    values: self.parse_list()?,
                    negated: false,
                }
            }
            Tok::Not => {
                self.bump()?;
                if self.cur.tok != Tok::In {
                    return Err(self.error_here("filter_expected_in"));
                }
                self.bump()?;
                Test::In {
                    values: self.parse_list()?,
                    negated: true,
                }
            }
            Tok::Is => {
                self.bump()?;
                let negated = self.cur.tok == Tok::Not;
                if negated {
                    self.bump()?;
                }
                if self.cur.tok != Tok::Null {
                    return Err(self.error_here("filter_expected_null"));
                }
                self.bump()?;
                Test::IsNull { negated }
            }
            _ => return Err(self.error_here("filter_expected_operator")),
        };
        Ok(Expr::Cond(Condition { path, test }))
    }

    fn parse_list(&mut self) -> Result<Vec<Literal>, FilterError> {
        if self.cur.tok != Tok::LParen {
            return Err(self.error_here("filter_expected_open_paren"));
        }
        let open = self.bump()?;
        if self.cur.tok == Tok::RParen {
            return Err(FilterError::new("filter_empty_in", open.start));
        }
        let mut values = Vec::new();
        loop {
            if values.len() >= MAX_IN_VALUES {
                return Err(FilterError::new("filter_too_long", self.cur.start)
                    .with_arg("max", MAX_IN_VALUES.to_string()));
            }
            values.push(self.parse_value()?);
            match self.cur.tok {
                Tok::Comma => {
                    self.bump()?;
                }
                Tok::RParen => {
                    self.bump()?;
                    return Ok(values);
                }
                _ => return Err(self.error_here("filter_expected_close_paren")),
            }
        }
    }

    fn parse_value(&mut self) -> Result<Literal, FilterError> {
        let is_value = matches!(
            self.cur.tok,
            Tok::Str(_) | Tok::Num(_) | Tok::True | Tok::False | Tok::Null | Tok::Me | Tok::Rel(_)
        );
        if !is_value {
            return Err(self.error_here("filter_expected_value"));
        }
        let t = self.bump()?;
        let pos = t.start;
        Ok(match t.tok {
            Tok::Str(s) => Literal::Str(s, pos),
            Tok::Num(d) => Literal::Num(d, pos),
            Tok::True => Literal::Bool(true, pos),
            Tok::False => Literal::Bool(false, pos),
            Tok::Me => Literal::Me(pos),
            Tok::Rel(r) => Literal::Rel(r, pos),
            _ => Literal::Null(pos),
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use crate::filter::ast::{
        CmpOp, Condition, Expr, Literal, Path, RelBase, RelTime, RelUnit, Test,
    };
    use crate::filter::{and_all, char_pos, parse, FilterError};

    // ---- builders (positions zeroed) ----------------------------------------

    fn p(s: &str) -> Expr {
        parse(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .unwrap_or_else(|| panic!("{s:?}: empty"))
            .without_positions()
    }
    fn path(s: &str) -> Path {
        Path {
            segments: s.split('.').map(String::from).collect(),
            pos: 0,
        }
    }
    fn cond(f: &str, test: Test) -> Expr {
        Expr::Cond(Condition {
            path: path(f),
            test,
        })
    }
    fn cmp(f: &str, op: CmpOp, lit: Literal) -> Expr {
        cond(f, Test::Cmp(op, lit))
    }
    fn eq(f: &str, lit: Literal) -> Expr {
        cmp(f, CmpOp::Eq, lit)
    }
    fn s(x: &str) -> Literal {
        Literal::Str(x.into(), 0)
    }
    fn n(x: &str) -> Literal {
        Literal::Num(x.parse::<Decimal>().unwrap(), 0)
    }
    fn rel(base: RelBase, amount: i64, unit: RelUnit) -> Literal {
        Literal::Rel(RelTime { base, amount, unit }, 0)
    }
    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }
    fn err(s: &str) -> FilterError {
        match parse(s) {
            Err(e) => e,
            Ok(x) => panic!("{s:?} parsed: {x:?}"),
        }
    }
    #[track_caller]
    fn assert_err(s: &str, code: &str, pos: usize) {
        let e = err(s);
        assert_eq!((e.code, e.pos), (code, pos), "{s:?} -> {e}");
    }

    // ---- happy paths ---------------------------------------------------------

    #[test]
    fn spec_example() {
        let e = p(
            r#"stage = "won" and amount >= 100000 and (owner = me or company.industry in ("retail", "auto")) and close_date < today+30d"#,
        );
        assert_eq!(
            e,
            Expr::And(vec![
                eq("stage", s("won")),
                cmp("amount", CmpOp::Ge, n("100000")),
                Expr::Or(vec![
                    eq("owner", Literal::Me(0)),
                    cond(
                        "company.industry",
                        Test::In {
                            values: vec![s("retail"), s("auto")],
                            negated: false
                        }
                    ),
                ]),
                cmp(
                    "close_date",
                    CmpOp::Lt,
                    rel(RelBase::Today, 30, RelUnit::Days)
                ),
            ])
        );
    }

    #[test]
    fn positions_are_byte_offsets() {
        let src = r#"name = "Иван" and age >= 18"#;
        let Some(Expr::And(xs)) = parse(src).unwrap() else {
            panic!()
        };
        let Expr::Cond(c) = &xs[1] else { panic!() };
        assert_eq!(c.path.pos, src.find("age").unwrap());
        let Test::Cmp(_, lit) = &c.test else { panic!() };
        assert_eq!(lit.pos(), src.find("18").unwrap());
        assert_eq!(char_pos(src, c.path.pos), 18);
        let Expr::Cond(c0) = &xs[0] else { panic!() };
        assert_eq!(
            (c0.path.pos, c0.test.clone()),
            (0, Test::Cmp(CmpOp::Eq, Literal::Str("Иван".into(), 7)))
        );
    }

    #[test]
    fn precedence() {
        let (a, b, c) = (eq("a", n("1")), eq("b", n("2")), eq("c", n("3")));
        assert_eq!(
            p("a=1 or b=2 and c=3"),
            Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            p("a=1 and b=2 or c=3"),
            Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            p("(a=1 or b=2) and c=3"),
            Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            p("a=1 or b=2 or c=3"),
            Expr::Or(vec![a.clone(), b.clone(), c.clone()])
        );
        assert_eq!(
            p("a=1 and (b=2 and c=3)"),
            Expr::And(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(p("((a=1))"), a);
        assert_eq!(p("a=1 || b=2 && c=3"), p("a=1 or b=2 and c=3"));
    }

    #[test]
    fn negation() {
        let (a, b) = (eq("a", n("1")), eq("b", n("2")));
        assert_eq!(p("not a=1"), not(a.clone()));
        assert_eq!(
            p("NOT a=1 and b=2"),
            Expr::And(vec![not(a.clone()), b.clone()])
        );
        assert_eq!(
            p("not (a=1 and b=2)"),
            not(Expr::And(vec![a.clone(), b.clone()]))
        );
        assert_eq!(p("not not a=1"), not(not(a.clone())));
        assert_eq!(p("!a=1"), not(a.clone()));
        assert_eq!(p("!(a=1)"), not(a.clone()));
        assert_eq!(p("!!a = 1"), not(not(a.clone())));
        assert_eq!(p("a != 1"), cmp("a", CmpOp::Ne, n("1")));
    }

    #[test]
    fn operators() {
        for (op, want) in [
            ("=", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<", CmpOp::Lt),
            ("<=", CmpOp::Le),
            (">", CmpOp::Gt),
            (">=", CmpOp::Ge),
            ("~", CmpOp::Contains),
            ("!~", CmpOp::NotContains),
            ("^=", CmpOp::StartsWith),
        ] {
            assert_eq!(p(&format!("x{op}\"v\"")), cmp("x", want, s("v")), "{op}");
            assert_eq!(p(&format!("x {op} 5")), cmp("x", want, n("5")), "{op}");
        }
        assert_eq!(p("x=-5"), eq("x", n("-5")));
        assert_eq!(p("x!=-5.25"), cmp("x", CmpOp::Ne, n("-5.25")));
    }

    #[test]
    fn in_lists() {
        let vals = vec![
            s("a"),
            n("1"),
            Literal::Bool(true, 0),
            Literal::Null(0),
            Literal::Me(0),
            rel(RelBase::Now, 0, RelUnit::Days),
        ];
        assert_eq!(
            p(r#"x in ("a", 1, true, null, me, now)"#),
            cond(
                "x",
                Test::In {
                    values: vals.clone(),
                    negated: false
                }
            )
        );
        assert_eq!(
            p(r#"x NOT IN ('a',1,TRUE,Null,ME,NOW)"#),
            cond(
                "x",
                Test::In {
                    values: vals,
                    negated: true
                }
            )
        );
        assert_eq!(
            p("x ! in (1)"),
            cond(
                "x",
                Test::In {
                    values: vec![n("1")],
                    negated: true
                }
            )
        );
        assert_eq!(
            p("x in(1)"),
            cond(
                "x",
                Test::In {
                    values: vec![n("1")],
                    negated: false
                }
            )
        );
        let many = (0..500)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let Expr::Cond(c) = p(&format!("x in ({many})")) else {
            panic!()
        };
        assert!(matches!(c.test, Test::In { ref values, .. } if values.len() == 500));
    }

    #[test]
    fn null_tests() {
        assert_eq!(p("x is null"), cond("x", Test::IsNull { negated: false }));
        assert_eq!(
            p("x IS NOT NULL"),
            cond("x", Test::IsNull { negated: true })
        );
        assert_eq!(p("x is ! null"), cond("x", Test::IsNull { negated: true }));
        assert_eq!(p("x = null"), eq("x", Literal::Null(0)));
        assert_eq!(p("x != NULL"), cmp("x", CmpOp::Ne, Literal::Null(0)));
    }

    #[test]
    fn literals() {
        assert_eq!(p("x = true"), eq("x", Literal::Bool(true, 0)));
        assert_eq!(p("x = False"), eq("x", Literal::Bool(false, 0)));
        assert_eq!(p("x = me"), eq("x", Literal::Me(0)));
        assert_eq!(p("x = 0.000001"), eq("x", n("0.000001")));
        assert_eq!(
            p("x = 79228162514264337593543950335"),
            eq("x", Literal::Num(Decimal::MAX, 0))
        );
        assert_eq!(p(r#"d = "2026-01-31""#), eq("d", s("2026-01-31")));
        assert_eq!(
            p("d < today"),
            cmp("d", CmpOp::Lt, rel(RelBase::Today, 0, RelUnit::Days))
        );
        assert_eq!(
            p("d < today - 2w"),
            cmp("d", CmpOp::Lt, rel(RelBase::Today, -2, RelUnit::Weeks))
        );
        assert_eq!(
            p("d > now-12h"),
            cmp("d", CmpOp::Gt, rel(RelBase::Now, -12, RelUnit::Hours))
        );
        assert_eq!(
            p("d > Today+6M"),
            cmp("d", CmpOp::Gt, rel(RelBase::Today, 6, RelUnit::Months))
        );
        assert_eq!(
            p("d > now+1y"),
            cmp("d", CmpOp::Gt, rel(RelBase::Now, 1, RelUnit::Years))
        );
        assert_eq!(
            p("d > today+100000d"),
            cmp("d", CmpOp::Gt, rel(RelBase::Today, 100_000, RelUnit::Days))
        );
    }

    #[test]
    fn strings_escapes_and_cyrillic() {
        assert_eq!(p(r#"name = "Иван Петров""#), eq("name", s("Иван Петров")));
        assert_eq!(p("name ~ 'ёжик'"), cmp("name", CmpOp::Contains, s("ёжик")));
        assert_eq!(p(r#"q = "say \"hi\"""#), eq("q", s("say \"hi\"")));
        assert_eq!(p(r#"q = 'it\'s'"#), eq("q", s("it's")));
        assert_eq!(p(r#"q = "it's""#), eq("q", s("it's")));
        assert_eq!(p(r#"q = 'a "b"'"#), eq("q", s("a \"b\"")));
        assert_eq!(p(r#"q = "c:\\dir\n\tx""#), eq("q", s("c:\\dir\n\tx")));
        assert_eq!(p(r#"q = """#), eq("q", s("")));
        assert_eq!(p("q = \"line\nbreak\""), eq("q", s("line\nbreak")));
        assert_eq!(p("q = '😀 日本'"), eq("q", s("😀 日本")));
    }

    #[test]
    fn paths_and_whitespace() {
        assert_eq!(p("Custom.Region = 'x'"), eq("custom.region", s("x")));
        assert_eq!(p("parent.stage='x'"), eq("parent.stage", s("x")));
        assert_eq!(p("children.stage = 'x'"), eq("children.stage", s("x")));
        assert_eq!(p("_a1.b_2 = 1"), eq("_a1.b_2", n("1")));
        assert_eq!(p("x.in = 1"), eq("x.in", n("1")));
        assert_eq!(p("\t\n a\u{a0}=\u{3000}1 \r\n"), eq("a", n("1")));
        assert_eq!(p("inside = 1 and nothing = 2 and order = 3"), {
            Expr::And(vec![
                eq("inside", n("1")),
                eq("nothing", n("2")),
                eq("order", n("3")),
            ])
        });
    }

    #[test]
    fn empty_input() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   \n\t "), Ok(None));
        assert_eq!(parse("\u{a0}\u{2003}"), Ok(None));
    }

    #[test]
    fn and_all_helper() {
        let (a, b, c) = (p("a=1"), p("b=2"), p("c=3"));
        assert_eq!(and_all(vec![]), None);
        assert_eq!(and_all(vec![Expr::And(vec![])]), None);
        assert_eq!(and_all(vec![a.clone()]), Some(a.clone()));
        assert_eq!(
            and_all(vec![a.clone(), b.clone()]),
            Some(Expr::And(vec![a.clone(), b.clone()]))
        );
        assert_eq!(
            and_all(vec![p("a=1 and b=2"), c.clone()]),
            Some(Expr::And(vec![a.clone(), b.clone(), c.clone()]))
        );
        let or = p("a=1 or b=2");
        assert_eq!(
            and_all(vec![or.clone(), c.clone()]),
            Some(Expr::And(vec![or, c]))
        );
    }

    // ---- errors ----------------------------------------------------------------

    #[test]
    fn error_codes_and_positions() {
        assert_err(r#"stage = "won" & x = 1"#, "filter_unexpected_char", 14);
        assert_err("a = 1 | b = 2", "filter_unexpected_char", 6);
        assert_err("a # 1", "filter_unexpected_char", 2);
        assert_err("a = .5", "filter_unexpected_char", 4);
        assert_err("a = +5", "filter_unexpected_char", 4);
        assert_err(r#"name = "abc"#, "filter_unterminated_string", 7);
        assert_err(r#"name = 'abc\'"#, "filter_unterminated_string", 7);
        assert_err(r#"name = "a\q""#, "filter_bad_escape", 9);
        assert_err("stage = won", "filter_expected_value", 8);
        assert_err("stage =", "filter_expected_value", 7);
        assert_err("stage = = 1", "filter_expected_value", 8);
        assert_err("x in (1,)", "filter_expected_value", 8);
        assert_err("x in (,1)", "filter_expected_value", 6);
        assert_err(r#"stage "won""#, "filter_expected_operator", 6);
        assert_err("stage", "filter_expected_operator", 5);
        assert_err("stage == 1", "filter_expected_value", 7);
        assert_err("(a = 1 or b = 2", "filter_expected_close_paren", 15);
        assert_err("(a = 1 b = 2)", "filter_expected_close_paren", 7);
        assert_err("x in (1, 2", "filter_expected_close_paren", 10);
        assert_err("x in (1 2)", "filter_expected_close_paren", 8);
        assert_err("and a = 1", "filter_unexpected_token", 0);
        assert_err("a = 1 and or b = 1", "filter_unexpected_token", 10);
        assert_err("me = 1", "filter_unexpected_token", 0);
        assert_err("today = 1", "filter_unexpected_token", 0);
        assert_err("= 1", "filter_unexpected_token", 0);
        assert_err("()", "filter_unexpected_token", 1);
        assert_err("'a' = 1", "filter_unexpected_token", 0);
        assert_err("a = 1 and", "filter_expected_field", 9);
        assert_err("not", "filter_expected_field", 3);
        assert_err("(", "filter_expected_field", 1);
        assert_err("amount > 1e400", "filter_bad_number", 9);
        assert_err(
            "amount > 99999999999999999999999999999999",
            "filter_bad_number",
            9,
        );
        assert_err("amount > 1.5.2", "filter_bad_number", 9);
        assert_err("amount > 10k", "filter_bad_number", 9);
        assert_err("close_date < today+30x", "filter_bad_reldate", 13);
        assert_err("close_date < today+3h", "filter_bad_reldate", 13);
        assert_err("close_date < now-", "filter_bad_reldate", 13);
        assert_err("close_date < today+1000000d", "filter_bad_reldate", 13);
        assert_err("x in ()", "filter_empty_in", 5);
        assert_err("x not in ( )", "filter_empty_in", 9);
        assert_err("a = 1 b = 2", "filter_trailing_input", 6);
        assert_err("a = 1)", "filter_trailing_input", 5);
        assert_err("a = 1 not", "filter_trailing_input", 6);
        assert_err("a not = 1", "filter_expected_in", 6);
        assert_err("a not", "filter_expected_in", 5);
        assert_err("a is 1", "filter_expected_null", 5);
        assert_err("a is not", "filter_expected_null", 8);
        assert_err("a in 1", "filter_expected_open_paren", 5);
        assert_err("a in", "filter_expected_open_paren", 4);
    }

    #[test]
    fn error_args() {
        assert_eq!(
            err("a = 1 and or b = 1").args,
            vec![("token", "or".to_string())]
        );
        assert_eq!(err("stage = won").arg("token"), Some("won"));
        assert_eq!(err("stage =").arg("token"), Some(""));
        assert_eq!(err("a = 1 b = 2").arg("token"), Some("b"));
        assert_eq!(err("a # 1").arg("char"), Some("#"));
        assert_eq!(err("amount > 1e400").arg("number"), Some("1e400"));
        assert_eq!(err("d < today+3q").arg("value"), Some("today+3q"));
        assert_eq!(err(r#"a = "x\u""#).arg("escape"), Some("\\u"));
        let long = format!("a = 1 \"{}\"", "x".repeat(100));
        let tok = err(&long).arg("token").unwrap().to_string();
        assert_eq!(tok.chars().count(), 41);
        assert!(tok.ends_with('…'));
    }

    #[test]
    fn error_positions_are_characters() {
        // "name = \"Привет\" and " is 20 characters but 26 bytes
        assert_err(
            r#"name = "Привет" and фамилия = 1"#,
            "filter_unexpected_char",
            20,
        );
        assert_eq!(
            err(r#"name = "Привет" and фамилия = 1"#).arg("char"),
            Some("ф")
        );
        assert_err("имя = 1", "filter_unexpected_char", 0);
        assert_err(r#"a = "ё" b"#, "filter_trailing_input", 8);
        assert_err(r#"a = "日本" and"#, "filter_expected_field", 12);
        assert_err(r#"a = "😀" or b = "x"#, "filter_unterminated_string", 15);
        assert_err(r#"a = "Ж" and b = 1e5"#, "filter_bad_number", 16);
        assert_err(r#"a in ("Ж", "Ё",)"#, "filter_expected_value", 15);
        assert_err(r#"(a = "щ""#, "filter_expected_close_paren", 8);
    }

    #[test]
    fn limits() {
        // input length counts characters, not bytes
        let fits = format!("a = \"{}\"", "Ж".repeat(4000 - 6));
        assert_eq!(fits.chars().count(), 4000);
        assert!(parse(&fits).is_ok());
        let over = format!("a = \"{}\"", "Ж".repeat(4000 - 5));
        assert_err(&over, "filter_too_long", 4000);
        assert_eq!(err(&over).arg("max"), Some("4000"));
        assert_err(&" ".repeat(4001), "filter_too_long", 4000);

        // in-list size
        let list = |k: usize| {
            format!(
                "x in ({})",
                (0..k).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
            )
        };
        assert!(parse(&list(500)).is_ok());
        let l501 = list(501);
        let pos501 = l501.rfind(",500").unwrap() + 1;
        assert_err(&l501, "filter_too_long", pos501);
        assert_eq!(err(&l501).arg("max"), Some("500"));

        // nesting
        let parens = |k: usize| format!("{}a = 1{}", "(".repeat(k), ")".repeat(k));
        assert!(parse(&parens(32)).is_ok());
        assert_err(&parens(33), "filter_too_deep", 32);
        assert_eq!(err(&parens(33)).arg("max"), Some("32"));
        let nots = |k: usize| format!("{}a = 1", "not ".repeat(k));
        assert!(parse(&nots(32)).is_ok());
        assert_err(&nots(33), "filter_too_deep", 128);
        let mixed = |k: usize| format!("{}a = 1{}", "not (".repeat(k), ")".repeat(k));
        assert!(parse(&mixed(16)).is_ok());
        assert_err(&mixed(17), "filter_too_deep", 80);
        // siblings do not add depth
        let wide = vec!["(((a = 1)))"; 250].join(" or ");
        assert!(parse(&wide).is_ok());
        // deep garbage is cut off early instead of overflowing the stack
        assert_err(&"(".repeat(3999), "filter_too_deep", 32);
        assert_err(&"!".repeat(3999), "filter_too_deep", 32);
    }

    // ---- round trip ------------------------------------------------------------

    const EXAMPLES: &[&str] = &[
        r#"stage = "won" and amount >= 100000 and (owner = me or company.industry in ("retail", "auto")) and close_date < today+30d"#,
        "a=1 or b=2 and c=3",
        "(a=1 or b=2) and c=3",
        "a=1 and (b=2 and c=3) and d=4",
        "a=1 or (b=2 or c=3)",
        "((a=1 or b=2)) or c=3",
        "not a=1",
        "not (a=1 or b=2)",
        "not not (a=1 and b=2)",
        "!(a=1) && !!b=2 || c=3",
        "not (not a = 1)",
        r#"x in ("a", 'b', 1, -2.50, true, false, null, me, today, now-3h)"#,
        "x not in (1)",
        "x is null and y is not null",
        "x = null or x != NULL",
        r#"name ~ "Иван" and name !~ 'петров' and name ^= "И""#,
        r#"q = "say \"hi\" \\ it's\n\t""#,
        r#"q = 'a "b" \'c\''"#,
        "q = ''",
        "d < today and d >= today-2w and d > now+12h and d < today+6m and d <= now-1y and d != today+0w and d = today-0d",
        "Custom.Region = 'north' AND parent.stage != 'lost' OR children.stage = 'won'",
        "n = 0.000000000000000000000000001 or n = -79228162514264337593543950335 or n = 007.10",
        "a = 1 and (b = 2 or (c = 3 and (d = 4 or not (e = 5 and f = 6))))",
        "x.in = 1 and x.today = today",
    ];

    #[test]
    fn display_round_trip_examples() {
        for src in EXAMPLES {
            let once = parse(src).unwrap().unwrap();
            let printed = once.to_string();
            let twice = parse(&printed)
                .unwrap_or_else(|e| panic!("{printed:?}: {e}"))
                .unwrap();
            assert_eq!(
                once.without_positions(),
                twice.without_positions(),
                "{src:?} -> {printed:?}"
            );
            assert_eq!(twice.to_string(), printed, "printing is a fixed point");
        }
        assert_eq!(
            p("A=1 OR b=2 && (c='x' || d IS NOT NULL)").to_string(),
            r#"a = 1 or b = 2 and (c = "x" or d is not null)"#
        );
        assert_eq!(
            p("not (a = 1 and b = 2)").to_string(),
            "not (a = 1 and b = 2)"
        );
        assert_eq!(
            p("(a = 1 and b = 2) and c = 3").to_string(),
            "(a = 1 and b = 2) and c = 3"
        );
        assert_eq!(p("x not in ('a',2)").to_string(), r#"x not in ("a", 2)"#);
    }

    /// Tiny deterministic PRNG (xorshift64*), so the tests need no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[self.below(xs.len())]
        }
    }

    fn random_literal(rng: &mut Rng) -> Literal {
        const STRS: &[&str] = &[
            "",
            "won",
            "Иван",
            "say \"hi\"",
            "it's",
            "a\\b",
            "tab\there",
            "line\nnew",
            "😀",
            "  x  ",
            "\r",
        ];
        match rng.below(6) {
            0 => Literal::Str(rng.pick(STRS).to_string(), 0),
            1 => {
                let m = (rng.next() as i64) >> rng.below(64);
                let scale = rng.below(12) as u32;
                Literal::Num(Decimal::new(m, scale), 0)
            }
            2 => Literal::Bool(rng.below(2) == 0, 0),
            3 => Literal::Null(0),
            4 => Literal::Me(0),
            _ => {
                let base = if rng.below(2) == 0 {
                    RelBase::Today
                } else {
                    RelBase::Now
                };
                let units: &[RelUnit] = match base {
                    RelBase::Today => &[
                        RelUnit::Days,
                        RelUnit::Weeks,
                        RelUnit::Months,
                        RelUnit::Years,
                    ],
                    RelBase::Now => &[
                        RelUnit::Hours,
                        RelUnit::Days,
                        RelUnit::Weeks,
                        RelUnit::Months,
                        RelUnit::Years,
                    ],
                };
                let amount = rng.below(200_001) as i64 - 100_000;
                let amount = if rng.below(3) == 0 { 0 } else { amount };
                Literal::Rel(
                    RelTime {
                        base,
                        amount,
                        unit: rng.pick(units),
                    },
                    0,
                )
            }
        }
    }

    fn random_expr(rng: &mut Rng, depth: usize) -> Expr {
        const PATHS: &[&str] = &[
            "stage",
            "amount",
            "company.industry",
            "custom.region",
            "x.null",
            "_a.b_1.c",
            "order",
            "nothing",
        ];
        const OPS: &[CmpOp] = &[
            CmpOp::Eq,
            CmpOp::Ne,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Gt,
            CmpOp::Ge,
            CmpOp::Contains,
            CmpOp::NotContains,
            CmpOp::StartsWith,
        ];
        let choice = if depth == 0 { 0 } else { rng.below(5) };
        match choice {
            0 | 1 => {
                let test = match rng.below(4) {
                    0 | 1 => Test::Cmp(rng.pick(OPS), random_literal(rng)),
                    2 => Test::In {
                        values: (0..1 + rng.below(4)).map(|_| random_literal(rng)).collect(),
                        negated: rng.below(2) == 0,
                    },
                    _ => Test::IsNull {
                        negated: rng.below(2) == 0,
                    },
                };
                cond(rng.pick(PATHS), test)
            }
            2 => not(random_expr(rng, depth - 1)),
            k => {
                let xs = (0..2 + rng.below(3))
                    .map(|_| random_expr(rng, depth - 1))
                    .collect();
                if k == 3 {
                    Expr::And(xs)
                } else {
                    Expr::Or(xs)
                }
            }
        }
    }

    #[test]
    fn display_round_trip_random_trees() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3000 {
            let e = random_expr(&mut rng, 5);
            let printed = e.to_string();
            let back = parse(&printed)
                .unwrap_or_else(|err| panic!("{printed:?}: {err}"))
                .unwrap();
            assert_eq!(back.without_positions(), e, "{printed:?}");
        }
    }

    // ---- robustness --------------------------------------------------------------

    fn check_no_panic(input: &str) {
        match parse(input) {
            Ok(Some(e)) => {
                // whatever parses must print back to something equivalent
                let again = parse(&e.to_string()).unwrap().unwrap();
                assert_eq!(
                    again.without_positions(),
                    e.without_positions(),
                    "{input:?}"
                );
            }
            Ok(None) => assert!(input.trim().is_empty(), "{input:?}"),
            Err(e) => {
                assert!(e.pos <= input.chars().count(), "{input:?}: {e}");
                assert!(e.code.starts_with("filter_"), "{input:?}: {e}");
            }
        }
    }

    #[test]
    fn never_panics_on_garbage() {
        const FRAGS: &[&str] = &[
            "a",
            "stage",
            "x.y",
            ".",
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "~",
            "!~",
            "^=",
            "^",
            "!",
            "&",
            "&&",
            "|",
            "||",
            "(",
            ")",
            ",",
            "\"",
            "'",
            "\\",
            "\"won\"",
            "'Иван'",
            "in",
            "not",
            "is",
            "null",
            "true",
            "me",
            "today",
            "now",
            "+",
            "-",
            "30d",
            "3h",
            "1",
            "-2.5",
            "1e400",
            "1.",
            "99999999999999999999999999999999",
            "ы",
            "é",
            "😀",
            "日本",
            " ",
            "  ",
            "\n",
            "\u{a0}",
            "and",
            "or",
            "AND",
            "\u{0}",
            "\u{200b}",
            "\\n",
            "\\x",
        ];
        let mut rng = Rng(42);
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..rng.below(16) {
                if rng.below(8) == 0 {
                    // any Unicode scalar value
                    let c = char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('\u{fffd}');
                    s.push(c);
                } else {
                    s.push_str(rng.pick(FRAGS));
                }
            }
            check_no_panic(&s);
        }
        // Token soup biased toward valid structure, so the parser gets deep, too.
        const TOKS: &[&str] = &[
            "a",
            "b.c",
            "=",
            "!=",
            ">=",
            "~",
            "^=",
            "in",
            "not",
            "is",
            "null",
            "(",
            ")",
            ",",
            "and",
            "or",
            "!",
            "1",
            "'x'",
            "me",
            "today-1d",
            "now",
            "true",
            "\"Ж\"",
            "a = 1",
            "b.c in ('x', me)",
            "d is not null",
            "e < today-1d",
            "a = 1",
            "b ~ 'Ж'",
            "and",
            "or",
            "not",
            "(",
            ")",
        ];
        let mut parsed = 0;
        for _ in 0..20_000 {
            let s = (0..rng.below(24))
                .map(|_| rng.pick(TOKS))
                .collect::<Vec<_>>()
                .join(" ");
            check_no_panic(&s);
            parsed += usize::from(matches!(parse(&s), Ok(Some(_))));
        }
        assert!(parsed > 100, "soup should sometimes be valid ({parsed})");
    }

    #[test]
    fn never_panics_on_mutated_examples() {
        for src in EXAMPLES
            .iter()
            .copied()
            .chain([r#"name = "Привет мир" and город in ('Москва')"#])
        {
            let chars: Vec<(usize, char)> = src.char_indices().collect();
            for &(i, c) in &chars {
                check_no_panic(&src[..i]); // every prefix (unbalanced quotes / parens)
                let mut without = src.to_string();
                without.remove(i); // every single-char deletion
                check_no_panic(&without);
                for ins in ["\"", "(", ")", "Ж", "'", "\\"] {
                    let mut with = src.to_string();
                    with.insert_str(i + c.len_utf8(), ins);
                    check_no_panic(&with);
                }
            }
        }
    }

    #[test]
    fn huge_numbers_are_bad_numbers() {
        for num in [
            "1e400",
            "1E-5",
            "99999999999999999999999999999999",
            "79228162514264337593543950336",
            "-79228162514264337593543950336",
            "0.00000000000000000000000000001",
            "1.5e3",
            &"9".repeat(3000),
        ] {
            let e = err(&format!("x = {num}"));
            assert_eq!((e.code, e.pos), ("filter_bad_number", 4), "{num}");
        }
    }
}
