//! Shared application state.

use std::sync::Arc;

use plotina_store::Store;

use crate::config::Config;
use crate::limits::LoginLimiter;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub login_limiter: Arc<LoginLimiter>,
    /// Live events for the users' open browsers (reminder toasts, badge counts).
    pub live: crate::api::reminders::Hub,
}
