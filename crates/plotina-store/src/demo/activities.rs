//! Calls, meetings, letters, notes and tasks around a company or a deal. Logged work is
//! created done (the engine stamps `done_at` at creation); planned meetings and tasks are
//! created open and completed by a later update, with that update's history; the most
//! recent ones may still be open, some of them overdue.

use plotina_core::schema::Entity;
use serde_json::{json, Value as Json};

use super::clock::{days, DAY};
use super::names;
use super::writer::{blank, stamp};
use super::Ctx;
use crate::rows::Record;

/// The conversation activities belong to.
#[derive(Debug, Clone)]
pub struct Thread {
    pub company: i64,
    pub first_contact: i64,
    pub contacts: u8,
    pub deal: Option<i64>,
    pub owner: i64,
    /// Time window in working seconds.
    pub from: i64,
    pub to: i64,
    /// Whether support staff may log some of the work (not for private companies,
    /// which only their owner sees).
    pub support: bool,
}

impl Thread {
    fn contact(&self, ctx: &mut Ctx) -> i64 {
        self.first_contact + ctx.rng.index(usize::from(self.contacts.max(1))) as i64
    }
}

fn base(ctx: &mut Ctx, th: &Thread, kind: &str, created: i64) -> (i64, i64, Record) {
    let owner = if th.support && !ctx.org.support.is_empty() && ctx.rng.chance(0.15) {
        ctx.org.support.pick(&mut ctx.rng)
    } else {
        th.owner
    };
    let id = ctx.sink.next_id(Entity::Activity);
    let mut rec = blank(Entity::Activity);
    stamp(&mut rec, id, ctx.clock.instant(created), owner, owner);
    rec.insert("kind".into(), json!(kind));
    rec.insert("assignee_id".into(), json!(owner));
    rec.insert("company_id".into(), json!(th.company));
    rec.insert("contact_id".into(), json!(th.contact(ctx)));
    if let Some(deal) = th.deal {
        rec.insert("deal_id".into(), json!(deal));
    }
    (id, owner, rec)
}

fn at(ctx: &Ctx, t: i64) -> Json {
    json!(plotina_core::value::format_datetime(ctx.clock.instant(t)))
}

/// Writes an activity that was logged already done.
fn logged(ctx: &mut Ctx, mut rec: Record, t: i64) {
    rec.insert("done".into(), json!(true));
    rec.insert("done_at".into(), at(ctx, t));
    ctx.sink.record(Entity::Activity, &rec, &rec);
}

/// Writes a planned activity, completed at `done` if that moment has come.
fn planned(ctx: &mut Ctx, id: i64, rec: Record, owner: i64, done: Option<i64>) {
    match done.filter(|d| *d <= ctx.clock.end) {
        Some(d) => {
            let mut fin = rec.clone();
            let done_at = at(ctx, d);
            fin.insert("done".into(), json!(true));
            fin.insert("done_at".into(), done_at.clone());
            fin.insert("updated_at".into(), done_at.clone());
            fin.insert("updated_by".into(), json!(owner));
            fin.insert("version".into(), json!(2));
            ctx.sink.record(Entity::Activity, &rec, &fin);
            let mut before = Record::new();
            before.insert("done".into(), json!(false));
            before.insert("done_at".into(), Json::Null);
            let mut after = Record::new();
            after.insert("done".into(), json!(true));
            after.insert("done_at".into(), done_at);
            ctx.sink.update(
                Entity::Activity,
                id,
                &before,
                &after,
                ctx.clock.instant(d),
                owner,
            );
        }
        None => ctx.sink.record(Entity::Activity, &rec, &rec),
    }
}

/// `n` activities spread over the thread's window, oldest first.
pub fn past(ctx: &mut Ctx, th: &Thread, n: usize) {
    let mut times: Vec<i64> = (0..n)
        .map(|_| ctx.rng.range(th.from, th.to.max(th.from + 1)))
        .collect();
    times.sort_unstable();
    let mut prev = None;
    for t in times {
        prev = Some(one(ctx, th, t, prev));
    }
}

fn one(ctx: &mut Ctx, th: &Thread, t: i64, prev: Option<i64>) -> i64 {
    let end = ctx.clock.end;
    let kind = ["call", "email", "meeting", "note", "task", "sms"]
        [ctx.rng.weighted(&[40, 20, 10, 10, 18, 2])];
    match kind {
        "meeting" | "task" => {
            let created = (t - ctx.rng.range(DAY / 2, days(5.0))).max(th.from);
            let (id, owner, mut rec) = base(ctx, th, kind, created);
            rec.insert("due_at".into(), at(ctx, t));
            let done = if kind == "meeting" {
                let minutes = *ctx.rng.pick(&[60i64, 90, 120]);
                rec.insert(
                    "subject".into(),
                    json!(ctx.rng.pick(names::MEETING_SUBJECTS)),
                );
                rec.insert("duration_min".into(), json!(minutes));
                let mut people = vec![th.contact(ctx)];
                if ctx.rng.chance(0.4) {
                    let other = th.contact(ctx);
                    if other != people[0] {
                        people.push(other);
                    }
                }
                rec.insert("participant_ids".into(), json!(people));
                if ctx.rng.chance(0.5) {
                    rec.insert("result".into(), json!(ctx.rng.pick(names::CALL_RESULTS)));
                }
                t + minutes * 60
            } else {
                rec.insert("subject".into(), json!(ctx.rng.pick(names::TASK_SUBJECTS)));
                if let Some(p) = prev.filter(|_| ctx.rng.chance(0.3)) {
                    rec.insert("parent_id".into(), json!(p));
                }
                (t + ctx.rng.range(-DAY / 2, days(1.5))).max(created + 600)
            };
            // Recent work is sometimes left undone: overdue tasks on the manager's list.
            let forgotten = t > end - days(15.0) && ctx.rng.chance(0.25);
            planned(ctx, id, rec, owner, (!forgotten).then_some(done));
            id
        }
        _ => {
            let (id, _, mut rec) = base(ctx, th, kind, t);
            match kind {
                "call" => {
                    rec.insert("subject".into(), json!(ctx.rng.pick(names::CALL_SUBJECTS)));
                    rec.insert(
                        "direction".into(),
                        json!(if ctx.rng.chance(0.65) {
                            "outgoing"
                        } else {
                            "incoming"
                        }),
                    );
                    rec.insert("duration_min".into(), json!(ctx.rng.range(1, 26)));
                    rec.insert("result".into(), json!(ctx.rng.pick(names::CALL_RESULTS)));
                }
                "email" => {
                    rec.insert("subject".into(), json!(ctx.rng.pick(names::EMAIL_SUBJECTS)));
                    rec.insert(
                        "direction".into(),
                        json!(if ctx.rng.chance(0.7) {
                            "outgoing"
                        } else {
                            "incoming"
                        }),
                    );
                }
                "note" => {
                    rec.insert("subject".into(), json!("Заметка"));
                    rec.insert("body".into(), json!(ctx.rng.pick(names::NOTE_BODIES)));
                }
                _ => {
                    rec.insert("subject".into(), json!(ctx.rng.pick(names::SMS_SUBJECTS)));
                }
            }
            logged(ctx, rec, t);
            id
        }
    }
}

/// The open next step of a live deal: usually due soon, sometimes already overdue.
pub fn next_step(ctx: &mut Ctx, th: &Thread, created: i64) {
    let end = ctx.clock.end;
    let created = created.min(end);
    let due = if ctx.rng.chance(0.85) {
        end + ctx.rng.range(DAY / 5, days(12.0))
    } else {
        (end - ctx.rng.range(DAY / 10, days(8.0))).max(created + 3600)
    };
    let (id, owner, mut rec) = base(ctx, th, "task", created);
    rec.insert("subject".into(), json!(ctx.rng.pick(names::TASK_SUBJECTS)));
    rec.insert("due_at".into(), at(ctx, due));
    planned(ctx, id, rec, owner, None);
}
