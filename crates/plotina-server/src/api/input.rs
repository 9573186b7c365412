//! Reading request input with errors as problems (not the framework's plain text).

use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use crate::error::ApiError;

/// A JSON object body. Wrong content type, broken JSON and non-objects are 400/415-ish
/// problems that name what is wrong.
pub fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Json>, ApiError> {
    if let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let ct = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(ct == "application/json" || ct.ends_with("+json")) {
            return Err(ApiError::malformed(
                "Content-Type",
                "unsupported_media_type",
            ));
        }
    }
    if body.is_empty() {
        return Ok(Map::new());
    }
    let value: Json = serde_json::from_slice(body).map_err(|e| {
        let mut err = plotina_core::FieldError::new("body", "bad_json");
        err = err.with("detail", e.to_string());
        ApiError::Domain(plotina_core::DomainError::BadRequest(err))
    })?;
    match value {
        Json::Object(m) => Ok(m),
        _ => Err(ApiError::Domain(plotina_core::DomainError::invalid(
            "body",
            "expected_json_object",
        ))),
    }
}

/// A JSON object body into a struct (which refuses unknown fields): the checks of
/// [`json_object`], then any field of the wrong shape is a 400 `bad_request` on `body`.
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_value(Json::Object(json_object(headers, body)?))
        .map_err(|_| ApiError::malformed("body", "bad_request"))
}

/// Query parameters into a struct; unknown parameters are ignored, bad values named.
pub fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| {
        let err = plotina_core::FieldError::new("query", "bad_query").with("detail", e.to_string());
        ApiError::Domain(plotina_core::DomainError::BadRequest(err))
    })
}

/// A record id from the path.
pub fn id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(ApiError::not_found)
}

/// `If-Match: "3"` (also `W/"3"` and a bare `3`) → 3.
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| ApiError::malformed("If-Match", "bad_if_match"))?
        .trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.trim_start_matches("W/").trim_matches('"');
    s.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::malformed("If-Match", "bad_if_match"))
}

pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
