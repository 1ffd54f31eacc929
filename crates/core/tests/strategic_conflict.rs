//! The conflict test at its boundaries: every minimum is strict, on every axis.

use deconflict_core::geometry::{
    geodesic_distance_m, AltitudeBand, Circle, Footprint, LatLng, TimeWindow, Timestamp, Volume4D,
};
use deconflict_core::strategic::{volume_conflict, Separation};

fn separation() -> Separation {
    Separation::new(9_260.0, 300.0, 120.0).unwrap()
}

fn volume(centre: LatLng, radius_m: f64, band: (f64, f64), window_us: (i64, i64)) -> Volume4D {
    Volume4D::new(
        Footprint::Circle(Circle::new(centre, radius_m).unwrap()),
        AltitudeBand::new(band.0, band.1).unwrap(),
        TimeWindow::new(
            Timestamp::from_unix_us(window_us.0).unwrap(),
            Timestamp::from_unix_us(window_us.1).unwrap(),
        )
        .unwrap(),
    )
}

const T0_US: i64 = 1_445_335_200_100_000; // 2015-10-20T10:00:00.1Z

#[test]
fn a_time_gap_of_exactly_the_minimum_is_separated_and_a_microsecond_less_is_not() {
    let here = LatLng::new(35.0, 38.0).unwrap();
    let a = volume(
        here,
        1_000.0,
        (0.0, 1_000.0),
        (T0_US, T0_US + 1_800_000_000),
    );
    for (gap_us, conflicts) in [(120_000_000, false), (119_999_999, true), (0, true)] {
        let start = T0_US + 1_800_000_000 + gap_us;
        let b = volume(here, 1_000.0, (0.0, 1_000.0), (start, start + 60_000_000));
        assert_eq!(
            volume_conflict(&a, &b, &separation()).is_some(),
            conflicts,
            "gap {gap_us} us"
        );
        assert_eq!(
            volume_conflict(&b, &a, &separation()).is_some(),
            conflicts,
            "gap {gap_us} us"
        );
    }
}

#[test]
fn a_vertical_gap_of_exactly_the_minimum_is_separated() {
    let here = LatLng::new(-33.9, 151.2).unwrap();
    let window = (T0_US, T0_US + 60_000_000);
    let a = volume(here, 1_000.0, (1_000.5, 3_000.5), window);
    for (lower, conflicts) in [(3_300.5, false), (3_300.25, true), (3_000.5, true)] {
        let b = volume(here, 1_000.0, (lower, lower + 500.0), window);
        assert_eq!(
            volume_conflict(&a, &b, &separation()).is_some(),
            conflicts,
            "lower {lower}"
        );
    }
}

#[test]
fn a_horizontal_distance_just_under_the_minimum_conflicts_and_just_over_does_not() {
    let window = (T0_US, T0_US + 60_000_000);
    let a_centre = LatLng::new(48.85, 2.35).unwrap();
    let b_centre = LatLng::new(48.85, 2.65).unwrap();
    let centres_m = geodesic_distance_m(a_centre, b_centre);
    let a = volume(a_centre, 5_000.0, (0.0, 100.0), window);
    for (distance_m, conflicts) in [(9_259.0, true), (9_261.0, false)] {
        let b = volume(
            b_centre,
            centres_m - 5_000.0 - distance_m,
            (0.0, 100.0),
            window,
        );
        let gaps = volume_conflict(&a, &b, &separation());
        assert_eq!(gaps.is_some(), conflicts, "distance {distance_m}");
        if let Some(gaps) = gaps {
            assert!((gaps.horizontal_distance_m - distance_m).abs() < 1e-6);
        }
    }
}
