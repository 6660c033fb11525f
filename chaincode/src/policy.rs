//! The key-level endorsement policy (Fabric state-based endorsement) put on every device's keys: its owner's peer and a majority of member peers must endorse any change.
//!
//! Fabric checks a written key against the policy already committed on it, instead of the
//! chaincode's policy, so even a member that gathers endorsements only from peers it runs cannot
//! change another organisation's device: the owner's peer, running this contract, refuses.
//!
//! Fabric counts each endorsement once across the whole policy, so "owner AND majority of
//! members" is built as the owner's peer AND (majority - 1) of the other members' peers. With
//! two members that is `AND('Org1MSP.peer', 'Org2MSP.peer')`, the same envelope Fabric's
//! `statebased.NewStateEP` + `AddOrgs(RoleTypePeer, ...)` builds.

use std::collections::BTreeSet;

use prost::Message;
use sf2c_protos::common::msp_principal::Classification;
use sf2c_protos::common::msp_role::MspRoleType;
use sf2c_protos::common::signature_policy::{NOutOf, Type};
use sf2c_protos::common::{MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope};

use crate::members::Members;

/// The marshalled `common.SignaturePolicyEnvelope` for a device owned by `owner`.
pub fn device_policy(owner: &str, members: &Members) -> Vec<u8> {
    let mut orgs: BTreeSet<&str> = members.iter().collect();
    // An owner outside the current member list still has to endorse its devices' changes.
    orgs.insert(owner);
    let orgs: Vec<&str> = orgs.into_iter().collect();
    let identities = orgs
        .iter()
        .map(|msp| MspPrincipal {
            principal_classification: Classification::Role as i32,
            principal: MspRole {
                msp_identifier: msp.to_string(),
                role: MspRoleType::Peer as i32,
            }
            .encode_to_vec(),
        })
        .collect();
    let signed_by = |i: usize| SignaturePolicy {
        r#type: Some(Type::SignedBy(i as i32)),
    };
    let n_out_of = |n: usize, rules: Vec<SignaturePolicy>| SignaturePolicy {
        r#type: Some(Type::NOutOf(NOutOf { n: n as i32, rules })),
    };
    let majority = orgs.len() / 2 + 1;
    let owner_index = orgs.iter().position(|o| *o == owner).unwrap_or(0);
    let others: Vec<usize> = (0..orgs.len()).filter(|i| *i != owner_index).collect();
    let rule = if majority - 1 == others.len() {
        // Everyone: one flat AND, in sorted MSP order.
        n_out_of(orgs.len(), (0..orgs.len()).map(signed_by).collect())
    } else {
        let rest = n_out_of(majority - 1, others.into_iter().map(signed_by).collect());
        n_out_of(2, vec![signed_by(owner_index), rest])
    };
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities,
    }
    .encode_to_vec()
}

/// Why a stored policy cannot be shown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("stored endorsement policy is not a valid SignaturePolicyEnvelope: {0}")]
pub struct PolicyDecodeError(String);

/// A marshalled `SignaturePolicyEnvelope` in Fabric's policy language, e.g.
/// `AND('Org1MSP.peer', 'Org2MSP.peer')`.
pub fn describe(bytes: &[u8]) -> Result<String, PolicyDecodeError> {
    let envelope = SignaturePolicyEnvelope::decode(bytes)
        .map_err(|e| PolicyDecodeError(format!("not protobuf: {e}")))?;
    let principals = envelope
        .identities
        .iter()
        .map(principal_text)
        .collect::<Result<Vec<_>, _>>()?;
    let rule = envelope
        .rule
        .as_ref()
        .ok_or_else(|| PolicyDecodeError("no rule".to_string()))?;
    rule_text(rule, &principals, 0)
}

fn principal_text(p: &MspPrincipal) -> Result<String, PolicyDecodeError> {
    if p.principal_classification != Classification::Role as i32 {
        return Ok(format!("principal({})", p.principal_classification));
    }
    let role = MspRole::decode(p.principal.as_slice())
        .map_err(|e| PolicyDecodeError(format!("MSPRole: {e}")))?;
    let name = MspRoleType::try_from(role.role)
        .map(|r| r.as_str_name().to_ascii_lowercase())
        .unwrap_or_else(|_| format!("role{}", role.role));
    Ok(format!("'{}.{name}'", role.msp_identifier))
}

fn rule_text(
    rule: &SignaturePolicy,
    principals: &[String],
    depth: usize,
) -> Result<String, PolicyDecodeError> {
    // Protobuf recursion is bounded by prost's own limit; this guards the text.
    if depth > 16 {
        return Err(PolicyDecodeError("rules nested too deeply".to_string()));
    }
    match &rule.r#type {
        Some(Type::SignedBy(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| principals.get(i))
            .cloned()
            .ok_or_else(|| PolicyDecodeError(format!("signed_by {i} names no identity"))),
        Some(Type::NOutOf(n)) => {
            let parts = n
                .rules
                .iter()
                .map(|r| rule_text(r, principals, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            let list = parts.join(", ");
            Ok(match n.n {
                n if n as usize == parts.len() => format!("AND({list})"),
                1 => format!("OR({list})"),
                n => format!("OutOf({n}, {list})"),
            })
        }
        None => Err(PolicyDecodeError("a rule has no type".to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(ids: &[&str]) -> Members {
        Members::new(ids.iter().copied()).unwrap()
    }

    #[test]
    fn two_members_need_both_peers_in_sorted_order() {
        for owner in ["Org1MSP", "Org2MSP"] {
            let bytes = device_policy(owner, &members(&["Org2MSP", "Org1MSP"]));
            assert_eq!(
                describe(&bytes).unwrap(),
                "AND('Org1MSP.peer', 'Org2MSP.peer')"
            );
        }
    }

    #[test]
    fn the_envelope_matches_fabrics_statebased_layout() {
        let bytes = device_policy("Org1MSP", &members(&["Org1MSP", "Org2MSP"]));
        let env = SignaturePolicyEnvelope::decode(bytes.as_slice()).unwrap();
        assert_eq!(env.version, 0);
        let roles: Vec<MspRole> = env
            .identities
            .iter()
            .map(|p| {
                assert_eq!(p.principal_classification, 0, "ROLE");
                MspRole::decode(p.principal.as_slice()).unwrap()
            })
            .collect();
        assert_eq!(
            roles,
            [
                MspRole {
                    msp_identifier: "Org1MSP".into(),
                    role: 3
                },
                MspRole {
                    msp_identifier: "Org2MSP".into(),
                    role: 3
                },
            ]
        );
        let Some(Type::NOutOf(rule)) = env.rule.unwrap().r#type else {
            panic!("not n-out-of")
        };
        assert_eq!(rule.n, 2);
        let signers: Vec<_> = rule.rules.iter().map(|r| r.r#type.clone()).collect();
        assert_eq!(signers, [Some(Type::SignedBy(0)), Some(Type::SignedBy(1))]);
    }

    #[test]
    fn larger_memberships_need_the_owner_and_a_majority() {
        let three = members(&["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(
            describe(&device_policy("Org2MSP", &three)).unwrap(),
            "AND('Org2MSP.peer', OR('Org1MSP.peer', 'Org3MSP.peer'))"
        );
        let four = members(&["A", "B", "C", "D"]);
        assert_eq!(
            describe(&device_policy("C", &four)).unwrap(),
            "AND('C.peer', OutOf(2, 'A.peer', 'B.peer', 'D.peer'))"
        );
        // An owner missing from the member list still must endorse.
        let one = members(&["Org1MSP"]);
        assert_eq!(
            describe(&device_policy("Org9MSP", &one)).unwrap(),
            "AND('Org1MSP.peer', 'Org9MSP.peer')"
        );
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let a = device_policy("Org1MSP", &members(&["Org2MSP", "Org1MSP"]));
        let b = device_policy("Org1MSP", &members(&["Org1MSP", "Org2MSP", "Org1MSP"]));
        assert_eq!(a, b);
    }

    #[test]
    fn garbage_is_reported_not_shown() {
        assert!(describe(&[0xff, 0xff]).is_err());
        assert!(describe(&[]).is_err(), "no rule");
    }
}
