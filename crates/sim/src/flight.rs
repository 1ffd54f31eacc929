//! One sortie: its plan (a list of legs from take-off to landing, drawn from its pattern
//! with the sortie's own random numbers) and the trajectory the flight model flies from it,
//! one state per second.

use rand::RngExt as _;
use rand_chacha::ChaCha8Rng;

use crate::geo::{
    destination, haversine_distance_m, initial_bearing_rad, wrap_pi, LatLon, LocalPlane,
};
use crate::kinematics::{line_position, step, AircraftState, Command, Steer};
use crate::scenario::{
    Activity, AircraftType, AltitudeBand, Area, AreaShape, Base, Pattern, RacetrackPlacement,
    Scenario, Side,
};

/// The simulation's own time step. One second is fine enough for turn rates of a few
/// degrees per second and lets output steps of whole seconds fall exactly on states.
pub const SIMULATION_STEP_S: f64 = 1.0;
/// The longest sortie the model will fly before giving up (a plan that never completes
/// is a bug, not a long flight).
pub const SORTIE_DURATION_S_MAX: usize = 48 * 3600;
/// Glide slope of the final descent, as on an instrument approach.
const GLIDE_SLOPE_RAD: f64 = 0.052_359_877_559_829_88; // 3°
/// Slope of the descent into or climb out of an activity altitude.
const TRANSITION_SLOPE_RAD: f64 = 0.069_813_170_079_773_18; // 4°
/// Below this distance from base the aircraft slows to its approach speed.
const APPROACH_DISTANCE_M: f64 = 30_000.0;
/// A landing is complete this close to the base (the track ends on short final).
const LANDING_CAPTURE_M: f64 = 1_500.0;
/// Altitudes are flown at multiples of this (about 500 ft), as flight levels are.
const ALTITUDE_QUANTUM_M: f64 = 150.0;
/// A pass is joined this many turn radii before its start.
const PASS_LEAD_IN_TURN_RADII: f64 = 6.0;
/// Racetracks are this many turn radii wide, so each end is two comfortable 90° turns.
const RACETRACK_WIDTH_TURN_RADII: f64 = 2.5;

/// One part of a sortie.
#[derive(Debug, Clone, PartialEq)]
pub enum Leg {
    /// Fly to `to`, holding `cruise_altitude_m` until close enough to reach `altitude_m`
    /// on a 4° slope.
    Fly {
        to: LatLon,
        cruise_altitude_m: f64,
        altitude_m: f64,
        speed_mps: f64,
    },
    /// Fly along the line from `from` to `to` until abeam `to`.
    Line {
        from: LatLon,
        to: LatLon,
        altitude_m: f64,
        speed_mps: f64,
    },
    /// Circle `center` for `duration_s`.
    Hold {
        center: LatLon,
        radius_m: f64,
        clockwise: bool,
        altitude_m: f64,
        speed_mps: f64,
        duration_s: f64,
    },
    /// Fly the closed loop of `corners` for `duration_s` (corner 0 to 1 is the inbound leg).
    Racetrack {
        corners: [LatLon; 4],
        altitude_m: f64,
        speed_mps: f64,
        duration_s: f64,
    },
    /// Return to base at cruise altitude and descend on a 3° slope to land.
    Land {
        base: LatLon,
        elevation_m: f64,
        cruise_altitude_m: f64,
        cruise_speed_mps: f64,
    },
}

/// What a sortie will do.
#[derive(Debug, Clone, PartialEq)]
pub struct SortiePlan {
    pub legs: Vec<Leg>,
    /// The leg whose start is the sortie's time on station (the schedule's time).
    pub on_station_leg: usize,
}

/// The flown sortie: one state per second from take-off (index 0) to landing.
#[derive(Debug, Clone)]
pub struct Trajectory {
    pub states: Vec<AircraftState>,
    /// The leg whose command produced each state (state 0, on the runway, counts as leg
    /// 0's); a leg's first state is the last state of the leg before.
    pub leg_of_state: Vec<usize>,
    /// Seconds from take-off to the start of the on-station leg.
    pub on_station_s: usize,
}

/// Why a sortie could not be flown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern {pattern:?}: a sortie did not complete within {SORTIE_DURATION_S_MAX} s (leg {leg} never ended)")]
pub struct FlightError {
    pub pattern: String,
    pub leg: usize,
}

/// Draws a sortie's plan from its pattern.
pub fn plan_sortie(scenario: &Scenario, pattern: &Pattern, rng: &mut ChaCha8Rng) -> SortiePlan {
    let aircraft = &scenario.aircraft_types[pattern.aircraft];
    let base = &scenario.bases[pattern.base];
    let speed_mps = (aircraft.cruise_speed_mps * rng.random_range(0.97..=1.03))
        .clamp(aircraft.speed_min_mps, aircraft.speed_max_mps);
    let cruise_altitude_m = draw_altitude(rng, pattern.cruise_altitude);
    let fly = |to: LatLon, altitude_m: f64| Leg::Fly {
        to,
        cruise_altitude_m,
        altitude_m,
        speed_mps,
    };
    let land = Leg::Land {
        base: base.position,
        elevation_m: base.elevation_m,
        cruise_altitude_m,
        cruise_speed_mps: speed_mps,
    };
    let (mut legs, on_station_leg) = match &pattern.activity {
        Activity::Transit { area, altitude } => {
            let point = random_point_in(&scenario.areas[*area], rng);
            let altitude_m = draw_altitude(rng, *altitude);
            (vec![fly(point, altitude_m)], 1)
        }
        Activity::Orbit {
            area,
            radius_m,
            duration_s,
            altitude,
        } => {
            let center = random_point_in(&scenario.areas[*area], rng);
            let altitude_m = draw_altitude(rng, *altitude);
            // Join the circle on the side facing home.
            let entry = destination(
                center,
                initial_bearing_rad(center, base.position),
                *radius_m,
            )
            .0;
            let hold = Leg::Hold {
                center,
                radius_m: *radius_m,
                clockwise: rng.random_bool(0.5),
                altitude_m,
                speed_mps,
                duration_s: *duration_s,
            };
            (vec![fly(entry, altitude_m), hold], 1)
        }
        Activity::Strike {
            area,
            altitude,
            loiter_radius_m,
            loiter_s,
        } => {
            let target = random_point_in(&scenario.areas[*area], rng);
            let altitude_m = draw_altitude(rng, *altitude);
            let entry = destination(
                target,
                initial_bearing_rad(target, base.position),
                *loiter_radius_m,
            )
            .0;
            let hold = Leg::Hold {
                center: target,
                radius_m: *loiter_radius_m,
                clockwise: rng.random_bool(0.5),
                altitude_m,
                speed_mps,
                duration_s: *loiter_s,
            };
            (vec![fly(entry, altitude_m), hold], 1)
        }
        Activity::Racetrack {
            placement,
            duration_s,
            altitude,
            side,
        } => {
            let (from, to) = match placement {
                RacetrackPlacement::Fixed { from, to } => (*from, *to),
                RacetrackPlacement::InArea { area, leg_m } => {
                    let middle = random_point_in(&scenario.areas[*area], rng);
                    let axis = rng.random_range(0.0..std::f64::consts::TAU);
                    (
                        destination(middle, axis + std::f64::consts::PI, leg_m / 2.0).0,
                        destination(middle, axis, leg_m / 2.0).0,
                    )
                }
            };
            let altitude_m = draw_altitude(rng, *altitude);
            let width_m = RACETRACK_WIDTH_TURN_RADII * aircraft.turn_radius_m(speed_mps);
            let axis = initial_bearing_rad(from, to);
            let offset = match side {
                Side::Right => axis + std::f64::consts::FRAC_PI_2,
                Side::Left => axis - std::f64::consts::FRAC_PI_2,
            };
            let corners = [
                from,
                to,
                destination(to, offset, width_m).0,
                destination(from, offset, width_m).0,
            ];
            let racetrack = Leg::Racetrack {
                corners,
                altitude_m,
                speed_mps,
                duration_s: *duration_s,
            };
            (vec![fly(from, altitude_m), racetrack], 1)
        }
        Activity::Pass {
            from,
            to,
            altitude,
            speed_mps: pass_speed_mps,
        } => {
            let altitude_m = draw_altitude(rng, *altitude);
            let pass_speed_mps = pass_speed_mps.unwrap_or(speed_mps);
            // Join the line well before `from` (at an initial point on its extension) so
            // the aircraft is established on it, on time and at speed, when the pass
            // begins.
            let lead_in_m = PASS_LEAD_IN_TURN_RADII * aircraft.turn_radius_m(pass_speed_mps);
            let initial_point = destination(
                *from,
                initial_bearing_rad(*from, *to) + std::f64::consts::PI,
                lead_in_m,
            )
            .0;
            let line = |from: LatLon, to: LatLon| Leg::Line {
                from,
                to,
                altitude_m,
                speed_mps: pass_speed_mps,
            };
            (
                vec![
                    fly(initial_point, altitude_m),
                    line(initial_point, *from),
                    line(*from, *to),
                ],
                2,
            )
        }
    };
    legs.push(land);
    SortiePlan {
        legs,
        on_station_leg,
    }
}

/// An altitude drawn uniformly from the band and rounded to a multiple of 150 m inside it
/// (or the band's middle when no multiple lies inside).
fn draw_altitude(rng: &mut ChaCha8Rng, band: AltitudeBand) -> f64 {
    let lowest = (band.lower_m / ALTITUDE_QUANTUM_M).ceil() as i64;
    let highest = (band.upper_m / ALTITUDE_QUANTUM_M).floor() as i64;
    if lowest > highest {
        return 0.5 * (band.lower_m + band.upper_m);
    }
    rng.random_range(lowest..=highest) as f64 * ALTITUDE_QUANTUM_M
}

/// A point drawn uniformly from the area.
pub fn random_point_in(area: &Area, rng: &mut ChaCha8Rng) -> LatLon {
    match &area.shape {
        AreaShape::Circle { center, radius_m } => {
            let distance_m = radius_m * rng.random::<f64>().sqrt();
            let bearing = rng.random_range(0.0..std::f64::consts::TAU);
            destination(*center, bearing, distance_m).0
        }
        AreaShape::Polygon(vertices) => {
            let plane = LocalPlane::new(vertices[0]);
            let projected: Vec<(f64, f64)> = vertices.iter().map(|v| plane.project(*v)).collect();
            let (mut east_min, mut east_max, mut north_min, mut north_max) =
                (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for (east, north) in &projected {
                east_min = east_min.min(*east);
                east_max = east_max.max(*east);
                north_min = north_min.min(*north);
                north_max = north_max.max(*north);
            }
            // Rejection sampling; a polygon covering under a thousandth of its bounding
            // box is degenerate, and then its first vertex is as good a point as any.
            for _ in 0..1000 {
                let east = rng.random_range(east_min..=east_max);
                let north = rng.random_range(north_min..=north_max);
                if point_in_polygon((east, north), &projected) {
                    return plane.unproject(east, north);
                }
            }
            vertices[0]
        }
    }
}

/// Even-odd rule in a plane.
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

/// Whether a point ahead has been reached: close to it, or already abeam or behind and
/// within two turn radii (so a point inside the turning circle never sets up an endless
/// orbit around it).
fn reached(state: &AircraftState, target: LatLon, capture_m: f64, turn_radius_m: f64) -> bool {
    let distance_m = haversine_distance_m(state.position, target);
    if distance_m < capture_m {
        return true;
    }
    if distance_m >= 2.0 * turn_radius_m {
        return false;
    }
    let off_nose = wrap_pi(initial_bearing_rad(state.position, target) - state.heading_rad).abs();
    off_nose > std::f64::consts::FRAC_PI_2
}

/// Flies `plan` from take-off at `base` to landing.
pub fn fly_sortie(
    plan: &SortiePlan,
    aircraft: &AircraftType,
    base: &Base,
    pattern_id: &str,
) -> Result<Trajectory, FlightError> {
    let first_target = match plan.legs.first() {
        Some(Leg::Fly { to, .. }) => *to,
        _ => base.position,
    };
    let mut state = AircraftState {
        position: base.position,
        altitude_m: base.elevation_m,
        heading_rad: initial_bearing_rad(base.position, first_target),
        speed_mps: aircraft.speed_min_mps,
        vertical_speed_mps: 0.0,
    };
    let mut states = vec![state];
    let mut leg_of_state = vec![0];
    let mut leg = 0;
    let mut leg_started = 0usize;
    let mut corner = 1usize;
    let mut on_station_s = 0usize;

    while leg < plan.legs.len() {
        if states.len() > SORTIE_DURATION_S_MAX {
            return Err(FlightError {
                pattern: pattern_id.to_string(),
                leg,
            });
        }
        let command = command_for(&plan.legs[leg], &state, corner);
        state = step(&state, aircraft, &command, SIMULATION_STEP_S);
        let now = states.len();
        states.push(state);
        leg_of_state.push(leg);
        let turn_radius_m = aircraft.turn_radius_m(state.speed_mps);
        let capture_m = (0.3 * turn_radius_m).max(300.0);
        let leg_done = match &plan.legs[leg] {
            Leg::Fly { to, .. } => reached(&state, *to, capture_m, turn_radius_m),
            Leg::Line { from, to, .. } => {
                let ((along_m, length_m), _) = line_position(*from, *to, state.position);
                along_m >= length_m
            }
            Leg::Hold { duration_s, .. } => (now - leg_started) as f64 >= *duration_s,
            Leg::Racetrack {
                corners,
                duration_s,
                ..
            } => {
                if reached(&state, corners[corner], capture_m, turn_radius_m) {
                    corner = (corner + 1) % corners.len();
                }
                (now - leg_started) as f64 >= *duration_s
            }
            Leg::Land { base, .. } => reached(&state, *base, LANDING_CAPTURE_M, turn_radius_m),
        };
        if leg_done {
            leg += 1;
            leg_started = now;
            corner = 1;
            if leg == plan.on_station_leg {
                on_station_s = now;
            }
        }
    }
    Ok(Trajectory {
        states,
        leg_of_state,
        on_station_s,
    })
}

fn command_for(leg: &Leg, state: &AircraftState, corner: usize) -> Command {
    match leg {
        Leg::Fly {
            to,
            cruise_altitude_m,
            altitude_m,
            speed_mps,
        } => {
            let remaining_m = haversine_distance_m(state.position, *to);
            let transition_m = (cruise_altitude_m - altitude_m).abs() / TRANSITION_SLOPE_RAD.tan();
            let altitude_m = if remaining_m <= transition_m {
                *altitude_m
            } else {
                *cruise_altitude_m
            };
            Command {
                steer: Steer::Toward(*to),
                altitude_m,
                altitude_rate_mps: 0.0,
                speed_mps: *speed_mps,
            }
        }
        Leg::Line {
            from,
            to,
            altitude_m,
            speed_mps,
        } => Command {
            steer: Steer::Line {
                from: *from,
                to: *to,
            },
            altitude_m: *altitude_m,
            altitude_rate_mps: 0.0,
            speed_mps: *speed_mps,
        },
        Leg::Hold {
            center,
            radius_m,
            clockwise,
            altitude_m,
            speed_mps,
            ..
        } => Command {
            steer: Steer::Circle {
                center: *center,
                radius_m: *radius_m,
                clockwise: *clockwise,
            },
            altitude_m: *altitude_m,
            altitude_rate_mps: 0.0,
            speed_mps: *speed_mps,
        },
        Leg::Racetrack {
            corners,
            altitude_m,
            speed_mps,
            ..
        } => Command {
            steer: Steer::Toward(corners[corner]),
            altitude_m: *altitude_m,
            altitude_rate_mps: 0.0,
            speed_mps: *speed_mps,
        },
        Leg::Land {
            base,
            elevation_m,
            cruise_altitude_m,
            cruise_speed_mps,
        } => {
            let remaining_m = haversine_distance_m(state.position, *base);
            let glide_m = elevation_m + remaining_m * GLIDE_SLOPE_RAD.tan();
            // On the glide path the commanded altitude falls as the base comes closer.
            let altitude_rate_mps = if glide_m < *cruise_altitude_m {
                -state.speed_mps * GLIDE_SLOPE_RAD.tan()
            } else {
                0.0
            };
            Command {
                steer: Steer::Toward(*base),
                altitude_m: glide_m.min(*cruise_altitude_m),
                altitude_rate_mps,
                speed_mps: if remaining_m < APPROACH_DISTANCE_M {
                    0.0 // clamped up to the type's approach (minimum) speed
                } else {
                    *cruise_speed_mps
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fighter() -> AircraftType {
        AircraftType {
            id: "test".into(),
            name: "test".into(),
            cruise_speed_mps: 230.0,
            speed_min_mps: 90.0,
            speed_max_mps: 280.0,
            climb_rate_mps: 60.0,
            descent_rate_mps: 40.0,
            turn_rate_rad_s: 3f64.to_radians(),
            acceleration_mps2: 3.0,
        }
    }

    fn base() -> Base {
        Base {
            id: "B".into(),
            name: "base".into(),
            position: LatLon::from_degrees(35.0, 36.0),
            elevation_m: 50.0,
        }
    }

    #[test]
    fn a_point_inside_the_turning_circle_is_passed_rather_than_orbited_forever() {
        // 1.5 km abeam of the runway's heading: well inside a 4.4 km turn radius.
        let home = base();
        let first = destination(home.position, 0.0, 60_000.0).0;
        let abeam = destination(first, std::f64::consts::FRAC_PI_2, 1_500.0).0;
        let fly = |to| Leg::Fly {
            to,
            cruise_altitude_m: 6000.0,
            altitude_m: 6000.0,
            speed_mps: 230.0,
        };
        let plan = SortiePlan {
            legs: vec![
                fly(first),
                fly(abeam),
                Leg::Land {
                    base: home.position,
                    elevation_m: home.elevation_m,
                    cruise_altitude_m: 6000.0,
                    cruise_speed_mps: 230.0,
                },
            ],
            on_station_leg: 1,
        };
        let trajectory = fly_sortie(&plan, &fighter(), &home, "test").unwrap();
        assert!(
            trajectory.states.len() < 1800,
            "{} s",
            trajectory.states.len()
        );
        let last = trajectory.states.last().unwrap();
        assert!(haversine_distance_m(last.position, home.position) < LANDING_CAPTURE_M);
        assert!(
            last.altitude_m < home.elevation_m + 150.0,
            "{}",
            last.altitude_m
        );
    }

    #[test]
    fn a_hold_lasts_its_duration_and_the_on_station_time_is_its_start() {
        let home = base();
        let center = destination(home.position, 1.0, 80_000.0).0;
        let plan = SortiePlan {
            legs: vec![
                Leg::Fly {
                    to: destination(center, 1.0 + std::f64::consts::PI, 10_000.0).0,
                    cruise_altitude_m: 7000.0,
                    altitude_m: 6000.0,
                    speed_mps: 230.0,
                },
                Leg::Hold {
                    center,
                    radius_m: 10_000.0,
                    clockwise: false,
                    altitude_m: 6000.0,
                    speed_mps: 230.0,
                    duration_s: 600.0,
                },
                Leg::Land {
                    base: home.position,
                    elevation_m: home.elevation_m,
                    cruise_altitude_m: 7000.0,
                    cruise_speed_mps: 230.0,
                },
            ],
            on_station_leg: 1,
        };
        let trajectory = fly_sortie(&plan, &fighter(), &home, "test").unwrap();
        let hold_states = trajectory
            .leg_of_state
            .iter()
            .filter(|&&leg| leg == 1)
            .count();
        assert_eq!(hold_states, 600);
        assert_eq!(trajectory.leg_of_state[trajectory.on_station_s + 1], 1);
        assert_eq!(trajectory.leg_of_state[trajectory.on_station_s], 0);
    }
}
