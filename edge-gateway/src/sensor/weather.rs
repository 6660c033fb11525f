//! A simulated weather station: values drift as a bounded random walk on top of a daily cycle.

use std::f64::consts::TAU;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Measurements;
use runtime::Shutdown;

/// Physical bounds the simulation never leaves.
pub const TEMPERATURE_C: (f64, f64) = (-30.0, 50.0);
pub const HUMIDITY_PCT: (f64, f64) = (5.0, 100.0);
pub const PRESSURE_HPA: (f64, f64) = (950.0, 1050.0);
pub const WIND_MS: (f64, f64) = (0.0, 30.0);

/// Simulated station state; the same seed gives the same readings.
#[derive(Debug, Clone)]
pub struct WeatherStation {
    rng: SplitMix64,
    // Deviations from the daily mean, each a mean-reverting random walk.
    temperature_dev: f64,
    humidity_dev: f64,
    pressure: f64,
    wind: f64,
}

impl WeatherStation {
    pub fn new(seed: u64) -> WeatherStation {
        WeatherStation {
            rng: SplitMix64(seed),
            temperature_dev: 0.0,
            humidity_dev: 0.0,
            pressure: 1013.0,
            wind: 3.0,
        }
    }

    /// One reading at `seconds_of_day` (0..86400, local solar time).
    pub fn sample(&mut self, seconds_of_day: f64) -> Measurements {
        // Warmest mid-afternoon (15:00), coldest before dawn; humidity moves the other way.
        let phase = (seconds_of_day / 86_400.0 - 9.0 / 24.0) * TAU;
        let cycle = phase.sin();
        self.temperature_dev = walk(self.temperature_dev, self.rng.step(0.15), 0.02, (-5.0, 5.0));
        self.humidity_dev = walk(self.humidity_dev, self.rng.step(0.5), 0.02, (-20.0, 20.0));
        self.pressure = walk(
            self.pressure - 1013.0,
            self.rng.step(0.1),
            0.001,
            (-40.0, 40.0),
        ) + 1013.0;
        self.wind = (self.wind + self.rng.step(0.4)).clamp(WIND_MS.0, WIND_MS.1);

        let temperature =
            (15.0 + 6.0 * cycle + self.temperature_dev).clamp(TEMPERATURE_C.0, TEMPERATURE_C.1);
        let humidity =
            (60.0 - 15.0 * cycle + self.humidity_dev).clamp(HUMIDITY_PCT.0, HUMIDITY_PCT.1);
        let pressure = self.pressure.clamp(PRESSURE_HPA.0, PRESSURE_HPA.1);
        let mut m = Measurements::new();
        m.insert("temperature_c".into(), round2(temperature).into());
        m.insert("humidity_pct".into(), round2(humidity).into());
        m.insert("pressure_hpa".into(), round2(pressure).into());
        m.insert("wind_ms".into(), round2(self.wind).into());
        m
    }
}

/// Samples the station every `interval` until shutdown or until nobody listens.
pub async fn run(
    mut station: WeatherStation,
    interval: Duration,
    tx: mpsc::Sender<Measurements>,
    mut shutdown: Shutdown,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait() => return,
        }
        let reading = station.sample(seconds_of_day_now());
        if tx.send(reading).await.is_err() {
            return;
        }
    }
}

fn seconds_of_day_now() -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs() % 86_400) as f64
}

/// One step of a random walk pulled back towards zero by `reversion`, kept inside `bounds`.
fn walk(value: f64, step: f64, reversion: f64, bounds: (f64, f64)) -> f64 {
    (value * (1.0 - reversion) + step).clamp(bounds.0, bounds.1)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// SplitMix64: tiny, seedable, good enough for plausible noise (not for anything secret).
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-scale, scale].
    fn step(&mut self, scale: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (unit * 2.0 - 1.0) * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signed_message::Measurement;

    fn value(m: &Measurements, name: &str) -> f64 {
        match &m[name] {
            Measurement::Number(n) => n.as_f64().unwrap(),
            other => panic!("{name} is not a number: {other:?}"),
        }
    }

    #[test]
    fn same_seed_same_readings_other_seed_other_readings() {
        let run = |seed| {
            let mut s = WeatherStation::new(seed);
            (0..50)
                .map(|i| s.sample(i as f64 * 60.0))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn values_stay_within_physical_bounds_and_move_in_small_steps() {
        let mut s = WeatherStation::new(42);
        let mut prev: Option<Measurements> = None;
        for i in 0..20_000 {
            let m = s.sample((i * 60 % 86_400) as f64);
            for (name, (lo, hi)) in [
                ("temperature_c", TEMPERATURE_C),
                ("humidity_pct", HUMIDITY_PCT),
                ("pressure_hpa", PRESSURE_HPA),
                ("wind_ms", WIND_MS),
            ] {
                let v = value(&m, name);
                assert!((lo..=hi).contains(&v), "{name}={v} at step {i}");
            }
            if let Some(p) = &prev {
                let dt = (value(&m, "temperature_c") - value(p, "temperature_c")).abs();
                assert!(dt < 1.0, "temperature jumped {dt} at step {i}");
            }
            prev = Some(m);
        }
    }

    #[test]
    fn afternoons_are_warmer_than_nights() {
        let mut s = WeatherStation::new(3);
        let (mut day, mut night) = (0.0, 0.0);
        for _ in 0..200 {
            day += value(&s.sample(15.0 * 3600.0), "temperature_c");
            night += value(&s.sample(3.0 * 3600.0), "temperature_c");
        }
        assert!(day > night + 200.0 * 5.0, "day {day} night {night}");
    }
}
