//! Simple, independent checks the generator's tests measure its output with: a
//! strategic-conflict test between planned volumes and a straight-line tactical
//! prediction between track states, both in a flat local frame, written plainly rather
//! than fast.

#![allow(dead_code)]

use std::collections::BTreeMap;

use deconflict_sim::geo::{haversine_distance_m, wrap_pi, LatLon, LocalPlane};
use deconflict_sim::intents::{Footprint, PlannedVolume};
use deconflict_sim::kinematics::{AircraftState, VERTICAL_ACCELERATION_MPS2_MAX};
use deconflict_sim::{generate, GenerateOptions, Generated, Scenario};

pub fn syria() -> Scenario {
    Scenario::from_toml(deconflict_sim::builtin("syria-2015").unwrap()).unwrap()
}

pub fn generate_with(scenario: &Scenario, options: &GenerateOptions) -> Generated {
    generate(scenario, options, &|_| {}).unwrap_or_else(|error| {
        panic!("seed {}: {error}", options.seed);
    })
}

/// The footprint as a polygon in `plane` (a circle as an inscribed 64-gon).
pub fn outline(footprint: &Footprint, plane: &LocalPlane) -> Vec<(f64, f64)> {
    match footprint {
        Footprint::Polygon(vertices) => vertices.iter().map(|v| plane.project(*v)).collect(),
        Footprint::Circle { center, radius_m } => {
            let (east, north) = plane.project(*center);
            (0..64)
                .map(|i| {
                    let angle = std::f64::consts::TAU * i as f64 / 64.0;
                    (
                        east + radius_m * angle.sin(),
                        north + radius_m * angle.cos(),
                    )
                })
                .collect()
        }
    }
}

pub fn footprint_anchor(footprint: &Footprint) -> LatLon {
    match footprint {
        Footprint::Polygon(vertices) => vertices[0],
        Footprint::Circle { center, .. } => *center,
    }
}

pub fn point_in_polygon(point: (f64, f64), polygon: &[(f64, f64)]) -> bool {
    let (x, y) = point;
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let (xi, yi) = polygon[i];
        let (xj, yj) = polygon[j];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn point_segment_distance(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length2 = dx * dx + dy * dy;
    let t = if length2 == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / length2).clamp(0.0, 1.0)
    };
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

/// Least distance between two simple polygons in a plane (0 when they overlap).
pub fn polygon_distance_m(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    if point_in_polygon(a[0], b) || point_in_polygon(b[0], a) {
        return 0.0;
    }
    let mut least = f64::MAX;
    for (p, q) in [(a, b), (b, a)] {
        for &vertex in p {
            for i in 0..q.len() {
                least = least.min(point_segment_distance(vertex, q[i], q[(i + 1) % q.len()]));
            }
        }
    }
    least
}

/// Whether two volumes conflict under the contract's strategic rule (all three gaps below
/// their minima at once).
pub fn volumes_conflict(
    a: &PlannedVolume,
    b: &PlannedVolume,
    horizontal_m: f64,
    vertical_m: f64,
    time_s: f64,
) -> bool {
    let time_gap_s = (a.time_start_unix_s - b.time_end_unix_s)
        .max(b.time_start_unix_s - a.time_end_unix_s)
        .max(0) as f64;
    let vertical_gap_m = (a.altitude_lower_m - b.altitude_upper_m)
        .max(b.altitude_lower_m - a.altitude_upper_m)
        .max(0.0);
    if time_gap_s >= time_s || vertical_gap_m >= vertical_m {
        return false;
    }
    let plane = LocalPlane::new(footprint_anchor(&a.footprint));
    polygon_distance_m(
        &outline(&a.footprint, &plane),
        &outline(&b.footprint, &plane),
    ) < horizontal_m
}

/// Whether two aircraft are predicted (straight lines, constant velocity) to come within
/// the cylinder within `lookahead_s`; checked every second of the lookahead.
pub fn predicted_conflict(
    a: &AircraftState,
    b: &AircraftState,
    horizontal_m: f64,
    vertical_m: f64,
    lookahead_s: f64,
) -> bool {
    let plane = LocalPlane::new(a.position);
    let (x, y) = plane.project(b.position);
    let z = b.altitude_m - a.altitude_m;
    let (an, ae, au) = a.velocity_neu_mps();
    let (bn, be, bu) = b.velocity_neu_mps();
    let (vx, vy, vz) = (be - ae, bn - an, bu - au);
    let mut t = 0.0;
    while t <= lookahead_s {
        if (x + vx * t).hypot(y + vy * t) < horizontal_m && (z + vz * t).abs() < vertical_m {
            return true;
        }
        t += 1.0;
    }
    false
}

pub fn horizontal_distance_m(a: &AircraftState, b: &AircraftState) -> f64 {
    haversine_distance_m(a.position, b.position)
}

/// Checks every pair of consecutive states of every flight against its type's limits, and
/// each displacement against the velocities reported at its two ends.
pub fn assert_plausible(scenario: &Scenario, generated: &Generated, seed: u64) {
    let step_s = generated.track_step_s as f64;
    for flight in &generated.flights {
        let aircraft = &scenario.aircraft_types[flight.aircraft_type];
        let context = |time: i64| format!("seed {seed}, {} at {time}", flight.aircraft_id);
        for state in &flight.track {
            let s = &state.state;
            assert!(
                s.speed_mps >= aircraft.speed_min_mps - 1e-9
                    && s.speed_mps <= aircraft.speed_max_mps + 1e-9,
                "{}: speed {}",
                context(state.time_unix_s),
                s.speed_mps
            );
            assert!(
                s.vertical_speed_mps <= aircraft.climb_rate_mps + 1e-9
                    && s.vertical_speed_mps >= -aircraft.descent_rate_mps - 1e-9,
                "{}: vertical speed {}",
                context(state.time_unix_s),
                s.vertical_speed_mps
            );
        }
        for pair in flight.track.windows(2) {
            let (a, b) = (&pair[0].state, &pair[1].state);
            let dt = (pair[1].time_unix_s - pair[0].time_unix_s) as f64;
            assert_eq!(dt, step_s);
            let at = context(pair[0].time_unix_s);
            let turned = wrap_pi(b.heading_rad - a.heading_rad).abs();
            assert!(
                turned <= aircraft.turn_rate_rad_s * dt * 1.01 + 1e-4,
                "{at}: turned {:.2}° in {dt} s",
                turned.to_degrees()
            );
            let climbed = b.altitude_m - a.altitude_m;
            assert!(
                climbed <= aircraft.climb_rate_mps * dt + 1e-6
                    && climbed >= -aircraft.descent_rate_mps * dt - 1e-6,
                "{at}: altitude changed {climbed} m in {dt} s"
            );
            // Exact for one-second steps (the model's own); over longer steps the vertical
            // speed may change slope inside the step, by at most its acceleration limit.
            let vertical_tolerance = if dt == 1.0 {
                1e-6
            } else {
                0.25 * VERTICAL_ACCELERATION_MPS2_MAX * dt + 1e-6
            };
            assert!(
                (climbed / dt - 0.5 * (a.vertical_speed_mps + b.vertical_speed_mps)).abs()
                    <= vertical_tolerance,
                "{at}: climbed at {:.3} m/s over the step, vertical speeds {:.3} and {:.3} m/s",
                climbed / dt,
                a.vertical_speed_mps,
                b.vertical_speed_mps
            );
            // Displacement against the mean of the two velocities. Over the model's own
            // one-second step they agree to within the chord-to-arc ratio of the turn. Over
            // longer steps the path inside the step is unknown to the check (a turn may
            // start, end or reverse inside it), so the mean of the end velocities may point
            // off by up to half the turn the type can make in the step, and its length be
            // off by a quarter of the speed the type can gain in it.
            let plane = LocalPlane::new(a.position);
            let (east_m, north_m) = plane.project(b.position);
            let (an, ae, _) = a.velocity_neu_mps();
            let (bn, be, _) = b.velocity_neu_mps();
            let (mean_north, mean_east) = (0.5 * (an + bn), 0.5 * (ae + be));
            let error = (east_m / dt - mean_east).hypot(north_m / dt - mean_north);
            let tolerance = if dt == 1.0 {
                0.005 * a.speed_mps + 0.05
            } else {
                (0.01 + 0.5 * aircraft.turn_rate_rad_s * dt) * a.speed_mps.max(b.speed_mps)
                    + 0.25 * aircraft.acceleration_mps2 * dt
            };
            assert!(
                error <= tolerance,
                "{at}: moved at ({:.1}, {:.1}) m/s north/east but reported ({mean_north:.1}, \
                 {mean_east:.1})",
                north_m / dt,
                east_m / dt
            );
            let ground_speed = haversine_distance_m(a.position, b.position) / dt;
            assert!(
                ground_speed <= aircraft.speed_max_mps + 1e-6,
                "{at}: covered ground at {ground_speed} m/s"
            );
        }
    }
}

/// Checks that every track state lies inside a volume of its flight's intent (time
/// window, altitude band and footprint at once).
pub fn assert_conforming(generated: &Generated, seed: u64) {
    let intents: BTreeMap<&str, _> = generated
        .intents
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    for flight in &generated.flights {
        let intent = intents[flight.intent_id.as_str()];
        assert_eq!(intent.party, flight.party);
        let outlines: Vec<_> = intent
            .volumes
            .iter()
            .map(|volume| {
                let plane = LocalPlane::new(footprint_anchor(&volume.footprint));
                (plane, outline(&volume.footprint, &plane))
            })
            .collect();
        for state in &flight.track {
            let inside = intent
                .volumes
                .iter()
                .zip(&outlines)
                .any(|(volume, (plane, polygon))| {
                    (volume.time_start_unix_s..=volume.time_end_unix_s).contains(&state.time_unix_s)
                        && (volume.altitude_lower_m..=volume.altitude_upper_m)
                            .contains(&state.state.altitude_m)
                        && point_in_polygon(plane.project(state.state.position), polygon)
                });
            assert!(
                inside,
                "seed {seed}: {} at {} ({:.4}, {:.4}, {:.0} m) is outside every volume of {}",
                flight.aircraft_id,
                state.time_unix_s,
                state.state.position.lat_deg(),
                state.state.position.lon_deg(),
                state.state.altitude_m,
                intent.id
            );
        }
    }
}
