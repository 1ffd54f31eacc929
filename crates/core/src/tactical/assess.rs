//! The exact test of one pair: the interval of time over which the criterion is violated,
//! and the figures reported for a conflicting pair.
//!
//! Along straight-line relative motion every quantity of both criteria is a polynomial of
//! degree at most two in t, so each axis is violated over one interval whose ends are
//! roots of those polynomials; the pair conflicts when the horizontal interval, the
//! vertical interval and [0, T] share a point. Interval ends carry whether they belong to
//! the interval, so strict and inclusive thresholds are kept apart exactly.
//!
//! Horizontal, with `f(t) = |s + v t|² - D²`:
//! * cylinder (`D = H`): violated on the open interval between the roots of `f`;
//! * well clear (`D = DTHR`): `|s(t)| < DTHR` between the roots of `f`; before the first
//!   root, `tau_mod(t) <= TTHR` with the pair closing is `2 f(t) + TTHR f'(t) <= 0`, i.e.
//!   `a t² + (b + a TTHR) t + (c + TTHR b / 2) <= 0` with `a = |v|²`, `b = 2 s·v`,
//!   `c = |s|² - DTHR²`; its first root `t_a` comes no later than the first root of `f`,
//!   so the violation is `[t_a, second root of f)`, provided `dcpa < DTHR` (otherwise
//!   never).
//!
//! Vertical, with `z(t) = sz + vz t`:
//! * cylinder: `|z(t)| < V`, an open interval (everything or nothing when `vz = 0`);
//! * well clear: `|z(t)| < ZTHR`, or `t` in `[t_coa - TCOA, t_coa]` (time to co-altitude in
//!   [0, TCOA]); their union runs from the earlier entry to the exit of `|z| < ZTHR`.

use super::frame::{bands_overlap, within_reach, PreparedAircraft, RelativeMotion};
use super::params::{DetectionParams, TacticalCriterion};
use super::state::AircraftState;

/// How urgent a conflict is, by its time to loss of separation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertLevel {
    /// Loss of separation within the lookahead, later than `caution_s`.
    Advisory,
    /// Loss of separation at or before `caution_s`.
    Caution,
    /// Loss of separation at or before `warning_s`, or already lost.
    Warning,
}

impl AlertLevel {
    /// The contract's lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Advisory => "advisory",
            Self::Caution => "caution",
            Self::Warning => "warning",
        }
    }
}

/// The figures of one conflicting pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairAssessment {
    pub level: AlertLevel,
    /// First time in [0, T] at which the criterion is violated; 0 when it already is.
    pub time_to_los_s: f64,
    /// Time of closest horizontal approach, clamped to [0, T] (0 when the pair does not
    /// move relative to each other): the closest approach within the lookahead.
    pub tcpa_s: f64,
    /// Horizontal distance at `tcpa_s`.
    pub dcpa_m: f64,
    /// Horizontal distance now.
    pub distance_m: f64,
    /// Vertical distance now (absolute).
    pub vertical_m: f64,
}

/// One end of an interval of time, with whether it belongs to the interval.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    t: f64,
    closed: bool,
}

/// An interval of time over which one axis is violated. Ends may be infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    low: Bound,
    high: Bound,
}

impl Span {
    const ALWAYS: Span = Span {
        low: Bound {
            t: f64::NEG_INFINITY,
            closed: false,
        },
        high: Bound {
            t: f64::INFINITY,
            closed: false,
        },
    };

    fn open(low: f64, high: f64) -> Span {
        Span {
            low: Bound {
                t: low,
                closed: false,
            },
            high: Bound {
                t: high,
                closed: false,
            },
        }
    }

    fn intersect(self, other: Span) -> Span {
        let low = if self.low.t > other.low.t {
            self.low
        } else if other.low.t > self.low.t {
            other.low
        } else {
            Bound {
                t: self.low.t,
                closed: self.low.closed && other.low.closed,
            }
        };
        let high = if self.high.t < other.high.t {
            self.high
        } else if other.high.t < self.high.t {
            other.high
        } else {
            Bound {
                t: self.high.t,
                closed: self.high.closed && other.high.closed,
            }
        };
        Span { low, high }
    }

    fn is_empty(&self) -> bool {
        !(self.low.t < self.high.t
            || (self.low.t == self.high.t && self.low.closed && self.high.closed))
    }
}

/// Roots of `a t² + b t + c` for `a > 0` and a positive discriminant, in increasing order,
/// computed without cancellation.
fn roots(a: f64, b: f64, c: f64, discriminant: f64) -> (f64, f64) {
    let q = -0.5 * (b + discriminant.sqrt().copysign(b));
    if q == 0.0 {
        // b = 0 and the discriminant is 0: a double root at 0 (not reached when the
        // discriminant is positive, kept for safety).
        return (0.0, 0.0);
    }
    let (r1, r2) = (q / a, c / q);
    if r1 <= r2 {
        (r1, r2)
    } else {
        (r2, r1)
    }
}

fn cylinder_horizontal(m: &RelativeMotion, horizontal_m: f64) -> Option<Span> {
    let c = m.ss - horizontal_m * horizontal_m;
    if m.vv == 0.0 {
        return (c < 0.0).then_some(Span::ALWAYS);
    }
    let b = 2.0 * m.sv;
    let discriminant = b * b - 4.0 * m.vv * c;
    if discriminant <= 0.0 {
        return None;
    }
    let (t1, t2) = roots(m.vv, b, c, discriminant);
    Some(Span::open(t1, t2))
}

fn cylinder_vertical(m: &RelativeMotion, vertical_m: f64) -> Option<Span> {
    if m.vz == 0.0 {
        return (m.sz.abs() < vertical_m).then_some(Span::ALWAYS);
    }
    let t1 = (-vertical_m - m.sz) / m.vz;
    let t2 = (vertical_m - m.sz) / m.vz;
    Some(Span::open(t1.min(t2), t1.max(t2)))
}

fn well_clear_horizontal(m: &RelativeMotion, dthr_m: f64, tthr_s: f64) -> Option<Span> {
    let c = m.ss - dthr_m * dthr_m;
    if m.vv == 0.0 {
        return (c < 0.0).then_some(Span::ALWAYS);
    }
    let a = m.vv;
    let b = 2.0 * m.sv;
    let discriminant = b * b - 4.0 * a * c;
    if discriminant <= 0.0 {
        // The relative line never comes within DTHR: dcpa >= DTHR.
        return None;
    }
    let (_, exit) = roots(a, b, c, discriminant);
    // The discriminant of the tau_mod polynomial is the one of f plus (a TTHR)², so it is
    // positive too.
    let b_tau = b + a * tthr_s;
    let c_tau = c + 0.5 * tthr_s * b;
    let discriminant_tau = b_tau * b_tau - 4.0 * a * c_tau;
    let (entry, _) = roots(a, b_tau, c_tau, discriminant_tau.max(discriminant));
    Some(Span {
        low: Bound {
            t: entry,
            closed: true,
        },
        high: Bound {
            t: exit,
            closed: false,
        },
    })
}

fn well_clear_vertical(m: &RelativeMotion, zthr_m: f64, tcoa_s: f64) -> Option<Span> {
    if m.vz == 0.0 {
        return (m.sz.abs() < zthr_m).then_some(Span::ALWAYS);
    }
    let t1 = (-zthr_m - m.sz) / m.vz;
    let t2 = (zthr_m - m.sz) / m.vz;
    let (z_entry, z_exit) = (t1.min(t2), t1.max(t2));
    let coaltitude_s = -m.sz / m.vz;
    let coa_entry = coaltitude_s - tcoa_s;
    let low = if coa_entry < z_entry {
        Bound {
            t: coa_entry,
            closed: true,
        }
    } else if coa_entry == z_entry {
        Bound {
            t: z_entry,
            closed: true,
        }
    } else {
        Bound {
            t: z_entry,
            closed: false,
        }
    };
    Some(Span {
        low,
        high: Bound {
            t: z_exit,
            closed: false,
        },
    })
}

/// The interval over which the criterion is violated, intersected with [0, T]; `None` when
/// that is empty.
fn violation(m: &RelativeMotion, params: &DetectionParams) -> Option<Span> {
    let (horizontal, vertical) = match params.criterion() {
        TacticalCriterion::Cylinder(c) => (
            cylinder_horizontal(m, c.horizontal_m())?,
            cylinder_vertical(m, c.vertical_m())?,
        ),
        TacticalCriterion::WellClear(w) => (
            well_clear_horizontal(m, w.dthr_m(), w.tthr_s())?,
            well_clear_vertical(m, w.zthr_m(), w.tcoa_s())?,
        ),
    };
    let lookahead = Span {
        low: Bound {
            t: 0.0,
            closed: true,
        },
        high: Bound {
            t: params.lookahead_s(),
            closed: true,
        },
    };
    let span = horizontal.intersect(vertical).intersect(lookahead);
    (!span.is_empty()).then_some(span)
}

/// The figures of a pair from its relative motion, when it conflicts.
pub(crate) fn assess_motion(
    m: &RelativeMotion,
    params: &DetectionParams,
) -> Option<PairAssessment> {
    let span = violation(m, params)?;
    let time_to_los_s = span.low.t.max(0.0);
    let lookahead_s = params.lookahead_s();
    let tcpa_s = if m.vv > 0.0 {
        (-m.sv / m.vv).clamp(0.0, lookahead_s)
    } else {
        0.0
    };
    let dcpa_sq = m.ss + 2.0 * tcpa_s * m.sv + tcpa_s * tcpa_s * m.vv;
    let thresholds = params.alert();
    let level = if time_to_los_s <= thresholds.warning_s() {
        AlertLevel::Warning
    } else if time_to_los_s <= thresholds.caution_s() {
        AlertLevel::Caution
    } else {
        AlertLevel::Advisory
    };
    Some(PairAssessment {
        level,
        time_to_los_s,
        tcpa_s,
        // Rounding can leave a hair below zero at an exact encounter.
        dcpa_m: dcpa_sq.max(0.0).sqrt(),
        distance_m: m.ss.sqrt(),
        vertical_m: m.sz.abs(),
    })
}

/// The exact test on two prepared aircraft: the single definition of a conflicting pair
/// that both the grid and the exhaustive detector apply.
///
/// The party, band and reach checks come first; each only discards pairs that the
/// criterion could not flag (see [`PreparedAircraft`]), and they make the broad phase's
/// bounds part of the definition, so the grid and the exhaustive check agree exactly.
#[inline]
pub(crate) fn assess_prepared(
    a: &PreparedAircraft,
    b: &PreparedAircraft,
    params: &DetectionParams,
) -> Option<PairAssessment> {
    if a.party == b.party || !bands_overlap(a, b) || !within_reach(a, b) {
        return None;
    }
    let motion = RelativeMotion::between(a, b)?;
    assess_motion(&motion, params)
}

/// Whether two aircraft conflict under `params`, and if so the figures of the pair. `a`
/// and `b` may be given in either order: the figures are the same.
pub fn assess_pair(
    a: &AircraftState,
    b: &AircraftState,
    params: &DetectionParams,
) -> Option<PairAssessment> {
    assess_prepared(
        &PreparedAircraft::new(a, params),
        &PreparedAircraft::new(b, params),
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tactical::{AlertThresholds, PartyIndex, WellClearThresholds};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The band and reach checks must never discard a pair the criterion flags: on random
    /// pairs (anywhere, up to a few hundred kilometres apart, fast and climbing), the
    /// filtered test and the bare criterion in the common frame agree exactly.
    #[test]
    fn the_cheap_bounds_never_discard_a_pair_the_criterion_flags() {
        let seed = 17;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let criteria = [
            TacticalCriterion::default(),
            TacticalCriterion::WellClear(WellClearThresholds::default()),
            TacticalCriterion::WellClear(
                WellClearThresholds::new(5000.0, 300.0, 60.0, 30.0).unwrap(),
            ),
        ];
        let mut conflicts = 0;
        for case in 0..200_000 {
            let params = DetectionParams::new(
                criteria[case % 3],
                rng.random_range(0.0..600.0),
                AlertThresholds::default(),
            )
            .unwrap();
            let lat = rng.random_range(-90.0..=90.0);
            let lon = rng.random_range(-180.0..=180.0);
            let spread = rng.random_range(0.0..3.0);
            let other_lat: f64 = lat + rng.random_range(-spread..=spread);
            let other_lon: f64 = lon + rng.random_range(-spread..=spread);
            let state = |party, lat: f64, lon: f64, rng: &mut ChaCha8Rng| {
                let speed = rng.random_range(0.0..700.0);
                let heading = rng.random_range(0.0..std::f64::consts::TAU);
                AircraftState::new(
                    PartyIndex(party),
                    lat.clamp(-90.0, 90.0),
                    ((lon + 180.0).rem_euclid(360.0) - 180.0).clamp(-180.0, 180.0),
                    rng.random_range(0.0..3000.0),
                    speed * heading.cos(),
                    speed * heading.sin(),
                    rng.random_range(-30.0..30.0),
                )
                .unwrap()
            };
            let a = PreparedAircraft::new(&state(0, lat, lon, &mut rng), &params);
            let b = PreparedAircraft::new(&state(1, other_lat, other_lon, &mut rng), &params);
            let bare = RelativeMotion::between(&a, &b).and_then(|m| assess_motion(&m, &params));
            assert_eq!(
                assess_prepared(&a, &b, &params),
                bare,
                "seed {seed}, case {case}"
            );
            conflicts += usize::from(bare.is_some());
        }
        assert!(
            conflicts > 1000,
            "too few conflicts to mean anything: {conflicts}"
        );
    }

    #[test]
    fn interval_ends_respect_strict_and_inclusive_thresholds() {
        // A stationary pair exactly at the horizontal minimum is separated under the
        // cylinder (strict) ...
        let m = RelativeMotion {
            ss: 9260.0 * 9260.0,
            sv: 0.0,
            vv: 0.0,
            sz: 0.0,
            vz: 0.0,
        };
        assert_eq!(assess_motion(&m, &DetectionParams::default()), None);
        // ... and a pair whose loss would begin exactly at the lookahead's end is not in
        // conflict, while one that touches the minimum only at its closest point is not
        // either.
        let m = RelativeMotion {
            ss: 10_260.0 * 10_260.0,
            sv: -10_260.0 * 1000.0 / 300.0,
            vv: (1000.0f64 / 300.0).powi(2),
            sz: 0.0,
            vz: 0.0,
        };
        assert_eq!(assess_motion(&m, &DetectionParams::default()), None);
        let touching = RelativeMotion {
            ss: 9260.0 * 9260.0 + 100.0 * 100.0,
            sv: -100.0 * 50.0,
            vv: 50.0 * 50.0,
            sz: 0.0,
            vz: 0.0,
        };
        // s = (100, 9260), v = (-50, 0): closest exactly 9260 m at t = 2 s.
        assert_eq!(assess_motion(&touching, &DetectionParams::default()), None);
    }
}
