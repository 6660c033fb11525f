//! The gRPC server a peer dials in chaincode-as-a-service mode: `protos.Chaincode/Connect`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sf2c_protos::protos::ChaincodeMessage;
use sf2c_protos::protos::chaincode_server::{Chaincode, ChaincodeServer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

use crate::config::ShimConfig;
use crate::contract::Contract;
use crate::error::ServeError;
use crate::session::Session;
use crate::tls::TlsFiles;

/// Messages queued towards the peer before senders wait; bounds memory per stream.
const OUTBOUND_QUEUE: usize = 256;

/// Time allowed after the shutdown grace for peers to close their streams.
const CLOSE_MARGIN: Duration = Duration::from_secs(2);

/// The `protos.Chaincode` service: every Connect call is one peer stream.
pub struct ChaincodeService {
    config: Arc<ShimConfig>,
    contract: Arc<dyn Contract>,
    shutdown: watch::Receiver<bool>,
}

impl ChaincodeService {
    /// `shutdown` turning true makes every stream drain and end.
    pub fn new(
        config: ShimConfig,
        contract: Arc<dyn Contract>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        ChaincodeService {
            config: Arc::new(config),
            contract,
            shutdown,
        }
    }

    /// The tonic service with the configured message-size limits.
    pub fn into_server(self) -> ChaincodeServer<Self> {
        let limit = self.config.max_message_bytes;
        ChaincodeServer::new(self)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit)
    }
}

#[tonic::async_trait]
impl Chaincode for ChaincodeService {
    type ConnectStream = ReceiverStream<Result<ChaincodeMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let remote = request.remote_addr();
        tracing::info!(?remote, "peer connected");
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let session = Session::new(self.config.clone(), self.contract.clone(), tx);
        tokio::spawn(session.run(request.into_inner(), self.shutdown.clone()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Serves `contract` on `listener` until `shutdown` completes, then lets running transactions
/// finish (up to `config.shutdown_grace`) and closes the peer streams.
pub async fn serve(
    config: ShimConfig,
    contract: Arc<dyn Contract>,
    listener: TcpListener,
    tls: Option<&TlsFiles>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_rx_for_deadline = stop_rx.clone();
    let config_grace = config.shutdown_grace;
    let service = ChaincodeService::new(config, contract, stop_rx).into_server();
    let mut builder = Server::builder();
    if let Some(files) = tls {
        builder = builder.tls_config(files.server_config()?)?;
    }
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let grace = config_grace;
    let mut stopped = stop_rx_for_deadline;
    let server = builder
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            tracing::info!("shutting down: draining peer streams");
            let _ = stop_tx.send(true);
        });
    // A peer that keeps its side of a stream open would hold graceful shutdown forever; after
    // the grace period (plus a margin for the close handshake) the server stops regardless.
    let deadline = async move {
        while !*stopped.borrow() {
            if stopped.changed().await.is_err() {
                break;
            }
        }
        tokio::time::sleep(grace + CLOSE_MARGIN).await;
    };
    tokio::select! {
        result = server => result?,
        () = deadline => tracing::warn!("peer streams did not close in time; stopping anyway"),
    }
    Ok(())
}
