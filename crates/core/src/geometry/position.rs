//! WGS84 positions in degrees, validated once.

use super::{require_finite, GeometryError, Vec3};

/// A WGS84 geodetic position in degrees: latitude in [-90, 90], longitude in [-180, 180].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLng {
    lat_deg: f64,
    lng_deg: f64,
}

impl LatLng {
    /// A position from latitude and longitude in degrees; rejects non-finite or
    /// out-of-range values (no wrapping: a longitude of 190 is an error, not -170).
    pub fn new(lat_deg: f64, lng_deg: f64) -> Result<Self, GeometryError> {
        require_finite("latitude", lat_deg)?;
        require_finite("longitude", lng_deg)?;
        if !(-90.0..=90.0).contains(&lat_deg) {
            return Err(GeometryError::LatitudeOutOfRange { lat_deg });
        }
        if !(-180.0..=180.0).contains(&lng_deg) {
            return Err(GeometryError::LongitudeOutOfRange { lng_deg });
        }
        Ok(LatLng { lat_deg, lng_deg })
    }

    pub fn lat_deg(&self) -> f64 {
        self.lat_deg
    }

    pub fn lng_deg(&self) -> f64 {
        self.lng_deg
    }

    /// The point of the auxiliary sphere (Bessel's): the unit sphere with this position's
    /// reduced (parametric) latitude and its longitude. The map from the WGS84 ellipsoid
    /// scales every length by a factor between b and a, which is what makes the sphere's
    /// tests and bounds tight (see `earth`).
    pub(crate) fn to_unit(self) -> Vec3 {
        Vec3::from_lat_lng_deg(reduced_from_geodetic_deg(self.lat_deg), self.lng_deg)
    }

    /// The position of a point of the auxiliary sphere, with the longitude kept in
    /// [-180, 180].
    pub(crate) fn from_unit(unit: Vec3) -> LatLng {
        let (reduced_deg, lng_deg) = unit.to_lat_lng_deg();
        LatLng {
            lat_deg: geodetic_from_reduced_deg(reduced_deg).clamp(-90.0, 90.0),
            lng_deg: lng_deg.clamp(-180.0, 180.0),
        }
    }
}

/// WGS84 flattening.
const FLATTENING: f64 = 1.0 / 298.257_223_563;

/// The reduced latitude β of a geodetic latitude φ: tan β = (1 − f) tan φ.
fn reduced_from_geodetic_deg(lat_deg: f64) -> f64 {
    let (sin, cos) = lat_deg.to_radians().sin_cos();
    ((1.0 - FLATTENING) * sin).atan2(cos).to_degrees()
}

fn geodetic_from_reduced_deg(reduced_deg: f64) -> f64 {
    let (sin, cos) = reduced_deg.to_radians().sin_cos();
    sin.atan2((1.0 - FLATTENING) * cos).to_degrees()
}
