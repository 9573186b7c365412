//! Search by what people actually type: a name in any grammatical form, an INN, an
//! e-mail, or a phone in any format.
//!
//! Names: each query word is reduced to its Snowball stem (Russian or English) and must
//! occur in the record's `search_text` (lower-cased, ё→е), so «поставки» finds
//! «Поставка». Phones and e-mails go through `record_lookup`.

use plotina_core::schema::{Entity, FieldKind};
use plotina_core::types::{search_text, Phone};
use rust_stemmers::{Algorithm, Stemmer};
use sea_query::{Alias, Cond, Expr, JoinType, LikeExpr, Order, Query, SelectStatement, SimpleExpr};

use crate::db::Backend;
use crate::filter_sql::{col, escape_like, like_ci};

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

fn lookup_match(entity: Entity, kind: &str, value_cond: SimpleExpr) -> SimpleExpr {
    let sub = Query::select()
        .column(Alias::new("record_id"))
        .from(Alias::new("record_lookup"))
        .and_where(col("entity").eq(entity.code()))
        .and_where(col("kind").eq(kind))
        .and_where(value_cond)
        .to_owned();
    col("id").in_subquery(sub)
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

/// Whether a query on `entity` is a search of words only (no phone, INN or e-mail part).
fn words_only(entity: Entity, q: &str) -> bool {
    phone_digits(q).is_none()
        && !(q.contains('@')
            && entity
                .fields()
                .any(|f| matches!(f.kind, FieldKind::Emails | FieldKind::Email)))
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
/// (phones, INN, e-mail, PostgreSQL) is a plain condition in the same order.
pub fn hits_statement(
    backend: Backend,
    entity: Entity,
    q: &str,
    visible: Cond,
    limit: u64,
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
                .cond_where(visible.add(condition(backend, entity, q, IndexUse::Drive)))
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
        if entity.field("inn").is_some()
            && (digits.len() == 10 || digits.len() == 12)
            && digits == q
        {
            any = any.add(col("inn").eq(digits.clone()));
        }
        if phone_fields(entity) {
            match Phone::parse(q) {
                // A whole number is an exact, indexed look-up.
                Ok(p) => any = any.add(lookup_match(entity, "phone", col("value").eq(p.as_str()))),
                // A fragment of a number ("345-67-89") matches by its digits (a scan of the
                // phone rows, so only when the input is not a whole number).
                Err(_) => {
                    let tail = if digits.len() > 10 {
                        &digits[digits.len() - 10..]
                    } else {
                        &digits[..]
                    };
                    let pattern = format!("%{}%", escape_like(tail));
                    any = any.add(lookup_match(
                        entity,
                        "phone",
                        col("value").like(LikeExpr::new(pattern).escape('\\')),
                    ));
                }
            }
        }
        if entity.field("inn").is_some() && digits.len() < 10 {
            any = any.add(
                col("inn").like(LikeExpr::new(format!("{}%", escape_like(&digits))).escape('\\')),
            );
        }
        return any.into();
    }
    if q.contains('@')
        && entity
            .fields()
            .any(|f| matches!(f.kind, FieldKind::Emails | FieldKind::Email))
    {
        let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
        any = any.add(lookup_match(
            entity,
            "email",
            col("value").like(LikeExpr::new(pattern).escape('\\')),
        ));
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
    fn russian_forms_share_a_stem() {
        assert_eq!(stem("поставки"), stem("поставка"));
        assert_eq!(stem("поставки"), stem("поставкам"));
        assert!("поставка оборудования".contains(&stem("поставки")));
        assert_eq!(stem("ип"), "ип");
    }
}
