//! The pair's common local frame, and the per-aircraft preparation that makes it cheap.
//!
//! Each aircraft is prepared once per cycle into Earth-centred, Earth-fixed (ECEF)
//! vectors on the WGS84 ellipsoid: its foot point on the ellipsoid surface, its ellipsoid
//! normal (its local vertical) and its horizontal velocity. A pair is then predicted in the
//! plane tangent to the ellipsoid at the normal halfway between the two normals:
//!
//! * the relative position `s` is the chord between the two foot points, projected onto
//!   that plane (an orthographic azimuthal projection centred between the two aircraft;
//!   for points a few hundred kilometres apart the projected chord differs from the WGS84
//!   geodesic by far less than a metre);
//! * each velocity is rotated into the plane by the rotation that carries the aircraft's
//!   own normal onto the pair's normal (parallel transport along the great circle), so
//!   speeds are kept exactly and headings are those seen from the pair's centre.
//!
//! Everything after preparation is vector arithmetic in ECEF, with no trigonometry and no
//! latitude or longitude, which is why the poles and the antimeridian need no special
//! case, and why the hot path is a few dozen multiplications per pair.

use super::params::DetectionParams;
use super::state::AircraftState;

/// WGS84 semi-major axis.
pub const WGS84_A_M: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS84 first eccentricity squared, `f (2 - f)`.
pub const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// Extra margin on each aircraft's reach: covers the difference between the 3-D chord used
/// by the broad phase and the projected distance of the exact test (well under a metre for
/// any pair that can conflict), plus rounding.
const REACH_SLACK_M: f64 = 1.0;
const REACH_SLACK_RELATIVE: f64 = 1e-3;
/// Extra margin on each altitude band, for rounding only: the band test is exact algebra.
const BAND_SLACK_M: f64 = 0.01;

pub type Vec3 = [f64; 3];

#[inline]
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
#[inline]
fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
#[inline]
pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
#[inline]
fn scale(a: Vec3, k: f64) -> Vec3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

/// One aircraft, ready for pair tests: ECEF vectors and the bounds the broad phase uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreparedAircraft {
    /// The point on the ellipsoid surface below the aircraft (ECEF, metres).
    pub surface_m: Vec3,
    /// The ellipsoid normal at that point: the aircraft's local vertical (unit vector).
    pub normal: Vec3,
    /// Horizontal velocity, `vn * north + ve * east` (ECEF, m/s).
    pub velocity_mps: Vec3,
    pub alt_m: f64,
    pub vu_mps: f64,
    /// Every altitude the aircraft can have while in conflict, widened by its half of the
    /// vertical reach: two aircraft whose bands do not overlap cannot conflict.
    pub band_low_m: f64,
    pub band_high_m: f64,
    /// How far (3-D chord) its half of a conflict can reach over the lookahead: two
    /// aircraft farther apart than the sum of their reaches cannot conflict.
    pub reach_m: f64,
    pub party: u32,
}

impl PreparedAircraft {
    pub fn new(state: &AircraftState, params: &DetectionParams) -> Self {
        let (sin_lat, cos_lat) = state.lat_deg().to_radians().sin_cos();
        let (sin_lon, cos_lon) = state.lon_deg().to_radians().sin_cos();
        let prime_vertical_radius_m = WGS84_A_M / (1.0 - WGS84_E2 * sin_lat * sin_lat).sqrt();
        let surface_m = [
            prime_vertical_radius_m * cos_lat * cos_lon,
            prime_vertical_radius_m * cos_lat * sin_lon,
            prime_vertical_radius_m * (1.0 - WGS84_E2) * sin_lat,
        ];
        let normal = [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat];
        // At a pole, east and north follow the longitude given, which still makes a valid
        // right-handed frame there; the velocity is then read in that frame.
        let east = [-sin_lon, cos_lon, 0.0];
        let north = [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat];
        let velocity_mps = add(scale(north, state.vn_mps()), scale(east, state.ve_mps()));

        let criterion = params.criterion();
        let lookahead_s = params.lookahead_s();
        let speed_mps = state.ground_speed_mps();
        let reach_m = speed_mps * (lookahead_s + criterion.horizontal_lead_s())
            + 0.5 * criterion.horizontal_threshold_m();
        let reach_m = reach_m + REACH_SLACK_M + REACH_SLACK_RELATIVE * reach_m;

        let alt_m = state.alt_m();
        let vu_mps = state.vu_mps();
        let alt_end_m = alt_m + vu_mps * lookahead_s;
        let vertical_half_m = 0.5 * criterion.vertical_threshold_m()
            + vu_mps.abs() * criterion.vertical_lead_s()
            + BAND_SLACK_M;
        Self {
            surface_m,
            normal,
            velocity_mps,
            alt_m,
            vu_mps,
            band_low_m: alt_m.min(alt_end_m) - vertical_half_m,
            band_high_m: alt_m.max(alt_end_m) + vertical_half_m,
            reach_m,
            party: state.party().0,
        }
    }
}

/// Geodetic latitude and longitude (degrees) of the ECEF point `p`, near the ellipsoid
/// surface. Fixed-point iteration on the latitude, with the height taken along the
/// normal, which is stable at the poles as well as at the equator.
fn geodetic_deg(p: Vec3) -> (f64, f64) {
    let lon = p[1].atan2(p[0]);
    let horizontal = p[0].hypot(p[1]);
    let mut lat = p[2].atan2(horizontal * (1.0 - WGS84_E2));
    for _ in 0..6 {
        let sin_lat = lat.sin();
        let prime_vertical_radius_m = WGS84_A_M / (1.0 - WGS84_E2 * sin_lat * sin_lat).sqrt();
        lat = (p[2] + WGS84_E2 * prime_vertical_radius_m * sin_lat).atan2(horizontal);
    }
    (lat.to_degrees(), lon.to_degrees())
}

/// The state `dt_s` seconds later (or earlier, for a negative `dt_s`), predicted as the
/// detector predicts: a straight horizontal step in the plane tangent at the aircraft,
/// brought back down to the ellipsoid, altitude changing at `vu`; the horizontal velocity
/// is rotated into the new local frame, so the heading follows the step. For the short
/// steps a live service needs (bringing reports of slightly different ages to one cycle
/// time), this is the same motion the pair prediction assumes.
pub fn extrapolated(
    state: &AircraftState,
    dt_s: f64,
) -> Result<AircraftState, super::state::InvalidState> {
    let params = DetectionParams::default();
    let here = PreparedAircraft::new(state, &params);
    let stepped = add(here.surface_m, scale(here.velocity_mps, dt_s));
    let (lat_deg, lon_deg) = geodetic_deg(stepped);
    let there = PreparedAircraft::new(
        &AircraftState::new(state.party(), lat_deg, lon_deg, 0.0, 0.0, 0.0, 0.0)?,
        &params,
    );
    let velocity = transport(&here, there.normal);
    let (sin_lat, cos_lat) = lat_deg.to_radians().sin_cos();
    let (sin_lon, cos_lon) = lon_deg.to_radians().sin_cos();
    let east = [-sin_lon, cos_lon, 0.0];
    let north = [-sin_lat * cos_lon, -sin_lat * sin_lon, cos_lat];
    AircraftState::new(
        state.party(),
        lat_deg,
        lon_deg,
        state.alt_m() + state.vu_mps() * dt_s,
        dot(velocity, north),
        dot(velocity, east),
        state.vu_mps(),
    )
}

/// Whether the two altitude bands overlap. The broad phase and the exact test both use
/// exactly this comparison, so they agree bit for bit.
#[inline(always)]
pub fn bands_overlap(a: &PreparedAircraft, b: &PreparedAircraft) -> bool {
    a.band_low_m <= b.band_high_m && b.band_low_m <= a.band_high_m
}

/// Whether the two aircraft are within reach of each other (3-D chord between their foot
/// points at most the sum of their reaches).
#[inline(always)]
pub fn within_reach(a: &PreparedAircraft, b: &PreparedAircraft) -> bool {
    let chord = sub(b.surface_m, a.surface_m);
    let reach_m = a.reach_m + b.reach_m;
    dot(chord, chord) <= reach_m * reach_m
}

/// The relative motion of the second aircraft with respect to the first, in the pair's
/// common local frame, reduced to the scalars every criterion needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RelativeMotion {
    /// `|s|²`: squared horizontal distance now (m²).
    pub ss: f64,
    /// `s·v` (m²/s).
    pub sv: f64,
    /// `|v|²` (m²/s²).
    pub vv: f64,
    /// `sz`: relative altitude now (m).
    pub sz: f64,
    /// `vz`: relative vertical speed (m/s).
    pub vz: f64,
}

impl RelativeMotion {
    /// The pair in the plane tangent at the normal halfway between theirs; `None` for
    /// antipodal aircraft, where no such plane exists (and no straight-line prediction
    /// means anything).
    pub fn between(a: &PreparedAircraft, b: &PreparedAircraft) -> Option<Self> {
        let sum = add(a.normal, b.normal);
        let sum_sq = dot(sum, sum);
        if sum_sq < 1e-12 {
            return None;
        }
        let centre = scale(sum, 1.0 / sum_sq.sqrt());
        let chord = sub(b.surface_m, a.surface_m);
        let s = sub(chord, scale(centre, dot(chord, centre)));
        let v = sub(transport(b, centre), transport(a, centre));
        Some(Self {
            ss: dot(s, s),
            sv: dot(s, v),
            vv: dot(v, v),
            sz: b.alt_m - a.alt_m,
            vz: b.vu_mps - a.vu_mps,
        })
    }
}

/// Rotates the aircraft's horizontal velocity (perpendicular to its normal `n`) by the
/// rotation about `n × c` that takes `n` to the pair's normal `c`. For `x ⟂ n` Rodrigues'
/// formula reduces to `x - (x·c)/(1 + n·c) (n + c)`.
#[inline]
fn transport(aircraft: &PreparedAircraft, centre: Vec3) -> Vec3 {
    let x = aircraft.velocity_mps;
    let n = aircraft.normal;
    let k = dot(x, centre) / (1.0 + dot(n, centre));
    sub(x, scale(add(n, centre), k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tactical::PartyIndex;

    fn prepared(lat: f64, lon: f64, vn: f64, ve: f64) -> PreparedAircraft {
        let state = AircraftState::new(PartyIndex(0), lat, lon, 0.0, vn, ve, 0.0).unwrap();
        PreparedAircraft::new(&state, &DetectionParams::default())
    }

    #[test]
    fn geodetic_conversion_inverts_the_surface_point() {
        for (lat, lon) in [
            (0.0, 0.0),
            (45.0, 10.0),
            (-89.999, 170.0),
            (90.0, -30.0),
            (12.5, 179.99),
        ] {
            let p = prepared(lat, lon, 0.0, 0.0);
            let (lat2, lon2) = geodetic_deg(p.surface_m);
            assert!((lat2 - lat).abs() < 1e-9, "{lat} {lat2}");
            if lat.abs() < 90.0 {
                assert!((lon2 - lon).abs() < 1e-9, "{lon} {lon2}");
            }
        }
    }

    #[test]
    fn extrapolating_forth_and_back_returns_to_the_start() {
        let start =
            AircraftState::new(PartyIndex(3), 60.0, 179.9, 5000.0, 150.0, 200.0, -4.0).unwrap();
        let there = extrapolated(&start, 30.0).unwrap();
        assert!(there.lon_deg() < 0.0, "crossed the antimeridian: {there:?}");
        assert!((there.alt_m() - 4880.0).abs() < 1e-9);
        assert!((there.ground_speed_mps() - 250.0).abs() < 1e-6);
        let back = extrapolated(&there, -30.0).unwrap();
        assert!(
            (back.lat_deg() - 60.0).abs() < 1e-6 && (back.lon_deg() - 179.9).abs() < 1e-6,
            "{back:?}"
        );
        assert!(
            (back.vn_mps() - 150.0).abs() < 1e-3 && (back.ve_mps() - 200.0).abs() < 1e-3,
            "{back:?}"
        );
        assert_eq!(back.party(), PartyIndex(3));
    }

    #[test]
    fn transport_keeps_speed_and_lies_in_the_pair_plane() {
        let a = prepared(89.9, 10.0, 120.0, -35.0);
        let b = prepared(89.7, -170.0, 0.0, 0.0);
        let sum = add(a.normal, b.normal);
        let centre = scale(sum, 1.0 / dot(sum, sum).sqrt());
        let moved = transport(&a, centre);
        assert!((dot(moved, moved).sqrt() - 120f64.hypot(35.0)).abs() < 1e-9);
        assert!(dot(moved, centre).abs() < 1e-9);
    }

    #[test]
    fn an_aircraft_flying_north_across_the_pole_heads_towards_one_on_the_far_side() {
        // Across the pole, "north" for the first is "south" for the second: they approach.
        let a = prepared(89.95, 0.0, 200.0, 0.0);
        let b = prepared(89.95, 180.0, 0.0, 0.0);
        let motion = RelativeMotion::between(&a, &b).unwrap();
        assert!(motion.sv < 0.0, "{motion:?}");
        assert!((motion.sv / motion.ss.sqrt() + 200.0).abs() < 1e-6);
    }
}
