//! A binary's `main` in one call: tokio runtime, logging, signals, and an exit status with one
//! printed line on failure.

use std::fmt;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use crate::log::Logging;
use crate::shutdown::{self, Shutdown};

/// How long, after the service returned, blocking tasks (a read of stdin, say) may hold up the
/// exit.
const BLOCKING_GRACE: Duration = Duration::from_millis(500);

/// An error that ends the process with `code` instead of 1, for outcomes a supervisor must tell
/// apart (the edge gateway's "banned", which must not be restarted).
#[derive(Debug)]
pub struct Exit {
    code: u8,
    error: anyhow::Error,
}

impl Exit {
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Exit {
            code,
            error: error.into(),
        }
    }

    pub fn code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain: `Exit` itself has no source, so nothing is lost or printed twice.
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Exit {}

/// Runs a long-lived service: installs `logging` (if any) and SIGINT/SIGTERM handlers, then
/// `service(shutdown)`; the first signal fires `shutdown`, and the service returns once it has
/// stopped cleanly.
pub fn serve<F, Fut>(logging: Option<Logging>, service: F) -> ExitCode
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    main(logging, || async move {
        let (trigger, shutdown) = shutdown::channel();
        let watcher = shutdown::on_signals(trigger)?;
        let result = service(shutdown).await;
        watcher.abort();
        result
    })
}

/// Runs a one-shot command: installs `logging` (if any), runs `command`, and maps its error to
/// the exit status. Signals keep their default action: Ctrl-C ends the process.
pub fn main<F, Fut>(logging: Option<Logging>, command: F) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    if let Some(logging) = logging {
        logging.init();
    }
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| anyhow::Error::new(e).context("cannot start the async runtime"))
        .and_then(|runtime| {
            let result = runtime.block_on(command());
            runtime.shutdown_timeout(BLOCKING_GRACE);
            result
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (code, line) = report(&error);
            eprintln!("{line}");
            ExitCode::from(code)
        }
    }
}

/// The exit status and the one line printed for `error`: `error: outer: cause: root cause`.
fn report(error: &anyhow::Error) -> (u8, String) {
    let code = error
        .chain()
        .find_map(|e| e.downcast_ref::<Exit>())
        .map_or(1, Exit::code);
    // Many errors already end with their source's text; print each part once.
    let mut line = String::from("error: ");
    let mut previous = String::new();
    for (i, cause) in error.chain().enumerate() {
        let text = cause.to_string();
        if i > 0 && previous.ends_with(&text) {
            continue;
        }
        if i > 0 {
            line.push_str(": ");
        }
        line.push_str(&text);
        previous = text;
    }
    (code, line.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signals;
    use anyhow::Context;
    use std::sync::mpsc;

    #[test]
    fn a_source_already_in_its_errors_text_is_printed_once() {
        let error = anyhow::Error::new(crate::ConfigError::Read {
            path: "/x.toml".into(),
            source: std::io::Error::other("no such file"),
        })
        .context("cannot start");
        let (_, line) = report(&error);
        assert_eq!(
            line,
            "error: cannot start: cannot read config file /x.toml: no such file"
        );
    }

    #[test]
    fn errors_become_one_line_and_status_one_unless_exit_says_otherwise() {
        let io = std::io::Error::other("connection refused\nby 127.0.0.1:7400");
        let error = anyhow::Error::new(io).context("cannot reach the sink");
        let (code, line) = report(&error);
        assert_eq!(code, 1);
        assert_eq!(
            line,
            "error: cannot reach the sink: connection refused by 127.0.0.1:7400"
        );

        let banned = anyhow::anyhow!("device d1 is banned (1003)");
        let error = anyhow::Error::new(Exit::new(3, banned)).context("edge gateway stopped");
        let (code, line) = report(&error);
        assert_eq!(code, 3);
        assert_eq!(
            line,
            "error: edge gateway stopped: device d1 is banned (1003)"
        );
    }

    #[test]
    fn one_shot_commands_report_their_outcome() {
        assert_eq!(main(None, || async { Ok(()) }), ExitCode::SUCCESS);
        let failed = main(None, || async {
            Err::<(), _>(std::io::Error::other("disk full")).context("cannot write")
        });
        assert_eq!(failed, ExitCode::from(1));
        let banned = main(None, || async {
            Err(Exit::new(3, anyhow::anyhow!("banned")).into())
        });
        assert_eq!(banned, ExitCode::from(3));
    }

    #[test]
    fn a_service_stops_cleanly_on_sigterm() {
        let _lock = test_signals::lock();
        let (ready_tx, ready) = mpsc::channel();
        let (stopped_tx, stopped) = mpsc::channel();
        let service = std::thread::spawn(move || {
            serve(None, |mut shutdown| async move {
                ready_tx.send(()).unwrap();
                shutdown.wait().await;
                stopped_tx.send(shutdown.is_triggered()).unwrap();
                Ok(())
            })
        });
        ready
            .recv_timeout(Duration::from_secs(5))
            .expect("service started");
        // The handlers were installed before the service ran, so this cannot kill the process.
        test_signals::send("TERM");
        let triggered = stopped
            .recv_timeout(Duration::from_secs(5))
            .expect("the service stops within 5 s of SIGTERM");
        assert!(triggered);
        assert_eq!(service.join().unwrap(), ExitCode::SUCCESS);
    }

    #[test]
    fn a_service_failing_on_its_own_returns_its_status() {
        let _lock = test_signals::lock();
        let code = serve(None, |_shutdown| async {
            Err(Exit::new(4, anyhow::anyhow!("port in use")).into())
        });
        assert_eq!(code, ExitCode::from(4));
    }
}
