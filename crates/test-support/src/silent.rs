//! A TCP listener that accepts and never answers: a network fault standing in for a hung server.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Accepts every connection on 127.0.0.1 and holds it open without sending a byte (not even a TLS
/// alert), until dropped.
pub struct SilentListener {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentListener {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a silent listener on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("the silent listener's address");
        let task = tokio::spawn(async move {
            // Kept, not dropped: a closed socket would answer with FIN.
            let mut open = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                open.push(tcp);
            }
        });
        Self { addr, task }
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
