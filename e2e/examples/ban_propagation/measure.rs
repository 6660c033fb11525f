//! One ban, measured: connections held open and new-handshake probes started first, then the ban
//! made on the ledger, and every effect timed from the moment its commit was confirmed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::bans::{BanPath, Banner};
use e2e::centre::Centre;
use e2e::device::Device;
use e2e::tls_probe::{Stream, closed, open, until_tls_refused};
use e2e::traffic::Traffic;
use fog_validator::RunningValidator;

/// Past this, an effect counts as never seen.
pub const LIMIT: Duration = Duration::from_secs(10);

/// What is watched: both validators, then the sink.
pub struct Targets {
    pub validators: [SocketAddr; 2],
    pub sink: SocketAddr,
}

impl Targets {
    fn all(&self) -> [SocketAddr; 3] {
        [self.validators[0], self.validators[1], self.sink]
    }
}

/// Milliseconds from the confirmed commit to each effect; negative when the effect came before
/// the submitter heard of the commit; `None` when not seen within [`LIMIT`].
#[derive(Debug, Clone)]
pub struct BanTimes {
    pub path: BanPath,
    /// (a) first refusal of live traffic, per validator: a 1003 answer, or, when the new CRL
    /// cut the gateway off before its next message, that first unanswered message.
    pub banned: [Option<f64>; 2],
    /// Per validator, whether (a) was the CRL cutting the gateway off rather than a 1003.
    pub cut_off: [bool; 2],
    /// Each validator's registry cache shows the ban (what a 1003 waits for).
    pub cache: [Option<f64>; 2],
    /// (b) first refused new handshake: validator 1, validator 2, sink.
    pub tls_refused: [Option<f64>; 3],
    /// (c) the connection held open closed by the server: validator 1, validator 2, sink.
    pub closed: [Option<f64>; 3],
    /// The centre's CRL lists the certificate (what (b) and (c) wait for).
    pub in_crl: Option<f64>,
}

/// Everything one ban needs.
pub struct Bench<'a> {
    pub banner: &'a Banner,
    pub centre: &'a Centre,
    pub validators: [&'a RunningValidator; 2],
    pub targets: Targets,
    pub probe_every: Duration,
}

/// Polls `check` every millisecond until it gives an instant, for at most [`LIMIT`].
async fn first(check: impl Fn() -> Option<Instant>) -> Option<Instant> {
    let start = Instant::now();
    loop {
        if let Some(at) = check() {
            return Some(at);
        }
        if start.elapsed() > LIMIT {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Signed milliseconds from `from` to `to`.
fn ms_since(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(from.duration_since(to).as_secs_f64() * 1e3),
    }
}

impl Bench<'_> {
    /// Bans `gw` (whose live traffic is `traffic`) by `path` and times every effect.
    pub async fn one_ban(&self, gw: &Device, traffic: &Traffic, path: BanPath) -> BanTimes {
        let mut held: Vec<Stream> = Vec::new();
        for addr in self.targets.all() {
            match open(gw, addr).await {
                Ok(stream) => held.push(stream),
                Err(e) => panic!("{} could not open a connection to {addr}: {e:?}", gw.uuid),
            }
        }
        let cert = gw.cert_der();
        let held: [Stream; 3] = held
            .try_into()
            .unwrap_or_else(|_| unreachable!("three targets"));
        let [c0, c1, c2] = held.map(|mut stream| async move {
            tokio::time::timeout(LIMIT, closed(&mut stream)).await.ok()
        });
        let [p0, p1, p2] = self
            .targets
            .all()
            .map(|addr| until_tls_refused(gw, addr, self.probe_every, LIMIT));
        // Live traffic: the validator's first refusal, whichever way it came.
        let [f0, f1] = [0, 1].map(|i| {
            let answers = &traffic.answers[i];
            first(move || {
                let refused = [answers.first_banned.get(), answers.first_unanswered.get()];
                refused.into_iter().flatten().min().copied()
            })
        });
        let [k0, k1] = self.validators.map(|fog| {
            let cache = &fog.validator.registry.cache;
            first(move || {
                let banned = cache.get(&gw.uuid).is_some_and(|d| d.record.banned);
                banned.then(Instant::now)
            })
        });
        let crl = async {
            let start = Instant::now();
            while start.elapsed() < LIMIT {
                if self.centre.crl_lists(&cert).await {
                    return Some(Instant::now());
                }
                tokio::time::sleep(self.probe_every).await;
            }
            None
        };
        let ban = self.banner.ban(path, &gw.uuid, "ban propagation benchmark");
        let (confirmed, c0, c1, c2, p0, p1, p2, f0, f1, k0, k1, in_crl) =
            tokio::join!(ban, c0, c1, c2, p0, p1, p2, f0, f1, k0, k1, crl);
        let since = |t: Option<Instant>| t.map(|t| ms_since(confirmed, t));
        let cut_off = |i: usize| {
            let answers = &traffic.answers[i];
            let unanswered = answers.first_unanswered.get();
            unanswered.is_some_and(|u| answers.first_banned.get().is_none_or(|b| u < b))
        };
        BanTimes {
            path,
            banned: [since(f0), since(f1)],
            cut_off: [cut_off(0), cut_off(1)],
            cache: [since(k0), since(k1)],
            tls_refused: [since(p0), since(p1), since(p2)],
            closed: [since(c0), since(c1), since(c2)],
            in_crl: since(in_crl),
        }
    }
}
