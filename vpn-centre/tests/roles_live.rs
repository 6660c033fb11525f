//! Roles on the validators' listener against the live Fabric network: the centre writes each
//! device's node_type on the ledger into its certificate as its role, only validators the ledger
//! vouches for submit warnings, only services and operators read them, and a certificate without
//! a role, or of a device banned or deleted on the ledger by another path, is nobody.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::centre::Centre;
use common::sample;
use device_record::{DeviceRequest, NodeType};
use fabric_client::Contract;
use hyper::StatusCode;
use test_support::fabric::{LiveNetwork, unique_network, unique_uuid, unique_virtual_ip};
use vpn_centre::autoban::AutoBanPolicy;
use vpn_centre::fabric_registry::FabricRegistry;
use vpn_pki::Role;
use warnings_api::{ClientError, TlsIdentity, WarningClient, WarningFilter};

struct World {
    dir: tempfile::TempDir,
    admin: Contract,
    centre: Centre<FabricRegistry>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let net = LiveNetwork::get();
    let registry = FabricRegistry::from_settings(&net.settings("Org1", "admin")).unwrap();
    // A random /64: leases no other run holds on the shared ledger.
    let pool = unique_network();
    let policy = AutoBanPolicy::default();
    let centre = Centre::start_leasing(dir.path(), policy, Arc::new(registry), vec![pool]).await;
    World {
        dir,
        admin: net.contract("Org1", "admin").await,
        centre,
    }
}

impl World {
    /// Registers a fresh device of `node_type` as the Org1 admin; returns its UUID.
    async fn register(&self, node_type: NodeType) -> String {
        let uuid = unique_uuid();
        let request = DeviceRequest {
            uuid: uuid.clone(),
            node_type,
            virtual_ip: unique_virtual_ip(),
            public_key: rcgen::KeyPair::generate().unwrap().public_key_pem(),
            labels: Default::default(),
        };
        let body = serde_json::to_vec(&request).unwrap();
        self.admin.submit("RegisterDevice", &[body]).await.unwrap();
        uuid
    }
}

async fn count(client: &WarningClient) -> Result<u64, ClientError> {
    client.count(&WarningFilter::default()).await
}

fn forbidden(result: Result<u64, ClientError>) -> bool {
    matches!(result, Err(ClientError::Refused { status, .. }) if status == StatusCode::FORBIDDEN)
}

fn der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// Refused by role (403) or at the TLS layer.
fn refused(result: Result<u64, ClientError>) -> bool {
    matches!(result, Err(ClientError::Unreachable { .. }))
        || matches!(result, Err(ClientError::Refused { status, .. }) if status == StatusCode::FORBIDDEN)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_roles_come_from_the_ledger_and_only_they_grant_the_warnings_api() {
    let w = world().await;
    let (v, admin, gw) = tokio::join!(
        w.register(NodeType::Validator),
        w.register(NodeType::Administrator),
        w.register(NodeType::Gateway)
    );
    let validator = w.centre.enrol_registered(&v).await;
    let operator = w.centre.enrol_registered(&admin).await;
    let gateway = w.centre.enrol_registered(&gw).await;
    // The centre wrote each device's node_type on the ledger into its certificate.
    for (identity, role) in [
        (&validator, Role::Validator),
        (&operator, Role::Administrator),
        (&gateway, Role::Gateway),
    ] {
        assert_eq!(Role::of_certificate(&der(&identity.cert_pem)), Some(role));
    }
    let service = w.centre.pki.issue_service("demo-tools", &[]).await.unwrap();
    assert_eq!(
        Role::of_certificate(&der(&service.cert_pem)),
        Some(Role::Service)
    );
    let service = TlsIdentity {
        ca_pem: w.centre.pki.ca_pem().to_string(),
        cert_pem: service.cert_pem,
        key_pem: service.key_pem,
    };
    let (v_client, op_client, gw_client, svc_client) = (
        w.centre.client(&validator),
        w.centre.client(&operator),
        w.centre.client(&gateway),
        w.centre.client(&service),
    );
    let warning = || sample("x", Some(&gw), 1007, 1_000);

    // Validators submit; services and operators read; nobody else does either.
    v_client.report(&warning()).await.unwrap();
    assert_eq!(count(&svc_client).await.unwrap(), 1);
    assert_eq!(count(&op_client).await.unwrap(), 1);
    assert!(forbidden(count(&v_client).await));
    assert!(forbidden(count(&gw_client).await));
    for client in [&gw_client, &svc_client, &op_client] {
        assert!(forbidden(client.report(&warning()).await.map(|_| 0)));
    }
    // A certificate of this very CA for the validator's UUID but without a role (as issued
    // before roles existed) is nobody.
    let ca = vpn_pki::CertificateAuthority::load(&w.dir.path().join("pki")).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let roleless = ca
        .issue(&vpn_pki::LeafRequest {
            uuid: v.clone(),
            role: vpn_pki::CertRole::Client,
            virtual_ips: vec![],
            server_names: vec![],
            key: vpn_pki::LeafKey::PublicKey(key.public_key_pem()),
            validity: Duration::from_secs(3600),
            now: vpn_centre::pki::now_secs(),
        })
        .unwrap();
    let roleless = w.centre.client(&TlsIdentity {
        ca_pem: w.centre.pki.ca_pem().to_string(),
        cert_pem: roleless.pem,
        key_pem: key.serialize_pem(),
    });
    assert!(forbidden(roleless.report(&warning()).await.map(|_| 0)));
    assert!(forbidden(count(&roleless).await));

    // Banned and deleted on the ledger by an operator, not through the centre: the validator
    // and the operator are nobody from then on (refused by role, or at TLS once revoked).
    w.admin
        .submit("BanDevice", &[v.as_bytes(), b"compromised"])
        .await
        .unwrap();
    w.admin
        .submit("DeleteDevice", &[admin.as_bytes()])
        .await
        .unwrap();
    assert!(refused(v_client.report(&warning()).await.map(|_| 0)));
    assert!(refused(count(&op_client).await));
    assert_eq!(count(&svc_client).await.unwrap(), 1);
}
