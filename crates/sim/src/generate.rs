//! The generator: from a scenario and a seed, every sortie of the span, each with its
//! intent and the track it flies.
//!
//! Determinism: every random number comes from a ChaCha8 stream keyed by the seed, the
//! pattern's id and the sortie's place in the pattern's schedule, so the same seed gives
//! the same sorties whatever else the scenario holds, and iteration is over vectors only
//! (no hash-map order). Float results are identical on the same platform and build; the
//! transcendental functions of another libm may differ in the last bit.

use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::flight::{fly_sortie, plan_sortie, FlightError, SortiePlan, Trajectory};
use crate::intents::{plan_volumes, PlannedVolume};
use crate::kinematics::AircraftState;
use crate::scenario::{Pattern, Scenario, Schedule};

/// What to generate beyond what the scenario says.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub seed: u64,
    /// Overrides the scenario's `duration_s`.
    pub duration_s: Option<u64>,
    /// Overrides the scenario's `track_step_s`.
    pub track_step_s: Option<u64>,
    /// Multiplies every pattern's `sorties_per_hour` (fixed on-station times are kept).
    pub rate_scale: f64,
    /// Moves the whole scenario in time: the span starts here (Unix seconds) instead of
    /// at the scenario's `start`, and fixed on-station times move by the same amount.
    pub start_unix_s: Option<i64>,
}

impl GenerateOptions {
    pub fn with_seed(seed: u64) -> Self {
        GenerateOptions {
            seed,
            duration_s: None,
            track_step_s: None,
            rate_scale: 1.0,
            start_unix_s: None,
        }
    }
}

/// Why generation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenerateError {
    #[error("{0}")]
    Flight(#[from] FlightError),
    #[error("{option} {problem}")]
    Option {
        option: &'static str,
        problem: String,
    },
}

/// Everything generated for one span.
#[derive(Debug, Clone)]
pub struct Generated {
    pub scenario_name: String,
    pub seed: u64,
    pub start_unix_s: i64,
    pub duration_s: u64,
    pub track_step_s: u64,
    pub intents: Vec<Intent>,
    pub flights: Vec<Flight>,
}

/// A sortie's filed intent.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub id: String,
    pub party: String,
    /// The aircraft that flies it.
    pub aircraft_id: String,
    pub volumes: Vec<PlannedVolume>,
}

/// A sortie as flown, with its states at the track step inside the span.
#[derive(Debug, Clone)]
pub struct Flight {
    pub aircraft_id: String,
    pub party: String,
    pub intent_id: String,
    pub pattern_id: String,
    pub aircraft_type: usize,
    /// Actual take-off and landing (Unix seconds; possibly outside the span).
    pub departure_unix_s: i64,
    pub landing_unix_s: i64,
    /// The planned take-off; the actual one is later by the sortie's departure delay.
    pub planned_departure_unix_s: i64,
    /// The time the schedule put the sortie on station.
    pub on_station_unix_s: i64,
    pub track: Vec<TrackState>,
}

/// One state vector of a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackState {
    pub time_unix_s: i64,
    pub state: AircraftState,
}

/// Progress of a generation, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub sorties_done: usize,
    pub sorties_total: usize,
}

/// Time added on both sides of the span when scheduling, beyond the sortie's own length
/// (itself taken a quarter longer), so that sorties longer than the nominal one (slower,
/// or with their target on the far side of the area) are not missed.
const SCHEDULE_LOOKAROUND_S: f64 = 1800.0;
const SCHEDULE_LENGTH_FACTOR: f64 = 1.25;
const RATE_SCALE_MAX: f64 = 10_000.0;
/// The most sorties one run schedules (each is flown second by second).
pub const SORTIES_SCHEDULED_MAX: usize = 1_000_000;

/// Generates the span's sorties: each scheduled sortie whose flight overlaps the span.
pub fn generate(
    scenario: &Scenario,
    options: &GenerateOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Generated, GenerateError> {
    let duration_s = options.duration_s.unwrap_or(scenario.duration_s);
    if duration_s == 0 || duration_s > 7 * 24 * 3600 {
        return Err(GenerateError::Option {
            option: "duration",
            problem: "must be 1 second to 7 days".into(),
        });
    }
    let track_step_s = options.track_step_s.unwrap_or(scenario.track_step_s);
    if track_step_s == 0 || track_step_s > 3600 {
        return Err(GenerateError::Option {
            option: "step",
            problem: "must be 1 to 3600 seconds".into(),
        });
    }
    if !options.rate_scale.is_finite() || !(0.0..=RATE_SCALE_MAX).contains(&options.rate_scale) {
        return Err(GenerateError::Option {
            option: "rate scale",
            problem: format!("must be 0 to {RATE_SCALE_MAX}"),
        });
    }
    let span_start = options.start_unix_s.unwrap_or(scenario.start_unix_s);
    let shift_s = span_start - scenario.start_unix_s;
    let span_end = span_start + duration_s as i64;

    // Schedule first, so the progress bar knows the total.
    let mut scheduled: Vec<(usize, i64, i64)> = Vec::new();
    for (pattern_index, pattern) in scenario.patterns.iter().enumerate() {
        let nominal = fly_nominal(scenario, pattern, options.seed)?;
        let before_s = nominal.1.on_station_s as f64;
        let after_s = (nominal.1.states.len() - nominal.1.on_station_s) as f64
            + scenario.planning.departure_delay_max_s as f64;
        let window_start =
            span_start as f64 - after_s * SCHEDULE_LENGTH_FACTOR - SCHEDULE_LOOKAROUND_S;
        let window_end =
            span_end as f64 + before_s * SCHEDULE_LENGTH_FACTOR + SCHEDULE_LOOKAROUND_S;
        if let Schedule::Rate { sorties_per_hour } = pattern.schedule {
            // Refuse before drawing the schedule, not after holding it in memory.
            let expected =
                sorties_per_hour * options.rate_scale / 3600.0 * (window_end - window_start);
            if expected > SORTIES_SCHEDULED_MAX as f64 {
                return Err(GenerateError::Option {
                    option: "rate scale",
                    problem: format!(
                        "would schedule about {expected:.0} sorties of {:?}, more than the \
                         {SORTIES_SCHEDULED_MAX} one run may fly; use a lower rate scale or \
                         a shorter duration",
                        pattern.id
                    ),
                });
            }
        }
        let times = on_station_times(
            pattern,
            options,
            shift_s,
            span_start,
            window_start,
            window_end,
        );
        scheduled.extend(
            times
                .into_iter()
                .map(|(ordinal, time)| (pattern_index, ordinal, time)),
        );
    }

    if scheduled.len() > SORTIES_SCHEDULED_MAX {
        return Err(GenerateError::Option {
            option: "rate scale",
            problem: format!(
                "schedules {} sorties, more than the {SORTIES_SCHEDULED_MAX} one run may fly; \
                 use a lower rate scale or a shorter duration",
                scheduled.len()
            ),
        });
    }

    // Sorties are independent (each has its own random stream), so they are flown in
    // parallel; the results come back in schedule order, which keeps the output the same
    // whatever the number of threads.
    let total = scheduled.len();
    let done = AtomicUsize::new(0);
    let flown: Vec<Result<Option<FlownSortie>, GenerateError>> = scheduled
        .par_iter()
        .map(|&(pattern_index, ordinal, on_station_unix_s)| {
            let sortie = fly_scheduled(
                scenario,
                pattern_index,
                ordinal,
                on_station_unix_s,
                options.seed,
                span_start..span_end,
                track_step_s,
            );
            progress(Progress {
                sorties_done: done.fetch_add(1, Ordering::Relaxed) + 1,
                sorties_total: total,
            });
            sortie
        })
        .collect();

    let mut intents = Vec::new();
    let mut flights = Vec::new();
    let mut kept_per_pattern = vec![0usize; scenario.patterns.len()];
    for sortie in flown {
        let Some(sortie) = sortie? else {
            continue;
        };
        let pattern = &scenario.patterns[sortie.pattern_index];
        kept_per_pattern[sortie.pattern_index] += 1;
        let number = kept_per_pattern[sortie.pattern_index];
        let aircraft_id = format!("{}{:02}", pattern.callsign, number);
        let intent_id = format!("{}-{:03}", pattern.id, number);
        intents.push(Intent {
            id: intent_id.clone(),
            party: pattern.party.clone(),
            aircraft_id: aircraft_id.clone(),
            volumes: sortie.volumes,
        });
        flights.push(Flight {
            aircraft_id,
            party: pattern.party.clone(),
            intent_id,
            pattern_id: pattern.id.clone(),
            aircraft_type: pattern.aircraft,
            departure_unix_s: sortie.departure_unix_s,
            landing_unix_s: sortie.landing_unix_s,
            planned_departure_unix_s: sortie.planned_departure_unix_s,
            on_station_unix_s: sortie.on_station_unix_s,
            track: sortie.track,
        });
    }
    intents.sort_by(|a, b| a.id.cmp(&b.id));
    flights.sort_by(|a, b| a.aircraft_id.cmp(&b.aircraft_id));
    Ok(Generated {
        scenario_name: scenario.name.clone(),
        seed: options.seed,
        start_unix_s: span_start,
        duration_s,
        track_step_s,
        intents,
        flights,
    })
}

/// A scheduled sortie once flown, before it is numbered.
struct FlownSortie {
    pattern_index: usize,
    volumes: Vec<PlannedVolume>,
    track: Vec<TrackState>,
    departure_unix_s: i64,
    landing_unix_s: i64,
    planned_departure_unix_s: i64,
    on_station_unix_s: i64,
}

/// Plans and flies one scheduled sortie; `None` when its flight misses the span.
fn fly_scheduled(
    scenario: &Scenario,
    pattern_index: usize,
    ordinal: i64,
    on_station_unix_s: i64,
    seed: u64,
    span: std::ops::Range<i64>,
    track_step_s: u64,
) -> Result<Option<FlownSortie>, GenerateError> {
    let pattern = &scenario.patterns[pattern_index];
    let mut rng = stream(seed, &pattern.id, ordinal, Purpose::Sortie);
    let plan = plan_sortie(scenario, pattern, &mut rng);
    // Sorties at fixed times are coordinated events and leave on time; the others leave up
    // to the planning's delay late.
    let delay_s = match pattern.schedule {
        Schedule::At(_) => 0,
        Schedule::Rate { .. } => {
            rng.random_range(0..=scenario.planning.departure_delay_max_s) as i64
        }
    };
    let trajectory = fly(scenario, pattern, &plan)?;
    let planned_departure_unix_s = on_station_unix_s - trajectory.on_station_s as i64;
    let departure_unix_s = planned_departure_unix_s + delay_s;
    let landing_unix_s = departure_unix_s + trajectory.states.len() as i64 - 1;
    if landing_unix_s < span.start || departure_unix_s >= span.end {
        return Ok(None);
    }
    Ok(Some(FlownSortie {
        pattern_index,
        volumes: plan_volumes(
            &plan,
            &trajectory,
            planned_departure_unix_s,
            &scenario.planning,
        ),
        track: sample_track(
            &trajectory,
            departure_unix_s,
            span.start,
            span.end,
            track_step_s,
        ),
        departure_unix_s,
        landing_unix_s,
        planned_departure_unix_s,
        on_station_unix_s,
    }))
}

/// A sortie of the pattern flown with a stream of its own, to measure how long its
/// sorties take before and after their time on station.
fn fly_nominal(
    scenario: &Scenario,
    pattern: &Pattern,
    seed: u64,
) -> Result<(SortiePlan, Trajectory), GenerateError> {
    let mut rng = stream(seed, &pattern.id, 0, Purpose::Nominal);
    let plan = plan_sortie(scenario, pattern, &mut rng);
    let trajectory = fly(scenario, pattern, &plan)?;
    Ok((plan, trajectory))
}

fn fly(
    scenario: &Scenario,
    pattern: &Pattern,
    plan: &SortiePlan,
) -> Result<Trajectory, GenerateError> {
    Ok(fly_sortie(
        plan,
        &scenario.aircraft_types[pattern.aircraft],
        &scenario.bases[pattern.base],
        &pattern.id,
    )?)
}

/// The pattern's on-station times inside the window, each with its ordinal (which keys the
/// sortie's random stream).
///
/// A rate gives a Poisson process anchored at the span's start: forwards from it with one
/// stream (ordinals 0, 1, 2, ...) and backwards with another (-1, -2, ...). Each sortie
/// thus depends only on the seed and its place relative to the start, so a longer span
/// holds every sortie of a shorter one with the same take-off and track.
fn on_station_times(
    pattern: &Pattern,
    options: &GenerateOptions,
    shift_s: i64,
    anchor_unix_s: i64,
    window_start: f64,
    window_end: f64,
) -> Vec<(i64, i64)> {
    match &pattern.schedule {
        Schedule::At(times) => times
            .iter()
            .enumerate()
            .map(|(index, time)| (index as i64, time + shift_s))
            .collect(),
        Schedule::Rate { sorties_per_hour } => {
            let rate_per_s = sorties_per_hour * options.rate_scale / 3600.0;
            if rate_per_s <= 0.0 {
                return Vec::new();
            }
            let gap_s = |rng: &mut ChaCha8Rng| {
                // Exponential gaps; 1 - u lies in (0, 1], so the logarithm is finite.
                let uniform: f64 = rng.random::<f64>();
                -(1.0 - uniform).ln() / rate_per_s
            };
            let anchor = anchor_unix_s as f64;
            let mut backwards = Vec::new();
            let mut rng = stream(options.seed, &pattern.id, 0, Purpose::ScheduleBackward);
            let mut time = anchor;
            let mut ordinal = 0i64;
            loop {
                time -= gap_s(&mut rng);
                ordinal -= 1;
                if time < window_start {
                    break;
                }
                backwards.push((ordinal, time.floor() as i64));
            }
            backwards.reverse();
            let mut times = backwards;
            let mut rng = stream(options.seed, &pattern.id, 0, Purpose::ScheduleForward);
            let mut time = anchor;
            let mut ordinal = 0i64;
            loop {
                time += gap_s(&mut rng);
                if time >= window_end {
                    break;
                }
                times.push((ordinal, time.floor() as i64));
                ordinal += 1;
            }
            times
        }
    }
}

fn sample_track(
    trajectory: &Trajectory,
    departure_unix_s: i64,
    span_start: i64,
    span_end: i64,
    track_step_s: u64,
) -> Vec<TrackState> {
    let step = track_step_s as i64;
    let landing_unix_s = departure_unix_s + trajectory.states.len() as i64 - 1;
    // The first grid time (span_start + k·step) at or after take-off.
    let first = if departure_unix_s <= span_start {
        span_start
    } else {
        span_start + (departure_unix_s - span_start + step - 1) / step * step
    };
    let mut track = Vec::new();
    let mut time = first;
    while time < span_end && time <= landing_unix_s {
        let index = (time - departure_unix_s) as usize;
        track.push(TrackState {
            time_unix_s: time,
            state: trajectory.states[index],
        });
        time += step;
    }
    track
}

#[derive(Debug, Clone, Copy)]
enum Purpose {
    ScheduleForward = 1,
    Sortie = 2,
    Nominal = 3,
    ScheduleBackward = 4,
}

/// The random stream for one purpose of one pattern: the seed, a hash of the pattern's id,
/// the ordinal and the purpose make the 32-byte ChaCha key.
fn stream(seed: u64, pattern_id: &str, ordinal: i64, purpose: Purpose) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[0..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&fnv1a_64(pattern_id.as_bytes()).to_le_bytes());
    key[16..24].copy_from_slice(&ordinal.to_le_bytes());
    key[24..32].copy_from_slice(&(purpose as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// FNV-1a, a fixed and portable hash (the standard library's hasher may change between
/// releases, which would change every generated file).
fn fnv1a_64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
