//! Transaction timestamps and their RFC 3339 UTC text, so records never depend on a local clock.

use serde::{Deserialize, Serialize};

/// A transaction timestamp as Fabric carries it (protobuf `Timestamp`: seconds and nanos since the Unix epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxTimestamp {
    pub seconds: i64,
    pub nanos: i32,
}

/// Why a timestamp cannot be written as RFC 3339.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimestampError {
    #[error(
        "timestamp nanos {nanos} is outside 0..=999999999; the transaction header is malformed"
    )]
    NanosOutOfRange { nanos: i32 },
    #[error(
        "timestamp {seconds}s lies outside years 0000-9999 and cannot be written as RFC 3339; check the submitter's clock"
    )]
    YearOutOfRange { seconds: i64 },
}

impl TxTimestamp {
    pub fn new(seconds: i64, nanos: i32) -> Self {
        TxTimestamp { seconds, nanos }
    }

    /// RFC 3339 UTC text with a fixed nine-digit fraction, e.g. `2024-05-01T12:00:00.000000000Z`.
    ///
    /// The fraction is always present so that the text sorts in time order.
    pub fn to_rfc3339(self) -> Result<String, TimestampError> {
        if !(0..=999_999_999).contains(&self.nanos) {
            return Err(TimestampError::NanosOutOfRange { nanos: self.nanos });
        }
        let days = self.seconds.div_euclid(86_400);
        let secs_of_day = self.seconds.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return Err(TimestampError::YearOutOfRange {
                seconds: self.seconds,
            });
        }
        Ok(format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
            secs_of_day / 3600,
            secs_of_day % 3600 / 60,
            secs_of_day % 60,
            self.nanos
        ))
    }
}

/// Proleptic Gregorian (year, month, day) for a count of days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent day-by-day walk used to cross-check the closed-form conversion.
    fn walk(mut days: i64) -> (i64, u32, u32) {
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let month_len = |y: i64, m: u32| match m {
            2 if leap(y) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        while days > 0 {
            d += 1;
            if d > month_len(y, m) {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
            days -= 1;
        }
        (y, m, d)
    }

    #[test]
    fn closed_form_matches_a_day_by_day_walk_over_two_centuries() {
        for days in (0..73_000).step_by(7) {
            assert_eq!(civil_from_days(days), walk(days), "day {days}");
        }
    }

    #[test]
    fn formats_with_fixed_fraction_in_utc() {
        let t = TxTimestamp::new(86_400 * 366 + 3_661, 5)
            .to_rfc3339()
            .unwrap();
        assert_eq!(t, "1971-01-02T01:01:01.000000005Z");
        let before_epoch = TxTimestamp::new(-1, 0).to_rfc3339().unwrap();
        assert_eq!(before_epoch, "1969-12-31T23:59:59.000000000Z");
    }

    #[test]
    fn text_order_follows_time_order() {
        let a = TxTimestamp::new(1_700_000_000, 999_999_999)
            .to_rfc3339()
            .unwrap();
        let b = TxTimestamp::new(1_700_000_001, 0).to_rfc3339().unwrap();
        assert!(a < b, "{a} !< {b}");
    }

    #[test]
    fn refuses_bad_nanos_and_far_years() {
        assert_eq!(
            TxTimestamp::new(0, 1_000_000_000).to_rfc3339(),
            Err(TimestampError::NanosOutOfRange {
                nanos: 1_000_000_000
            })
        );
        assert_eq!(
            TxTimestamp::new(0, -1).to_rfc3339(),
            Err(TimestampError::NanosOutOfRange { nanos: -1 })
        );
        assert!(matches!(
            TxTimestamp::new(i64::MAX / 2, 0).to_rfc3339(),
            Err(TimestampError::YearOutOfRange { .. })
        ));
    }
}
