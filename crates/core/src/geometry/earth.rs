//! The WGS84 ellipsoid: geodesic distance (Karney) and the sphere radii that bound it.

use std::sync::LazyLock;

use geographiclib_rs::{Geodesic, InverseGeodesic};

use super::LatLng;

/// The smallest radius of curvature of WGS84 (meridional, at the equator: b²/a), rounded
/// down. Any path on the ellipsoid is at least this many metres per radian of the
/// corresponding path on the unit sphere of geodetic coordinates, so an angle on that
/// sphere times this radius is a lower bound on the WGS84 distance.
pub const SPHERE_RADIUS_LOWER_M: f64 = 6_335_400.0;

/// The largest radius of curvature of WGS84 (at the poles: a²/b), rounded up: an angle on
/// the sphere of geodetic coordinates times this radius bounds the WGS84 distance from
/// above.
pub const SPHERE_RADIUS_UPPER_M: f64 = 6_399_600.0;

static WGS84: LazyLock<Geodesic> = LazyLock::new(Geodesic::wgs84);

pub(crate) fn wgs84() -> &'static Geodesic {
    &WGS84
}

/// The WGS84 geodesic distance in metres between two positions (Karney's algorithm,
/// accurate to nanometres). Exactly symmetric: the two points are put in a fixed order
/// first, so that swapping them cannot change the last bit.
pub fn geodesic_distance_m(a: LatLng, b: LatLng) -> f64 {
    let (first, second) = if (a.lat_deg(), a.lng_deg()) <= (b.lat_deg(), b.lng_deg()) {
        (a, b)
    } else {
        (b, a)
    };
    WGS84.inverse(
        first.lat_deg(),
        first.lng_deg(),
        second.lat_deg(),
        second.lng_deg(),
    )
}
