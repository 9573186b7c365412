//! The automation job: every few seconds one scheduler pass (time rules, delayed and
//! retried rule work, queued outgoing calls and webhook deliveries) over HTTP.

use std::sync::Arc;
use std::time::Duration;

use plotina_store::automation::HookSender;
use plotina_store::Store;

/// Outgoing HTTP for webhooks: JSON POSTs with a timeout, no redirects followed.
pub struct HttpSender {
    client: reqwest::Client,
}

impl HttpSender {
    pub fn new() -> anyhow::Result<HttpSender> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Plotina/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpSender { client })
    }
}

impl HookSender for HttpSender {
    fn post<'a>(
        &'a self,
        url: &'a str,
        body: &'a [u8],
        headers: &'a [(String, String)],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u16, String>> + Send + 'a>> {
        Box::pin(async move {
            let mut req = self
                .client
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.to_vec());
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            match req.send().await {
                Ok(resp) => Ok(resp.status().as_u16()),
                Err(e) => Err(format!("{e}")),
            }
        })
    }
}

/// Starts the job; it runs until the process ends.
pub fn spawn(store: Arc<Store>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let sender = match HttpSender::new() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("automation job cannot start: {e:#}");
                return;
            }
        };
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store
                .automation_tick(plotina_core::value::now(), Some(&sender))
                .await
            {
                Ok(r) if r.fired + r.jobs + r.deliveries > 0 => {
                    tracing::info!(
                        fired = r.fired,
                        jobs = r.jobs,
                        deliveries = r.deliveries,
                        "automation tick"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("automation tick failed: {e}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use plotina_store::automation::HookSender;

    use super::HttpSender;

    /// Webhook receivers are usually https: the sender speaks TLS. A loopback listener
    /// that is not TLS makes the handshake fail — proof the sender tried TLS, where a
    /// client without it refuses the scheme before connecting.
    #[tokio::test]
    async fn https_urls_are_sent_over_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 5];
            tokio::io::AsyncReadExt::read_exact(&mut socket, &mut hello)
                .await
                .unwrap();
            hello
        });
        let sender = HttpSender::new().unwrap();
        let err = sender
            .post(&format!("https://127.0.0.1:{port}/hook"), b"{}", &[])
            .await
            .unwrap_err();
        assert!(!err.contains("scheme"), "{err}");
        // A TLS ClientHello starts with a handshake record: 0x16 0x03.
        let hello = accepted.await.unwrap();
        assert_eq!(&hello[..2], &[0x16, 0x03], "{err}");
    }
}
