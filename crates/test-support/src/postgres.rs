//! A throwaway real PostgreSQL server: `initdb` in a tempdir, run on a free loopback port (TLS optional), stopped by PID on drop.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where to look for the server binaries besides `SF2C_PG_BIN` and `PATH`.
const PG_LIB: &str = "/usr/lib/postgresql";
/// The superuser `initdb` creates; trust authentication on loopback only.
const SUPERUSER: &str = "sf2c";
/// The unprivileged account PostgreSQL runs as when the tests run as root.
const RUN_AS: &str = "postgres";

/// A running PostgreSQL server owned by the test that started it.
pub struct PgServer {
    /// Data directory, removed after the server has stopped.
    _dir: tempfile::TempDir,
    port: u16,
    child: Child,
    pid: i32,
}

impl PgServer {
    /// Starts a fresh server without fsync (tests need speed, not crash safety);
    /// panics with what to install when the binaries are missing.
    pub fn start() -> Self {
        Self::start_with(false, None)
    }

    /// Starts a fresh server that fsyncs its commits, for figures comparable to production.
    pub fn start_durable() -> Self {
        Self::start_with(true, None)
    }

    /// Starts a fresh server with `ssl=on`, presenting `cert_pem` (chain, leaf first) and `key_pem`.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::start_with(false, Some((cert_pem, key_pem)))
    }

    fn start_with(fsync: bool, tls: Option<(&str, &str)>) -> Self {
        let initdb = find_bin("initdb");
        let postgres = find_bin("postgres");
        let dir = tempfile::Builder::new()
            .prefix("sf2c-pg-")
            .tempdir()
            .expect("create tempdir for PostgreSQL");
        let as_root = unsafe { libc::geteuid() } == 0;
        if as_root {
            // PostgreSQL refuses to run as root, so the data directory belongs to its own account.
            run_checked(
                Command::new("chown")
                    .arg(format!("{RUN_AS}:"))
                    .arg(dir.path()),
                "chown the PostgreSQL tempdir",
            );
        }
        let data = dir.path().join("data");
        let mut init = command(as_root, &initdb);
        init.arg("-D").arg(&data).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run_checked(&mut init, "initdb");

        let ssl_args = match tls {
            Some((cert, key)) => server_tls_files(dir.path(), cert, key, as_root),
            None => Vec::new(),
        };

        let port = crate::free_port();
        let log_path = dir.path().join("postgres.log");
        let log = File::create(&log_path).expect("create PostgreSQL log file");
        let mut server = command(as_root, &postgres);
        server
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                &port.to_string(),
                "-c",
                if fsync { "fsync=on" } else { "fsync=off" },
            ])
            .args(&ssl_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = server
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", postgres.display()));
        let mut this = Self {
            _dir: dir,
            port,
            child,
            pid: 0,
        };
        this.pid = this.wait_ready(&data, &log_path);
        this
    }

    /// Connection URL of the default database.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Waits for `postmaster.pid` to report "ready" and returns the postmaster's PID.
    fn wait_ready(&mut self, data: &Path, log: &Path) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "PostgreSQL exited early ({status}); log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) {
                let lines: Vec<&str> = text.lines().collect();
                if lines.len() >= 8 && lines[7].trim() == "ready" {
                    return lines[0].trim().parse().expect("PID in postmaster.pid");
                }
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL not ready after 60 s; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
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
        // SIGTERM waits for clients to leave; escalate to fast shutdown, then kill.
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGKILL] {
            unsafe { libc::kill(self.pid, signal) };
            if self.wait_exit(Duration::from_secs(3)) {
                break;
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the server's certificate and key where PostgreSQL accepts them (key 0600, owned by the
/// server's account) and returns the `-c` settings that turn TLS on.
fn server_tls_files(dir: &Path, cert: &str, key: &str, as_root: bool) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let cert_path = dir.join("server.crt");
    let key_path = dir.join("server.key");
    std::fs::write(&cert_path, cert).expect("write the PostgreSQL server certificate");
    std::fs::write(&key_path, key).expect("write the PostgreSQL server key");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
        .expect("make the PostgreSQL server key private");
    if as_root {
        run_checked(
            Command::new("chown")
                .arg(format!("{RUN_AS}:"))
                .arg(&cert_path)
                .arg(&key_path),
            "chown the PostgreSQL TLS files",
        );
    }
    vec![
        "-c".into(),
        "ssl=on".into(),
        "-c".into(),
        format!("ssl_cert_file={}", cert_path.display()),
        "-c".into(),
        format!("ssl_key_file={}", key_path.display()),
    ]
}

fn command(as_root: bool, bin: &Path) -> Command {
    if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", RUN_AS, "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn run_checked(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Finds a PostgreSQL server binary, newest installed version first.
fn find_bin(name: &str) -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("SF2C_PG_BIN") {
        candidates.push(PathBuf::from(dir).join(name));
    }
    if let Ok(entries) = std::fs::read_dir(PG_LIB) {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p.join("bin").join(name)));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|p| p.join(name)));
    }
    candidates.into_iter().find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("PostgreSQL server binary `{name}` not found in $SF2C_PG_BIN, {PG_LIB}/*/bin or PATH; \
                install it (Debian: apt-get install postgresql) to run the PostgreSQL tests")
    })
}
