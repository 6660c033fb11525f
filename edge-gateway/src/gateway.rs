//! The running daemon: sensor → signer → disk queue → sender, plus metrics, with orderly shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use disk_queue::DiskQueue;
use tokio::io::BufReader;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::config::{Config, SensorKind};
use crate::error::GatewayError;
use crate::keygen::load_signing_key;
use crate::metrics::{self, Metrics};
use crate::sender::{Sender, SenderOptions};
use crate::sensor::{self, Measurements};
use crate::sequence::SequenceStore;
use crate::signer::{self, QueuedMessage, Signer};
use crate::stale::StaleHandler;
use crate::tls;
use crate::transport::ValidatorClient;
use runtime::{Shutdown, ShutdownTrigger};

/// Readings buffered between the sensor and the signer.
const READING_BUFFER: usize = 256;

/// Why a task ended the gateway early.
#[derive(Debug)]
enum Stop {
    Failed(String),
    // The sender already logged the ban; shutting down is the intended outcome.
    Banned,
}

/// A started gateway; call [`Gateway::shutdown`] to stop it cleanly.
#[derive(Debug)]
pub struct Gateway {
    metrics: Arc<Metrics>,
    metrics_addr: Option<SocketAddr>,
    trigger: ShutdownTrigger,
    sensor: JoinHandle<()>,
    signer: JoinHandle<Result<(), GatewayError>>,
    sender: JoinHandle<Result<(), GatewayError>>,
    metrics_task: Option<JoinHandle<()>>,
    // Carries the first error of the signer or sender; a sensor reaching its end is not one.
    fatal: mpsc::Receiver<Stop>,
}

impl Gateway {
    /// Opens the key, queue and sequence store, and starts every task.
    pub async fn start(config: &Config) -> Result<Gateway, GatewayError> {
        let key = load_signing_key(&config.key_path, config.key_algorithm.as_deref())?;
        let queue_path = config.queue_path.clone();
        let device = config.device_uuid;
        let metrics = Arc::new(Metrics::new(config.validators.clone()));
        let (parked_path, window_ms) = (config.parked_path(), config.replay_window_ms);
        let stale_metrics = Arc::clone(&metrics);
        // Opening the files creates tables and fsyncs: off the async threads.
        let (queue, signer, stale) =
            tokio::task::spawn_blocking(move || -> Result<_, GatewayError> {
                let queue = Arc::new(DiskQueue::<QueuedMessage>::open(&queue_path)?);
                let seq = SequenceStore::open(&queue_path, device)?;
                let signer = Arc::new(Signer::new(device, key, seq));
                let stale = StaleHandler::open(
                    Arc::clone(&signer),
                    Arc::clone(&queue),
                    &parked_path,
                    window_ms,
                    stale_metrics,
                )?;
                Ok((queue, signer, Arc::new(stale)))
            })
            .await
            .map_err(|e| GatewayError::Task(e.to_string()))??;
        let tls = tls::client_config_for(config)?;
        let validators = config
            .validators
            .iter()
            .map(|url| ValidatorClient::new(url, Arc::clone(&tls)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| GatewayError::Config(e.to_string()))?;

        let depth = queue.len()?;
        metrics.queue_depth.store(depth, Relaxed);
        if depth > 0 {
            tracing::info!(depth, "resuming with messages queued from an earlier run");
        }
        let (trigger, shutdown) = runtime::shutdown::channel();
        let (metrics_addr, metrics_task) = match &config.metrics_listen {
            Some(addr) => {
                let (bound, task) =
                    metrics::serve(addr, Arc::clone(&metrics), shutdown.clone()).await?;
                (Some(bound), Some(task))
            }
            None => (None, None),
        };

        let wake = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(READING_BUFFER);
        let sensor = spawn_sensor(config, tx, shutdown.clone(), Arc::clone(&metrics)).await?;
        let (fatal_tx, fatal) = mpsc::channel(2);
        let signer = tokio::spawn(report_failure(
            fatal_tx.clone(),
            signer::run(
                signer,
                rx,
                Arc::clone(&queue),
                Arc::clone(&metrics),
                Arc::clone(&wake),
            ),
        ));
        let opts = SenderOptions {
            device: config.device_uuid,
            batch_size: config.batch_size,
            request_timeout: config.request_timeout(),
            backoff_min: Duration::from_millis(config.backoff_min_ms),
            backoff_max: Duration::from_millis(config.backoff_max_ms),
        };
        let sender = Sender::new(queue, validators, opts, Arc::clone(&metrics), wake, stale);
        let sender = tokio::spawn(report_failure(fatal_tx, sender.run(shutdown)));
        Ok(Gateway {
            metrics,
            metrics_addr,
            trigger,
            sensor,
            signer,
            sender,
            metrics_task,
            fatal,
        })
    }

    /// The live counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where `/metrics` is served, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops reading, signs and queues readings already taken, lets the request in flight
    /// finish, and returns. Undelivered messages stay in the queue for the next start.
    pub async fn shutdown(self) -> Result<(), GatewayError> {
        self.trigger.trigger();
        let join =
            |what: &str, e: tokio::task::JoinError| GatewayError::Task(format!("{what}: {e}"));
        self.sensor.await.map_err(|e| join("sensor", e))?;
        self.signer.await.map_err(|e| join("signer", e))??;
        self.sender.await.map_err(|e| join("sender", e))??;
        if let Some(task) = self.metrics_task {
            task.await.map_err(|e| join("metrics", e))?;
        }
        Ok(())
    }

    /// Runs until `stop` completes or a task fails, then shuts down. A validator answering 1003
    /// ends it with [`GatewayError::Banned`], the unsent messages still queued.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), GatewayError> {
        tokio::select! {
            _ = stop => {}
            Some(stop) = self.fatal.recv() => match stop {
                Stop::Failed(error) => {
                    tracing::error!(%error, "a gateway task failed; shutting down");
                }
                Stop::Banned => tracing::info!("stopping: the device is banned"),
            },
        }
        self.shutdown().await
    }
}

async fn report_failure(
    fatal: mpsc::Sender<Stop>,
    task: impl std::future::Future<Output = Result<(), GatewayError>>,
) -> Result<(), GatewayError> {
    let result = task.await;
    let stop = match &result {
        Ok(()) => None,
        Err(GatewayError::Banned { .. }) => Some(Stop::Banned),
        Err(e) => Some(Stop::Failed(e.to_string())),
    };
    if let Some(stop) = stop {
        let _ = fatal.send(stop).await;
    }
    result
}

async fn spawn_sensor(
    config: &Config,
    tx: mpsc::Sender<Measurements>,
    shutdown: Shutdown,
    metrics: Arc<Metrics>,
) -> Result<JoinHandle<()>, GatewayError> {
    match config.sensor.kind {
        SensorKind::Weather => {
            let seed = config.sensor.seed.unwrap_or_else(signer::now_ms);
            let station = sensor::weather::WeatherStation::new(seed);
            let interval = Duration::from_millis(config.sensor.interval_ms);
            Ok(tokio::spawn(sensor::weather::run(
                station, interval, tx, shutdown,
            )))
        }
        SensorKind::Ndjson => {
            let path = config.sensor.path.clone();
            let on_bad = move || {
                metrics.bad_input.fetch_add(1, Relaxed);
            };
            match path.filter(|p| p.as_os_str() != "-") {
                None => Ok(tokio::spawn(async move {
                    let stdin = BufReader::new(tokio::io::stdin());
                    let stats = sensor::ndjson::run(stdin, "stdin", tx, shutdown, on_bad).await;
                    tracing::info!(?stats, "stdin ended");
                })),
                Some(path) => {
                    let file = tokio::fs::File::open(&path).await.map_err(|source| {
                        GatewayError::ReadFile {
                            what: "sensor input",
                            path: path.clone(),
                            source,
                        }
                    })?;
                    Ok(tokio::spawn(async move {
                        let name = path.display().to_string();
                        let stats =
                            sensor::ndjson::run(BufReader::new(file), &name, tx, shutdown, on_bad)
                                .await;
                        tracing::info!(?stats, source = %name, "sensor input ended");
                    }))
                }
            }
        }
    }
}
