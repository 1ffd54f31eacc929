//! Time in the core: seconds since the Unix epoch, validated, and time windows.
//!
//! A [`Timestamp`] holds whole microseconds, so that differences between times are exact
//! (an RFC 3339 time with a fraction of a second has no exact binary floating-point
//! value, and a gap computed from two rounded values could land on the wrong side of a
//! strict minimum). Microseconds are also the resolution of the times people file.

use super::{require_finite, GeometryError};

/// The largest magnitude of a time, in seconds from the epoch: about 292,000 years, the
/// range of microseconds in 64 bits (with room for differences).
pub const TIME_MAGNITUDE_MAX_S: f64 = 4.0e12;

/// An instant, as seconds since 1970-01-01T00:00:00Z (UTC, leap seconds not counted), to
/// the microsecond. Totally ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_us: i64,
}

impl Timestamp {
    /// The instant `unix_s` seconds after the epoch, rounded to the microsecond; rejects
    /// non-finite values and magnitudes above [`TIME_MAGNITUDE_MAX_S`].
    pub fn from_unix_s(unix_s: f64) -> Result<Self, GeometryError> {
        require_finite("time", unix_s)?;
        if unix_s.abs() > TIME_MAGNITUDE_MAX_S {
            return Err(GeometryError::TimeOutOfRange { unix_s });
        }
        Ok(Timestamp {
            unix_us: (unix_s * 1e6).round() as i64,
        })
    }

    /// The instant `unix_us` microseconds after the epoch.
    pub fn from_unix_us(unix_us: i64) -> Result<Self, GeometryError> {
        if (unix_us as f64).abs() > TIME_MAGNITUDE_MAX_S * 1e6 {
            return Err(GeometryError::TimeOutOfRange {
                unix_s: unix_us as f64 / 1e6,
            });
        }
        Ok(Timestamp { unix_us })
    }

    pub fn unix_s(&self) -> f64 {
        self.unix_us as f64 / 1e6
    }

    pub fn unix_us(&self) -> i64 {
        self.unix_us
    }
}

/// A time window whose end is after its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindow {
    start: Timestamp,
    end: Timestamp,
}

impl TimeWindow {
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, GeometryError> {
        if end <= start {
            return Err(GeometryError::TimeWindowEmpty {
                start_s: start.unix_s(),
                end_s: end.unix_s(),
            });
        }
        Ok(TimeWindow { start, end })
    }

    /// A window from seconds since the Unix epoch.
    pub fn from_unix_s(start_s: f64, end_s: f64) -> Result<Self, GeometryError> {
        TimeWindow::new(
            Timestamp::from_unix_s(start_s)?,
            Timestamp::from_unix_s(end_s)?,
        )
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The time between the two windows in seconds: 0 when they overlap or touch. Exact:
    /// computed in whole microseconds, then divided once (correctly rounded).
    pub fn gap_s(&self, other: &TimeWindow) -> f64 {
        let gap_us = (other.start.unix_us - self.end.unix_us)
            .max(self.start.unix_us - other.end.unix_us)
            .max(0);
        gap_us as f64 / 1e6
    }
}
