//! Time in the core: seconds since the Unix epoch, validated, and time windows.

use super::{require_finite, GeometryError};

/// An instant, as seconds since 1970-01-01T00:00:00Z (UTC, leap seconds not counted).
/// Always finite, so it is totally ordered.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp {
    unix_s: f64,
}

impl Timestamp {
    pub fn from_unix_s(unix_s: f64) -> Result<Self, GeometryError> {
        require_finite("time", unix_s)?;
        Ok(Timestamp { unix_s })
    }

    pub fn unix_s(&self) -> f64 {
        self.unix_s
    }
}

/// A time window whose end is after its start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeWindow {
    start: Timestamp,
    end: Timestamp,
}

impl TimeWindow {
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, GeometryError> {
        if end.unix_s <= start.unix_s {
            return Err(GeometryError::TimeWindowEmpty {
                start_s: start.unix_s,
                end_s: end.unix_s,
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

    /// The time between the two windows in seconds: 0 when they overlap or touch.
    pub fn gap_s(&self, other: &TimeWindow) -> f64 {
        (other.start.unix_s - self.end.unix_s)
            .max(self.start.unix_s - other.end.unix_s)
            .max(0.0)
    }
}
