//! A real, throw-away PostgreSQL server for the sink under test: `initdb` in a tempdir, `postgres`
//! on a free 127.0.0.1 port, stopped by its PID when the guard drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Superuser created by `initdb`; trust authentication, reachable on loopback only.
const ROLE: &str = "sf2c";
/// Account the server runs as when the tests run as root (PostgreSQL refuses root).
const SERVICE_ACCOUNT: &str = "postgres";
/// Debian/Ubuntu install the server binaries under `<this>/<major>/bin`.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// A running PostgreSQL server owned by one test.
pub struct PgServer {
    port: u16,
    postmaster: i32,
    child: Child,
    /// Removed after the server has stopped (fields drop after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl PgServer {
    /// Initialises a cluster and starts it without fsync (the tests check logic, not crash safety).
    /// Panics saying what to install when `initdb`/`postgres` are missing.
    pub fn start() -> PgServer {
        let (initdb, postgres) = (server_binary("initdb"), server_binary("postgres"));
        let dir = tempfile::Builder::new()
            .prefix("sf2c-fog-pg-")
            .tempdir()
            .unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            must_run(
                Command::new("chown")
                    .arg(format!("{SERVICE_ACCOUNT}:"))
                    .arg(dir.path()),
                "give the PostgreSQL tempdir to its service account",
            );
        }
        let data = dir.path().join("data");
        must_run(
            as_service(root, &initdb).arg("-D").arg(&data).args([
                "-U",
                ROLE,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]),
            "initdb",
        );
        let port = super::free_port();
        let log = dir.path().join("server.log");
        let child = as_service(root, &postgres)
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", postgres.display()));
        let mut server = PgServer {
            port,
            postmaster: 0,
            child,
            _dir: dir,
        };
        server.postmaster = server.wait_ready(&data, &log);
        server
    }

    /// URL of the default database, for `cloud_sink::Database::open`.
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/postgres", self.port)
    }

    /// Waits (up to 60 s) until `postmaster.pid` says "ready"; returns the postmaster's PID.
    fn wait_ready(&mut self, data: &Path, log: &Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "PostgreSQL exited during start-up ({status}); log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            let pid_file = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            let lines: Vec<&str> = pid_file.lines().collect();
            if lines.get(7).is_some_and(|status| status.trim() == "ready") {
                return lines[0].trim().parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL not ready within 60 s; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exited_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Smart shutdown waits for clients; fall back to fast shutdown, then to SIGKILL.
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGKILL] {
            unsafe { libc::kill(self.postmaster, signal) };
            if self.exited_within(Duration::from_secs(3)) {
                break;
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bin` as a command, run through `runuser` as the service account when we are root.
fn as_service(root: bool, bin: &Path) -> Command {
    if !root {
        return Command::new(bin);
    }
    let mut command = Command::new("runuser");
    command.args(["-u", SERVICE_ACCOUNT, "--"]).arg(bin);
    command
}

fn must_run(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Finds a server binary in `$SF2C_PG_BIN`, the newest `/usr/lib/postgresql/*/bin`, then `PATH`.
fn server_binary(name: &str) -> PathBuf {
    let mut places: Vec<PathBuf> = std::env::var_os("SF2C_PG_BIN")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir(VERSIONED_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versioned.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    places.extend(versioned.into_iter().map(|(_, bin)| bin));
    if let Some(path) = std::env::var_os("PATH") {
        places.extend(std::env::split_paths(&path));
    }
    places
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binary `{name}` not found in $SF2C_PG_BIN, \
                 {VERSIONED_ROOT}/*/bin or PATH; install the server (Debian: apt-get install \
                 postgresql) or point SF2C_PG_BIN at its bin directory"
            )
        })
}
