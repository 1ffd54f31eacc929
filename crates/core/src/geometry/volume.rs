//! Altitude bands and the 4-D volume (footprint, band, window) of a planned flight.

use super::{require_finite, Footprint, GeometryError, TimeWindow};

/// An altitude band in metres above the WGS84 ellipsoid, lower strictly below upper.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AltitudeBand {
    lower_m: f64,
    upper_m: f64,
}

impl AltitudeBand {
    pub fn new(lower_m: f64, upper_m: f64) -> Result<Self, GeometryError> {
        require_finite("altitude lower", lower_m)?;
        require_finite("altitude upper", upper_m)?;
        if lower_m >= upper_m {
            return Err(GeometryError::AltitudeBandEmpty { lower_m, upper_m });
        }
        Ok(AltitudeBand { lower_m, upper_m })
    }

    pub fn lower_m(&self) -> f64 {
        self.lower_m
    }

    pub fn upper_m(&self) -> f64 {
        self.upper_m
    }

    /// The vertical distance between the two bands in metres: 0 when they overlap or touch.
    pub fn gap_m(&self, other: &AltitudeBand) -> f64 {
        (other.lower_m - self.upper_m)
            .max(self.lower_m - other.upper_m)
            .max(0.0)
    }
}

/// A 4-D volume: a footprint, an altitude band and a time window (the ASTM F3548-21
/// Volume4D).
#[derive(Debug, Clone, PartialEq)]
pub struct Volume4D {
    pub footprint: Footprint,
    pub altitude: AltitudeBand,
    pub window: TimeWindow,
}

impl Volume4D {
    pub fn new(footprint: Footprint, altitude: AltitudeBand, window: TimeWindow) -> Self {
        Volume4D {
            footprint,
            altitude,
            window,
        }
    }
}
