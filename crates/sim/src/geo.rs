//! Spherical-earth navigation for the generator: distances, bearings, destinations and a
//! local tangent plane.
//!
//! | symbol            | meaning                                          | unit    |
//! |-------------------|--------------------------------------------------|---------|
//! | `EARTH_RADIUS_M`  | mean radius of the WGS84 ellipsoid (IUGG R1)     | m       |
//! | `bearing_rad`     | initial great-circle course, clockwise from north | rad     |
//! | `east_m, north_m` | coordinates in the azimuthal equidistant plane   | m       |
//!
//! A sphere is enough here: the simulator only has to fly aircraft that are kinematically
//! plausible and then describe, with margins, where they flew; its positions and velocities
//! are consistent with each other because both come from these same formulas. (The
//! detectors, which must be accurate to the contract's tolerance, use their own geodesy.)
//! These few closed forms are written out rather than taken from a geometry crate because
//! they run for every aircraft on every simulated second.

use std::f64::consts::PI;

/// Mean earth radius, metres (IUGG mean radius R1 of WGS84).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A position in radians. Constructed from degrees by [`LatLon::from_degrees`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat_rad: f64,
    pub lon_rad: f64,
}

impl LatLon {
    pub fn from_degrees(lat_deg: f64, lon_deg: f64) -> Self {
        LatLon {
            lat_rad: lat_deg.to_radians(),
            lon_rad: lon_deg.to_radians(),
        }
    }

    pub fn lat_deg(&self) -> f64 {
        self.lat_rad.to_degrees()
    }

    /// Longitude in degrees, normalized to [-180, 180).
    pub fn lon_deg(&self) -> f64 {
        wrap_pi(self.lon_rad).to_degrees()
    }
}

/// An angle wrapped into [-π, π).
pub fn wrap_pi(angle_rad: f64) -> f64 {
    (angle_rad + PI).rem_euclid(2.0 * PI) - PI
}

/// An angle wrapped into [0, 2π).
pub fn wrap_two_pi(angle_rad: f64) -> f64 {
    angle_rad.rem_euclid(2.0 * PI)
}

/// Great-circle distance on the sphere (haversine), metres.
pub fn haversine_distance_m(a: LatLon, b: LatLon) -> f64 {
    let d_lat = b.lat_rad - a.lat_rad;
    let d_lon = b.lon_rad - a.lon_rad;
    let h = (d_lat / 2.0).sin().powi(2)
        + a.lat_rad.cos() * b.lat_rad.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Initial great-circle bearing from `a` to `b`, radians in [0, 2π).
pub fn initial_bearing_rad(a: LatLon, b: LatLon) -> f64 {
    let d_lon = b.lon_rad - a.lon_rad;
    let y = d_lon.sin() * b.lat_rad.cos();
    let x = a.lat_rad.cos() * b.lat_rad.sin() - a.lat_rad.sin() * b.lat_rad.cos() * d_lon.cos();
    wrap_two_pi(y.atan2(x))
}

/// The point `distance_m` from `start` along the great circle leaving at `bearing_rad`,
/// and the course on arrival there (which differs from the initial one as meridians
/// converge).
pub fn destination(start: LatLon, bearing_rad: f64, distance_m: f64) -> (LatLon, f64) {
    let delta = distance_m / EARTH_RADIUS_M;
    let (sin_lat, cos_lat) = start.lat_rad.sin_cos();
    let (sin_delta, cos_delta) = delta.sin_cos();
    let (sin_bearing, cos_bearing) = bearing_rad.sin_cos();
    let sin_lat2 = (sin_lat * cos_delta + cos_lat * sin_delta * cos_bearing).clamp(-1.0, 1.0);
    let lat2 = sin_lat2.asin();
    let lon2 =
        start.lon_rad + (sin_bearing * sin_delta * cos_lat).atan2(cos_delta - sin_lat * sin_lat2);
    let end = LatLon {
        lat_rad: lat2,
        lon_rad: wrap_pi(lon2),
    };
    // The course on arrival, from the spherical triangle pole-start-end (Napier's
    // analogies), reusing the sines and cosines above.
    let final_bearing = wrap_two_pi(
        (sin_bearing * cos_lat).atan2(cos_delta * cos_lat * cos_bearing - sin_delta * sin_lat),
    );
    (end, final_bearing)
}

/// The azimuthal equidistant projection centred on `origin`: distances and bearings from
/// the origin are exact, and nearby geometry is nearly undistorted.
#[derive(Debug, Clone, Copy)]
pub struct LocalPlane {
    origin: LatLon,
}

impl LocalPlane {
    pub fn new(origin: LatLon) -> Self {
        LocalPlane { origin }
    }

    /// `(east_m, north_m)` of `point`.
    pub fn project(&self, point: LatLon) -> (f64, f64) {
        let distance_m = haversine_distance_m(self.origin, point);
        if distance_m == 0.0 {
            return (0.0, 0.0);
        }
        let bearing = initial_bearing_rad(self.origin, point);
        (distance_m * bearing.sin(), distance_m * bearing.cos())
    }

    /// The point at `(east_m, north_m)`.
    pub fn unproject(&self, east_m: f64, north_m: f64) -> LatLon {
        let distance_m = east_m.hypot(north_m);
        if distance_m == 0.0 {
            return self.origin;
        }
        destination(self.origin, east_m.atan2(north_m), distance_m).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let d = haversine_distance_m(
            LatLon::from_degrees(35.0, 36.0),
            LatLon::from_degrees(36.0, 36.0),
        );
        assert!((d - 111_195.0).abs() < 10.0, "{d}");
    }

    #[test]
    fn destination_inverts_distance_and_bearing() {
        let start = LatLon::from_degrees(35.401, 35.949);
        let (end, _) = destination(start, 1.0, 250_000.0);
        assert!((haversine_distance_m(start, end) - 250_000.0).abs() < 1e-3);
        assert!((initial_bearing_rad(start, end) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_final_course_is_the_reverse_of_the_bearing_back() {
        let start = LatLon::from_degrees(25.117, 51.315);
        for (bearing_deg, distance_m) in [
            (315.0, 1_700_000.0),
            (10.0, 50_000.0),
            (180.0, 1.0),
            (90.0, 0.0),
        ] {
            let (end, course) = destination(start, f64::to_radians(bearing_deg), distance_m);
            let expected = if distance_m == 0.0 {
                f64::to_radians(bearing_deg)
            } else {
                wrap_two_pi(initial_bearing_rad(end, start) + PI)
            };
            // The reference is ill-conditioned for points a metre apart.
            assert!(
                wrap_pi(course - expected).abs() < 1e-6,
                "{bearing_deg}° {distance_m} m: {course} vs {expected}"
            );
        }
    }

    #[test]
    fn the_local_plane_round_trips_points() {
        let plane = LocalPlane::new(LatLon::from_degrees(34.5, 38.3));
        let point = LatLon::from_degrees(34.9, 37.6);
        let (east, north) = plane.project(point);
        let back = plane.unproject(east, north);
        assert!(haversine_distance_m(point, back) < 1e-3);
    }

    #[test]
    fn angles_wrap_into_their_ranges() {
        assert!((wrap_pi(3.0 * PI / 2.0) + PI / 2.0).abs() < 1e-12);
        assert!((wrap_two_pi(-PI / 2.0) - 3.0 * PI / 2.0).abs() < 1e-12);
    }
}
