//! The whole chain assembled: the live ledger, the VPN Centre on it, the cloud sink, devices
//! registered as the Org1 admin and enrolled over HTTP, and fog validators started from their
//! enrolled files. The impostor is a registered gateway with its own certificate that signs with
//! a key which is not its registered one. [`CentreAndSink`] is the same without devices, for
//! tests that enrol their own.

use std::path::{Path, PathBuf};

use device_record::NodeType;
use fog_validator::RunningValidator;
use vpn_centre::autoban::AutoBanPolicy;

use crate::centre::Centre;
use crate::device::Device;
use crate::ledger::Ledger;
use crate::sink::TlsSink;

/// One running validator and the device it is.
pub struct Fog {
    pub device: Device,
    pub running: RunningValidator,
}

impl Fog {
    /// Whether this validator's registry cache holds `uuid` as banned.
    pub fn sees_banned(&self, uuid: &str) -> bool {
        self.running
            .validator
            .registry
            .cache
            .get(uuid)
            .is_some_and(|d| d.record.banned)
    }

    /// Registry lookups made on cache misses (zero while events keep the cache current).
    pub fn lookups(&self) -> u64 {
        let metrics = &self.running.validator.metrics;
        metrics.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The live ledger, the VPN Centre on it (default auto-ban policy) and the cloud sink, with no
/// devices enrolled yet; their files under `dir`.
pub struct CentreAndSink {
    // Stopped in this order, the files last, as a test's own locals would be.
    pub sink: TlsSink,
    pub centre: Centre,
    pub ledger: Ledger,
    pub dir: tempfile::TempDir,
}

impl CentreAndSink {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let ledger = Ledger::connect().await;
        let policy = AutoBanPolicy::default();
        let centre = Centre::start(&root.join("centre"), &ledger.centre_settings(), policy).await;
        let sink = TlsSink::start(root, &centre).await;
        Self {
            sink,
            centre,
            ledger,
            dir,
        }
    }

    /// The folder every part's files (and the test's devices) go under.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

pub struct Chain {
    pub ledger: Ledger,
    pub centre: Centre,
    pub sink: TlsSink,
    pub honest: Device,
    pub impostor: Device,
    /// A key the impostor signs with; not the one registered for it.
    pub forged_key: PathBuf,
    /// An Administrator device; its certificate reads the sink.
    pub admin: Device,
    pub fogs: Vec<Fog>,
    // Last: the files outlive everything that uses them.
    pub dir: tempfile::TempDir,
}

impl Chain {
    /// Starts everything with `validators` fog validators and the given auto-ban policy.
    pub async fn start(validators: usize, policy: AutoBanPolicy) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let ledger = Ledger::connect().await;
        let centre = Centre::start(&root.join("centre"), &ledger.centre_settings(), policy).await;

        let mut honest = Device::keygen(&root.join("honest"), NodeType::Gateway);
        let mut impostor = Device::keygen(&root.join("impostor"), NodeType::Gateway);
        let forged = Device::keygen(&root.join("forged"), NodeType::Gateway);
        let mut admin = Device::keygen(&root.join("admin"), NodeType::Administrator);
        let mut fog_devices: Vec<Device> = (0..validators)
            .map(|i| Device::keygen(&root.join(format!("fog{i}")), NodeType::Validator))
            .collect();

        let mut all: Vec<&mut Device> = vec![&mut honest, &mut impostor, &mut admin];
        all.extend(fog_devices.iter_mut());
        for device in all {
            ledger
                .register(&device.uuid, device.node_type, &device.public_key)
                .await;
            centre.enrol(device).await;
        }
        // Validators and the test read Org2's peer; let it catch up with the enrolments.
        for device in [&honest, &impostor, &admin].into_iter().chain(&fog_devices) {
            let lease = &device.tls().virtual_ip;
            ledger
                .device_when(&device.uuid, |r| &r.virtual_ip == lease)
                .await;
        }

        let sink = TlsSink::start(root, &centre).await;
        let mut fogs = Vec::new();
        for device in fog_devices {
            let running = crate::validator::start(root, &device, &centre, &sink.url, &ledger).await;
            fogs.push(Fog { device, running });
        }
        Self {
            ledger,
            centre,
            sink,
            honest,
            impostor,
            forged_key: forged.signing_key,
            admin,
            fogs,
            dir,
        }
    }

    /// Every device of the chain except the validators' own.
    pub fn devices(&self) -> Vec<&Device> {
        let mut all = vec![&self.honest, &self.impostor, &self.admin];
        all.extend(self.fogs.iter().map(|f| &f.device));
        all
    }

    /// Stops the validators cleanly (spools and checkpoints persisted).
    pub async fn shutdown(self) {
        for fog in self.fogs {
            fog.running.shutdown().await;
        }
    }
}
