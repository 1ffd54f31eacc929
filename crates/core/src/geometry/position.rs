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
        // tan φ = tan β / (1 − f) with tan β = z / √(x² + y²): the geodetic latitude in one
        // arc tangent of the point's own coordinates, rather than the reduced latitude's
        // and then another of its sine and cosine (a disclosed region unprojects every one
        // of its vertices through here).
        let lat_deg = unit
            .z
            .atan2((1.0 - FLATTENING) * unit.x.hypot(unit.y))
            .to_degrees();
        let lng_deg = if unit.x == 0.0 && unit.y == 0.0 {
            0.0
        } else {
            unit.y.atan2(unit.x).to_degrees()
        };
        LatLng {
            lat_deg: lat_deg.clamp(-90.0, 90.0),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A position taken to the auxiliary sphere and back is where it was, to a few
    /// nanodegrees' worth of rounding, from pole to pole and across the antimeridian.
    #[test]
    fn a_position_comes_back_from_the_auxiliary_sphere() {
        for step_lat in 0..=360 {
            let lat_deg = -90.0 + step_lat as f64 * 0.5;
            for lng_deg in [
                -180.0,
                -179.999_999,
                -97.3,
                -0.25,
                0.0,
                1e-9,
                38.1,
                179.75,
                180.0,
            ] {
                let position = LatLng::new(lat_deg, lng_deg).unwrap();
                let back = LatLng::from_unit(position.to_unit());
                assert!(
                    (back.lat_deg() - lat_deg).abs() < 1e-12,
                    "{position:?} came back as {back:?}"
                );
                // At a pole every longitude is the same point.
                if lat_deg.abs() < 90.0 {
                    let lng_off = (back.lng_deg() - lng_deg).abs();
                    assert!(
                        lng_off < 1e-12 || (360.0 - lng_off).abs() < 1e-12,
                        "{position:?} came back as {back:?}"
                    );
                }
            }
        }
        // The reduced latitude lies between the geocentric and the geodetic one.
        let unit = LatLng::new(45.0, 0.0).unwrap().to_unit();
        let reduced_deg = unit.z.atan2(unit.x).to_degrees();
        assert!(reduced_deg < 45.0 && reduced_deg > 44.8, "{reduced_deg}");
    }
}
