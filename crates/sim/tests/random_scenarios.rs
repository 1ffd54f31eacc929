//! Scenarios drawn at random (aircraft types from drones to fast jets, anywhere on Earth
//! but the poles, every kind of activity): each generates, every track stays within its
//! type's limits, and every track state lies inside its intent.

mod common;

use common::{assert_conforming, assert_plausible, generate_with};
use deconflict_sim::geo::{destination, LatLon};
use deconflict_sim::{GenerateOptions, Scenario};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Draw {
    cruise_mps: f64,
    min_fraction: f64,
    max_factor: f64,
    /// Climb and descent rates as fractions of the slowest speed.
    climb_fraction: f64,
    descent_fraction: f64,
    turn_deg_s: f64,
    acceleration_mps2: f64,
    base_lat: f64,
    base_lon: f64,
    elevation_m: f64,
    area_bearing_deg: f64,
    area_distance_m: f64,
    area_radius_m: f64,
    kind: usize,
    extra_radius_m: f64,
    activity_s: f64,
    cruise_low_m: f64,
    activity_low_m: f64,
    step_s: u64,
    seed: u64,
}

fn draws() -> impl Strategy<Value = Draw> {
    (
        (
            40.0f64..400.0,
            0.3f64..0.9,
            1.05f64..1.5,
            0.02f64..0.9,
            0.02f64..0.9,
            0.5f64..6.0,
            0.3f64..5.0,
        ),
        (-60.0f64..60.0, -170.0f64..170.0, 0.0f64..2000.0),
        (0.0f64..360.0, 20_000.0f64..300_000.0, 5_000.0f64..50_000.0),
        (
            0usize..5,
            0.0f64..20_000.0,
            300.0f64..3600.0,
            1000.0f64..10_000.0,
            500.0f64..8000.0,
        ),
        (1u64..=10, any::<u64>()),
    )
        .prop_map(|(aircraft, base, area, pattern, run)| Draw {
            cruise_mps: aircraft.0,
            min_fraction: aircraft.1,
            max_factor: aircraft.2,
            climb_fraction: aircraft.3,
            descent_fraction: aircraft.4,
            turn_deg_s: aircraft.5,
            acceleration_mps2: aircraft.6,
            base_lat: base.0,
            base_lon: base.1,
            elevation_m: base.2,
            area_bearing_deg: area.0,
            area_distance_m: area.1,
            area_radius_m: area.2,
            kind: pattern.0,
            extra_radius_m: pattern.1,
            activity_s: pattern.2,
            cruise_low_m: pattern.3,
            activity_low_m: pattern.4,
            step_s: run.0,
            seed: run.1,
        })
}

fn scenario_text(draw: &Draw) -> String {
    let speed_max_mps = draw.cruise_mps * draw.max_factor;
    let turn_radius_max_m = speed_max_mps / draw.turn_deg_s.to_radians();
    let circle_m = 1.3 * turn_radius_max_m + draw.extra_radius_m;
    let base = LatLon::from_degrees(draw.base_lat, draw.base_lon);
    let (center, _) = destination(
        base,
        draw.area_bearing_deg.to_radians(),
        draw.area_distance_m,
    );
    let (line_from, _) = destination(center, 0.3, 0.5 * draw.area_radius_m);
    let (line_to, _) = destination(line_from, 2.0, 3.0 * turn_radius_max_m + 10_000.0);
    let elevation = draw.elevation_m;
    let cruise = [
        elevation + draw.cruise_low_m,
        elevation + draw.cruise_low_m + 1500.0,
    ];
    let activity = [
        elevation + draw.activity_low_m,
        elevation + draw.activity_low_m + 900.0,
    ];
    let point = |p: LatLon| format!("{{ lat = {:.6}, lon = {:.6} }}", p.lat_deg(), p.lon_deg());
    let activity_table = match draw.kind {
        0 => format!("{{ kind = \"transit\", area = \"zone\", altitude_m = {activity:?} }}"),
        1 => format!(
            "{{ kind = \"orbit\", area = \"zone\", radius_m = {circle_m:.0}, duration_s = {:.0}, altitude_m = {activity:?} }}",
            draw.activity_s
        ),
        2 => format!(
            "{{ kind = \"strike\", area = \"zone\", altitude_m = {activity:?}, loiter_radius_m = {circle_m:.0}, loiter_s = {:.0} }}",
            draw.activity_s
        ),
        3 => format!(
            "{{ kind = \"racetrack\", area = \"zone\", leg_m = {:.0}, duration_s = {:.0}, altitude_m = {activity:?}, side = \"left\" }}",
            2.5 * turn_radius_max_m,
            draw.activity_s
        ),
        _ => format!(
            "{{ kind = \"pass\", from = {}, to = {}, altitude_m = {activity:?} }}",
            point(line_from),
            point(line_to)
        ),
    };
    format!(
        r#"
name = "random"
start = "2020-06-01T12:00:00Z"
duration_s = 3600
track_step_s = {step}

[agreement]
title = "random"
horizontal_m = 9260
vertical_m = 300
time_s = 120

[[parties]]
id = "a"
name = "A"
role = "party"

[[aircraft]]
id = "type"
name = "type"
cruise_speed_mps = {cruise}
speed_min_mps = {min}
speed_max_mps = {max}
climb_rate_mps = {climb}
descent_rate_mps = {descent}
turn_rate_deg_s = {turn}
acceleration_mps2 = {acceleration}

[[bases]]
id = "home"
name = "home"
lat = {lat}
lon = {lon}
elevation_m = {elevation}

[[areas]]
id = "zone"
name = "zone"
circle = {{ lat = {area_lat}, lon = {area_lon}, radius_m = {area_radius} }}

[[patterns]]
id = "p"
party = "a"
aircraft = "type"
base = "home"
callsign = "P"
sorties_per_hour = 4
cruise_altitude_m = {cruise_band:?}
activity = {activity_table}
"#,
        step = draw.step_s,
        cruise = draw.cruise_mps,
        min = draw.cruise_mps * draw.min_fraction,
        max = speed_max_mps,
        climb = draw.cruise_mps * draw.min_fraction * draw.climb_fraction,
        descent = draw.cruise_mps * draw.min_fraction * draw.descent_fraction,
        turn = draw.turn_deg_s,
        acceleration = draw.acceleration_mps2,
        lat = draw.base_lat,
        lon = draw.base_lon,
        area_lat = center.lat_deg(),
        area_lon = center.lon_deg(),
        area_radius = draw.area_radius_m,
        cruise_band = cruise,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_scenarios_fly_plausibly_and_keep_to_their_intents(draw in draws()) {
        let text = scenario_text(&draw);
        let scenario = Scenario::from_toml(&text)
            .unwrap_or_else(|error| panic!("{error}\n{text}"));
        let generated = generate_with(&scenario, &GenerateOptions::with_seed(draw.seed));
        prop_assert!(!generated.flights.is_empty() || generated.intents.is_empty());
        assert_plausible(&scenario, &generated, draw.seed);
        assert_conforming(&generated, draw.seed);
    }
}
