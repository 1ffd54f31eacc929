//! A scenario that cannot be used is refused with a message naming the place.

use deconflict_sim::{Scenario, ScenarioError};
use proptest::prelude::Strategy as _;

const SYRIA: &str = include_str!("../../../scenarios/syria-2015.toml");

fn error_of(text: &str) -> String {
    match Scenario::from_toml(text) {
        Ok(_) => panic!("the scenario was accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn the_seed_scenario_parses() {
    let scenario = Scenario::from_toml(SYRIA).unwrap();
    assert_eq!(scenario.name, "syria-2015");
    assert_eq!(scenario.parties.len(), 3);
    assert_eq!(scenario.agreement.horizontal_m, 9260.0);
    assert!(scenario.patterns.len() >= 10);
}

#[test]
fn a_syntax_error_names_its_line() {
    let broken = SYRIA.replacen("duration_s = 3600", "duration_s = = 3600", 1);
    let line = broken.lines().position(|l| l.contains("= = 3600")).unwrap() + 1;
    let message = error_of(&broken);
    assert!(message.contains(&format!("line {line}")), "{message}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_line() {
    let broken = SYRIA.replacen("cruise_speed_mps = 230", "cruise_speed_mps = \"fast\"", 1);
    let line = broken.lines().position(|l| l.contains("\"fast\"")).unwrap() + 1;
    let message = error_of(&broken);
    assert!(message.contains(&format!("line {line}")), "{message}");
}

#[test]
fn a_misspelt_key_is_refused_rather_than_ignored() {
    let broken = SYRIA.replacen("elevation_m = 40", "elevaton_m = 40", 1);
    let message = error_of(&broken);
    assert!(message.contains("elevaton_m"), "{message}");
}

#[test]
fn an_unknown_base_names_the_pattern_and_the_known_bases() {
    let broken = SYRIA.replacen("base = \"OSLK\"", "base = \"OSLX\"", 1);
    let message = error_of(&broken);
    assert!(message.contains("patterns["), "{message}");
    assert!(message.contains("(\"ru-idlib-strike\").base"), "{message}");
    assert!(
        message.contains("\"OSLX\" is not among [[bases]]"),
        "{message}"
    );
    assert!(message.contains("OSLK"), "{message}");
}

#[test]
fn an_unknown_area_names_the_activity() {
    let broken = SYRIA.replacen("area = \"idlib\"", "area = \"idleb\"", 1);
    let message = error_of(&broken);
    assert!(message.contains(".activity.area"), "{message}");
}

#[test]
fn an_orbit_tighter_than_the_type_can_turn_is_refused() {
    let broken = SYRIA.replacen(
        "radius_m = 15000, duration_s = 3600",
        "radius_m = 2000, duration_s = 3600",
        1,
    );
    let message = error_of(&broken);
    assert!(
        message.contains("(\"co-udeid-raqqa-bomber\").activity.radius_m"),
        "{message}"
    );
    assert!(message.contains("tighter than a b-1b can fly"), "{message}");
}

#[test]
fn out_of_range_numbers_and_bad_times_name_their_field() {
    let cases = [
        ("lat = 37.002", "lat = 137.002", "bases[1] (\"LTAG\").lat"),
        (
            "start = \"2015-11-03T09:00:00Z\"",
            "start = \"3 Nov 2015\"",
            "start:",
        ),
        (
            "turn_rate_deg_s = 1.5\n",
            "turn_rate_deg_s = -1.5\n",
            ".turn_rate_deg_s",
        ),
        ("track_step_s = 5", "track_step_s = 0", "track_step_s"),
        (
            "horizontal_m = 9260",
            "horizontal_m = 0",
            "agreement.horizontal_m",
        ),
        (
            "working_group = [\"working-group\"]",
            "working_group = [\"nobody\"]",
            "agreement.working_group[0]",
        ),
    ];
    for (from, to, place) in cases {
        let broken = SYRIA.replacen(from, to, 1);
        assert_ne!(broken, SYRIA, "{from} not found");
        let message = error_of(&broken);
        assert!(message.contains(place), "{to}: {message}");
    }
}

#[test]
fn a_pattern_needs_exactly_one_schedule() {
    let broken = SYRIA.replacen(
        "sorties_per_hour = 2.0",
        "sorties_per_hour = 2.0\non_station = [\"2015-11-03T09:30:00Z\"]",
        1,
    );
    let message = error_of(&broken);
    assert!(
        message.contains("exactly one of `sorties_per_hour` or `on_station`"),
        "{message}"
    );
}

#[test]
fn an_observer_cannot_fly() {
    let broken = SYRIA.replacen(
        "party = \"russia\"\naircraft = \"su-24m\"",
        "party = \"working-group\"\naircraft = \"su-24m\"",
        1,
    );
    assert_ne!(broken, SYRIA);
    let message = error_of(&broken);
    assert!(message.contains("observer or admin"), "{message}");
}

#[test]
fn a_polygon_area_needs_three_vertices() {
    let text = r#"
name = "tiny"
start = "2015-11-03T09:00:00Z"
duration_s = 600
parties = []
aircraft = []
bases = []
patterns = []
[agreement]
title = "t"
horizontal_m = 9260
vertical_m = 300
time_s = 120
[[areas]]
id = "a"
name = "a"
polygon = [{ lat = 35.0, lon = 36.0 }, { lat = 35.1, lon = 36.0 }]
"#;
    match Scenario::from_toml(text) {
        Err(ScenarioError::Invalid { place, problem }) => {
            assert_eq!(place, "areas[0] (\"a\").polygon");
            assert!(problem.contains("at least 3 vertices"));
        }
        other => panic!("{other:?}"),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any number of the seed scenario replaced by any other (negative, huge, zero, NaN,
    /// infinite) is either accepted or refused with a message; never a panic.
    #[test]
    fn any_number_replaced_by_any_other_is_accepted_or_refused_without_panicking(
        which in proptest::prelude::any::<proptest::sample::Index>(),
        replacement in proptest::prop_oneof![
            proptest::prelude::any::<f64>().prop_map(|x| format!("{x:?}")),
            proptest::prelude::any::<i64>().prop_map(|x| x.to_string()),
            proptest::prelude::Just("nan".to_string()),
            proptest::prelude::Just("-inf".to_string()),
            proptest::prelude::Just("0".to_string()),
            proptest::prelude::Just("1e308".to_string()),
        ],
    ) {
        // Numbers of the file: values after "= " (or inside a table) that parse as f64.
        let mut spans = Vec::new();
        let bytes = SYRIA.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let starts_number = (bytes[i].is_ascii_digit() || bytes[i] == b'-')
                && i > 0
                && (bytes[i - 1] == b' ' || bytes[i - 1] == b'[');
            if starts_number {
                let mut j = i + 1;
                while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                    j += 1;
                }
                if SYRIA[i..j].parse::<f64>().is_ok() {
                    spans.push((i, j));
                }
                i = j;
            } else {
                i += 1;
            }
        }
        let (start, end) = spans[which.index(spans.len())];
        let text = format!("{}{}{}", &SYRIA[..start], replacement, &SYRIA[end..]);
        let _ = Scenario::from_toml(&text);
    }
}
