//! The live Fabric network that `scripts/test` starts with `fabric-network/network.sh`, for tests
//! that talk to Fabric. There is no stand-in: without a network these tests fail saying how to start one.
//! [`peer_cli`] drives it with Fabric's own `peer` CLI instead of our Gateway client.

pub mod peer_cli;

pub use peer_cli::PeerCli;

use std::path::{Path, PathBuf};

use fabric_client::{
    Contract, IdentityChoice, LedgerSettings, NetworkFile, SigningIdentity, connect_now,
};

/// Environment variable naming the `network.json` of the network under test.
pub const NETWORK_ENV: &str = "SF2C_NETWORK";

/// The running network: its `network.json` and what it lists.
#[derive(Debug, Clone)]
pub struct LiveNetwork {
    pub network_json: PathBuf,
    pub file: NetworkFile,
}

fn repo_root() -> PathBuf {
    // crates/test-support -> the workspace root
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl LiveNetwork {
    /// The network named by `SF2C_NETWORK`, else the one `network.sh up` wrote in this checkout.
    /// Panics with the commands to run when neither exists.
    pub fn get() -> Self {
        let path = std::env::var_os(NETWORK_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("fabric-network/run/network.json"));
        if !path.is_file() {
            panic!(
                "this test needs a running Fabric network and {} does not exist; run the suite with \
                 scripts/test, or start one with `fabric-network/network.sh up && fabric-network/network.sh deploy` \
                 (or set {NETWORK_ENV} to a network.json)",
                path.display()
            );
        }
        let file = NetworkFile::load(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Self {
            network_json: path,
            file,
        }
    }

    /// Settings that act on the ledger as `org`'s `identity` (`admin`, `client` or an MSP folder).
    pub fn settings(&self, org: &str, identity: &str) -> LedgerSettings {
        LedgerSettings {
            network: self.network_json.clone(),
            org: org.to_string(),
            identity: identity.to_string(),
        }
    }

    /// [`LiveNetwork::settings`] on a copy of `network.json` saved in `dir` in which `org`'s peer
    /// is reached at `endpoint` (its paths made absolute, so the copy resolves from `dir`).
    pub fn settings_via(
        &self,
        org: &str,
        identity: &str,
        endpoint: &str,
        dir: &Path,
    ) -> LedgerSettings {
        let mut file = self.file.with_absolute_paths();
        let moved = file.organizations.iter_mut().find(|o| o.name == org);
        let moved = moved.unwrap_or_else(|| panic!("network.json lists no {org}"));
        moved.peers[0].endpoint = endpoint.to_string();
        let path = dir.join("network.json");
        let json = serde_json::to_vec_pretty(&file).expect("serialise network.json");
        std::fs::write(&path, json)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        LedgerSettings {
            network: path,
            org: org.to_string(),
            identity: identity.to_string(),
        }
    }

    /// The device registry contract on `org`'s peer, signed by `identity`; connected now.
    pub async fn contract(&self, org: &str, identity: &str) -> Contract {
        let settings = self.settings(org, identity);
        let connection = connect_now(&settings)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the network as {org} {identity}: {e}"));
        connection.network.contract(&connection.chaincode)
    }

    /// The signing identity `identity` of `org`.
    pub fn identity(&self, org: &str, identity: &str) -> SigningIdentity {
        let organization = self
            .file
            .organization(org)
            .unwrap_or_else(|e| panic!("{}: {e}", self.network_json.display()));
        self.file
            .chosen_identity(organization, &IdentityChoice::from(identity))
            .unwrap_or_else(|e| panic!("cannot load {org} {identity}: {e}"))
    }

    /// The folder `network.json` lives in (the network's run directory).
    pub fn dir(&self) -> &Path {
        self.network_json.parent().unwrap_or(Path::new("."))
    }
}

/// A random version-4 UUID, so tests sharing one ledger never collide.
pub fn unique_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A random unique-local IPv6 address (fd5f::/16), unique on a shared ledger.
pub fn unique_virtual_ip() -> String {
    let b = random_bytes::<14>();
    let groups: Vec<String> = b
        .chunks(2)
        .map(|c| format!("{:x}", u16::from_be_bytes([c[0], c[1]])))
        .collect();
    format!("fd5f:{}", groups.join(":"))
}

/// A random /64 under fd5f::/16 (e.g. parsed as a `vpn_pki::Cidr`) for one VPN Centre to lease
/// from: the shared ledger keeps virtual IPs unique across every device ever registered, so a
/// fixed pool would collide with earlier runs.
pub fn unique_network<T>() -> T
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let ip: std::net::Ipv6Addr = unique_virtual_ip()
        .parse()
        .unwrap_or_else(|e| panic!("unique_virtual_ip is not IPv6: {e}"));
    let s = ip.segments();
    let text = format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]);
    text.parse()
        .unwrap_or_else(|e| panic!("{text} does not parse as a network: {e}"))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use std::io::Read;
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}
