//! Laws of the pair test, checked by proptest on random pairs anywhere on Earth: the order
//! of the two aircraft does not matter, and moving both along their tracks by some
//! seconds moves every predicted time by as much.

use deconflict_core::tactical::{
    assess_pair, AircraftState, AlertThresholds, DetectionParams, PartyIndex, TacticalCriterion,
    WellClearThresholds,
};
use proptest::prelude::*;

/// Two aircraft set up to pass near one point around `meet_s` seconds from now: each is
/// placed back along its track from that point (plus a miss offset), anywhere on Earth
/// short of the poles (where degrees of longitude are too short for this construction).
fn pair() -> impl Strategy<Value = (AircraftState, AircraftState)> {
    let place = (
        -80.0f64..80.0,
        -180.0f64..180.0,
        0.0f64..280.0,
        0.0f64..6000.0,
    );
    let miss = (-8000.0f64..8000.0, -8000.0f64..8000.0, -400.0f64..400.0);
    let motion = (0.0f64..300.0, 0.0f64..std::f64::consts::TAU, -10.0f64..10.0);
    (place, miss, motion.clone(), motion).prop_map(
        |((lat, lon, meet_s, alt), (north, east, up), a, b)| {
            let metres_per_degree = 111_000.0;
            let state = |party,
                         (speed, heading, vu): (f64, f64, f64),
                         (north, east, up): (f64, f64, f64)| {
                let (vn, ve) = (speed * heading.cos(), speed * heading.sin());
                let lat_a = (lat + (north - vn * meet_s) / metres_per_degree).clamp(-90.0, 90.0);
                let lon_a =
                    lon + (east - ve * meet_s) / (metres_per_degree * lat.to_radians().cos());
                AircraftState::new(
                    PartyIndex(party),
                    lat_a,
                    (lon_a + 180.0).rem_euclid(360.0) - 180.0,
                    (alt + up - vu * meet_s).max(0.0),
                    vn,
                    ve,
                    vu,
                )
                .unwrap()
            };
            (state(1, a, (0.0, 0.0, 0.0)), state(2, b, (north, east, up)))
        },
    )
}

fn criteria() -> [DetectionParams; 2] {
    [
        DetectionParams::default(),
        DetectionParams::new(
            TacticalCriterion::WellClear(
                WellClearThresholds::new(1222.32, 137.16, 35.0, 20.0).unwrap(),
            ),
            300.0,
            AlertThresholds::default(),
        )
        .unwrap(),
    ]
}

#[test]
fn the_random_pairs_conflict_often_enough_for_the_laws_to_mean_something() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = pair();
    let mut counts = [0usize; 2];
    for _ in 0..1000 {
        let (a, b) = strategy.new_tree(&mut runner).unwrap().current();
        for (count, params) in counts.iter_mut().zip(criteria()) {
            *count +=
                usize::from(assess_pair(&a, &b, &params).is_some_and(|x| x.time_to_los_s > 10.0));
        }
    }
    assert!(
        counts[0] > 200 && counts[1] > 30,
        "conflicts ahead among 1000 pairs: {counts:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn swapping_the_two_aircraft_changes_nothing((a, b) in pair()) {
        for params in criteria() {
            prop_assert_eq!(assess_pair(&a, &b, &params), assess_pair(&b, &a, &params));
        }
    }

    #[test]
    fn moving_both_aircraft_along_their_tracks_moves_the_predicted_times(
        (a, b) in pair(),
        shift_s in 1.0f64..60.0,
    ) {
        for params in criteria() {
            let Some(before) = assess_pair(&a, &b, &params) else { continue };
            // Only an encounter still ahead after the shift keeps its figures; stay clear
            // of the edges where rounding or the frame's move could tip the verdict.
            if before.time_to_los_s < shift_s + 2.0 || before.time_to_los_s > 290.0 {
                continue;
            }
            let later_a = a.extrapolated(shift_s).unwrap();
            let later_b = b.extrapolated(shift_s).unwrap();
            let after = assess_pair(&later_a, &later_b, &params);
            prop_assert!(after.is_some(), "lost the conflict after {} s: {:?}", shift_s, before);
            let after = after.unwrap();
            // The pair's frame moves with the pair, so the straight lines are not exactly
            // the same ones: allow 0.2 % of the time plus a little.
            let tolerance = 0.05 + 0.002 * before.time_to_los_s;
            prop_assert!(
                (after.time_to_los_s - (before.time_to_los_s - shift_s)).abs() <= tolerance,
                "time to LoS {} then {} after {} s", before.time_to_los_s, after.time_to_los_s, shift_s
            );
            if before.tcpa_s > shift_s + 1.0 && before.tcpa_s < 299.0 {
                prop_assert!(
                    (after.tcpa_s - (before.tcpa_s - shift_s)).abs() <= 0.05 + 0.002 * before.tcpa_s,
                    "tcpa {} then {} after {} s", before.tcpa_s, after.tcpa_s, shift_s
                );
                prop_assert!((after.dcpa_m - before.dcpa_m).abs() <= 5.0 + 0.002 * before.distance_m);
            }
        }
    }
}
