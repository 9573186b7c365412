//! The localisation layer for errors: renders the `Problem` a handler left in the
//! response as RFC 9457 problem+json in the caller's language, with the request id.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Value as Json};

use crate::error::Problem;
use crate::i18n::{I18n, Lang};

/// A request's id, shown to users on errors and written to every log line.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn request_lang(req: &Request) -> Lang {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(Lang::from_accept_language)
        .unwrap_or_default()
}

pub fn render(problem: &Problem, lang: Lang, request_id: &str) -> Json {
    let i18n = I18n::get();
    let errors: Vec<Json> = problem
        .errors
        .iter()
        .map(|e| {
            let args: Vec<(&str, String)> = e.args.iter().map(|(k, v)| (*k, v.clone())).collect();
            let text = i18n.text(lang, e.code, &args);
            let base = e.field.split('.').next_back().unwrap_or(&e.field);
            let message = if e.field.is_empty() || e.field == "filter" {
                text
            } else {
                format!("{}: {}", i18n.field_label(lang, base), text)
            };
            let mut obj = json!({"field": e.field, "code": e.code, "message": message});
            for (k, v) in &e.args {
                if !matches!(*k, "field" | "code" | "message") {
                    obj[*k] = Json::String(v.clone());
                }
            }
            obj
        })
        .collect();
    let title = i18n.text(lang, &format!("problem-{}", problem.code), &[]);
    let detail = errors
        .first()
        .and_then(|e| e["message"].as_str())
        .map(String::from)
        .unwrap_or_else(|| title.clone());
    let mut body = json!({
        "type": format!("https://plotina.dev/problems/{}", problem.code.replace('_', "-")),
        "title": title,
        "status": problem.status.as_u16(),
        "detail": detail,
        "code": problem.code,
        "errors": errors,
        "request_id": request_id,
    });
    if let Some((k, v)) = &problem.extra {
        body[*k] = v.clone();
    }
    body
}

/// Middleware: assigns the request id and renders problems. Also turns the framework's
/// own plain-text rejections (unknown route, wrong method) into problems.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(String::from)
        .unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let lang = request_lang(&req);
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let problem = resp.extensions_mut().remove::<Problem>().or_else(|| {
        let status = resp.status();
        let framework =
            is_api && (status.is_client_error() || status.is_server_error()) && !is_problem(&resp);
        framework.then(|| Problem {
            status,
            code: match status {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::UNAUTHORIZED => "unauthorized",
                s if s.is_server_error() => "internal_error",
                _ => "bad_request",
            },
            errors: Vec::new(),
            extra: None,
        })
    });
    if let Some(p) = problem {
        let body = render(&p, lang, &id);
        let headers = resp.headers().clone();
        resp = Response::builder()
            .status(p.status)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .body(Body::from(body.to_string()))
            .unwrap_or_default();
        for (k, v) in headers.iter() {
            if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
                resp.headers_mut().insert(k.clone(), v.clone());
            }
        }
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

fn is_problem(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json") || v.starts_with("text/html"))
}

fn new_request_id() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}
