//! Free loopback ports for servers a test starts.

/// A port on 127.0.0.1 that was free when asked (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port on 127.0.0.1")
        .port()
}
