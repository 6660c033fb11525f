//! The registry's member organisations, from the chaincode server's configuration, so every endorser computes the same key-level policy.

use std::collections::BTreeSet;
use std::fmt;

/// Environment variable the chaincode server reads the member list from.
pub const MEMBERS_ENV: &str = "SF2C_MEMBER_MSPS";

/// MSP IDs of the member organisations, sorted and without duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Members {
    msp_ids: BTreeSet<String>,
}

/// Why a member list was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MembersError {
    #[error(
        "the member list is empty; set {MEMBERS_ENV} to the channel's member MSP IDs, e.g. Org1MSP,Org2MSP"
    )]
    Empty,
    #[error("member MSP ID {0:?} is not valid: it must be non-empty and hold no whitespace")]
    BadMspId(String),
}

impl Members {
    /// Members from MSP IDs in any order.
    pub fn new<I, S>(msp_ids: I) -> Result<Self, MembersError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for id in msp_ids {
            let id: String = id.into();
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                return Err(MembersError::BadMspId(id));
            }
            set.insert(id);
        }
        if set.is_empty() {
            return Err(MembersError::Empty);
        }
        Ok(Self { msp_ids: set })
    }

    /// Members from a comma-separated list such as `Org1MSP,Org2MSP` (spaces around names ignored).
    pub fn parse(list: &str) -> Result<Self, MembersError> {
        let ids: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        Self::new(ids)
    }

    pub fn contains(&self, msp_id: &str) -> bool {
        self.msp_ids.contains(msp_id)
    }

    /// The MSP IDs in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.msp_ids.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.msp_ids.len()
    }

    /// Always false: a member list is never empty.
    pub fn is_empty(&self) -> bool {
        self.msp_ids.is_empty()
    }
}

impl fmt::Display for Members {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.iter().collect();
        f.write_str(&ids.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sorts_deduplicates_and_trims() {
        let m = Members::parse(" Org2MSP, Org1MSP,,Org2MSP ").unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), ["Org1MSP", "Org2MSP"]);
        assert_eq!(m.to_string(), "Org1MSP,Org2MSP");
        assert!(m.contains("Org1MSP") && !m.contains("Org3MSP"));
    }

    #[test]
    fn empty_lists_and_bad_ids_are_refused() {
        assert_eq!(Members::parse(" , "), Err(MembersError::Empty));
        assert_eq!(
            Members::new(["Org 1MSP"]),
            Err(MembersError::BadMspId("Org 1MSP".into()))
        );
    }
}
