//! Per-call deadlines of the Gateway calls, so a silent, paused or overloaded peer cannot hold a caller for ever.
//!
//! Each unary call (evaluate, endorse, submit, commit status) runs under a [`tokio::time::timeout`];
//! when it fires, the request is dropped (gRPC cancels it on the peer) and the caller gets
//! [`GatewayError::Timeout`] naming the call, the peer and the deadline. The chaincode event
//! stream has no deadline: it is meant to stay open.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::error::GatewayError;

/// The Gateway calls that run under a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Evaluate,
    Endorse,
    Submit,
    CommitStatus,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::Evaluate => "evaluate",
            Call::Endorse => "endorsement",
            Call::Submit => "submit",
            Call::CommitStatus => "commit status",
        })
    }
}

/// How long each Gateway call may take, from sending the request to the whole answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// A query on one peer (`Evaluate`): default 10 s.
    pub evaluate: Duration,
    /// Collecting endorsements (`Endorse`): default 30 s, Fabric's own endorsement timeout.
    pub endorse: Duration,
    /// Handing the endorsed transaction to the ordering service (`Submit`): default 30 s.
    pub submit: Duration,
    /// Waiting for the transaction's commit (`CommitStatus`): default 60 s.
    pub commit_status: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            evaluate: Duration::from_secs(10),
            endorse: Duration::from_secs(30),
            submit: Duration::from_secs(30),
            commit_status: Duration::from_secs(60),
        }
    }
}

impl Deadlines {
    /// The deadline of `call`.
    pub fn of(&self, call: Call) -> Duration {
        match call {
            Call::Evaluate => self.evaluate,
            Call::Endorse => self.endorse,
            Call::Submit => self.submit,
            Call::CommitStatus => self.commit_status,
        }
    }

    /// Refuses a zero deadline, which would fail every call at once.
    pub fn check(&self) -> Result<(), String> {
        for call in [
            Call::Evaluate,
            Call::Endorse,
            Call::Submit,
            Call::CommitStatus,
        ] {
            if self.of(call).is_zero() {
                return Err(format!("the {call} deadline must be longer than zero"));
            }
        }
        Ok(())
    }
}

/// Where and what a timed call was, for the error it becomes.
pub(crate) struct Target<'a> {
    pub call: Call,
    pub deadline: Duration,
    pub endpoint: &'a str,
    /// The chaincode function, or empty for calls about a transaction (submit, commit status).
    pub function: &'a str,
    pub tx_id: &'a str,
}

impl Target<'_> {
    /// Runs `call` and turns a missed deadline into [`GatewayError::Timeout`].
    pub(crate) async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(GatewayError::Timeout {
                call: self.call,
                function: self.function.to_string(),
                endpoint: self.endpoint.to_string(),
                deadline: self.deadline,
                tx_id: self.tx_id.to_string(),
            }),
        }
    }
}

/// The text of [`GatewayError::Timeout`]: the call, the peer, the deadline and what it means for
/// the transaction.
pub(crate) fn describe_timeout(
    call: Call,
    function: &str,
    endpoint: &str,
    deadline: Duration,
    tx_id: &str,
) -> String {
    let what = if function.is_empty() {
        format!("{call} of tx {tx_id}")
    } else {
        format!("{call} of {function} (tx {tx_id})")
    };
    let meaning = match call {
        Call::Evaluate => "the peer may be down, paused or overloaded",
        Call::Endorse => {
            "an endorsing peer may be down, paused or overloaded; nothing was sent for ordering"
        }
        Call::Submit => {
            "the ordering service may be down; orderers that received it may still commit it: check the tx before submitting the change again"
        }
        Call::CommitStatus => {
            "the transaction may still commit: check the tx later before submitting the change again"
        }
    };
    format!(
        "{what} through peer {endpoint} got no answer within {}; {meaning}",
        shown(deadline)
    )
}

/// A deadline as people write it: `10 s`, or `1500 ms` when not whole seconds.
fn shown(d: Duration) -> String {
    if d.subsec_millis() == 0 && !d.is_zero() {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_messages_name_the_call_the_peer_and_the_deadline() {
        let d = Deadlines::default();
        assert_eq!(d.of(Call::Evaluate), Duration::from_secs(10));
        assert_eq!(d.of(Call::Endorse), Duration::from_secs(30));
        assert_eq!(d.of(Call::Submit), Duration::from_secs(30));
        assert_eq!(d.of(Call::CommitStatus), Duration::from_secs(60));
        assert!(d.check().is_ok());
        let zero = Deadlines {
            submit: Duration::ZERO,
            ..d
        };
        assert!(zero.check().unwrap_err().contains("submit"));

        let text = describe_timeout(
            Call::Evaluate,
            "GetDevice",
            "127.0.0.1:7051",
            Duration::from_millis(1500),
            "ab12",
        );
        assert_eq!(
            text,
            "evaluate of GetDevice (tx ab12) through peer 127.0.0.1:7051 got no answer within 1500 ms; the peer may be down, paused or overloaded"
        );
        let text = describe_timeout(Call::CommitStatus, "", "p:1", Duration::from_secs(60), "cd");
        assert!(
            text.starts_with("commit status of tx cd through peer p:1 got no answer within 60 s"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_becomes_a_timeout_error() {
        let target = Target {
            call: Call::Submit,
            deadline: Duration::from_millis(50),
            endpoint: "p:1",
            function: "",
            tx_id: "t",
        };
        let started = std::time::Instant::now();
        let err = target
            .run(std::future::pending::<Result<(), GatewayError>>())
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            matches!(&err, GatewayError::Timeout { call: Call::Submit, deadline, .. } if *deadline == Duration::from_millis(50)),
            "{err:?}"
        );
        let quick = target.run(async { Ok(7) }).await.unwrap();
        assert_eq!(quick, 7);
    }
}
