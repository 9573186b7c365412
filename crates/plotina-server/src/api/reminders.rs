//! Live notebook events over SSE: `GET /api/v1/notebook/stream` (session or token) sends
//! `badge` (`{"count": n}`, the caller's open notebook items) on connect and after each
//! `toast` (`{"kind": "reminder", "item_id", "text", "due_at", "record"}`) addressed to
//! the caller. Browsers use it through `EventSource` (static/app.js).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures::stream::{self, Stream};
use plotina_core::DomainError;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

/// One event for one user's browsers.
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    #[serde(skip)]
    pub user_id: i64,
    pub kind: String,
    pub item_id: i64,
    pub text: String,
    pub due_at: Option<String>,
    /// `"/activities/12"`: where the toast links to.
    pub record: Option<String>,
}

/// Fan-out of live events to every open stream (each stream keeps its user's).
#[derive(Clone)]
pub struct Hub(broadcast::Sender<LiveEvent>);

impl Default for Hub {
    fn default() -> Self {
        Hub(broadcast::channel(1024).0)
    }
}

impl Hub {
    pub fn publish(&self, event: LiveEvent) {
        // No open stream is not an error: the item waits in the notebook.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.0.subscribe()
    }
}

async fn badge(s: &AppState, user_id: i64) -> Event {
    let count = plotina_store::reminders::open_items(s.store.pool(), user_id)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = ?e, "badge count failed");
            0
        });
    Event::default()
        .event("badge")
        .data(serde_json::json!({ "count": count }).to_string())
}

enum Phase {
    Start,
    Wait,
    Badge,
}

async fn stream_events(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Only event-stream clients (EventSource sends this) get the endless response.
    let wants_stream = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"));
    if !wants_stream {
        return Err(DomainError::bad_request("Accept", "event_stream_required").into());
    }
    let user_id = auth.actor.user_id;
    let rx = s.live.subscribe();
    let events = stream::unfold(
        (s, rx, Phase::Start),
        move |(s, mut rx, phase)| async move {
            match phase {
                Phase::Start | Phase::Badge => {
                    let ev = badge(&s, user_id).await;
                    Some((Ok(ev), (s, rx, Phase::Wait)))
                }
                Phase::Wait => loop {
                    match rx.recv().await {
                        Ok(ev) if ev.user_id == user_id => {
                            let data = serde_json::to_string(&ev).unwrap_or_default();
                            let out = Event::default().event("toast").data(data);
                            return Some((Ok(out), (s, rx, Phase::Badge)));
                        }
                        Ok(_) => continue,
                        // Fell behind: the badge still tells the truth.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let ev = badge(&s, user_id).await;
                            return Some((Ok(ev), (s, rx, Phase::Wait)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                },
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/notebook/stream", get(stream_events))
}

/// This module's paths in the OpenAPI document.
pub fn openapi_paths(paths: &mut serde_json::Map<String, serde_json::Value>) {
    paths.insert(
        "/api/v1/notebook/stream".into(),
        serde_json::json!({"get": {
            "summary": "Live notebook events (Server-Sent Events): `badge` {count} and `toast` {kind, item_id, text, due_at, record}. Requires `Accept: text/event-stream`.",
            "tags": ["notebook"],
            "parameters": [],
            "responses": {
                "200": {"description": "An endless event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                "default": {"description": "Problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            }
        }}),
    );
}
