//! The benchmark's figures: percentiles per measure, the printed table with the ledger baseline
//! and the goal, and the same figures as JSON.

use std::path::Path;

use serde_json::{Value, json};

use crate::measure::BanTimes;

/// The goal for (a) and (b), milliseconds at p99.
pub const GOAL_MS: f64 = 500.0;

/// One measure over every ban: its samples (ms) and how many bans never showed it.
pub struct Row {
    pub key: &'static str,
    pub label: &'static str,
    pub samples: Vec<f64>,
    pub missing: usize,
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Row {
    fn new(key: &'static str, label: &'static str, values: Vec<Option<f64>>) -> Self {
        let missing = values.iter().filter(|v| v.is_none()).count();
        let mut samples: Vec<f64> = values.into_iter().flatten().collect();
        samples.sort_by(f64::total_cmp);
        Self {
            key,
            label,
            samples,
            missing,
        }
    }

    pub fn p(&self, p: f64) -> f64 {
        percentile(&self.samples, p)
    }

    /// p99 within the goal, every ban seen.
    pub fn meets_goal(&self) -> bool {
        self.missing == 0 && self.p(0.99) <= GOAL_MS
    }
}

/// The latest of several effects of one ban (`None` if any was never seen).
fn latest(values: &[Option<f64>]) -> Option<f64> {
    values
        .iter()
        .try_fold(f64::MIN, |acc, v| v.map(|v| acc.max(v)))
}

/// How one measure is read from one ban.
type Pick = fn(&BanTimes) -> Option<f64>;

/// Every measure: (a), (b), (c), then what they wait for (registry cache, centre's CRL).
const MEASURES: [(&str, &str, Pick); 14] = [
    (
        "a_refused_validator1",
        "(a) first refusal, validator 1",
        |b| b.banned[0],
    ),
    (
        "a_refused_validator2",
        "(a) first refusal, validator 2",
        |b| b.banned[1],
    ),
    (
        "a_refused_every_validator",
        "(a) first refusal, both validators",
        |b| latest(&b.banned),
    ),
    ("b_tls_validator1", "(b) TLS refused, validator 1", |b| {
        b.tls_refused[0]
    }),
    ("b_tls_validator2", "(b) TLS refused, validator 2", |b| {
        b.tls_refused[1]
    }),
    ("b_tls_sink", "(b) TLS refused, sink", |b| b.tls_refused[2]),
    ("b_tls_everywhere", "(b) TLS refused, all three", |b| {
        latest(&b.tls_refused)
    }),
    (
        "c_closed_validator1",
        "(c) open conn. closed, validator 1",
        |b| b.closed[0],
    ),
    (
        "c_closed_validator2",
        "(c) open conn. closed, validator 2",
        |b| b.closed[1],
    ),
    ("c_closed_sink", "(c) open conn. closed, sink", |b| {
        b.closed[2]
    }),
    (
        "c_closed_everywhere",
        "(c) open conn. closed, all three",
        |b| latest(&b.closed),
    ),
    (
        "cache_banned_validator1",
        "registry cache banned, validator 1",
        |b| b.cache[0],
    ),
    (
        "cache_banned_validator2",
        "registry cache banned, validator 2",
        |b| b.cache[1],
    ),
    ("centre_crl", "revoked in the centre's CRL", |b| b.in_crl),
];

/// The (a) and (b) rows the goal is about.
pub const GOAL_ROWS: [&str; 2] = ["a_refused_every_validator", "b_tls_everywhere"];

/// Every measure over every ban.
pub fn rows(bans: &[BanTimes]) -> Vec<Row> {
    MEASURES
        .iter()
        .map(|&(key, label, pick)| Row::new(key, label, bans.iter().map(pick).collect()))
        .collect()
}

/// The baseline: one `GetDevice` evaluate round trip, samples in ms (sorted here).
pub struct Baseline {
    pub samples: Vec<f64>,
}

impl Baseline {
    pub fn new(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Self { samples }
    }

    pub fn p50(&self) -> f64 {
        percentile(&self.samples, 0.5)
    }
}

/// How many (ban, validator) pairs saw the CRL cut the gateway off before any 1003.
fn bans_cut_off(times: &[BanTimes]) -> usize {
    times.iter().flat_map(|t| t.cut_off).filter(|c| *c).count()
}

/// Prints the table and whether the goal is met for (a) and (b).
pub fn print(rows: &[Row], baseline: &Baseline, times: &[BanTimes]) {
    let bans = times.len();
    let base = baseline.p50();
    println!();
    println!(
        "{:<38} {:>4} {:>9} {:>9} {:>9} {:>10}",
        "from the ban's confirmed commit to", "N", "p50 ms", "p99 ms", "max ms", "p50/base"
    );
    for row in rows {
        let missing = match row.missing {
            0 => String::new(),
            m => format!("  ({m} of {bans} never seen)"),
        };
        println!(
            "{:<38} {:>4} {:>9.1} {:>9.1} {:>9.1} {:>9.1}x{missing}",
            row.label,
            row.samples.len(),
            row.p(0.5),
            row.p(0.99),
            row.p(1.0),
            row.p(0.5) / base,
        );
    }
    println!(
        "{:<38} {:>4} {:>9.2} {:>9.2} {:>9.2}   (baseline)",
        "GetDevice evaluate round trip",
        baseline.samples.len(),
        base,
        percentile(&baseline.samples, 0.99),
        percentile(&baseline.samples, 1.0),
    );
    let cut = bans_cut_off(times);
    println!(
        "(a) is the first 1003 answer to the gateway's traffic; in {cut} of {} cases (bans x \
         validators) the new CRL cut the gateway off before its next message, which then counts",
        2 * times.len()
    );
    for key in GOAL_ROWS {
        let row = rows.iter().find(|r| r.key == key).expect("a known row");
        println!(
            "goal p99 <= {GOAL_MS} ms for {}: {} (p99 {:.1} ms)",
            row.label,
            if row.meets_goal() { "met" } else { "NOT met" },
            row.p(0.99)
        );
    }
}

/// Writes every figure (name, value, unit, baseline, ratio) and the run's settings to `path`.
pub fn write_json(
    path: &Path,
    rows: &[Row],
    baseline: &Baseline,
    bans: &[BanTimes],
    settings: Value,
) -> std::io::Result<()> {
    let base = baseline.p50();
    let figure = |name: String, value: f64| json!({ "name": name, "value": value, "unit": "ms", "baseline": base, "ratio": value / base });
    let mut figures = vec![figure("baseline_get_device_evaluate_p50".into(), base)];
    for row in rows {
        for (stat, p) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
            figures.push(figure(format!("{}_{stat}", row.key), row.p(p)));
        }
    }
    let goal = |key: &str| rows.iter().any(|r| r.key == key && r.meets_goal());
    let [a_goal, b_goal] = GOAL_ROWS;
    let doc = json!({
        "benchmark": "ban_propagation",
        "settings": settings,
        "baseline": { "name": "GetDevice evaluate round trip (Org2 client)", "p50_ms": base,
                      "p99_ms": percentile(&baseline.samples, 0.99), "samples": baseline.samples.len() },
        "goal": { "p99_ms": GOAL_MS, "a_met": goal(a_goal), "b_met": goal(b_goal) },
        "missing": rows.iter().map(|r| (r.key, r.missing)).filter(|(_, m)| *m > 0)
            .map(|(k, m)| json!({ "name": k, "bans": m })).collect::<Vec<_>>(),
        "figures": figures,
        // Each ban's own times (ms; null: never seen), for other summaries.
        "bans": bans.iter().map(|b| json!({
            "path": b.path.name(), "refused": b.banned, "cut_off_by_crl": b.cut_off, "cache": b.cache, "tls_refused": b.tls_refused,
            "closed": b.closed, "in_crl": b.in_crl,
        })).collect::<Vec<_>>(),
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}
