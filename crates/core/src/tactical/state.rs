//! The state vector of one aircraft at one instant, validated once on construction.
//!
//! The detector works on dense indexes: the caller keeps its own aircraft and party
//! identifiers and hands the detector a slice of states, each tagged with a
//! [`PartyIndex`]; detected pairs come back as positions in that slice.

use thiserror::Error;

/// A dense number standing for one party in a detection cycle. Two aircraft with the same
/// party index are never in conflict with each other. The caller maps its own party
/// identifiers onto these (for example the order in which parties first appear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyIndex(pub u32);

/// Altitudes below the deepest point of the Earth's surface or above anything that flies
/// in an airspace are errors in the report, not aircraft.
pub const ALT_MIN_M: f64 = -12_000.0;
pub const ALT_MAX_M: f64 = 1_000_000.0;
/// No aircraft moves faster than this along any axis; larger values are corrupt reports
/// (and would overflow the prediction's arithmetic).
pub const SPEED_MAX_MPS: f64 = 10_000.0;

/// Why a state vector was refused.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InvalidState {
    #[error("latitude {0} deg is not a number between -90 and 90")]
    Latitude(f64),
    #[error("longitude {0} deg is not a number between -180 and 180")]
    Longitude(f64),
    #[error("altitude {0} m is not a number between -12,000 and 1,000,000")]
    Altitude(f64),
    #[error("velocity component {name} = {value} m/s is not a number between -10,000 and 10,000")]
    Velocity { name: &'static str, value: f64 },
}

/// Position (WGS84 geodetic, altitude in metres above the ellipsoid) and velocity (north,
/// east and up, in the aircraft's own local frame) of one aircraft, tagged with its party.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AircraftState {
    party: PartyIndex,
    lat_deg: f64,
    lon_deg: f64,
    alt_m: f64,
    vn_mps: f64,
    ve_mps: f64,
    vu_mps: f64,
}

impl AircraftState {
    /// Checks every field: latitude in [-90, 90], longitude in [-180, 180], altitude in
    /// [`ALT_MIN_M`, `ALT_MAX_M`], each velocity component within ±[`SPEED_MAX_MPS`]
    /// (which also rules out NaN and infinities). Nothing is clamped or wrapped.
    pub fn new(
        party: PartyIndex,
        lat_deg: f64,
        lon_deg: f64,
        alt_m: f64,
        vn_mps: f64,
        ve_mps: f64,
        vu_mps: f64,
    ) -> Result<Self, InvalidState> {
        if !(-90.0..=90.0).contains(&lat_deg) {
            return Err(InvalidState::Latitude(lat_deg));
        }
        if !(-180.0..=180.0).contains(&lon_deg) {
            return Err(InvalidState::Longitude(lon_deg));
        }
        if !(ALT_MIN_M..=ALT_MAX_M).contains(&alt_m) {
            return Err(InvalidState::Altitude(alt_m));
        }
        for (name, value) in [("vn", vn_mps), ("ve", ve_mps), ("vu", vu_mps)] {
            if !(-SPEED_MAX_MPS..=SPEED_MAX_MPS).contains(&value) {
                return Err(InvalidState::Velocity { name, value });
            }
        }
        Ok(Self {
            party,
            lat_deg,
            lon_deg,
            alt_m,
            vn_mps,
            ve_mps,
            vu_mps,
        })
    }

    pub fn party(&self) -> PartyIndex {
        self.party
    }
    pub fn lat_deg(&self) -> f64 {
        self.lat_deg
    }
    pub fn lon_deg(&self) -> f64 {
        self.lon_deg
    }
    pub fn alt_m(&self) -> f64 {
        self.alt_m
    }
    pub fn vn_mps(&self) -> f64 {
        self.vn_mps
    }
    pub fn ve_mps(&self) -> f64 {
        self.ve_mps
    }
    pub fn vu_mps(&self) -> f64 {
        self.vu_mps
    }

    /// Horizontal (ground) speed.
    pub fn ground_speed_mps(&self) -> f64 {
        // Components are bounded by SPEED_MAX_MPS, so the plain square root cannot
        // overflow, and it is several times faster than `hypot` on the hot path.
        (self.vn_mps * self.vn_mps + self.ve_mps * self.ve_mps).sqrt()
    }

    /// The state `dt_s` seconds later (earlier when negative) at constant velocity, as the
    /// detector predicts it; for bringing reports of different ages to one cycle time.
    /// Refused only if the step leaves the valid range (it cannot, for finite input).
    pub fn extrapolated(&self, dt_s: f64) -> Result<Self, InvalidState> {
        super::frame::extrapolated(self, dt_s)
    }

    /// The same aircraft with another party tag (for callers that build states before they
    /// number parties).
    pub fn with_party(self, party: PartyIndex) -> Self {
        Self { party, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_or_non_finite_fields_are_refused() {
        let p = PartyIndex(0);
        assert!(AircraftState::new(p, 90.5, 0.0, 0.0, 0.0, 0.0, 0.0).is_err());
        assert!(AircraftState::new(p, 0.0, -180.1, 0.0, 0.0, 0.0, 0.0).is_err());
        assert!(AircraftState::new(p, 0.0, 0.0, f64::NAN, 0.0, 0.0, 0.0).is_err());
        assert!(AircraftState::new(p, 0.0, 0.0, 0.0, f64::INFINITY, 0.0, 0.0).is_err());
        assert!(AircraftState::new(p, f64::NAN, 0.0, 0.0, 0.0, 0.0, 0.0).is_err());
        assert!(AircraftState::new(p, 0.0, 0.0, 2e6, 0.0, 0.0, 0.0).is_err());
        assert!(AircraftState::new(p, 0.0, 0.0, 0.0, 0.0, -2e4, 0.0).is_err());
        assert!(AircraftState::new(p, -90.0, 180.0, -400.0, 1.0, 2.0, 3.0).is_ok());
    }
}
