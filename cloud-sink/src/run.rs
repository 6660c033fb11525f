//! The sink as a service: open the database, bind, serve until shutdown. The binary and tests call [`run`].

use std::sync::Arc;

use anyhow::Context;
use runtime::Shutdown;

use crate::config::Config;
use crate::http::App;
use crate::server::Server;
use crate::store::{Database, Store};
use crate::tls::SinkTls;

/// Opens the database in `config`, checks it answers, binds the listener (HTTPS when TLS is
/// configured) and serves until `shutdown` fires; in-flight requests finish first.
pub async fn run(config: Config, shutdown: Shutdown) -> anyhow::Result<()> {
    let store = Database::open_with(&config.database, &config.postgres_tls)
        .await
        .with_context(|| format!("opening the database {}", redact(&config.database)))?;
    store
        .health()
        .await
        .context("first health check of the database")?;
    let server = match &config.tls {
        Some(tls) => {
            let tls = SinkTls::start(tls).await?;
            Server::bind_tls(config.listen, tls).await?
        }
        None => Server::bind(config.listen).await?,
    };
    tracing::info!(
        listen = %server.local_addr(),
        tls = server.is_tls(),
        database = redact(&config.database),
        backend = store.kind(),
        "cloud sink listening"
    );
    let app = Arc::new(App {
        store,
        limits: config.limits,
        metrics: Default::default(),
    });
    server
        .serve(app, async move {
            shutdown.wait_owned().await;
            tracing::info!("shutdown requested; finishing in-flight requests");
        })
        .await?;
    tracing::info!("cloud sink stopped");
    Ok(())
}

/// Hides a password in a database URL before it is logged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    match rest.split_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://sink:secret@127.0.0.1:5432/telemetry"),
            "postgres://sink:***@127.0.0.1:5432/telemetry"
        );
        assert_eq!(redact("postgres://sink@host/db"), "postgres://sink@host/db");
        assert_eq!(redact("sqlite:./cloud-sink.db"), "sqlite:./cloud-sink.db");
    }
}
