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

    /// The point on the unit sphere with this latitude and longitude as spherical
    /// coordinates (the sphere on which polygon edges are great-circle arcs).
    pub(crate) fn to_unit(self) -> Vec3 {
        Vec3::from_lat_lng_deg(self.lat_deg, self.lng_deg)
    }

    /// The position of a unit vector, with the longitude kept in [-180, 180].
    pub(crate) fn from_unit(unit: Vec3) -> LatLng {
        let (lat_deg, lng_deg) = unit.to_lat_lng_deg();
        LatLng {
            lat_deg: lat_deg.clamp(-90.0, 90.0),
            lng_deg: lng_deg.clamp(-180.0, 180.0),
        }
    }
}
