//! The centre's two listeners bound, given the centre's own certificate (fresh at every start),
//! and served until shutdown: operators over TLS (or plain HTTP on loopback, for development),
//! validators over mutual TLS whose connections close when their certificate is revoked.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use runtime::{Shutdown, ShutdownTrigger};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::pki::{CENTRE_SERVICE, CentrePki};
use crate::tls_listener::{self as listener, ListenerLimits, Security};
use crate::wiring::Routers;

/// Where and how the two listeners run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSetup {
    /// Operators' address: dashboard, enrolment, CA and CRL.
    pub listen: SocketAddr,
    /// Validators' mutual-TLS address: the warnings API.
    pub mtls_listen: SocketAddr,
    /// Host names of the centre's own certificate, besides `vpn-centre`.
    pub server_names: Vec<String>,
    /// Operators over plain HTTP instead of TLS (the loopback development mode).
    pub plain_operators: bool,
    /// Connection limits and timeouts of each listener.
    pub limits: ListenerLimits,
}

impl ListenerSetup {
    /// Both listeners on 127.0.0.1 at ports the system picks, operators over plain HTTP, the
    /// default limits: the in-process centre of tests and harnesses.
    pub fn loopback() -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            listen: any_port,
            mtls_listen: any_port,
            server_names: vec!["127.0.0.1".into()],
            plain_operators: true,
            limits: ListenerLimits::default(),
        }
    }
}

/// Both listeners, serving. Dropping it stops accepting and aborts their tasks; after a
/// shutdown, [`Listening::stopped`] waits for them instead.
pub struct Listening {
    pub operator_addr: SocketAddr,
    pub mtls_addr: SocketAddr,
    plain_operators: bool,
    tasks: Vec<JoinHandle<()>>,
    /// Held when the listeners stop on drop rather than on a shutdown given by the caller.
    _stop: Option<ShutdownTrigger>,
}

impl Listening {
    /// Binds both addresses, issues the centre's certificate from `pki`, and serves `routers`
    /// until `shutdown` fires; connections already open finish their requests.
    pub async fn start(
        setup: &ListenerSetup,
        pki: &CentrePki,
        routers: Routers,
        shutdown: Shutdown,
    ) -> anyhow::Result<Self> {
        // The certificate first: a PKI failure leaves no port bound.
        let own = pki
            .issue_service(CENTRE_SERVICE, &setup.server_names)
            .await
            .context("cannot issue the centre's own TLS certificate")?;
        let mtls_config = vpn_pki::server_config(&own.cert_pem, &own.key_pem, pki.verifier())
            .context("cannot build the validators' mutual-TLS configuration")?;
        let operator_tls = if setup.plain_operators {
            None
        } else {
            let config = listener::server_only_tls(&own.cert_pem, &own.key_pem)
                .context("cannot build the operators' TLS configuration")?;
            Some(Arc::new(config))
        };

        let operator_listener = bind(setup.listen).await?;
        let mtls_listener = bind(setup.mtls_listen).await?;
        let operator_addr = local_addr(&operator_listener)?;
        let mtls_addr = local_addr(&mtls_listener)?;

        let Routers {
            operator,
            validator,
            metrics,
        } = routers;
        let operators = tokio::spawn(listener::serve(
            operator_listener,
            operator_tls,
            operator,
            setup.limits,
            Some(metrics.clone()),
            shutdown.clone().wait_owned(),
        ));
        // Mutual TLS: a connection closes as soon as its certificate is revoked.
        let mtls = Security::MutualTls {
            config: Arc::new(mtls_config),
            verifier: pki.verifier(),
        };
        let validators = tokio::spawn(listener::serve_with(
            mtls_listener,
            mtls,
            validator,
            setup.limits,
            Some(metrics),
            shutdown.wait_owned(),
        ));
        Ok(Self {
            operator_addr,
            mtls_addr,
            plain_operators: setup.plain_operators,
            tasks: vec![operators, validators],
            _stop: None,
        })
    }

    /// [`Listening::start`], stopping when the returned value is dropped.
    pub async fn start_owned(
        setup: &ListenerSetup,
        pki: &CentrePki,
        routers: Routers,
    ) -> anyhow::Result<Self> {
        let (stop, shutdown) = runtime::shutdown::channel();
        let mut listening = Self::start(setup, pki, routers, shutdown).await?;
        listening._stop = Some(stop);
        Ok(listening)
    }

    /// The operators' base URL: `http://` in the plain development mode, else `https://`.
    pub fn operator_url(&self) -> String {
        let scheme = if self.plain_operators {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.operator_addr)
    }

    /// The validators' base URL (`https://`).
    pub fn mtls_url(&self) -> String {
        format!("https://{}", self.mtls_addr)
    }

    /// Waits until both listeners have stopped accepting, after their shutdown fired.
    pub async fn stopped(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; is another process using it?"))
}

fn local_addr(listener: &TcpListener) -> anyhow::Result<SocketAddr> {
    listener
        .local_addr()
        .context("listener has no local address")
}
