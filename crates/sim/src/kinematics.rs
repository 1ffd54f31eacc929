//! The flight model: one aircraft's state and a rate-limited step towards a guidance
//! command, so that every generated track respects its type's limits by construction.
//!
//! | symbol                | meaning                                                 | unit  |
//! |-----------------------|---------------------------------------------------------|-------|
//! | `heading_rad`         | course over the ground, clockwise from true north       | rad   |
//! | `speed_mps`           | ground speed (no wind: equal to true airspeed)          | m/s   |
//! | `vertical_speed_mps`  | rate of climb, positive up                              | m/s   |
//! | `turn_rate_rad_s`     | the type's largest rate of turn (3°/s is standard rate) | rad/s |
//! | `HEADING_GAIN_PER_S`  | how fast a heading error is closed below the turn limit | 1/s   |
//! | `ALTITUDE_GAIN_PER_S` | how fast an altitude error is closed below climb limits | 1/s   |
//!
//! The model is the usual point-mass one of traffic simulators (BlueSky's autopilot works
//! the same way): turn, climb and speed change are each proportional to the error, clipped
//! to the type's limits; position advances along the great circle of the mean heading.

use crate::geo::{destination, initial_bearing_rad, wrap_pi, LatLon, LocalPlane};
use crate::scenario::AircraftType;

/// How fast a heading error is closed while below the turn-rate limit, per second.
pub const HEADING_GAIN_PER_S: f64 = 0.4;
/// How fast an altitude error is closed while below the climb limits, per second.
pub const ALTITUDE_GAIN_PER_S: f64 = 0.05;
/// The largest change of vertical speed, m/s²; about 0.15 g, comfortable for any type.
pub const VERTICAL_ACCELERATION_MPS2_MAX: f64 = 1.5;

/// One aircraft at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AircraftState {
    pub position: LatLon,
    pub altitude_m: f64,
    pub heading_rad: f64,
    pub speed_mps: f64,
    pub vertical_speed_mps: f64,
}

impl AircraftState {
    /// Velocity north, east and up, m/s, in the aircraft's local frame.
    pub fn velocity_neu_mps(&self) -> (f64, f64, f64) {
        (
            self.speed_mps * self.heading_rad.cos(),
            self.speed_mps * self.heading_rad.sin(),
            self.vertical_speed_mps,
        )
    }
}

/// Where to steer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steer {
    /// Straight for a point.
    Toward(LatLon),
    /// Along the line from `from` to `to`, intercepting it when off it (lateral
    /// navigation: the heading is the line's, bent towards it by up to 60° in proportion
    /// to the cross-track distance).
    Line { from: LatLon, to: LatLon },
    /// Around a circle; clockwise means right turns.
    Circle {
        center: LatLon,
        radius_m: f64,
        clockwise: bool,
    },
}

/// What the autopilot is asked to do this second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Command {
    pub steer: Steer,
    pub altitude_m: f64,
    /// The rate at which `altitude_m` itself moves (on a glide path, say), flown as a feed
    /// forward so that the aircraft tracks a moving altitude instead of lagging it.
    pub altitude_rate_mps: f64,
    pub speed_mps: f64,
}

/// Advances `state` by `dt_s` towards `command` within the limits of `aircraft`.
pub fn step(
    state: &AircraftState,
    aircraft: &AircraftType,
    command: &Command,
    dt_s: f64,
) -> AircraftState {
    let turn_limit = aircraft.turn_rate_rad_s;
    let turn_rate = match command.steer {
        Steer::Toward(target) => {
            let error = wrap_pi(initial_bearing_rad(state.position, target) - state.heading_rad);
            (HEADING_GAIN_PER_S * error).clamp(-turn_limit, turn_limit)
        }
        Steer::Line { from, to } => {
            let (cross_track_m, line_heading) = line_position(from, to, state.position).1;
            // Intercept over about two turn radii, the tightest that does not overshoot.
            let intercept_m = 2.0 * state.speed_mps / turn_limit;
            let desired = line_heading
                - (cross_track_m / intercept_m).clamp(-1.0, 1.0) * std::f64::consts::FRAC_PI_3;
            let error = wrap_pi(desired - state.heading_rad);
            (HEADING_GAIN_PER_S * error).clamp(-turn_limit, turn_limit)
        }
        Steer::Circle {
            center,
            radius_m,
            clockwise,
        } => {
            let sense = if clockwise { 1.0 } else { -1.0 };
            let distance_m = crate::geo::haversine_distance_m(center, state.position);
            let bearing_from_center = initial_bearing_rad(center, state.position);
            // Tangent to the circle, bent inwards when outside it and outwards when inside,
            // by at most 60°, so the aircraft settles onto the circle from anywhere.
            let radial_error = ((distance_m - radius_m) / (0.5 * radius_m)).clamp(-1.0, 1.0);
            let desired = bearing_from_center
                + sense
                    * (std::f64::consts::FRAC_PI_2 + radial_error * std::f64::consts::FRAC_PI_3);
            let error = wrap_pi(desired - state.heading_rad);
            let feed_forward = sense * state.speed_mps / radius_m;
            (feed_forward + HEADING_GAIN_PER_S * error).clamp(-turn_limit, turn_limit)
        }
    };

    let speed_target = command
        .speed_mps
        .clamp(aircraft.speed_min_mps, aircraft.speed_max_mps);
    let speed_change = (speed_target - state.speed_mps).clamp(
        -aircraft.acceleration_mps2 * dt_s,
        aircraft.acceleration_mps2 * dt_s,
    );
    let speed_mps = state.speed_mps + speed_change;

    // Close the altitude error proportionally, but never faster than the vertical speed
    // could still be taken off before the target (v² = 2·a·d, with a fifth in hand), so
    // the aircraft levels off at its altitude instead of overshooting it.
    let altitude_error_m = command.altitude_m - state.altitude_m;
    let closing_mps = (ALTITUDE_GAIN_PER_S * altitude_error_m.abs())
        .min((2.0 * 0.8 * VERTICAL_ACCELERATION_MPS2_MAX * altitude_error_m.abs()).sqrt());
    let vertical_target = (command.altitude_rate_mps + closing_mps.copysign(altitude_error_m))
        .clamp(-aircraft.descent_rate_mps, aircraft.climb_rate_mps);
    let vertical_change = (vertical_target - state.vertical_speed_mps).clamp(
        -VERTICAL_ACCELERATION_MPS2_MAX * dt_s,
        VERTICAL_ACCELERATION_MPS2_MAX * dt_s,
    );
    let vertical_speed_mps = state.vertical_speed_mps + vertical_change;

    // Fly the mean heading and mean speed of the step, so that the displacement matches
    // the average of the velocities at its two ends.
    let heading_mid = state.heading_rad + 0.5 * turn_rate * dt_s;
    let distance_m = 0.5 * (state.speed_mps + speed_mps) * dt_s;
    let (position, course_at_end) = destination(state.position, heading_mid, distance_m);
    // The great circle's course drifts as meridians converge; keep that drift so heading
    // and track agree, then apply the second half of the turn.
    let heading_rad = crate::geo::wrap_two_pi(course_at_end + 0.5 * turn_rate * dt_s);
    let altitude_m =
        state.altitude_m + 0.5 * (state.vertical_speed_mps + vertical_speed_mps) * dt_s;

    AircraftState {
        position,
        altitude_m,
        heading_rad,
        speed_mps,
        vertical_speed_mps,
    }
}

/// Where `position` lies relative to the line from `from` to `to`: the distance along it
/// past `from` and the line's length, then the distance to its right and its heading.
pub fn line_position(from: LatLon, to: LatLon, position: LatLon) -> ((f64, f64), (f64, f64)) {
    let plane = LocalPlane::new(from);
    let (to_east, to_north) = plane.project(to);
    let length_m = to_east.hypot(to_north);
    let (unit_east, unit_north) = (to_east / length_m, to_north / length_m);
    let (east, north) = plane.project(position);
    let along_m = east * unit_east + north * unit_north;
    let right_m = east * unit_north - north * unit_east;
    ((along_m, length_m), (right_m, unit_east.atan2(unit_north)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::haversine_distance_m;

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

    fn level(heading_deg: f64) -> AircraftState {
        AircraftState {
            position: LatLon::from_degrees(35.0, 37.0),
            altitude_m: 6000.0,
            heading_rad: heading_deg.to_radians(),
            speed_mps: 230.0,
            vertical_speed_mps: 0.0,
        }
    }

    #[test]
    fn a_reversal_turns_at_no_more_than_the_turn_rate() {
        let aircraft = fighter();
        let target = crate::geo::destination(
            LatLon::from_degrees(35.0, 37.0),
            std::f64::consts::PI,
            100_000.0,
        )
        .0;
        let command = Command {
            steer: Steer::Toward(target),
            altitude_m: 6000.0,
            altitude_rate_mps: 0.0,
            speed_mps: 230.0,
        };
        let mut state = level(0.0);
        for _ in 0..120 {
            let next = step(&state, &aircraft, &command, 1.0);
            let turned = wrap_pi(next.heading_rad - state.heading_rad).abs();
            assert!(turned <= aircraft.turn_rate_rad_s + 1e-4, "{turned}");
            state = next;
        }
        let error = wrap_pi(initial_bearing_rad(state.position, target) - state.heading_rad);
        assert!(
            error.abs() < 0.01,
            "still {error} rad off after two minutes"
        );
    }

    #[test]
    fn a_climb_is_limited_by_the_climb_rate_and_levels_off() {
        let aircraft = fighter();
        let command = Command {
            steer: Steer::Toward(LatLon::from_degrees(36.0, 37.0)),
            altitude_m: 9000.0,
            altitude_rate_mps: 0.0,
            speed_mps: 230.0,
        };
        let mut state = level(0.0);
        for _ in 0..400 {
            state = step(&state, &aircraft, &command, 1.0);
            assert!(state.vertical_speed_mps <= aircraft.climb_rate_mps + 1e-9);
        }
        assert!(
            (state.altitude_m - 9000.0).abs() < 5.0,
            "{}",
            state.altitude_m
        );
    }

    #[test]
    fn a_fast_climb_levels_off_without_overshooting() {
        let aircraft = AircraftType {
            climb_rate_mps: 80.0,
            ..fighter()
        };
        let command = Command {
            steer: Steer::Toward(LatLon::from_degrees(36.0, 37.0)),
            altitude_m: 9000.0,
            altitude_rate_mps: 0.0,
            speed_mps: 230.0,
        };
        let mut state = level(0.0);
        let mut highest_m: f64 = 0.0;
        for _ in 0..300 {
            state = step(&state, &aircraft, &command, 1.0);
            highest_m = highest_m.max(state.altitude_m);
        }
        assert!(highest_m < 9000.0 + 15.0, "overshot to {highest_m} m");
        assert!((state.altitude_m - 9000.0).abs() < 5.0);
    }

    #[test]
    fn a_line_is_intercepted_and_then_followed() {
        let aircraft = fighter();
        let from = LatLon::from_degrees(35.0, 37.0);
        let to = LatLon::from_degrees(35.0, 37.8);
        let command = Command {
            steer: Steer::Line { from, to },
            altitude_m: 6000.0,
            altitude_rate_mps: 0.0,
            speed_mps: 230.0,
        };
        // Starting 6 km north of the line and heading south, across it.
        let mut state = AircraftState {
            position: destination(from, 0.0, 6000.0).0,
            ..level(180.0)
        };
        for _ in 0..150 {
            state = step(&state, &aircraft, &command, 1.0);
        }
        let ((along_m, _), (right_m, heading)) = line_position(from, to, state.position);
        assert!(along_m > 0.0);
        assert!(right_m.abs() < 150.0, "still {right_m} m off the line");
        assert!(wrap_pi(state.heading_rad - heading).abs() < 0.05);
    }

    #[test]
    fn circling_settles_on_the_requested_radius() {
        let aircraft = fighter();
        let center = LatLon::from_degrees(35.2, 37.0);
        let command = Command {
            steer: Steer::Circle {
                center,
                radius_m: 15_000.0,
                clockwise: true,
            },
            altitude_m: 6000.0,
            altitude_rate_mps: 0.0,
            speed_mps: 230.0,
        };
        let mut state = level(0.0);
        for _ in 0..1200 {
            state = step(&state, &aircraft, &command, 1.0);
        }
        let radius = haversine_distance_m(center, state.position);
        assert!((radius - 15_000.0).abs() < 300.0, "{radius}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the state and the command, one step stays within every limit of the
        /// type: the law every generated track relies on.
        #[test]
        fn one_step_never_exceeds_the_types_limits(
            speed_mps in 90.0f64..=280.0,
            heading_deg in 0.0f64..360.0,
            vertical_speed_mps in -40.0f64..=60.0,
            target_bearing_deg in 0.0f64..360.0,
            target_distance_m in 0.0f64..500_000.0,
            circle in proptest::prelude::any::<bool>(),
            clockwise in proptest::prelude::any::<bool>(),
            altitude_command_m in 0.0f64..15_000.0,
            speed_command_mps in 0.0f64..400.0,
        ) {
            let aircraft = fighter();
            let state = AircraftState {
                heading_rad: heading_deg.to_radians(),
                speed_mps,
                vertical_speed_mps,
                ..level(0.0)
            };
            let target = destination(state.position, target_bearing_deg.to_radians(), target_distance_m).0;
            let steer = if circle {
                Steer::Circle { center: target, radius_m: 8000.0, clockwise }
            } else {
                Steer::Toward(target)
            };
            let command = Command { steer, altitude_m: altitude_command_m, altitude_rate_mps: 0.0, speed_mps: speed_command_mps };
            let next = step(&state, &aircraft, &command, 1.0);
            let turned = wrap_pi(next.heading_rad - state.heading_rad).abs();
            proptest::prop_assert!(turned <= aircraft.turn_rate_rad_s + 1e-4, "turned {}", turned);
            proptest::prop_assert!(next.speed_mps >= aircraft.speed_min_mps && next.speed_mps <= aircraft.speed_max_mps);
            proptest::prop_assert!((next.speed_mps - state.speed_mps).abs() <= aircraft.acceleration_mps2 + 1e-9);
            proptest::prop_assert!(next.vertical_speed_mps <= aircraft.climb_rate_mps + 1e-9);
            proptest::prop_assert!(next.vertical_speed_mps >= -aircraft.descent_rate_mps - 1e-9);
            proptest::prop_assert!(
                (next.vertical_speed_mps - state.vertical_speed_mps).abs()
                    <= VERTICAL_ACCELERATION_MPS2_MAX + 1e-9
            );
            let moved_m = haversine_distance_m(state.position, next.position);
            proptest::prop_assert!((moved_m - 0.5 * (state.speed_mps + next.speed_mps)).abs() < 1e-6);
        }
    }
}
