//! Who is looking and in which language: the `Web` extractor (a signed-in browser
//! session), the page context every template receives, form reading with the CSRF
//! check, and the layer that renders error pages and adds security headers.

use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use plotina_core::policy::Actor;

use super::errors::{WebError, WebProblem};
use super::{assets, urls, CSP};
use crate::auth::{constant_time_eq, cookie, Auth};
use crate::i18n::{t, t_args, Lang};
use crate::problem::RequestId;
use crate::state::AppState;

pub const LANG_COOKIE: &str = "plotina_lang";

/// What every template knows about the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub logged_in: bool,
    pub user_id: i64,
    pub user_name: String,
    pub is_admin: bool,
    pub csrf: String,
    /// The side-navigation entry to highlight.
    pub section: &'static str,
    /// The global search box's text.
    pub q: String,
    /// The request came from the page script (`X-Requested-With: fetch`).
    pub fetch: bool,
    pub tz: chrono_tz::Tz,
    /// This page's path and query (a place to come back to).
    pub here: String,
    /// The side navigation: only sections the user may read.
    pub nav_items: Vec<NavItem>,
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub key: &'static str,
    pub href: &'static str,
    pub label: String,
    pub icon: &'static str,
}

fn nav_items(actor: &Actor, lang: Lang) -> Vec<NavItem> {
    use plotina_core::policy::Action;
    use plotina_core::schema::Entity;
    let mut out = vec![NavItem {
        key: "notebook",
        href: "/",
        label: t(lang, "ui-nav-notebook"),
        icon: "◎",
    }];
    let sections = [
        (Entity::Lead, "leads", "/leads", "ui-nav-leads", "✦"),
        (Entity::Deal, "deals", "/deals", "ui-nav-deals", "◆"),
        (Entity::Deal, "board", "/deals/board", "ui-nav-board", "▦"),
        (
            Entity::Company,
            "companies",
            "/companies",
            "ui-nav-companies",
            "▣",
        ),
        (
            Entity::Contact,
            "contacts",
            "/contacts",
            "ui-nav-contacts",
            "☺",
        ),
        (
            Entity::Activity,
            "activities",
            "/activities",
            "ui-nav-activities",
            "✓",
        ),
    ];
    for (entity, key, href, label, icon) in sections {
        if actor.can(entity, Action::Read) {
            out.push(NavItem {
                key,
                href,
                label: t(lang, label),
                icon,
            });
        }
    }
    if actor.can(Entity::Deal, Action::Read) {
        out.push(NavItem {
            key: "reports",
            href: "/reports",
            label: t(lang, "reports-nav"),
            icon: "▤",
        });
    }
    out.push(NavItem {
        key: "settings",
        href: "/settings",
        label: t(lang, "ui-nav-settings"),
        icon: "⚙",
    });
    out
}

impl Ctx {
    pub fn anonymous(lang: Lang) -> Ctx {
        Ctx {
            lang,
            logged_in: false,
            user_id: 0,
            user_name: String::new(),
            is_admin: false,
            csrf: String::new(),
            section: "",
            q: String::new(),
            fetch: false,
            tz: chrono_tz::Europe::Moscow,
            here: "/".into(),
            nav_items: Vec::new(),
        }
    }

    pub fn t(&self, id: &str) -> String {
        t(self.lang, id)
    }

    pub fn ta(&self, id: &str, name: &'static str, value: impl ToString) -> String {
        t_args(self.lang, id, &[(name, value.to_string())])
    }

    /// A message with two arguments.
    pub fn ta2(&self, id: &str, a: (&'static str, String), b: (&'static str, String)) -> String {
        t_args(self.lang, id, &[a, b])
    }

    pub fn initial(&self) -> String {
        self.user_name
            .chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default()
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn is_lang(&self, code: &str) -> bool {
        self.lang.code() == code
    }

    pub fn nav(&self, section: &str) -> &'static str {
        if self.section == section {
            "active"
        } else {
            ""
        }
    }

    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }

    pub fn css_url(&self) -> String {
        format!("{}?v={}", urls::STATIC_CSS, assets::version())
    }

    pub fn js_url(&self) -> String {
        format!("{}?v={}", urls::STATIC_JS, assets::version())
    }

    pub fn with_section(mut self, section: &'static str) -> Ctx {
        self.section = section;
        self
    }
}

/// A signed-in browser user. Pages that need no sign-in use `Ctx` from `anonymous`.
pub struct Web {
    pub actor: Actor,
    pub ctx: Ctx,
    /// The request's cookies (list columns are remembered in one).
    pub cookies: Vec<(String, String)>,
}

/// Carries the page context from the extractor to the error layer.
#[derive(Clone, Default)]
struct CtxSlot(Arc<Mutex<Option<Ctx>>>);

impl FromRequestParts<AppState> for Web {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let here = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let login = || {
            WebError::Login(if parts.method == axum::http::Method::GET {
                here.clone()
            } else {
                "/".into()
            })
        };
        if parts.headers.contains_key(header::AUTHORIZATION) {
            // Pages are for browser sessions; API tokens belong to the API.
            return Err(login());
        }
        let auth = Auth::resolve(parts, state)
            .await
            .map_err(WebError::from)?
            .ok_or_else(login)?;
        let csrf = auth.csrf_token().ok_or_else(login)?.to_string();
        let actor = auth.actor;
        let lang = Lang::from_code(&actor.language).unwrap_or_default();
        let ctx = Ctx {
            nav_items: nav_items(&actor, lang),
            lang,
            logged_in: true,
            user_id: actor.user_id,
            user_name: actor.name.clone(),
            is_admin: actor.is_admin,
            csrf,
            section: "",
            q: String::new(),
            fetch: is_fetch(parts),
            tz: actor.time_zone,
            here,
        };
        if let Some(slot) = parts.extensions.get::<CtxSlot>() {
            if let Ok(mut s) = slot.0.lock() {
                *s = Some(ctx.clone());
            }
        }
        let cookies = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| {
                kv.trim()
                    .split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        Ok(Web {
            actor,
            ctx,
            cookies,
        })
    }
}

pub fn is_fetch(parts: &Parts) -> bool {
    parts
        .headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("fetch"))
}

/// The language before sign-in: the language cookie, else Accept-Language.
pub fn guest_lang(parts: &Parts) -> Lang {
    cookie(parts, LANG_COOKIE)
        .and_then(Lang::from_code)
        .or_else(|| {
            parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

/// A submitted form (`application/x-www-form-urlencoded`).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        FormData(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed value, `""` when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub fn id(&self, name: &str) -> Option<i64> {
        self.text(name).parse::<i64>().ok().filter(|i| *i > 0)
    }
}

impl Web {
    /// Reads a form and checks its CSRF token against the session's (constant time).
    pub fn form(&self, body: &[u8]) -> Result<FormData, WebError> {
        let form = FormData::parse(body);
        check_csrf(&form, &self.ctx.csrf)?;
        Ok(form)
    }
}

pub fn check_csrf(form: &FormData, expected: &str) -> Result<(), WebError> {
    let sent = form.get("csrf").unwrap_or("");
    if expected.is_empty() || !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(WebError::Csrf);
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    ctx: Ctx,
    title: String,
    detail: String,
    request_id: String,
}

/// Renders error pages in the user's language and adds the security headers to every
/// HTML response (CSP without inline code, no framing, no sniffing, no caching).
pub async fn layer(mut req: Request, next: Next) -> Response {
    let slot = CtxSlot::default();
    req.extensions_mut().insert(slot.clone());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let (parts, body) = req.into_parts();
    let guest = guest_lang(&parts);
    let fetch = is_fetch(&parts);
    let back = super::notebook::return_to(&parts);
    let req = Request::from_parts(parts, body);
    let mut resp = next.run(req).await;
    resp = super::notebook::finish_gate_redirect(resp, &back, fetch);
    if let Some(problem) = resp.extensions_mut().remove::<WebProblem>() {
        let ctx = slot
            .0
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_else(|| Ctx::anonymous(guest));
        let title = ctx.t(problem.title);
        let detail = match &problem.detail {
            Some((code, args)) => crate::i18n::I18n::get().text(ctx.lang, code, args),
            None => String::new(),
        };
        resp = if fetch {
            let text = if detail.is_empty() { title } else { detail };
            (
                problem.status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response()
        } else {
            let page = ErrorPage {
                ctx,
                title,
                detail,
                request_id,
            };
            match super::html_status(problem.status, &page) {
                Ok(r) => r,
                Err(_) => problem.status.into_response(),
            }
        };
    }
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert("x-frame-options", HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
