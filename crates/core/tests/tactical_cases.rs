//! Hand-computed encounters for both criteria, and the local frame checked against an
//! independent geodesic computation (GeographicLib).
//!
//! Encounters are laid out with GeographicLib: positions are geodesic offsets from a
//! centre, velocities point along the geodesic between the two aircraft, so the expected
//! figures are the one-dimensional ones worked out by hand in each test.

use deconflict_core::tactical::{
    assess_pair, AircraftState, AlertLevel, AlertThresholds, DetectionParams, PairAssessment,
    PartyIndex, TacticalCriterion, WellClearThresholds,
};
use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CENTRE: (f64, f64) = (45.0, 10.0);

fn geodesic() -> Geodesic {
    Geodesic::wgs84()
}

/// The point `distance_m` from `from` along azimuth `azimuth_deg`.
fn offset(from: (f64, f64), azimuth_deg: f64, distance_m: f64) -> (f64, f64) {
    geodesic().direct(from.0, from.1, azimuth_deg, distance_m)
}

/// North and east components of `speed_mps` along `azimuth_deg`.
fn velocity(azimuth_deg: f64, speed_mps: f64) -> (f64, f64) {
    let radians = azimuth_deg.to_radians();
    (speed_mps * radians.cos(), speed_mps * radians.sin())
}

/// The azimuth at `from` of the geodesic towards `to`.
fn azimuth_towards(from: (f64, f64), to: (f64, f64)) -> f64 {
    let (_distance, azimuth, _azimuth_at_to, _arc): (f64, f64, f64, f64) =
        geodesic().inverse(from.0, from.1, to.0, to.1);
    azimuth
}

fn aircraft(party: u32, at: (f64, f64), alt_m: f64, v: (f64, f64), vu_mps: f64) -> AircraftState {
    AircraftState::new(PartyIndex(party), at.0, at.1, alt_m, v.0, v.1, vu_mps).unwrap()
}

fn cylinder() -> DetectionParams {
    DetectionParams::default()
}

fn well_clear(tcoa_s: f64) -> DetectionParams {
    DetectionParams::new(
        TacticalCriterion::WellClear(
            WellClearThresholds::new(1222.32, 137.16, 35.0, tcoa_s).unwrap(),
        ),
        300.0,
        AlertThresholds::default(),
    )
    .unwrap()
}

fn assert_close(what: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} is not within {tolerance} of {expected}"
    );
}

/// Two aircraft `gap_m` apart on an east-west geodesic through the centre, the first at the
/// west end flying towards the second at `speed_a`, the second flying towards the first at
/// `speed_b` (negative: away from it).
fn on_a_line(
    gap_m: f64,
    speed_a: f64,
    speed_b: f64,
    alt_a: f64,
    alt_b: f64,
) -> (AircraftState, AircraftState) {
    let west = offset(CENTRE, 270.0, gap_m / 2.0);
    let east = offset(CENTRE, 90.0, gap_m / 2.0);
    let a = aircraft(
        1,
        west,
        alt_a,
        velocity(azimuth_towards(west, east), speed_a),
        0.0,
    );
    let b = aircraft(
        2,
        east,
        alt_b,
        velocity(azimuth_towards(east, west), speed_b),
        0.0,
    );
    (a, b)
}

fn conflict(a: &AircraftState, b: &AircraftState, params: &DetectionParams) -> PairAssessment {
    let found = assess_pair(a, b, params).expect("the pair should conflict");
    assert_eq!(
        Some(found),
        assess_pair(b, a, params),
        "swapping the aircraft changes the figures"
    );
    found
}

#[test]
fn head_on_at_400_mps_closing_loses_5_nm_when_the_gap_closes_to_9260_m() {
    let (a, b) = on_a_line(100_000.0, 200.0, 200.0, 3000.0, 3000.0);
    let found = conflict(&a, &b, &cylinder());
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (100_000.0 - 9260.0) / 400.0,
        0.05,
    );
    assert_close("tcpa", found.tcpa_s, 250.0, 0.05);
    assert_close("dcpa", found.dcpa_m, 0.0, 5.0);
    assert_close("distance", found.distance_m, 100_000.0, 10.0);
    assert_close("vertical", found.vertical_m, 0.0, 1e-9);
    assert_eq!(found.level, AlertLevel::Advisory);
}

#[test]
fn head_on_levels_follow_the_time_to_loss_of_separation() {
    let (a, b) = on_a_line(30_000.0, 200.0, 200.0, 3000.0, 3000.0);
    let found = conflict(&a, &b, &cylinder());
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (30_000.0 - 9260.0) / 400.0,
        0.05,
    );
    assert_eq!(found.level, AlertLevel::Warning);

    let (a, b) = on_a_line(50_000.0, 200.0, 200.0, 3000.0, 3000.0);
    let found = conflict(&a, &b, &cylinder());
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (50_000.0 - 9260.0) / 400.0,
        0.05,
    );
    assert_eq!(found.level, AlertLevel::Caution);
}

#[test]
fn head_on_beyond_the_lookahead_is_not_a_conflict() {
    // LoS would come at (200 km - 9.26 km) / 400 m/s = 477 s > 300 s.
    let (a, b) = on_a_line(200_000.0, 200.0, 200.0, 3000.0, 3000.0);
    assert_eq!(assess_pair(&a, &b, &cylinder()), None);
}

#[test]
fn head_on_with_1000_ft_of_vertical_separation_is_not_a_conflict() {
    // Exactly the minimum is still separated (strict inequality) ...
    let (a, b) = on_a_line(50_000.0, 200.0, 200.0, 3000.0, 3304.8);
    assert_eq!(assess_pair(&a, &b, &cylinder()), None);
    // ... and a centimetre less is not.
    let (a, b) = on_a_line(50_000.0, 200.0, 200.0, 3000.0, 3304.79);
    assert!(assess_pair(&a, &b, &cylinder()).is_some());
}

#[test]
fn overtaking_at_50_mps_closes_20_km_in_214_8_s_with_closest_approach_clamped_to_the_lookahead() {
    // The second flies away from the first at 200 m/s, the first chases at 250 m/s.
    let (a, b) = on_a_line(20_000.0, 250.0, -200.0, 5000.0, 5100.0);
    let found = conflict(&a, &b, &cylinder());
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (20_000.0 - 9260.0) / 50.0,
        0.1,
    );
    assert_close("tcpa", found.tcpa_s, 300.0, 1e-9);
    assert_close("dcpa", found.dcpa_m, 20_000.0 - 50.0 * 300.0, 5.0);
    assert_close("vertical", found.vertical_m, 100.0, 1e-6);
    assert_eq!(found.level, AlertLevel::Advisory);
}

#[test]
fn crossing_at_right_angles_towards_one_point_loses_separation_at_156_35_s() {
    // Both 30 km from the centre, one from the south flying north, one from the west
    // flying east, both at 150 m/s: they meet at the centre at 200 s. The distance is
    // sqrt(2) (30000 - 150 t), below 9260 m after (30000 - 9260 / sqrt 2) / 150 s.
    let south = offset(CENTRE, 180.0, 30_000.0);
    let west = offset(CENTRE, 270.0, 30_000.0);
    let a = aircraft(
        1,
        south,
        8000.0,
        velocity(azimuth_towards(south, CENTRE), 150.0),
        0.0,
    );
    let b = aircraft(
        2,
        west,
        8000.0,
        velocity(azimuth_towards(west, CENTRE), 150.0),
        0.0,
    );
    let found = conflict(&a, &b, &cylinder());
    let expected = (30_000.0 - 9260.0 / 2f64.sqrt()) / 150.0;
    assert_close("time to LoS", found.time_to_los_s, expected, 0.1);
    assert_close("tcpa", found.tcpa_s, 200.0, 0.1);
    assert_close("dcpa", found.dcpa_m, 0.0, 20.0);
    assert_close("distance", found.distance_m, 30_000.0 * 2f64.sqrt(), 20.0);
}

#[test]
fn parallel_flights_5_km_apart_have_already_lost_separation_and_never_converge() {
    let left = offset(CENTRE, 270.0, 2500.0);
    let right = offset(CENTRE, 90.0, 2500.0);
    let a = aircraft(1, left, 9000.0, velocity(0.0, 230.0), 0.0);
    let b = aircraft(2, right, 9000.0, velocity(0.0, 230.0), 0.0);
    let found = conflict(&a, &b, &cylinder());
    assert_eq!(found.time_to_los_s, 0.0);
    assert_eq!(found.level, AlertLevel::Warning);
    assert_close("distance", found.distance_m, 5000.0, 1.0);
    // Flying north, the two converge with the meridians (to about 4946 m after 69 km), and
    // the prediction sees it: each velocity is rotated into the pair's frame.
    let g = geodesic();
    let (lat_a, lon_a): (f64, f64) = g.direct(left.0, left.1, 0.0, 230.0 * 300.0);
    let (lat_b, lon_b): (f64, f64) = g.direct(right.0, right.1, 0.0, 230.0 * 300.0);
    let at_lookahead: f64 = g.inverse(lat_a, lon_a, lat_b, lon_b);
    assert!(at_lookahead < 4950.0);
    assert_close("tcpa", found.tcpa_s, 300.0, 1e-9);
    assert_close("dcpa", found.dcpa_m, at_lookahead, 2.0);
}

#[test]
fn parallel_flights_12_km_apart_never_conflict() {
    let left = offset(CENTRE, 270.0, 6000.0);
    let right = offset(CENTRE, 90.0, 6000.0);
    let a = aircraft(1, left, 9000.0, velocity(0.0, 230.0), 0.0);
    let b = aircraft(2, right, 9000.0, velocity(0.0, 230.0), 0.0);
    assert_eq!(assess_pair(&a, &b, &cylinder()), None);
}

#[test]
fn vertical_closure_alone_loses_separation_when_1000_m_shrinks_below_304_8_m() {
    // Same place, same horizontal velocity; the upper one descends at 5 m/s.
    let a = aircraft(1, CENTRE, 1000.0, velocity(45.0, 120.0), 0.0);
    let b = aircraft(2, CENTRE, 2000.0, velocity(45.0, 120.0), -5.0);
    let found = conflict(&a, &b, &cylinder());
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (1000.0 - 304.8) / 5.0,
        1e-9,
    );
    assert_eq!(found.tcpa_s, 0.0);
    assert_close("dcpa", found.dcpa_m, 0.0, 1e-6);
    assert_close("vertical", found.vertical_m, 1000.0, 1e-9);
    assert_eq!(found.level, AlertLevel::Advisory);
}

#[test]
fn a_pair_already_within_both_minima_is_a_warning_even_while_diverging() {
    let (a, b) = on_a_line(3000.0, -100.0, -100.0, 4000.0, 4100.0);
    let found = conflict(&a, &b, &cylinder());
    assert_eq!(found.time_to_los_s, 0.0);
    assert_eq!(found.tcpa_s, 0.0);
    assert_close("dcpa", found.dcpa_m, 3000.0, 1.0);
    assert_eq!(found.level, AlertLevel::Warning);
}

/// The range at which modified tau reaches TTHR for a head-on closure at `closing_mps`:
/// `(r² - DTHR²) / (closing r) = TTHR`.
fn tau_mod_range_m(closing_mps: f64, dthr_m: f64, tthr_s: f64) -> f64 {
    let k = tthr_s * closing_mps;
    (k + (k * k + 4.0 * dthr_m * dthr_m).sqrt()) / 2.0
}

#[test]
fn well_clear_head_on_is_violated_when_modified_tau_reaches_35_s() {
    let (a, b) = on_a_line(20_000.0, 200.0, 200.0, 3000.0, 3000.0);
    let found = conflict(&a, &b, &well_clear(0.0));
    let range = tau_mod_range_m(400.0, 1222.32, 35.0);
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (20_000.0 - range) / 400.0,
        0.05,
    );
    assert_close("tcpa", found.tcpa_s, 50.0, 0.05);
    assert_eq!(found.level, AlertLevel::Warning);
}

#[test]
fn well_clear_needs_a_miss_distance_below_dthr() {
    // Parallel opposite tracks 1.3 km apart: closing fast, tau small, but the horizontal
    // miss distance exceeds DTHR (1222.32 m).
    let north = offset(CENTRE, 0.0, 650.0);
    let south = offset(CENTRE, 180.0, 650.0);
    let a = aircraft(
        1,
        offset(north, 270.0, 5000.0),
        3000.0,
        velocity(90.0, 200.0),
        0.0,
    );
    let b = aircraft(
        2,
        offset(south, 90.0, 5000.0),
        3000.0,
        velocity(270.0, 200.0),
        0.0,
    );
    assert_eq!(assess_pair(&a, &b, &well_clear(0.0)), None);
    // The same pair 1.1 km apart is a violation.
    let north = offset(CENTRE, 0.0, 550.0);
    let south = offset(CENTRE, 180.0, 550.0);
    let a = aircraft(
        1,
        offset(north, 270.0, 5000.0),
        3000.0,
        velocity(90.0, 200.0),
        0.0,
    );
    let b = aircraft(
        2,
        offset(south, 90.0, 5000.0),
        3000.0,
        velocity(270.0, 200.0),
        0.0,
    );
    assert!(assess_pair(&a, &b, &well_clear(0.0)).is_some());
}

#[test]
fn well_clear_diverging_outside_dthr_is_never_a_violation() {
    let (a, b) = on_a_line(1500.0, -50.0, -50.0, 3000.0, 3000.0);
    assert_eq!(assess_pair(&a, &b, &well_clear(0.0)), None);
    // Inside DTHR and within ZTHR it is, at once.
    let (a, b) = on_a_line(1000.0, -50.0, -50.0, 3000.0, 3100.0);
    assert_eq!(conflict(&a, &b, &well_clear(0.0)).time_to_los_s, 0.0);
}

#[test]
fn well_clear_vertical_closure_uses_zthr_and_time_to_co_altitude() {
    // Same place, 500 m apart vertically, closing at 5 m/s: |sz| < ZTHR after
    // (500 - 137.16) / 5 = 72.568 s; with TCOA = 40 s the time to co-altitude (100 s)
    // falls within TCOA at exactly 60 s, which is still a warning (at or below 60 s).
    let a = aircraft(1, CENTRE, 1000.0, velocity(0.0, 100.0), 0.0);
    let b = aircraft(2, CENTRE, 1500.0, velocity(0.0, 100.0), -5.0);
    let found = conflict(&a, &b, &well_clear(0.0));
    assert_close(
        "time to LoS",
        found.time_to_los_s,
        (500.0 - 137.16) / 5.0,
        1e-9,
    );
    assert_eq!(found.level, AlertLevel::Caution);
    let found = conflict(&a, &b, &well_clear(40.0));
    assert_eq!(found.time_to_los_s, 60.0);
    assert_eq!(found.level, AlertLevel::Warning);
}

#[test]
fn the_local_frame_distance_agrees_with_the_wgs84_geodesic_everywhere() {
    // Random pairs up to 1,000 km apart, anywhere (poles and antimeridian included): the
    // contract asks 0.5 % or 10 m; the projected chord does far better.
    let seed = std::env::var("DECONFLICT_TEST_SEED").map_or(5, |s| s.parse().unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let params = DetectionParams::new(
        TacticalCriterion::Cylinder(
            deconflict_core::tactical::CylinderMinima::new(2_000_000.0, 1000.0).unwrap(),
        ),
        0.0,
        AlertThresholds::default(),
    )
    .unwrap();
    let mut worst_relative: f64 = 0.0;
    for case in 0..2000 {
        let lat = rng.random_range(-90.0..=90.0);
        let lon = rng.random_range(-180.0..=180.0);
        let distance = match case % 3 {
            0 => rng.random_range(0.0..20_000.0),
            1 => rng.random_range(0.0..200_000.0),
            _ => rng.random_range(0.0..1_000_000.0),
        };
        let other = offset((lat, lon), rng.random_range(0.0..360.0), distance);
        let a = aircraft(1, (lat, lon), 0.0, (0.0, 0.0), 0.0);
        let b = aircraft(2, other, 0.0, (0.0, 0.0), 0.0);
        let found =
            assess_pair(&a, &b, &params).expect("within 2,000 km: a conflict by construction");
        let error = (found.distance_m - distance).abs();
        assert!(
            error <= (0.005 * distance).max(10.0),
            "seed {seed}: {distance} m from ({lat}, {lon}) measured {}",
            found.distance_m
        );
        if distance > 1000.0 && distance < 200_000.0 {
            worst_relative = worst_relative.max(error / distance);
        }
    }
    // Within the reach of any conflict (a few hundred kilometres) the chord is within
    // 0.005 % of the geodesic; at 1,000 km it falls short by about 0.1 %.
    assert!(
        worst_relative < 5e-5,
        "worst relative error below 200 km: {worst_relative}"
    );
}

#[test]
fn the_predicted_closest_approach_agrees_with_geodesic_tracks() {
    // Each aircraft flown along its own geodesic (GeographicLib) and the distance sampled
    // every 0.25 s: the closest approach within the lookahead must match the local
    // frame's straight-line prediction within the contract's tolerance.
    let seed = std::env::var("DECONFLICT_TEST_SEED").map_or(6, |s| s.parse().unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = geodesic();
    let lookahead_s = 300.0;
    let params = DetectionParams::new(
        TacticalCriterion::Cylinder(
            deconflict_core::tactical::CylinderMinima::new(200_000.0, 1000.0).unwrap(),
        ),
        lookahead_s,
        AlertThresholds::default(),
    )
    .unwrap();
    for _ in 0..150 {
        let lat = rng.random_range(-89.0..=89.0);
        let lon = rng.random_range(-180.0..=180.0);
        let other = offset(
            (lat, lon),
            rng.random_range(0.0..360.0),
            rng.random_range(0.0..100_000.0),
        );
        let (azimuth_a, speed_a) = (rng.random_range(0.0..360.0), rng.random_range(50.0..300.0));
        let (azimuth_b, speed_b) = (rng.random_range(0.0..360.0), rng.random_range(50.0..300.0));
        let a = aircraft(1, (lat, lon), 0.0, velocity(azimuth_a, speed_a), 0.0);
        let b = aircraft(2, other, 0.0, velocity(azimuth_b, speed_b), 0.0);
        let Some(found) = assess_pair(&a, &b, &params) else {
            continue;
        };
        let mut closest = f64::INFINITY;
        for step in 0..=(lookahead_s as usize * 4) {
            let t = step as f64 / 4.0;
            let (lat_a, lon_a): (f64, f64) = g.direct(lat, lon, azimuth_a, speed_a * t);
            let (lat_b, lon_b): (f64, f64) = g.direct(other.0, other.1, azimuth_b, speed_b * t);
            let d: f64 = g.inverse(lat_a, lon_a, lat_b, lon_b);
            closest = closest.min(d);
        }
        // Sampling at 0.25 s can miss the minimum by at most (relative speed × 0.125 s)
        // along the track; geodesic and straight tracks part by tens of metres over 90 km.
        let tolerance = (0.005 * closest).max(10.0) + 600.0 * 0.125 + 30.0;
        assert!(
            (found.dcpa_m - closest).abs() <= tolerance,
            "seed {seed}: dcpa {} vs geodesic {closest} (from ({lat}, {lon}))",
            found.dcpa_m
        );
    }
}
