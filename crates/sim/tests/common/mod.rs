//! Simple, independent checks the generator's tests measure its output with: a
//! strategic-conflict test between planned volumes and a straight-line tactical
//! prediction between track states, both in a flat local frame, written plainly rather
//! than fast.

#![allow(dead_code)]

use deconflict_sim::geo::{haversine_distance_m, LatLon, LocalPlane};
use deconflict_sim::intents::{Footprint, PlannedVolume};
use deconflict_sim::kinematics::AircraftState;
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
