//! The filter language compiled to sea-query conditions: always parameterised, never
//! spliced. Paths resolve through the record metadata: built-in columns, `custom.<key>`,
//! related records (`company.industry`, `parent.stage`) as sub-selects, and for deals
//! `children.<field>`.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use plotina_core::filter::{char_pos, CmpOp, Condition, Expr, FilterError, Literal, RelBase, Test};
use plotina_core::policy::Actor;
use plotina_core::record::CustomFieldDef;
use plotina_core::schema::{Entity, FieldKind};
use plotina_core::types::{Email, Money, Phone};
use rust_decimal::prelude::ToPrimitive;
use sea_query::{
    Alias, Cond, Expr as SqlExpr, Func, LikeExpr, Query, SimpleExpr, Value as SqlValue,
};

use crate::db::Backend;

/// Everything a filter needs besides the expression.
pub struct FilterCtx<'a> {
    pub backend: Backend,
    pub actor: &'a Actor,
    pub input: &'a str,
    /// Custom-field definitions of every entity (related paths may reach another one).
    pub custom: &'a (dyn Fn(Entity) -> Vec<CustomFieldDef> + Sync),
}

const MAX_RELATION_DEPTH: usize = 3;

pub fn col(name: &str) -> SqlExpr {
    SqlExpr::col(Alias::new(name))
}

pub fn always_false() -> SimpleExpr {
    SqlExpr::cust("1 = 0")
}

impl FilterCtx<'_> {
    fn err(&self, byte_pos: usize, code: &'static str) -> FilterError {
        FilterError::new(code, char_pos(self.input, byte_pos))
    }

    pub fn compile(&self, entity: Entity, expr: &Expr) -> Result<SimpleExpr, FilterError> {
        self.compile_at(entity, expr, 0)
    }

    fn compile_at(
        &self,
        entity: Entity,
        expr: &Expr,
        depth: usize,
    ) -> Result<SimpleExpr, FilterError> {
        Ok(match expr {
            Expr::And(xs) => {
                let mut c = Cond::all();
                for x in xs {
                    c = c.add(self.compile_at(entity, x, depth)?);
                }
                c.into()
            }
            Expr::Or(xs) => {
                let mut c = Cond::any();
                for x in xs {
                    c = c.add(self.compile_at(entity, x, depth)?);
                }
                if xs.is_empty() {
                    always_false()
                } else {
                    c.into()
                }
            }
            Expr::Not(x) => self.compile_at(entity, x, depth)?.not(),
            Expr::Cond(c) => self.condition(entity, &c.path.segments, c, depth)?,
        })
    }

    fn condition(
        &self,
        entity: Entity,
        segs: &[String],
        c: &Condition,
        depth: usize,
    ) -> Result<SimpleExpr, FilterError> {
        let pos = c.path.pos;
        let unknown = || {
            self.err(pos, "filter_unknown_field")
                .with_arg("field", c.path.segments.join("."))
        };
        let Some(first) = segs.first() else {
            return Err(unknown());
        };
        if segs.len() == 1 {
            let def = entity.field(first).or_else(|| {
                entity
                    .field(&format!("{first}_id"))
                    .filter(|d| matches!(d.kind, FieldKind::Ref(_)))
            });
            let def = def.ok_or_else(unknown)?;
            return self.builtin(entity, def.name, def.kind, c);
        }
        if first == "custom" && segs.len() == 2 && entity.is_business() {
            let defs = (self.custom)(entity);
            let def = defs.iter().find(|d| d.key == segs[1]).ok_or_else(unknown)?;
            return self.custom_field(def, c);
        }
        if depth >= MAX_RELATION_DEPTH {
            return Err(self.err(pos, "filter_too_deep"));
        }
        if first == "children" && entity == Entity::Deal {
            let inner = self.condition(Entity::Deal, &segs[1..], c, depth + 1)?;
            let mut sub = Query::select()
                .column(Alias::new("parent_id"))
                .from(Alias::new("deals"))
                .and_where(col("parent_id").is_not_null())
                .and_where(col("deleted_at").is_null())
                .and_where(inner)
                .to_owned();
            // Conditions on related records only see what the caller may read, so a
            // filter cannot probe hidden records.
            if let Some(scope) =
                crate::scope::visible(self.actor, Entity::Deal, plotina_core::policy::Action::Read)
            {
                sub.and_where(scope);
            }
            return Ok(SqlExpr::col(Alias::new("id")).in_subquery(sub));
        }
        let rel = entity
            .field(first)
            .or_else(|| entity.field(&format!("{first}_id")))
            .filter(|d| matches!(d.kind, FieldKind::Ref(_)))
            .ok_or_else(unknown)?;
        let FieldKind::Ref(target) = rel.kind else {
            return Err(unknown());
        };
        let inner = self.condition(target, &segs[1..], c, depth + 1)?;
        let mut sub = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(target.table()))
            .and_where(col("deleted_at").is_null())
            .and_where(inner)
            .to_owned();
        if let Some(scope) =
            crate::scope::visible(self.actor, target, plotina_core::policy::Action::Read)
        {
            sub.and_where(scope);
        }
        Ok(SqlExpr::col(Alias::new(rel.name)).in_subquery(sub))
    }

    fn builtin(
        &self,
        entity: Entity,
        name: &'static str,
        kind: FieldKind,
        c: &Condition,
    ) -> Result<SimpleExpr, FilterError> {
        if let Some(lookup) = kind.lookup_kind().filter(|_| kind.is_json()) {
            return self.list_field(entity, name, kind, lookup, c);
        }
        if kind.is_json() {
            // Addresses, messenger handles, raw payloads: text search only.
            let text = match self.backend {
                Backend::Sqlite => col(name),
                Backend::Postgres => {
                    SqlExpr::expr(SqlExpr::cust(format!("CAST(\"{name}\" AS TEXT)")))
                }
            };
            return match &c.test {
                Test::Cmp(CmpOp::Contains, Literal::Str(s, _)) => Ok(self.contains(text, s)),
                Test::Cmp(CmpOp::NotContains, Literal::Str(s, _)) => {
                    Ok(self.contains(text, s).not())
                }
                _ => Err(self.unsupported(c)),
            };
        }
        let column = col(name);
        let convert = |lit: &Literal| self.scalar(kind, lit, name);
        self.apply(column, kind, c, &convert, Some((entity, name)))
    }

    fn unsupported(&self, c: &Condition) -> FilterError {
        self.err(c.path.pos, "filter_op_unsupported")
            .with_arg("field", c.path.segments.join("."))
    }

    /// Applies a test to a scalar expression, given how to turn literals into values.
    fn apply(
        &self,
        lhs: SqlExpr,
        kind: FieldKind,
        c: &Condition,
        convert: &dyn Fn(&Literal) -> Result<Scalar, FilterError>,
        ref_target: Option<(Entity, &'static str)>,
    ) -> Result<SimpleExpr, FilterError> {
        let nullable_ne = |e: SimpleExpr| Cond::any().add(e).add(lhs.clone().is_null()).into();
        Ok(match &c.test {
            Test::IsNull { negated: false } => lhs.is_null(),
            Test::IsNull { negated: true } => lhs.is_not_null(),
            Test::Cmp(CmpOp::Contains | CmpOp::NotContains | CmpOp::StartsWith, lit) => {
                let text_like = matches!(
                    kind,
                    FieldKind::Text { .. }
                        | FieldKind::LongText
                        | FieldKind::Phone
                        | FieldKind::Email
                        | FieldKind::Url
                        | FieldKind::Inn
                        | FieldKind::Kpp
                        | FieldKind::Select(_)
                );
                let Literal::Str(s, _) = lit else {
                    return Err(self.err(lit.pos(), "filter_expected_string"));
                };
                if !text_like {
                    return Err(self.unsupported(c));
                }
                let s = match kind {
                    FieldKind::Phone => s.chars().filter(char::is_ascii_digit).collect(),
                    _ => s.clone(),
                };
                match &c.test {
                    // Phones are stored as E.164: the digits typed follow the `+`.
                    Test::Cmp(CmpOp::StartsWith, _) if kind == FieldKind::Phone => {
                        self.like(lhs, &format!("+{}%", escape_like(&s)))
                    }
                    Test::Cmp(CmpOp::StartsWith, _) => {
                        self.like(lhs, &format!("{}%", escape_like(&s)))
                    }
                    Test::Cmp(CmpOp::NotContains, _) => {
                        nullable_ne(self.contains(lhs.clone(), &s).not())
                    }
                    _ => self.contains(lhs, &s),
                }
            }
            Test::Cmp(op, lit) => {
                if let Some(expr) = self.ref_by_name(lhs.clone(), kind, *op, lit, ref_target)? {
                    return Ok(expr);
                }
                let value = convert(lit)?;
                match value {
                    Scalar::Null => match op {
                        CmpOp::Eq => lhs.is_null(),
                        CmpOp::Ne => lhs.is_not_null(),
                        _ => return Err(self.err(lit.pos(), "filter_bad_value")),
                    },
                    Scalar::Day(start, end) => day_range(lhs, *op, start, end),
                    Scalar::Value(v) => match op {
                        CmpOp::Eq => lhs.eq(v),
                        CmpOp::Ne => nullable_ne(lhs.clone().ne(v)),
                        CmpOp::Lt => lhs.lt(v),
                        CmpOp::Le => lhs.lte(v),
                        CmpOp::Gt => lhs.gt(v),
                        CmpOp::Ge => lhs.gte(v),
                        _ => unreachable!("text operators handled above"),
                    },
                }
            }
            Test::In { values, negated } => {
                let mut plain = Vec::new();
                let mut parts = Vec::new();
                for lit in values {
                    // A link matched by name is not a value of the column: convert only
                    // what `ref_by_name` left.
                    if let Some(e) =
                        self.ref_by_name(lhs.clone(), kind, CmpOp::Eq, lit, ref_target)?
                    {
                        parts.push(e);
                        continue;
                    }
                    match convert(lit)? {
                        Scalar::Value(v) => plain.push(v),
                        _ => {
                            let fake = Condition {
                                path: c.path.clone(),
                                test: Test::Cmp(CmpOp::Eq, lit.clone()),
                            };
                            parts.push(self.apply(lhs.clone(), kind, &fake, convert, ref_target)?)
                        }
                    }
                }
                let mut any = Cond::any();
                if !plain.is_empty() {
                    any = any.add(lhs.clone().is_in(plain));
                }
                for p in parts {
                    any = any.add(p);
                }
                let e: SimpleExpr = any.into();
                if *negated {
                    nullable_ne(e.not())
                } else {
                    e
                }
            }
        })
    }

    /// `stage = "Договор"`, `owner = "ivanov"`, `company = "Ромашка"`: a link compared
    /// with text matches the linked record's name (and code/login/kind where it has one).
    fn ref_by_name(
        &self,
        lhs: SqlExpr,
        kind: FieldKind,
        op: CmpOp,
        lit: &Literal,
        _ref_target: Option<(Entity, &'static str)>,
    ) -> Result<Option<SimpleExpr>, FilterError> {
        let (FieldKind::Ref(target), Literal::Str(s, _)) = (kind, lit) else {
            return Ok(None);
        };
        if s.trim().parse::<i64>().is_ok() {
            return Ok(None);
        }
        let mut names = Cond::any().add(col(target.title_field()).eq(s.clone()));
        match target {
            Entity::User => names = names.add(col("login").eq(s.clone())),
            Entity::Stage => {
                names = names
                    .add(col("code").eq(s.clone()))
                    .add(col("kind").eq(s.clone()))
            }
            Entity::Pipeline | Entity::Role => names = names.add(col("code").eq(s.clone())),
            Entity::Company => names = names.add(col("inn").eq(s.clone())),
            _ => {}
        }
        let sub = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new(target.table()))
            .cond_where(names)
            .to_owned();
        Ok(Some(match op {
            CmpOp::Eq => lhs.in_subquery(sub),
            CmpOp::Ne => Cond::any()
                .add(lhs.clone().not_in_subquery(sub))
                .add(lhs.is_null())
                .into(),
            _ => return Err(self.err(lit.pos(), "filter_bad_value")),
        }))
    }

    fn contains(&self, lhs: SqlExpr, needle: &str) -> SimpleExpr {
        self.like(lhs, &format!("%{}%", escape_like(needle)))
    }

    fn like(&self, lhs: SqlExpr, pattern: &str) -> SimpleExpr {
        like_ci(self.backend, lhs, pattern)
    }

    fn list_field(
        &self,
        entity: Entity,
        name: &'static str,
        kind: FieldKind,
        lookup: &'static str,
        c: &Condition,
    ) -> Result<SimpleExpr, FilterError> {
        let sub = |value_cond: Option<SimpleExpr>| {
            let mut q = Query::select();
            q.column(Alias::new("record_id"))
                .from(Alias::new("record_lookup"))
                .and_where(col("entity").eq(entity.code()))
                .and_where(col("field").eq(name))
                .and_where(col("kind").eq(lookup));
            if let Some(vc) = value_cond {
                q.and_where(vc);
            }
            q.to_owned()
        };
        let id = || SqlExpr::col(Alias::new("id"));
        let one = |lit: &Literal| -> Result<String, FilterError> { self.lookup_value(kind, lit) };
        Ok(match &c.test {
            Test::IsNull { negated: false } => id().not_in_subquery(sub(None)),
            Test::IsNull { negated: true } => id().in_subquery(sub(None)),
            Test::Cmp(CmpOp::Eq, lit) => id().in_subquery(sub(Some(col("value").eq(one(lit)?)))),
            Test::Cmp(CmpOp::Ne, lit) => {
                id().not_in_subquery(sub(Some(col("value").eq(one(lit)?))))
            }
            Test::Cmp(op @ (CmpOp::Contains | CmpOp::NotContains | CmpOp::StartsWith), lit) => {
                let Literal::Str(s, _) = lit else {
                    return Err(self.err(lit.pos(), "filter_expected_string"));
                };
                let needle = match kind {
                    FieldKind::Phones => s.chars().filter(char::is_ascii_digit).collect(),
                    _ => s.to_lowercase(),
                };
                let pattern = match op {
                    CmpOp::StartsWith if kind == FieldKind::Phones => {
                        format!("+{}%", escape_like(&needle))
                    }
                    CmpOp::StartsWith => format!("{}%", escape_like(&needle)),
                    _ => format!("%{}%", escape_like(&needle)),
                };
                let q = sub(Some(col("value").like(LikeExpr::new(pattern).escape('\\'))));
                if *op == CmpOp::NotContains {
                    id().not_in_subquery(q)
                } else {
                    id().in_subquery(q)
                }
            }
            Test::In { values, negated } => {
                let vals = values.iter().map(one).collect::<Result<Vec<_>, _>>()?;
                let q = sub(Some(col("value").is_in(vals)));
                if *negated {
                    id().not_in_subquery(q)
                } else {
                    id().in_subquery(q)
                }
            }
            Test::Cmp(_, _) => return Err(self.unsupported(c)),
        })
    }

    /// The form a list value takes in `record_lookup` (see `lookup::values`).
    fn lookup_value(&self, kind: FieldKind, lit: &Literal) -> Result<String, FilterError> {
        let bad = || self.err(lit.pos(), "filter_bad_value");
        match (kind, lit) {
            (FieldKind::Phones, Literal::Str(s, _)) => Phone::parse(s)
                .map(|p| p.as_str().to_string())
                .map_err(|_| bad()),
            (FieldKind::Phones, Literal::Num(n, _)) => Phone::parse(&n.to_string())
                .map(|p| p.as_str().to_string())
                .map_err(|_| bad()),
            (FieldKind::Emails, Literal::Str(s, _)) => {
                Email::parse(s).map(|e| e.normalized()).map_err(|_| bad())
            }
            (FieldKind::RefList(_) | FieldKind::CompanyLinks, Literal::Num(n, _)) => {
                n.to_i64().map(|i| i.to_string()).ok_or_else(bad)
            }
            (FieldKind::RefList(_) | FieldKind::CompanyLinks, Literal::Str(s, _)) => s
                .trim()
                .parse::<i64>()
                .map(|i| i.to_string())
                .map_err(|_| bad()),
            (FieldKind::Tags, Literal::Str(s, _)) => Ok(s.trim().to_lowercase()),
            (FieldKind::MultiSelect(_), Literal::Str(s, _)) => Ok(s.trim().to_string()),
            _ => Err(bad()),
        }
    }

    /// A literal as a SQL value for a built-in column of the given kind.
    fn scalar(&self, kind: FieldKind, lit: &Literal, _field: &str) -> Result<Scalar, FilterError> {
        let bad = || self.err(lit.pos(), "filter_bad_value");
        if let Literal::Null(_) = lit {
            return Ok(Scalar::Null);
        }
        Ok(Scalar::Value(match kind {
            FieldKind::Id | FieldKind::Int { .. } | FieldKind::Ref(_) => match lit {
                Literal::Num(n, _) if n.fract().is_zero() => n.to_i64().ok_or_else(bad)?.into(),
                Literal::Me(_) if matches!(kind, FieldKind::Ref(Entity::User)) => {
                    self.actor.user_id.into()
                }
                Literal::Str(s, _) => s.trim().parse::<i64>().map_err(|_| bad())?.into(),
                _ => return Err(bad()),
            },
            FieldKind::Money => {
                let m = match lit {
                    Literal::Num(n, _) => Money::parse(&n.to_string()),
                    Literal::Str(s, _) => Money::parse(s),
                    _ => return Err(bad()),
                };
                m.map_err(|_| bad())?.to_minor().into()
            }
            FieldKind::Bool => match lit {
                Literal::Bool(b, _) => (*b).into(),
                _ => return Err(bad()),
            },
            FieldKind::Date => self.date_literal(lit)?.into(),
            FieldKind::DateTime => return self.datetime_literal(lit),
            FieldKind::Phone => match lit {
                Literal::Str(s, _) => Phone::parse(s)
                    .map_err(|_| bad())?
                    .as_str()
                    .to_string()
                    .into(),
                _ => return Err(bad()),
            },
            FieldKind::Select(options) => match lit {
                Literal::Str(s, _) if options.contains(&s.as_str()) => s.clone().into(),
                _ => {
                    return Err(bad().with_arg("options", options.join(", ")));
                }
            },
            _ => match lit {
                Literal::Str(s, _) => s.clone().into(),
                Literal::Num(n, _) => n.to_string().into(),
                _ => return Err(bad()),
            },
        }))
    }

    fn today_start_utc(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_time(NaiveTime::MIN);
        self.actor
            .time_zone
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| local.and_utc())
    }

    fn date_literal(&self, lit: &Literal) -> Result<NaiveDate, FilterError> {
        let d = match lit {
            Literal::Str(s, _) => plotina_core::value::parse_date(s)
                .map_err(|_| self.err(lit.pos(), "filter_bad_date"))?,
            Literal::Rel(r, _) => r.to_date(self.actor.today()),
            _ => return Err(self.err(lit.pos(), "filter_bad_date")),
        };
        Ok(clamp_date(d))
    }

    /// A datetime column compared with a day (`"2026-11-01"`, `today`, `today-7d`) means
    /// the whole day in the user's time zone; `now±Nh` is an instant.
    fn datetime_literal(&self, lit: &Literal) -> Result<Scalar, FilterError> {
        match lit {
            Literal::Rel(r, _) if r.base == RelBase::Now => {
                let t = r.to_datetime(
                    plotina_core::value::now(),
                    self.today_start_utc(self.actor.today()),
                );
                Ok(Scalar::Value(clamp_datetime(t).into()))
            }
            Literal::Str(s, _) if s.contains('T') => plotina_core::value::parse_datetime(s)
                .map(|t| Scalar::Value(t.into()))
                .map_err(|_| self.err(lit.pos(), "filter_bad_date")),
            _ => {
                let day = self.date_literal(lit)?;
                let next = day.succ_opt().unwrap_or(day);
                Ok(Scalar::Day(
                    self.today_start_utc(day).into(),
                    self.today_start_utc(next).into(),
                ))
            }
        }
    }

    fn custom_field(&self, def: &CustomFieldDef, c: &Condition) -> Result<SimpleExpr, FilterError> {
        let key = def.key.clone();
        let (pg_cast, sqlite_cast) = match def.kind.as_str() {
            "number" | "money" => ("::numeric", Some("REAL")),
            "bool" => ("::boolean", None),
            "link" => ("::bigint", None),
            _ => ("", None),
        };
        if def.kind == "multi_select" {
            return self.custom_multi(&key, c);
        }
        let lhs = SqlExpr::expr(custom_value_sql(self.backend, &key, pg_cast, sqlite_cast));
        let kind = match def.kind.as_str() {
            "number" | "money" => FieldKind::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            "bool" => FieldKind::Bool,
            "date" => FieldKind::Date,
            "datetime" => FieldKind::DateTime,
            "link" => FieldKind::Ref(def.link_entity.unwrap_or(Entity::Company)),
            _ => FieldKind::Text { max: 1000 },
        };
        let numeric = matches!(def.kind.as_str(), "number" | "money");
        let backend = self.backend;
        let convert = |lit: &Literal| -> Result<Scalar, FilterError> {
            match (numeric, lit) {
                (true, Literal::Num(n, _)) => Ok(Scalar::Value(match backend {
                    Backend::Sqlite => n.to_f64().unwrap_or(0.0).into(),
                    Backend::Postgres => SqlValue::from(*n),
                })),
                (true, Literal::Null(_)) => Ok(Scalar::Null),
                (true, _) => Err(self.err(lit.pos(), "filter_bad_value")),
                // Custom datetimes are stored as RFC 3339 text in both engines.
                (false, _) if kind == FieldKind::DateTime => match self.datetime_literal(lit)? {
                    Scalar::Value(SqlValue::ChronoDateTimeUtc(Some(t))) => Ok(Scalar::Value(
                        plotina_core::value::format_datetime(*t).into(),
                    )),
                    Scalar::Day(a, b) => Ok(Scalar::Day(rfc3339(a), rfc3339(b))),
                    other => Ok(other),
                },
                (false, _) if kind == FieldKind::Date => Ok(Scalar::Value(
                    self.date_literal(lit)?
                        .format("%Y-%m-%d")
                        .to_string()
                        .into(),
                )),
                (false, _) if kind == FieldKind::Bool && backend == Backend::Sqlite => match lit {
                    Literal::Bool(b, _) => Ok(Scalar::Value(i64::from(*b).into())),
                    _ => Err(self.err(lit.pos(), "filter_bad_value")),
                },
                _ => self.scalar(kind, lit, &key),
            }
        };
        self.apply(lhs, kind, c, &convert, None)
    }

    fn custom_multi(&self, key: &str, c: &Condition) -> Result<SimpleExpr, FilterError> {
        let array = custom_value_sql(self.backend, key, "", None);
        let has = |v: &str| -> SimpleExpr {
            match self.backend {
                Backend::Postgres => SqlExpr::expr(SqlExpr::cust(format!("(custom -> '{key}')")))
                    .binary(
                        sea_query::BinOper::Custom("@>"),
                        Func::cust(Alias::new("jsonb_build_array")).arg(v.to_string()),
                    ),
                // The stored array's JSON text contains the quoted option exactly when the
                // option is in it (json_quote escapes like the stored text does).
                Backend::Sqlite => SqlExpr::expr(
                    Func::cust(Alias::new("instr"))
                        .arg(array.clone())
                        .arg(Func::cust(Alias::new("json_quote")).arg(v.to_string())),
                )
                .gt(0),
            }
        };
        let text = |lit: &Literal| match lit {
            Literal::Str(s, _) => Ok(s.clone()),
            _ => Err(self.err(lit.pos(), "filter_bad_value")),
        };
        // Like every other field, a record without a value satisfies `!=` and `not in`.
        let missing = || SqlExpr::expr(array.clone()).is_null();
        let or_missing = |e: SimpleExpr| -> SimpleExpr { Cond::any().add(e).add(missing()).into() };
        Ok(match &c.test {
            Test::IsNull { negated: false } => missing(),
            Test::IsNull { negated: true } => missing().not(),
            Test::Cmp(CmpOp::Eq, lit) => has(&text(lit)?),
            Test::Cmp(CmpOp::Ne, lit) => or_missing(has(&text(lit)?).not()),
            Test::In { values, negated } => {
                let mut any = Cond::any();
                for v in values {
                    any = any.add(has(&text(v)?));
                }
                let e: SimpleExpr = any.into();
                if *negated {
                    or_missing(e.not())
                } else {
                    e
                }
            }
            _ => return Err(self.unsupported(c)),
        })
    }
}

enum Scalar {
    Null,
    Value(SqlValue),
    /// A whole local day as [start, end) in UTC.
    /// (Instants; their RFC 3339 text for custom values, which are stored as text.)
    Day(SqlValue, SqlValue),
}

/// An instant as the RFC 3339 text custom datetimes are stored as (which sorts and
/// compares chronologically, all being UTC with milliseconds).
fn rfc3339(v: SqlValue) -> SqlValue {
    match v {
        SqlValue::ChronoDateTimeUtc(Some(t)) => plotina_core::value::format_datetime(*t).into(),
        other => other,
    }
}

fn day_range(lhs: SqlExpr, op: CmpOp, start: SqlValue, end: SqlValue) -> SimpleExpr {
    match op {
        CmpOp::Eq => lhs.clone().gte(start).and(lhs.lt(end)),
        CmpOp::Ne => Cond::any()
            .add(lhs.clone().lt(start))
            .add(lhs.clone().gte(end))
            .add(lhs.is_null())
            .into(),
        CmpOp::Lt => lhs.lt(start),
        CmpOp::Le => lhs.lt(end),
        CmpOp::Gt => lhs.gte(end),
        CmpOp::Ge => lhs.gte(start),
        _ => unreachable!("text operators handled before"),
    }
}

fn clamp_date(d: NaiveDate) -> NaiveDate {
    let min = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(d);
    let max = NaiveDate::from_ymd_opt(2200, 12, 31).unwrap_or(d);
    d.clamp(min, max)
}

fn clamp_datetime(t: DateTime<Utc>) -> DateTime<Utc> {
    let min = clamp_date(NaiveDate::MIN)
        .and_time(NaiveTime::MIN)
        .and_utc();
    let max = clamp_date(NaiveDate::MAX)
        .and_time(NaiveTime::MIN)
        .and_utc();
    t.clamp(min, max)
}

/// Case-insensitive LIKE (`pattern` uses `%`, `_` and `\` escapes). PostgreSQL's lower()
/// knows Cyrillic. SQLite's lower() and LIKE only know ASCII, so there the pattern becomes
/// a Unicode case-insensitive regular expression for the REGEXP function the pool
/// registers (`with_regexp`, Rust's `regex`), and «ооо ромашка» finds «ООО Ромашка».
pub fn like_ci(backend: Backend, lhs: SqlExpr, pattern: &str) -> SimpleExpr {
    match backend {
        Backend::Postgres => {
            SqlExpr::expr(Func::lower(lhs)).like(LikeExpr::new(pattern.to_lowercase()).escape('\\'))
        }
        Backend::Sqlite => lhs.binary(sea_query::BinOper::Custom("REGEXP"), like_to_regex(pattern)),
    }
}

/// `%ab_c%` → `(?is)^.*ab.c.*$`, with every literal character escaped.
fn like_to_regex(pattern: &str) -> String {
    let mut re = String::from("(?is)^");
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '\\' => {
                if let Some(next) = chars.next() {
                    re.push_str(&regex_escape(next));
                }
            }
            other => re.push_str(&regex_escape(other)),
        }
    }
    re.push('$');
    re
}

fn regex_escape(ch: char) -> String {
    if "\\.+*?()|[]{}^$#&-~".contains(ch) {
        format!("\\{ch}")
    } else {
        ch.to_string()
    }
}

pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// The SQL of a custom value. Keys are identifiers (`valid_custom_key`), checked again
/// here, so writing them into the SQL text is safe; values are always bound.
pub fn custom_value_sql(
    backend: Backend,
    key: &str,
    pg_cast: &str,
    sqlite_cast: Option<&str>,
) -> SimpleExpr {
    if !plotina_core::record::valid_custom_key(key) {
        return always_false();
    }
    match (backend, sqlite_cast) {
        (Backend::Postgres, _) => SqlExpr::cust(format!("((custom ->> '{key}'){pg_cast})")),
        (Backend::Sqlite, Some(t)) => {
            SqlExpr::cust(format!("CAST(json_extract(custom, '$.{key}') AS {t})"))
        }
        (Backend::Sqlite, None) => SqlExpr::cust(format!("json_extract(custom, '$.{key}')")),
    }
}

#[cfg(test)]
mod like_tests {
    use super::like_to_regex;

    #[test]
    fn like_patterns_become_anchored_case_insensitive_regexes() {
        assert_eq!(like_to_regex("%ромашка%"), "(?is)^.*ромашка.*$");
        assert_eq!(like_to_regex("a\\%b_c"), "(?is)^a%b.c$");
        assert_eq!(like_to_regex("1.5+(x)"), "(?is)^1\\.5\\+\\(x\\)$");
    }
}
