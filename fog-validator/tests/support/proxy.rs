//! A TCP forwarder on 127.0.0.1 that a test can cut and restore, to take one client's path to a
//! real server away (here: a validator's path to its Fabric peer) without stopping the server
//! that other tests share.

use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards every connection to `target` until cut; cutting closes the listener and every
/// forwarded connection, as a lost network would.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self {
            addr,
            target,
            task: Mutex::new(Some(tokio::spawn(forward(listener, target)))),
        }
    }

    /// Closes the listener and every connection through it.
    pub fn cut(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Listens on the same address again.
    pub async fn restore(&self) {
        self.cut();
        let listener = TcpListener::bind(self.addr).await.unwrap();
        *self.task.lock().unwrap() = Some(tokio::spawn(forward(listener, self.target)));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// The accept loop; each connection is a task of its own set, dropped (closed) with it.
async fn forward(listener: TcpListener, target: SocketAddr) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
        while connections.try_join_next().is_some() {}
    }
}
