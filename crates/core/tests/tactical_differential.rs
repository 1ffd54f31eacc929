//! The grid detector against the exhaustive reference on seeded random traffic, and the
//! laws every detection must obey (swapping, reordering, rotating the Earth under the
//! traffic). Each randomized test prints its seed when it fails; set
//! `DECONFLICT_TEST_SEED` to replay one.

use deconflict_core::tactical::{
    detect_exhaustive, AircraftState, AlertThresholds, ConflictingPair, CylinderMinima,
    DetectionParams, PartyIndex, TacticalCriterion, TacticalDetector, WellClearThresholds,
};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How a random scenario spreads its traffic.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    aircraft: usize,
    centre_lat_deg: f64,
    centre_lon_deg: f64,
    /// Half-height of the box of positions, in degrees of latitude.
    spread_deg: f64,
    /// Half-width in degrees of longitude (180: all the way round, as around a pole).
    lon_spread_deg: f64,
    alt_max_m: f64,
    speed_max_mps: f64,
    climbing_fraction: f64,
    parties: u32,
}

fn seeds() -> Vec<u64> {
    match std::env::var("DECONFLICT_TEST_SEED") {
        Ok(seed) => vec![seed
            .parse()
            .expect("DECONFLICT_TEST_SEED must be an integer")],
        Err(_) => (1..=4).collect(),
    }
}

fn wrap_lon(lon: f64) -> f64 {
    let wrapped = (lon + 180.0).rem_euclid(360.0) - 180.0;
    wrapped.clamp(-180.0, 180.0)
}

fn traffic(scenario: &Scenario, seed: u64) -> Vec<AircraftState> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..scenario.aircraft)
        .map(|_| {
            let lat = (scenario.centre_lat_deg
                + rng.random_range(-scenario.spread_deg..=scenario.spread_deg))
            .clamp(-90.0, 90.0);
            let lon = wrap_lon(
                scenario.centre_lon_deg
                    + rng.random_range(-scenario.lon_spread_deg..=scenario.lon_spread_deg),
            );
            let speed = rng.random_range(0.0..=scenario.speed_max_mps);
            let heading = rng.random_range(0.0..std::f64::consts::TAU);
            let vu = if rng.random_bool(scenario.climbing_fraction) {
                rng.random_range(-20.0..=20.0)
            } else {
                0.0
            };
            let party = PartyIndex(rng.random_range(0..scenario.parties));
            AircraftState::new(
                party,
                lat,
                lon,
                rng.random_range(0.0..=scenario.alt_max_m),
                speed * heading.cos(),
                speed * heading.sin(),
                vu,
            )
            .expect("generated states are valid")
        })
        .collect()
}

fn well_clear() -> DetectionParams {
    DetectionParams::new(
        TacticalCriterion::WellClear(WellClearThresholds::default()),
        300.0,
        AlertThresholds::default(),
    )
    .unwrap()
}

fn assert_same_pairs(scenario: &Scenario, seed: u64, params: &DetectionParams) -> usize {
    let states = traffic(scenario, seed);
    let fast = TacticalDetector::new(*params).detect(&states);
    let reference = detect_exhaustive(&states, params);
    assert!(
        fast == reference,
        "seed {seed}, scenario {scenario:?}: grid found {} pairs, exhaustive {}; first difference: {:?}",
        fast.len(),
        reference.len(),
        first_difference(&fast, &reference)
    );
    fast.len()
}

fn first_difference(
    a: &[ConflictingPair],
    b: &[ConflictingPair],
) -> Option<(Option<ConflictingPair>, Option<ConflictingPair>)> {
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| (a.get(i).copied(), b.get(i).copied()))
}

const DENSE_CLUSTER: Scenario = Scenario {
    aircraft: 1500,
    centre_lat_deg: 45.0,
    centre_lon_deg: 10.0,
    spread_deg: 1.0,
    lon_spread_deg: 1.0,
    alt_max_m: 13_000.0,
    speed_max_mps: 300.0,
    climbing_fraction: 0.1,
    parties: 5,
};

#[test]
fn the_grid_finds_exactly_the_exhaustive_pairs_in_a_dense_cluster() {
    for seed in seeds() {
        let found = assert_same_pairs(&DENSE_CLUSTER, seed, &DetectionParams::default());
        assert!(
            found > 50,
            "seed {seed}: the cluster should be dense enough to conflict ({found} pairs)"
        );
    }
}

#[test]
fn the_grid_finds_exactly_the_exhaustive_pairs_across_the_antimeridian() {
    let scenario = Scenario {
        centre_lat_deg: -12.0,
        centre_lon_deg: 180.0,
        ..DENSE_CLUSTER
    };
    for seed in seeds() {
        let found = assert_same_pairs(&scenario, seed, &DetectionParams::default());
        assert!(found > 50, "seed {seed}: {found} pairs");
    }
}

#[test]
fn the_grid_finds_exactly_the_exhaustive_pairs_around_the_poles() {
    // Caps around both poles (every longitude, so pairs face each other across the pole,
    // and some aircraft sit exactly on it), and a box across the antimeridian up north.
    for (lat, lat_spread, lon, lon_spread) in [
        (88.5, 1.5, 0.0, 180.0),
        (-89.0, 1.0, 120.0, 180.0),
        (75.0, 3.0, -170.0, 15.0),
    ] {
        let scenario = Scenario {
            centre_lat_deg: lat,
            centre_lon_deg: lon,
            spread_deg: lat_spread,
            lon_spread_deg: lon_spread,
            aircraft: 1000,
            ..DENSE_CLUSTER
        };
        for seed in seeds() {
            let found = assert_same_pairs(&scenario, seed, &DetectionParams::default());
            assert!(found > 20, "seed {seed}, centre {lat}: only {found} pairs");
            assert_same_pairs(&scenario, seed, &well_clear());
        }
    }
}

#[test]
fn the_grid_finds_exactly_the_exhaustive_pairs_among_climbing_and_descending_traffic() {
    let scenario = Scenario {
        climbing_fraction: 0.9,
        alt_max_m: 4000.0,
        ..DENSE_CLUSTER
    };
    for seed in seeds() {
        assert_same_pairs(&scenario, seed, &DetectionParams::default());
        let tcoa = DetectionParams::new(
            TacticalCriterion::WellClear(
                WellClearThresholds::new(1222.32, 137.16, 35.0, 20.0).unwrap(),
            ),
            120.0,
            AlertThresholds::default(),
        )
        .unwrap();
        assert_same_pairs(&scenario, seed, &tcoa);
    }
}

#[test]
fn the_grid_finds_exactly_the_exhaustive_pairs_under_well_clear() {
    let scenario = Scenario {
        spread_deg: 0.3,
        lon_spread_deg: 0.3,
        ..DENSE_CLUSTER
    };
    for seed in seeds() {
        let found = assert_same_pairs(&scenario, seed, &well_clear());
        assert!(found > 10, "seed {seed}: {found} pairs");
    }
}

#[test]
fn the_grid_finds_exactly_the_exhaustive_pairs_over_the_whole_globe_with_outliers() {
    // Scattered traffic with a few very fast aircraft, so some reach beyond the fine grid's
    // cube size and take the coarse grid, and some parameters differ from the defaults.
    let scenario = Scenario {
        aircraft: 3000,
        centre_lat_deg: 0.0,
        centre_lon_deg: 0.0,
        spread_deg: 90.0,
        lon_spread_deg: 180.0,
        speed_max_mps: 250.0,
        ..DENSE_CLUSTER
    };
    let params = DetectionParams::new(
        TacticalCriterion::Cylinder(CylinderMinima::new(400_000.0, 2000.0).unwrap()),
        600.0,
        AlertThresholds::new(30.0, 300.0).unwrap(),
    )
    .unwrap();
    for seed in seeds() {
        let mut states = traffic(&scenario, seed);
        // One aircraft in 300 is fast: well under 1 %, so they are beyond twice the 99th
        // percentile of reach and take the coarse grid, including against each other.
        for state in states.iter_mut().step_by(300) {
            *state = AircraftState::new(
                state.party(),
                state.lat_deg(),
                state.lon_deg(),
                state.alt_m(),
                3000.0,
                -1500.0,
                0.0,
            )
            .unwrap();
        }
        let fast = TacticalDetector::new(params).detect(&states);
        let reference = detect_exhaustive(&states, &params);
        assert!(
            fast == reference,
            "seed {seed}: {} vs {} pairs",
            fast.len(),
            reference.len()
        );
        assert!(!fast.is_empty(), "seed {seed}");
    }
}

#[test]
fn fast_outliers_in_a_dense_cluster_are_found_against_everything_in_reach() {
    for seed in seeds() {
        let mut states = traffic(&DENSE_CLUSTER, seed);
        // Three outliers side by side (so they conflict with each other too) and one alone.
        for (k, index) in [10usize, 20, 30, 40].into_iter().enumerate() {
            let s = states[index];
            let lat = if k < 3 { 45.0 + 0.01 * k as f64 } else { 45.5 };
            states[index] =
                AircraftState::new(s.party(), lat, 10.0, 5000.0, 0.0, 2500.0, 0.0).unwrap();
        }
        let params = DetectionParams::default();
        let fast = TacticalDetector::new(params).detect(&states);
        let reference = detect_exhaustive(&states, &params);
        assert!(
            fast == reference,
            "seed {seed}: {} vs {} pairs",
            fast.len(),
            reference.len()
        );
        let outliers = [10u32, 20, 30, 40];
        let involving = fast
            .iter()
            .filter(|p| outliers.contains(&p.first) || outliers.contains(&p.second))
            .count();
        assert!(
            involving > 5,
            "seed {seed}: the outliers should meet traffic ({involving} pairs)"
        );
    }
}

#[test]
fn aircraft_of_one_party_are_never_in_conflict() {
    let scenario = Scenario {
        parties: 1,
        ..DENSE_CLUSTER
    };
    let states = traffic(&scenario, 7);
    assert!(TacticalDetector::new(DetectionParams::default())
        .detect(&states)
        .is_empty());
    assert!(detect_exhaustive(&states, &DetectionParams::default()).is_empty());
}

#[test]
fn a_detector_reused_across_cycles_gives_the_same_answer_as_a_fresh_one() {
    let mut detector = TacticalDetector::new(DetectionParams::default());
    let big = traffic(&DENSE_CLUSTER, 11);
    let small = traffic(
        &Scenario {
            aircraft: 300,
            ..DENSE_CLUSTER
        },
        12,
    );
    let first = detector.detect(&big);
    let second = detector.detect(&small);
    assert_eq!(
        second,
        TacticalDetector::new(DetectionParams::default()).detect(&small)
    );
    assert_eq!(detector.detect(&big), first);
    assert!(detector.bytes_per_aircraft() > 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reordering_the_aircraft_does_not_change_the_pairs(seed in any::<u64>(), rotation in 0usize..400) {
        let scenario = Scenario { aircraft: 400, spread_deg: 0.5, lon_spread_deg: 0.5, ..DENSE_CLUSTER };
        let states = traffic(&scenario, seed);
        let mut rotated = states.clone();
        rotated.rotate_left(rotation);
        let n = states.len();
        let key = |pairs: Vec<ConflictingPair>, shift: usize| {
            let mut keyed: Vec<_> = pairs
                .into_iter()
                .map(|p| {
                    let a = (p.first as usize + shift) % n;
                    let b = (p.second as usize + shift) % n;
                    (a.min(b), a.max(b), p.assessment.level, p.assessment.time_to_los_s.to_bits())
                })
                .collect();
            keyed.sort_by_key(|k| (k.0, k.1));
            keyed
        };
        let original = key(TacticalDetector::new(DetectionParams::default()).detect(&states), 0);
        let moved = key(TacticalDetector::new(DetectionParams::default()).detect(&rotated), rotation);
        prop_assert_eq!(original, moved);
    }

    #[test]
    fn rotating_the_earth_under_the_traffic_does_not_change_the_figures(
        seed in any::<u64>(),
        shift_deg in -170.0f64..170.0,
    ) {
        // Longitude is arbitrary: shifting every aircraft by the same longitude must give
        // the same pairs with the same figures, up to rounding.
        let scenario = Scenario { aircraft: 300, spread_deg: 0.5, lon_spread_deg: 0.5, centre_lon_deg: 0.0, ..DENSE_CLUSTER };
        let states = traffic(&scenario, seed);
        let shifted: Vec<AircraftState> = states
            .iter()
            .map(|s| {
                AircraftState::new(s.party(), s.lat_deg(), wrap_lon(s.lon_deg() + shift_deg), s.alt_m(), s.vn_mps(), s.ve_mps(), s.vu_mps()).unwrap()
            })
            .collect();
        let params = DetectionParams::default();
        let a = TacticalDetector::new(params).detect(&states);
        let b = TacticalDetector::new(params).detect(&shifted);
        // Pairs right at a threshold may flip with rounding; every other pair must match.
        let near_edge = |p: &ConflictingPair| p.assessment.time_to_los_s > 299.9;
        let a: Vec<_> = a.into_iter().filter(|p| !near_edge(p)).collect();
        let b: Vec<_> = b.into_iter().filter(|p| !near_edge(p)).collect();
        prop_assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            prop_assert_eq!((x.first, x.second, x.assessment.level), (y.first, y.second, y.assessment.level));
            prop_assert!((x.assessment.time_to_los_s - y.assessment.time_to_los_s).abs() < 1e-3);
            prop_assert!((x.assessment.dcpa_m - y.assessment.dcpa_m).abs() < 1e-2);
            prop_assert!((x.assessment.distance_m - y.assessment.distance_m).abs() < 1e-2);
        }
    }
}
