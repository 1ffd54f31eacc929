//! The WGS84 ellipsoid: geodesic distance (Karney) and the sphere radii that bound it.

use std::sync::LazyLock;

use geographiclib_rs::{Geodesic, InverseGeodesic};

use super::LatLng;

/// The WGS84 semi-minor axis b, rounded down. The core's sphere is Bessel's auxiliary
/// sphere (reduced latitude β, longitude λ): a point (a cos β cos λ, a cos β sin λ,
/// b sin β) of the ellipsoid has ds² = (a² sin²β + b² cos²β) dβ² + a² cos²β dλ², so every
/// path on the ellipsoid is between b and a metres per radian of its image on the unit
/// sphere. An angle on the sphere times this radius is therefore a lower bound on the
/// WGS84 distance.
pub const SPHERE_RADIUS_LOWER_M: f64 = 6_356_752.0;

/// The WGS84 semi-major axis a, rounded up: an angle on the auxiliary sphere times this
/// radius bounds the WGS84 distance from above.
pub const SPHERE_RADIUS_UPPER_M: f64 = 6_378_138.0;

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
