//! Who counts as a registry administrator, decided on real CA-issued certificates (rcgen) for each case: NodeOU role as Fabric derives it, and the Fabric CA attribute.

use device_registry::Creator;
use device_registry::access::{AccessError, require_admin};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    PKCS_ECDSA_P256_SHA256,
};
use serde_json::{Value, json};

/// An organisation's CA, as cryptogen or fabric-ca-server makes one.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new() -> Self {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "ca.org1.example.com");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "org1.example.com");
        Ca {
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `cn` with the subject OUs `ous` (in order, at most two) and Fabric CA
    /// `attrs`.
    fn issue(&self, cn: &str, ous: &[&str], attrs: Option<Value>) -> Creator {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let dn = &mut params.distinguished_name;
        dn.push(DnType::CountryName, "US");
        dn.push(DnType::StateOrProvinceName, "California");
        dn.push(DnType::LocalityName, "San Francisco");
        // rcgen keeps one value per attribute type; the second OU goes in under its bare OID
        // (2.5.4.11), which is the same attribute in the certificate.
        assert!(ous.len() <= 2, "rcgen can put at most two OUs in a subject");
        let ou_types = [
            DnType::OrganizationalUnitName,
            DnType::CustomDnType(vec![2, 5, 4, 11]),
        ];
        for (ty, ou) in ou_types.into_iter().zip(ous) {
            dn.push(ty, *ou);
        }
        dn.push(DnType::CommonName, cn);
        if let Some(attrs) = attrs {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 2, 3, 4, 5, 6, 7, 8, 1],
                    serde_json::to_vec(&attrs).unwrap(),
                ));
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Creator {
            msp_id: "Org1MSP".into(),
            id_bytes: cert.pem().into_bytes(),
        }
    }
}

fn subject_ous(who: &Creator) -> Vec<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(&who.id_bytes).unwrap();
    let cert = pem.parse_x509().unwrap();
    cert.subject()
        .iter_organizational_unit()
        .map(|ou| ou.as_str().unwrap().to_string())
        .collect()
}

fn assert_not_admin(who: &Creator, case: &str) {
    match require_admin(who) {
        Err(AccessError::NotAdmin { msp_id, .. }) => assert_eq!(msp_id, "Org1MSP"),
        other => panic!("{case}: expected NotAdmin, got {other:?}"),
    }
}

#[test]
fn the_nodeou_role_admin_alone_grants_writes() {
    let ca = Ca::new();
    // cryptogen's admin: C, ST, L, OU=admin, CN=Admin@org1.example.com, issued by the org's CA.
    let cryptogen_admin = ca.issue("Admin@org1.example.com", &["admin"], None);
    assert_eq!(require_admin(&cryptogen_admin), Ok(()));
    // fabric-ca-server's admin type with an affiliation that is not a role: still one role OU.
    let ca_admin = ca.issue("registrar", &["admin", "org1"], None);
    assert_eq!(require_admin(&ca_admin), Ok(()));
}

#[test]
fn an_affiliation_named_admin_on_a_client_grants_nothing() {
    let ca = Ca::new();
    // fabric-ca-server puts the identity type, then the affiliation's parts, into the OUs.
    for ous in [
        &["client", "admin"][..],
        &["admin", "client"],
        &["peer", "admin"],
        &["admin", "admin"],
    ] {
        let who = ca.issue("user1", ous, None);
        assert_eq!(subject_ous(&who), *ous, "the certificate carries both OUs");
        assert_not_admin(&who, &format!("OUs {ous:?}"));
    }
}

#[test]
fn other_roles_and_no_role_are_not_admins() {
    let ca = Ca::new();
    for ous in [&["client"][..], &["peer"], &["orderer"], &[], &["Admin"]] {
        assert_not_admin(&ca.issue("someone", ous, None), &format!("OUs {ous:?}"));
    }
}

#[test]
fn the_fabric_ca_attribute_grants_writes_only_when_true() {
    let ca = Ca::new();
    let with = |value: Value| {
        ca.issue(
            "operator1",
            &["client", "org1"],
            Some(json!({ "attrs": { "hf.EnrollmentID": "operator1", "sf2c.registry.admin": value } })),
        )
    };
    assert_eq!(require_admin(&with(json!("true"))), Ok(()));
    assert_not_admin(&with(json!("false")), "attribute false");
    assert_not_admin(
        &with(json!(true)),
        "attribute a JSON bool, not Fabric CA's string",
    );
    assert_not_admin(&with(json!("TRUE")), "attribute in other case");
    let absent = ca.issue(
        "operator2",
        &["client"],
        Some(json!({ "attrs": { "hf.Type": "client" } })),
    );
    assert_not_admin(&absent, "attribute absent");
    assert_not_admin(&ca.issue("operator3", &["client"], None), "no extension");
    // The attribute is read from the attrs object only, never from the top level.
    let top = ca.issue(
        "operator4",
        &["client"],
        Some(json!({ "sf2c.registry.admin": "true" })),
    );
    assert_not_admin(&top, "attribute outside attrs");
}

#[test]
fn the_refusal_names_the_identity_and_its_organisation() {
    let ca = Ca::new();
    let err = require_admin(&ca.issue("User1@org1.example.com", &["client"], None)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("User1@org1.example.com")
            && text.contains("Org1MSP")
            && text.contains("may not change the device registry"),
        "{text}"
    );
}
