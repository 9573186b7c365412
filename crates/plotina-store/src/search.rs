//! Search by what people actually type: a name in any grammatical form, an INN, an
//! e-mail, or a phone in any format.
//!
//! Names: each query word is reduced to its Snowball stem (Russian or English) and must
//! occur in the record's `search_text` (lower-cased, ё→е), so «поставки» finds
//! «Поставка». Phones and e-mails go through `record_lookup`.
//!
//! Everything that is not a name is an indexed look-up on both engines, never a scan:
//!
//! | typed | finds | how |
//! |---|---|---|
//! | `ivanov@mail.ru`, `ivanov@`, `ivanov@ma` | the e-mails starting with it (a whole address finds itself; equality would break search-as-you-type between `ivanov@mail.r` and `ivanov@mail.ru`) | range of `record_lookup (kind, value, entity)`, kind `email` |
//! | `@mail.ru`, `@mail` | the e-mails whose domain starts with what follows the `@` | same range, kind `email_domain` ([`crate::lookup::EMAIL_DOMAIN`]) |
//! | `8 916 123-45-67`, `+79161234567` | that number | equality, kind `phone` |
//! | `45-67`, `123-45-67` (5+ digits, not a whole number) | the numbers ending with those digits (the last 10 when more are typed) | range of the reversed digits, kind `phone_rev` ([`crate::lookup::PHONE_REVERSED`]) |
//! | `+7 916 12` (a `+` first, not a whole number) | the numbers starting with it | range, kind `phone` |
//! | `7707083893` (10 or 12 digits) | that INN | equality on `inn` (`companies_inn_idx`, `leads_inn_idx`) |
//! | `77070` (5–9 digits) | INNs starting with it, and numbers ending with it | range `inn >= '77070' AND inn < '77071'` |
//!
//! A range is `value >= p AND value < p || U+10FFFF`, not `LIKE 'p%'`: SQLite serves a
//! LIKE from an index only when it is case-sensitive, PostgreSQL only under the "C"
//! collation or `text_pattern_ops`. Look-up values are lower-cased keys compared byte by
//! byte on both engines (`record_lookup.value` is `COLLATE "C"` on PostgreSQL, migration
//! 0034), so the range is exact. An INN range needs no collation care: the upper bound
//! is the prefix with its last digit raised ([`digits_after`]), and strings of digits
//! sort alike under every collation.

use plotina_core::schema::{Entity, FieldKind};
use plotina_core::types::{search_text, Phone};
use rust_stemmers::{Algorithm, Stemmer};
use sea_query::{
    Alias, Cond, Expr, JoinType, LikeExpr, Order, Query, SelectStatement, SimpleExpr, UnionType,
};

use crate::db::Backend;
use crate::filter_sql::{col, escape_like, like_ci};
use crate::lookup::{EMAIL_DOMAIN, PHONE_REVERSED};

/// The stem of one lower-cased word; short words are kept whole (stemming "ип" or "ао"
/// would match everything).
pub fn stem(word: &str) -> String {
    if word.chars().count() <= 3 {
        return word.to_string();
    }
    let cyrillic = word.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
    let algo = if cyrillic {
        Algorithm::Russian
    } else {
        Algorithm::English
    };
    let s = Stemmer::create(algo).stem(word).into_owned();
    if s.chars().count() < 3 {
        word.to_string()
    } else {
        s
    }
}

fn phone_fields(entity: Entity) -> bool {
    entity
        .fields()
        .any(|f| matches!(f.kind, FieldKind::Phones | FieldKind::Phone))
}

/// The largest code point: no look-up value holds it, so every string starting with `p`
/// sorts before `p` followed by it.
const LAST_CHAR: char = '\u{10FFFF}';

/// `column` starts with `p`, as a range an index serves: `column >= p AND column < p||U+10FFFF`.
fn starts_with(column: &str, p: &str) -> SimpleExpr {
    col(column)
        .gte(p.to_string())
        .and(col(column).lt(format!("{p}{LAST_CHAR}")))
}

/// The smallest string of digits above every string starting with the digits `p`: `p`
/// with its last digit raised (`12349` → `1235`), or none when `p` is all nines.
fn digits_after(p: &str) -> Option<String> {
    let mut d: Vec<u8> = p.bytes().collect();
    while let Some(last) = d.pop() {
        if last < b'9' {
            d.push(last + 1);
            return String::from_utf8(d).ok();
        }
    }
    None
}

/// The INN starts with the digits `p`: `inn >= p AND inn < digits_after(p)`.
fn inn_prefix(p: &str) -> SimpleExpr {
    let from = col("inn").gte(p.to_string());
    match digits_after(p) {
        Some(to) => from.and(col("inn").lt(to)),
        None => from,
    }
}

/// The record has a look-up row of `kind` whose value meets `value_cond`:
/// `id IN (SELECT record_id …)` driven by the `(kind, value, entity)` index, or, for
/// [`IndexUse::Filter`], `EXISTS (… record_id = <table>.id)` checked on each row of the
/// list's ordered walk through `record_lookup_record_idx` (a domain shared by thousands of
/// records: reading all their ids and sorting them would cost more than the walk).
/// `SELECT record_id FROM record_lookup WHERE entity = ? AND kind = ? AND <value_cond>`.
fn lookup_ids(entity: Entity, kind: &str, value_cond: SimpleExpr) -> SelectStatement {
    Query::select()
        .column(Alias::new("record_id"))
        .from(Alias::new("record_lookup"))
        .and_where(col("entity").eq(entity.code()))
        .and_where(col("kind").eq(kind))
        .and_where(value_cond)
        .to_owned()
}

fn lookup_match(
    backend: Backend,
    entity: Entity,
    kind: &str,
    value_cond: SimpleExpr,
    plan: IndexUse,
) -> SimpleExpr {
    match plan {
        IndexUse::Drive => col("id").in_subquery(lookup_ids(entity, kind, value_cond)),
        IndexUse::Filter => Expr::exists(
            Query::select()
                .from(Alias::new("record_lookup"))
                .and_where(col("entity").eq(entity.code()))
                .and_where(value_cond)
                .and_where(match backend {
                    // `+kind` keeps SQLite from reading the value range for every row: the
                    // record's few rows are the ones to check.
                    Backend::Sqlite => Expr::cust_with_values("+kind = ?", [kind]),
                    Backend::Postgres => col("kind").eq(kind),
                })
                .expr(Expr::cust("1"))
                .and_where(
                    Expr::col((Alias::new("record_lookup"), Alias::new("record_id")))
                        .equals((Alias::new(entity.table()), Alias::new("id"))),
                )
                .to_owned(),
        ),
    }
}

/// For a query by an e-mail domain (`@mail.ru`, `@m`) on an entity with e-mails: a
/// statement counting its look-up rows up to [`DENSE_MATCHES`] + 1 (column `n`), which
/// tells whether the search should walk the list instead of reading every match
/// ([`IndexUse::Filter`]). A free-mail domain may hold a third of the base.
pub fn dense_probe(entity: Entity, q: &str) -> Option<SelectStatement> {
    let q = clean(q);
    if phone_digits(&q).is_some() {
        return None;
    }
    let domain = email_part(entity, &q)?.strip_prefix('@')?.to_string();
    let inner = Query::select()
        .expr(Expr::cust("1"))
        .from(Alias::new("record_lookup"))
        .and_where(col("kind").eq(EMAIL_DOMAIN))
        .and_where(starts_with("value", &domain))
        .and_where(col("entity").eq(entity.code()))
        .limit(DENSE_MATCHES as u64 + 1)
        .to_owned();
    Some(
        Query::select()
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from_subquery(inner, Alias::new("matches"))
            .to_owned(),
    )
}

/// How a search's word-index condition takes part in the query plan (SQLite).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IndexUse {
    /// `id IN (matches)`: the matches drive the query; each matching row is read and the
    /// page is sorted afterwards. Cheap while the matches are few.
    #[default]
    Drive,
    /// `+id IN (matches)`: the unary plus keeps the match set from driving the query, so
    /// SQLite walks the index of the list's order (`updated_at`) newest first and keeps
    /// the rows whose id is in the set, stopping at the page's end. Used when a common
    /// word matches thousands of records, which the first plan would read and sort all.
    Filter,
}

/// Above this many index matches a search filters the list's ordered index walk instead
/// of reading every match. At this density, a walk over a million deals finds the ten
/// newest matches within about 20,000 index entries, checked without reading their rows
/// (~1–2 ms), about what reading 500 scattered rows and sorting them costs.
pub const DENSE_MATCHES: i64 = 500;

/// Control characters (NUL above all: PostgreSQL refuses it in text) are never part of
/// what people search for.
fn clean(q: &str) -> String {
    q.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Digits typed as a phone number or INN (then the query is no name search).
fn phone_digits(q: &str) -> Option<String> {
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = !digits.is_empty()
        && q.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
        && digits.len() >= 5;
    phone_like.then_some(digits)
}

/// The stems of the query's words (at most eight).
fn name_words(q: &str) -> Vec<String> {
    search_text(&[q])
        .split_whitespace()
        .take(8)
        .map(stem)
        .collect()
}

/// The full-text table and MATCH expression a name query uses on SQLite, if it uses one.
pub fn index_query(backend: Backend, entity: Entity, q: &str) -> Option<(String, String)> {
    if backend != Backend::Sqlite || !entity.has_search_text() {
        return None;
    }
    let q = clean(q);
    if q.is_empty() || phone_digits(&q).is_some() {
        return None;
    }
    let terms = fts_terms(&name_words(&q));
    (!terms.is_empty()).then(|| (format!("fts_{}", entity.table()), terms.join(" AND ")))
}

/// The columns a global search hit is made of: the id, the title and the subtitle.
pub fn hit_columns(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Company => &["id", "name", "inn"],
        Entity::Contact => &["id", "full_name", "position"],
        Entity::Deal => &["id", "title", "amount", "currency"],
        Entity::Lead => &["id", "title", "status"],
        _ => &["id"],
    }
}

/// The e-mail part of a query on an entity with e-mails: its first word holding an `@`,
/// lower-cased like the look-up values (`ivanov@mail.ru`, `ivanov@`, `@mail.ru`).
fn email_part(entity: Entity, q: &str) -> Option<String> {
    let has_emails = entity
        .fields()
        .any(|f| matches!(f.kind, FieldKind::Emails | FieldKind::Email));
    let word = q.split_whitespace().find(|w| w.contains('@'))?;
    (has_emails && word != "@").then(|| word.to_lowercase())
}

/// Whether a query on `entity` is a search of words only (no phone, INN or e-mail part).
fn words_only(entity: Entity, q: &str) -> bool {
    phone_digits(q).is_none() && email_part(entity, q).is_none()
}

/// The statement of one section of the global search: the newest `limit` records of
/// `entity` (by creation: highest id first) matching `q` within `visible` (the scope and
/// trash conditions of a list without a search), with only [`hit_columns`].
///
/// A search of words on SQLite is driven by the word index: it reads the matches newest
/// first straight from the index (`ORDER BY rowid DESC`, which FTS5 serves from its
/// prefix index without collecting the matches first), joins each to its row for the
/// scope and trash conditions and stops after `limit` rows. A common prefix
/// («Воро»: 17,000 deals) therefore costs about what a rare one costs. Any other query
/// (phones, INN, e-mail, PostgreSQL) is a plain condition in the same order, its
/// look-ups used as `plan` says ([`dense_probe`] decides it for e-mail domains).
pub fn hits_statement(
    backend: Backend,
    entity: Entity,
    q: &str,
    visible: Cond,
    limit: u64,
    plan: IndexUse,
) -> SelectStatement {
    let table = Alias::new(entity.table());
    let mut stmt = Query::select();
    for c in hit_columns(entity) {
        stmt.column((table.clone(), Alias::new(*c)));
    }
    let cleaned = clean(q);
    match index_query(backend, entity, &cleaned).filter(|_| words_only(entity, &cleaned)) {
        Some((fts_table, terms)) => {
            let fts = Alias::new(fts_table.as_str());
            stmt.from(fts.clone())
                .join(
                    JoinType::InnerJoin,
                    table.clone(),
                    Expr::col((table, Alias::new("id"))).equals((fts.clone(), Alias::new("rowid"))),
                )
                .cond_where(visible.add(Expr::cust_with_values(
                    format!("{fts_table} MATCH ?"),
                    [terms],
                )))
                .order_by((fts, Alias::new("rowid")), Order::Desc);
        }
        None => {
            stmt.from(table.clone())
                .cond_where(visible.add(condition(backend, entity, q, plan)))
                .order_by((table, Alias::new("id")), Order::Desc);
        }
    }
    stmt.limit(limit);
    stmt
}

/// The condition for a free-text query on one entity.
pub fn condition(backend: Backend, entity: Entity, q: &str, plan: IndexUse) -> SimpleExpr {
    let q = clean(q);
    let q = q.as_str();
    let mut any = Cond::any();
    if let Some(digits) = phone_digits(q) {
        // Every look-up of the digits is one id source; their union is one `id IN (…)`
        // (PostgreSQL cannot OR a subquery with an index condition into one bitmap, and
        // would walk the whole table by id instead).
        let mut sources: Vec<SelectStatement> = Vec::new();
        let inn_ids = |cond: SimpleExpr| {
            Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(entity.table()))
                .and_where(cond)
                .to_owned()
        };
        if entity.field("inn").is_some()
            && (digits.len() == 10 || digits.len() == 12)
            && digits == q
        {
            sources.push(inn_ids(col("inn").eq(digits.clone())));
        }
        if phone_fields(entity) {
            let (kind, value) = match Phone::parse(q) {
                // A whole number is an exact, indexed look-up.
                Ok(p) => ("phone", col("value").eq(p.as_str())),
                // The beginning of a number in international form ("+7 916 12").
                Err(_) if q.starts_with('+') => {
                    ("phone", starts_with("value", &format!("+{digits}")))
                }
                // A fragment of a number ("45-67", "123-45-67") is its tail: a prefix of
                // the reversed digits.
                Err(_) => {
                    let tail = &digits[digits.len().saturating_sub(10)..];
                    let reversed: String = tail.chars().rev().collect();
                    (PHONE_REVERSED, starts_with("value", &reversed))
                }
            };
            sources.push(lookup_ids(entity, kind, value));
        }
        if entity.field("inn").is_some() && digits.len() < 10 {
            sources.push(inn_ids(inn_prefix(&digits)));
        }
        let mut sources = sources.into_iter();
        let Some(mut union) = sources.next() else {
            // Nothing of this entity is found by digits.
            return Expr::cust("1 = 0");
        };
        for s in sources {
            union.union(UnionType::All, s);
        }
        return col("id").in_subquery(union);
    }
    if let Some(email) = email_part(entity, q) {
        // A query with an `@` is an e-mail search only: the pieces of an address are no
        // names (and an OR with the word search would keep PostgreSQL from driving the
        // query from the look-up).
        return match email.strip_prefix('@') {
            Some(domain) => lookup_match(
                backend,
                entity,
                EMAIL_DOMAIN,
                starts_with("value", domain),
                plan,
            ),
            None => lookup_match(backend, entity, "email", starts_with("value", &email), plan),
        };
    }
    let words = name_words(q);
    if !words.is_empty() {
        let mut all = Cond::all();
        if entity.has_search_text() && backend == Backend::Sqlite {
            // Word prefixes through the full-text index.
            all = all.add(fts_match(entity, &words, plan));
        } else {
            for w in words {
                let pattern = format!("%{}%", escape_like(&w));
                all = all.add(if entity.has_search_text() {
                    // Already lower-cased, like the stems; a trigram index serves it on
                    // PostgreSQL.
                    col("search_text").like(LikeExpr::new(pattern).escape('\\'))
                } else {
                    // A title as written: matched regardless of case.
                    like_ci(backend, col(entity.title_field()), &pattern)
                });
            }
        }
        any = any.add(all);
    }
    any.into()
}

/// Each stem as an FTS5 string that some word of the record must start with. Only
/// letters and digits reach the index query: the tokenizer splits on everything else
/// anyway, and control characters or quotes must never make the query invalid.
fn fts_terms(words: &[String]) -> Vec<String> {
    words
        .iter()
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
        .filter(|t| !t.is_empty())
        .map(|t| format!("\"{t}\"*"))
        .collect()
}

/// `id IN (SELECT rowid FROM fts_<table> WHERE fts_<table> MATCH '"w1"* AND "w2"*')`
/// (`+id` for [`IndexUse::Filter`]).
fn fts_match(entity: Entity, words: &[String], plan: IndexUse) -> SimpleExpr {
    let table = format!("fts_{}", entity.table());
    let terms = fts_terms(words);
    if terms.is_empty() {
        // Nothing searchable was typed (punctuation only): nothing matches.
        return sea_query::Expr::cust("1 = 0");
    }
    let sub = Query::select()
        .expr(sea_query::Expr::cust("rowid"))
        .from(Alias::new(&table))
        .and_where(sea_query::Expr::cust_with_values(
            format!("{table} MATCH ?"),
            [terms.join(" AND ")],
        ))
        .to_owned();
    match plan {
        IndexUse::Drive => col("id").in_subquery(sub),
        IndexUse::Filter => sea_query::Expr::expr(sea_query::Expr::cust("+id")).in_subquery(sub),
    }
}

/// The text a record is found by (its `search_text` column).
pub fn record_search_text(entity: Entity, rec: &crate::rows::Record) -> String {
    let field = |name: &str| {
        rec.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let parts: Vec<String> = match entity {
        Entity::Company => vec![
            field("name"),
            field("legal_name"),
            field("inn"),
            field("industry"),
        ],
        Entity::Contact => vec![field("full_name"), field("position")],
        Entity::Lead => vec![
            field("title"),
            field("contact_name"),
            field("company_name"),
            field("inn"),
        ],
        Entity::Deal => vec![field("title")],
        _ => vec![field(entity.title_field())],
    };
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    search_text(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_queries_hold_only_letters_and_digits() {
        let words = ["ооо\"рога\0и'копыта".to_string(), "%%".to_string()];
        let sql = format!("{:?}", fts_match(Entity::Company, &words, IndexUse::Drive));
        for term in ["\\\"ооо\\\"*", "\\\"рога\\\"*", "\\\"копыта\\\"*"] {
            assert!(sql.contains(term), "{term} in {sql}");
        }
        assert!(!sql.contains("\\0") && !sql.contains('\''), "{sql}");
    }

    #[test]
    fn digit_prefixes_end_where_the_last_digit_is_raised() {
        assert_eq!(digits_after("77070").as_deref(), Some("77071"));
        assert_eq!(digits_after("12349").as_deref(), Some("1235"));
        assert_eq!(digits_after("0999").as_deref(), Some("1"));
        assert_eq!(digits_after("999"), None);
    }

    #[test]
    fn russian_forms_share_a_stem() {
        assert_eq!(stem("поставки"), stem("поставка"));
        assert_eq!(stem("поставки"), stem("поставкам"));
        assert!("поставка оборудования".contains(&stem("поставки")));
        assert_eq!(stem("ип"), "ип");
    }
}
