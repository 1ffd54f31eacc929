//! The operational intent of a sortie: the 4D volumes its party files before it flies,
//! drawn around the trajectory the sortie will fly with the scenario's planning margins.
//!
//! Route legs (take-off, transit, ingress, egress, return) are cut into stretches of at
//! most `volume_duration_s`, each covered by a rectangle along its direction of flight (a
//! buffered route corridor); a hold is covered by a circle around its centre, a racetrack
//! by a rectangle along its axis. Each volume's altitude band spans the altitudes flown in
//! it and its time window the times, widened by the margins and by the latest departure
//! delay, so the flight conforms to its intent whenever it leaves within that delay.

use crate::flight::{Leg, SortiePlan, Trajectory};
use crate::geo::{haversine_distance_m, initial_bearing_rad, LatLon, LocalPlane};
use crate::kinematics::AircraftState;
use crate::scenario::Planning;

/// The horizontal extent of a volume.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    /// Vertices in order, not repeating the first.
    Polygon(Vec<LatLon>),
    Circle {
        center: LatLon,
        radius_m: f64,
    },
}

/// One Volume4D: footprint, altitude band (metres, W84) and time window (Unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedVolume {
    pub footprint: Footprint,
    pub altitude_lower_m: f64,
    pub altitude_upper_m: f64,
    pub time_start_unix_s: i64,
    pub time_end_unix_s: i64,
}

/// The volumes of a sortie that is planned to take off at `departure_unix_s`.
pub fn plan_volumes(
    plan: &SortiePlan,
    trajectory: &Trajectory,
    departure_unix_s: i64,
    planning: &Planning,
) -> Vec<PlannedVolume> {
    let mut volumes = Vec::new();
    let last_index = trajectory.states.len() - 1;
    let labels = &trajectory.leg_of_state;
    let mut run_start = 1usize;
    while run_start <= last_index {
        let leg = labels[run_start];
        let mut run_end = run_start;
        while run_end < last_index && labels[run_end + 1] == leg {
            run_end += 1;
        }
        // A leg's states start from the state it was entered in (the last of the leg
        // before), so neighbouring volumes share a state and leave no gap between them.
        let (leg_start, leg_end) = (run_start - 1, run_end);
        let range = leg_start..=leg_end;
        match &plan.legs[leg] {
            Leg::Hold { center, .. } => {
                let states = &trajectory.states[range.clone()];
                let radius_m = states
                    .iter()
                    .map(|state| haversine_distance_m(*center, state.position))
                    .fold(0.0, f64::max)
                    + planning.lateral_margin_m;
                volumes.push(volume(
                    Footprint::Circle {
                        center: *center,
                        radius_m: radius_m.ceil(),
                    },
                    states,
                    range,
                    departure_unix_s,
                    planning,
                ));
            }
            Leg::Racetrack { corners, .. } => {
                let states = &trajectory.states[range.clone()];
                let footprint = rectangle_around(
                    states,
                    corners[0],
                    initial_bearing_rad(corners[0], corners[1]),
                    planning.lateral_margin_m,
                );
                volumes.push(volume(footprint, states, range, departure_unix_s, planning));
            }
            Leg::Fly { .. } | Leg::Line { .. } | Leg::Land { .. } => {
                let stretch = planning.volume_duration_s as usize;
                let mut start = leg_start;
                while start < leg_end {
                    let end = (start + stretch).min(leg_end);
                    let states = &trajectory.states[start..=end];
                    let from = states[0].position;
                    let to = states[states.len() - 1].position;
                    let axis = if haversine_distance_m(from, to) > 100.0 {
                        initial_bearing_rad(from, to)
                    } else {
                        states[0].heading_rad
                    };
                    let footprint = rectangle_around(states, from, axis, planning.lateral_margin_m);
                    volumes.push(volume(
                        footprint,
                        states,
                        start..=end,
                        departure_unix_s,
                        planning,
                    ));
                    start = end;
                }
            }
        }
        run_start = run_end + 1;
    }
    volumes
}

fn volume(
    footprint: Footprint,
    states: &[AircraftState],
    range: std::ops::RangeInclusive<usize>,
    departure_unix_s: i64,
    planning: &Planning,
) -> PlannedVolume {
    let (mut lowest_m, mut highest_m) = (f64::MAX, f64::MIN);
    for state in states {
        lowest_m = lowest_m.min(state.altitude_m);
        highest_m = highest_m.max(state.altitude_m);
    }
    let first_s = departure_unix_s as f64 + *range.start() as f64 - planning.time_margin_s;
    let last_s = departure_unix_s as f64
        + *range.end() as f64
        + planning.departure_delay_max_s as f64
        + planning.time_margin_s;
    PlannedVolume {
        footprint,
        altitude_lower_m: (lowest_m - planning.vertical_margin_m).floor(),
        altitude_upper_m: (highest_m + planning.vertical_margin_m).ceil(),
        time_start_unix_s: first_s.floor() as i64,
        time_end_unix_s: last_s.ceil() as i64,
    }
}

/// The least half-width and half-length of a rectangle, so that a straight stretch planned
/// with no margin still has an area (and no two of its vertices coincide).
const RECTANGLE_HALF_SIDE_M_MIN: f64 = 50.0;

/// The smallest rectangle with sides along and across `axis_rad` (from `origin`) holding
/// every state, grown by `margin_m` on all sides (and to at least 100 m by 100 m).
fn rectangle_around(
    states: &[AircraftState],
    origin: LatLon,
    axis_rad: f64,
    margin_m: f64,
) -> Footprint {
    let plane = LocalPlane::new(origin);
    let (sin_axis, cos_axis) = axis_rad.sin_cos();
    let (mut along_min, mut along_max, mut across_min, mut across_max) =
        (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for state in states {
        let (east, north) = plane.project(state.position);
        let along = east * sin_axis + north * cos_axis;
        let across = east * cos_axis - north * sin_axis;
        along_min = along_min.min(along);
        along_max = along_max.max(along);
        across_min = across_min.min(across);
        across_max = across_max.max(across);
    }
    let corner = |along: f64, across: f64| {
        plane.unproject(
            along * sin_axis + across * cos_axis,
            along * cos_axis - across * sin_axis,
        )
    };
    let widen = |low: f64, high: f64| {
        let middle = 0.5 * (low + high);
        let half = (0.5 * (high - low) + margin_m).max(RECTANGLE_HALF_SIDE_M_MIN);
        (middle - half, middle + half)
    };
    let (a0, a1) = widen(along_min, along_max);
    let (c0, c1) = widen(across_min, across_max);
    Footprint::Polygon(vec![
        corner(a0, c0),
        corner(a1, c0),
        corner(a1, c1),
        corner(a0, c1),
    ])
}
