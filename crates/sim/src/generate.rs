//! The generator: from a scenario and a seed, every sortie of the span, each with its
//! intent and the track it flies.
//!
//! Determinism: every random number comes from a ChaCha8 stream keyed by the seed, the
//! pattern's id and the sortie's place in the pattern's schedule, so the same seed gives
//! the same sorties whatever else the scenario holds, and iteration is over vectors only
//! (no hash-map order). Float results are identical on the same platform and build; the
//! transcendental functions of another libm may differ in the last bit.

use rand::{RngExt as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

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
}

impl GenerateOptions {
    pub fn with_seed(seed: u64) -> Self {
        GenerateOptions {
            seed,
            duration_s: None,
            track_step_s: None,
            rate_scale: 1.0,
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

/// Time added on both sides of the span when scheduling, beyond the sortie's own length,
/// so that sorties whose length varies from the nominal one are not missed.
const SCHEDULE_LOOKAROUND_S: f64 = 3600.0;
const RATE_SCALE_MAX: f64 = 10_000.0;

/// Generates the span's sorties: each scheduled sortie whose flight overlaps the span.
pub fn generate(
    scenario: &Scenario,
    options: &GenerateOptions,
    progress: &mut dyn FnMut(Progress),
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
    let span_start = scenario.start_unix_s;
    let span_end = span_start + duration_s as i64;

    // Schedule first, so the progress bar knows the total.
    let mut scheduled: Vec<(usize, u64, i64)> = Vec::new();
    for (pattern_index, pattern) in scenario.patterns.iter().enumerate() {
        let nominal = fly_nominal(scenario, pattern, options.seed)?;
        let before_s = nominal.1.on_station_s as f64;
        let after_s = (nominal.1.states.len() - nominal.1.on_station_s) as f64
            + scenario.planning.departure_delay_max_s as f64;
        let window_start = span_start as f64 - after_s * 1.5 - SCHEDULE_LOOKAROUND_S;
        let window_end = span_end as f64 + before_s * 1.5 + SCHEDULE_LOOKAROUND_S;
        let times = on_station_times(pattern, options, window_start, window_end);
        scheduled.extend(
            times
                .into_iter()
                .enumerate()
                .map(|(ordinal, time)| (pattern_index, ordinal as u64, time)),
        );
    }

    let mut intents = Vec::new();
    let mut flights = Vec::new();
    let mut kept_per_pattern = vec![0usize; scenario.patterns.len()];
    let total = scheduled.len();
    for (done, (pattern_index, ordinal, on_station_unix_s)) in scheduled.into_iter().enumerate() {
        let pattern = &scenario.patterns[pattern_index];
        let mut rng = stream(options.seed, &pattern.id, ordinal, Purpose::Sortie);
        let plan = plan_sortie(scenario, pattern, &mut rng);
        // Sorties at fixed times are coordinated events and leave on time; the others
        // leave up to the planning's delay late.
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
        progress(Progress {
            sorties_done: done + 1,
            sorties_total: total,
        });
        if landing_unix_s < span_start || departure_unix_s >= span_end {
            continue;
        }
        kept_per_pattern[pattern_index] += 1;
        let number = kept_per_pattern[pattern_index];
        let aircraft_id = format!("{}{:02}", pattern.callsign, number);
        let intent_id = format!("{}-{:03}", pattern.id, number);
        let volumes = plan_volumes(
            &plan,
            &trajectory,
            planned_departure_unix_s,
            &scenario.planning,
        );
        let track = sample_track(
            &trajectory,
            departure_unix_s,
            span_start,
            span_end,
            track_step_s,
        );
        intents.push(Intent {
            id: intent_id.clone(),
            party: pattern.party.clone(),
            aircraft_id: aircraft_id.clone(),
            volumes,
        });
        flights.push(Flight {
            aircraft_id,
            party: pattern.party.clone(),
            intent_id,
            pattern_id: pattern.id.clone(),
            aircraft_type: pattern.aircraft,
            departure_unix_s,
            landing_unix_s,
            planned_departure_unix_s,
            on_station_unix_s,
            track,
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

fn on_station_times(
    pattern: &Pattern,
    options: &GenerateOptions,
    window_start: f64,
    window_end: f64,
) -> Vec<i64> {
    match &pattern.schedule {
        Schedule::At(times) => times.clone(),
        Schedule::Rate { sorties_per_hour } => {
            let rate_per_s = sorties_per_hour * options.rate_scale / 3600.0;
            if rate_per_s <= 0.0 {
                return Vec::new();
            }
            // A Poisson process: exponential gaps between on-station times.
            let mut rng = stream(options.seed, &pattern.id, 0, Purpose::Schedule);
            let mut times = Vec::new();
            let mut time = window_start;
            loop {
                let uniform: f64 = rng.random::<f64>();
                time += -(1.0 - uniform).ln() / rate_per_s;
                if time >= window_end {
                    break;
                }
                times.push(time.floor() as i64);
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
    Schedule = 1,
    Sortie = 2,
    Nominal = 3,
}

/// The random stream for one purpose of one pattern: the seed, a hash of the pattern's id,
/// the ordinal and the purpose make the 32-byte ChaCha key.
fn stream(seed: u64, pattern_id: &str, ordinal: u64, purpose: Purpose) -> ChaCha8Rng {
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
