//! The injected clock: the service reads time only through [`Clock`], so tests can pin it.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 time (`2015-10-20T10:00:00Z`, any
/// offset); the error says what is wrong.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, String> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|error| format!("{text:?} is not an RFC 3339 time ({error})"))?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("{text:?} is out of range"))
}

/// RFC 3339 UTC with millisecond precision (`2015-10-20T10:00:00.000Z`).
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let nanos = i128::from(unix_ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(time) => {
            let date = time.date();
            let clock = time.time();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                date.year(),
                u8::from(date.month()),
                date.day(),
                clock.hour(),
                clock.minute(),
                clock.second(),
                clock.millisecond()
            )
        }
        Err(_) => OffsetDateTime::UNIX_EPOCH
            .format(&Rfc3339)
            .unwrap_or_default(),
    }
}

/// RFC 3339 UTC of seconds since the epoch, to the millisecond.
pub fn rfc3339_s(unix_s: f64) -> String {
    rfc3339_ms((unix_s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_format_as_rfc3339_utc() {
        assert_eq!(rfc3339_ms(1_445_335_200_000), "2015-10-20T10:00:00.000Z");
        assert_eq!(rfc3339_ms(1_445_335_200_123), "2015-10-20T10:00:00.123Z");
        assert_eq!(rfc3339_s(1_445_335_200.5), "2015-10-20T10:00:00.500Z");
    }
}
