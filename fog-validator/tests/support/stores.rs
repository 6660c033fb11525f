//! The cloud sink on either of its real stores (a SQLite file or a PostgreSQL server), served
//! in-process on 127.0.0.1 and restartable on the same port and database.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use cloud_sink::Database;
use cloud_sink::http::{App, Limits};
use cloud_sink::server::Server;
use tokio::sync::oneshot;

use test_support::postgres::PgServer;

/// A database the sink stores into; removed (or stopped) when dropped.
pub enum SinkStore {
    Sqlite(tempfile::TempDir),
    Postgres(PgServer),
}

impl SinkStore {
    pub fn sqlite() -> SinkStore {
        SinkStore::Sqlite(tempfile::tempdir().unwrap())
    }

    /// Starts a real PostgreSQL server (blocking until it is ready).
    pub async fn postgres() -> SinkStore {
        SinkStore::Postgres(tokio::task::spawn_blocking(PgServer::start).await.unwrap())
    }

    /// The sink's `--database` URL for this store.
    pub fn url(&self) -> String {
        match self {
            SinkStore::Sqlite(dir) => format!("sqlite:{}", dir.path().join("sink.db").display()),
            SinkStore::Postgres(server) => server.url(),
        }
    }
}

/// A running sink over a [`SinkStore`]; aborted when dropped.
pub struct StoreSink {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl StoreSink {
    /// Serves the sink over `store` on `port` (0 picks one).
    pub async fn start(store: &SinkStore, port: u16) -> StoreSink {
        let database = Database::open(&store.url()).await.unwrap();
        let app = Arc::new(App {
            store: database,
            limits: Limits::default(),
            metrics: Default::default(),
        });
        let server = Server::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            server.serve(app, shutdown).await.unwrap();
        });
        StoreSink {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (at most 10 s), and closes the store.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let finished = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        assert!(finished.is_ok(), "the sink did not stop within 10 s");
    }
}

impl Drop for StoreSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
