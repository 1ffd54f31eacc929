//! Driving a running service over its HTTP API, as each party with its own token: filing,
//! activating and ending intents, and streaming track reports, paced to the service's
//! clock.
//!
//! A drive is a list of [`TimedAction`]s in scenario time, made by [`plan_scenario`] from a
//! generated scenario or by [`plan_recorded`] from recorded traffic, and played by
//! [`Driver::run`]: each action waits until the [`Pace`] (the service's clock as the
//! driver reckons it: a reading taken at a real instant, running `speed` times as fast)
//! reaches its time, then becomes one request. Every answer is counted in
//! [`DriveCounters`] (shared, so a progress display can read them while the drive runs);
//! every error the service answers is counted by request and status with the first few
//! details kept, never dropped.
//!
//! The requests: `PUT /v1/intents/{id}` (created `accepted`, then `activated` at take-off
//! and `ended` after landing, quoting the version each answer gave), `POST /v1/tracks`
//! (one batch per party per track step, split at [`TRACK_BATCH_STATES_MAX`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat};
use deconflict_wire::tracks::TrackRow;
use deconflict_wire::volume::Volume4DJson;
use serde_json::{json, Value};

use crate::generate::Generated;
use crate::output::volume_json;

/// The most state vectors one `POST /v1/tracks` carries (about 150 bytes each, far below
/// the service's 1 MiB body limit).
pub const TRACK_BATCH_STATES_MAX: usize = 1000;
/// Track reports older than this (scenario time) when their turn comes are not sent: the
/// service would ignore them as expired (its default expiry is 30 s). They are counted.
pub const TRACK_LATE_MAX_MS: i64 = 20_000;
/// The longest a driver sleeps at once, so that a stop request is seen promptly.
const SLEEP_SLICE_MAX: Duration = Duration::from_millis(100);
/// Error details kept for the report (every error is counted).
pub const ERROR_EXAMPLES_MAX: usize = 10;
/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const _: () = assert!(TRACK_BATCH_STATES_MAX * 200 < 1024 * 1024);

/// The service's clock as the driver reckons it: it read `reading_ms` at the real instant
/// `origin` and runs `speed` times as fast as real time (1 for a service on the system
/// clock, the `--clock-speed` of a service on a scaled clock).
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub reading_ms: i64,
    pub origin: Instant,
    pub speed: f64,
}

impl Pace {
    /// The reckoned reading of the service's clock now.
    pub fn now_ms(&self) -> i64 {
        let scaled_ms = (self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed).floor();
        self.reading_ms.saturating_add(scaled_ms as i64)
    }

    /// Real time until the service's clock reads `at_ms` (zero if it has).
    pub fn real_time_until(&self, at_ms: i64) -> Duration {
        let scaled_ms = at_ms.saturating_sub(self.reading_ms) as f64;
        let target = Duration::from_secs_f64((scaled_ms / self.speed / 1000.0).max(0.0));
        target.saturating_sub(self.origin.elapsed())
    }
}

/// One state vector as `POST /v1/tracks` takes it (SI units, time in Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct StateVector {
    pub time_ms: i64,
    pub id: String,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_m: f64,
    pub vn_mps: f64,
    pub ve_mps: f64,
    pub vu_mps: f64,
}

impl StateVector {
    fn to_json(&self) -> Value {
        json!({
            "time": rfc3339_ms(self.time_ms),
            "id": self.id,
            "lat": self.lat_deg,
            "lon": self.lon_deg,
            "alt_m": self.alt_m,
            "vn_mps": self.vn_mps,
            "ve_mps": self.ve_mps,
            "vu_mps": self.vu_mps,
        })
    }
}

/// What a party does at one moment.
#[derive(Debug, Clone)]
pub enum Action {
    /// Create the intent (state `accepted`).
    File {
        intent_id: String,
        volumes: Arc<Vec<Volume4DJson>>,
    },
    /// Move the filed intent to `activated` (take-off).
    Activate { intent_id: String },
    /// Move the filed intent to `ended` (after landing).
    End { intent_id: String },
    /// Report the party's aircraft.
    Tracks { states: Vec<StateVector> },
}

impl Action {
    /// Order among actions at the same time: plans before the reports that fly them.
    fn rank(&self) -> u8 {
        match self {
            Action::File { .. } => 0,
            Action::Activate { .. } => 1,
            Action::Tracks { .. } => 2,
            Action::End { .. } => 3,
        }
    }
}

/// An action, its party and its time (Unix milliseconds, scenario time).
#[derive(Debug, Clone)]
pub struct TimedAction {
    pub at_ms: i64,
    pub party: String,
    pub action: Action,
}

fn sort_actions(actions: &mut [TimedAction]) {
    actions.sort_by(|a, b| {
        a.at_ms
            .cmp(&b.at_ms)
            .then(a.action.rank().cmp(&b.action.rank()))
            .then_with(|| a.party.cmp(&b.party))
    });
}

/// How a generated scenario is played.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScenarioPlanOptions {
    /// Each sortie's intent is filed this long before its planned take-off (scenario
    /// seconds).
    pub intent_lead_s: i64,
}

impl Default for ScenarioPlanOptions {
    fn default() -> Self {
        ScenarioPlanOptions {
            intent_lead_s: 1800,
        }
    }
}

/// The actions of a generated scenario: each sortie's intent filed `intent_lead_s` before
/// its planned take-off, activated at take-off and ended one track step after landing
/// (when that is inside the span; a sortie still flying at the span's end stays activated);
/// each party's track states, one batch per party per track step. Sorties already
/// airborne at the span's start (or whose filing time is before it) are filed at the
/// start. Actions are in time order.
pub fn plan_scenario(generated: &Generated, options: &ScenarioPlanOptions) -> Vec<TimedAction> {
    let span_start_ms = generated.start_unix_s * 1000;
    let step_ms = generated.track_step_s as i64 * 1000;
    let span_end_ms = span_start_ms + generated.duration_s as i64 * 1000;
    let mut actions = Vec::new();
    let intents: BTreeMap<&str, &crate::generate::Intent> = generated
        .intents
        .iter()
        .map(|intent| (intent.id.as_str(), intent))
        .collect();
    for flight in &generated.flights {
        let Some(intent) = intents.get(flight.intent_id.as_str()) else {
            continue;
        };
        let file_ms =
            ((flight.planned_departure_unix_s - options.intent_lead_s) * 1000).max(span_start_ms);
        let activate_ms = (flight.departure_unix_s * 1000).max(file_ms);
        let end_ms = (flight.landing_unix_s * 1000 + step_ms).max(activate_ms);
        let volumes: Vec<Volume4DJson> = intent.volumes.iter().map(volume_json).collect();
        actions.push(TimedAction {
            at_ms: file_ms,
            party: flight.party.clone(),
            action: Action::File {
                intent_id: intent.id.clone(),
                volumes: Arc::new(volumes),
            },
        });
        actions.push(TimedAction {
            at_ms: activate_ms,
            party: flight.party.clone(),
            action: Action::Activate {
                intent_id: intent.id.clone(),
            },
        });
        // A sortie still flying when the span ends keeps its intent activated: the drive
        // stops with the span rather than waiting hours for the landing.
        if end_ms <= span_end_ms {
            actions.push(TimedAction {
                at_ms: end_ms,
                party: flight.party.clone(),
                action: Action::End {
                    intent_id: intent.id.clone(),
                },
            });
        }
    }
    // One batch per party per time: group every flight's states by (time, party).
    let mut batches: BTreeMap<(i64, &str), Vec<StateVector>> = BTreeMap::new();
    for flight in &generated.flights {
        for sample in &flight.track {
            let (vn_mps, ve_mps, vu_mps) = sample.state.velocity_neu_mps();
            batches
                .entry((sample.time_unix_s * 1000, flight.party.as_str()))
                .or_default()
                .push(StateVector {
                    time_ms: sample.time_unix_s * 1000,
                    id: flight.aircraft_id.clone(),
                    lat_deg: sample.state.position.lat_deg(),
                    lon_deg: sample.state.position.lon_deg(),
                    alt_m: sample.state.altitude_m,
                    vn_mps,
                    ve_mps,
                    vu_mps,
                });
        }
    }
    for ((at_ms, party), states) in batches {
        actions.push(TimedAction {
            at_ms,
            party: party.to_string(),
            action: Action::Tracks { states },
        });
    }
    sort_actions(&mut actions);
    actions
}

/// The actions of recorded traffic: each party's states in batches of `batch_ms` of
/// recorded time, each sent when the clock reaches the batch's end (the time of its latest
/// report), so that no report is ahead of the service's clock. Rows without a party are
/// returned apart, to be counted.
pub fn plan_recorded(rows: Vec<TrackRow>, batch_ms: i64) -> (Vec<TimedAction>, u64) {
    let batch_ms = batch_ms.max(1);
    let mut without_party = 0u64;
    let mut batches: BTreeMap<(i64, String), Vec<StateVector>> = BTreeMap::new();
    for row in rows {
        let Some(party) = row.party else {
            without_party += 1;
            continue;
        };
        let time_ms = (row.time_s * 1000.0).round() as i64;
        // The batch holding this time: (k·batch, (k+1)·batch], sent at its end.
        let batch_end_ms = time_ms.div_euclid(batch_ms) * batch_ms
            + if time_ms.rem_euclid(batch_ms) == 0 {
                0
            } else {
                batch_ms
            };
        let s = &row.state;
        batches
            .entry((batch_end_ms, party))
            .or_default()
            .push(StateVector {
                time_ms,
                id: row.id,
                lat_deg: s.lat_deg(),
                lon_deg: s.lon_deg(),
                alt_m: s.alt_m(),
                vn_mps: s.vn_mps(),
                ve_mps: s.ve_mps(),
                vu_mps: s.vu_mps(),
            });
    }
    let mut actions: Vec<TimedAction> = batches
        .into_iter()
        .map(|((at_ms, party), states)| TimedAction {
            at_ms,
            party,
            action: Action::Tracks { states },
        })
        .collect();
    sort_actions(&mut actions);
    (actions, without_party)
}

/// What a drive has done so far; read by progress displays while it runs.
#[derive(Debug, Default)]
pub struct DriveCounters {
    pub intents_filed: AtomicU64,
    pub intents_activated: AtomicU64,
    pub intents_ended: AtomicU64,
    /// Conflicts the service returned on intent writes (one conflict may be returned on
    /// several writes of its intents).
    pub conflicts_on_write: AtomicU64,
    pub track_batches: AtomicU64,
    pub states_sent: AtomicU64,
    pub states_accepted: AtomicU64,
    pub states_ignored: AtomicU64,
    /// Reports whose turn came more than [`TRACK_LATE_MAX_MS`] after their time.
    pub states_late: AtomicU64,
    /// Actions of parties the driver holds no token for.
    pub actions_without_token: AtomicU64,
    pub errors: AtomicU64,
    /// The time of the latest action played (Unix ms, scenario time).
    pub scenario_ms: AtomicI64,
    pub actions_done: AtomicU64,
    pub actions_total: AtomicU64,
}

impl DriveCounters {
    fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The errors of a drive: a count per request and status, and the first few details.
#[derive(Debug, Default, Clone)]
pub struct DriveErrors {
    pub by_kind: BTreeMap<String, u64>,
    pub examples: Vec<String>,
}

/// The account of a finished drive.
#[derive(Debug, Clone)]
pub struct DriveReport {
    pub intents_filed: u64,
    pub intents_activated: u64,
    pub intents_ended: u64,
    pub conflicts_on_write: u64,
    pub track_batches: u64,
    pub states_sent: u64,
    pub states_accepted: u64,
    pub states_ignored: u64,
    pub states_late: u64,
    pub actions_without_token: u64,
    pub errors: DriveErrors,
    /// Whether the drive was stopped before its last action.
    pub stopped: bool,
}

impl std::fmt::Display for DriveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "intents filed {}, activated {}, ended {} ({} conflicts returned on writes); \
             {} track reports in {} batches: {} accepted, {} ignored, {} too late to send",
            self.intents_filed,
            self.intents_activated,
            self.intents_ended,
            self.conflicts_on_write,
            self.states_sent,
            self.track_batches,
            self.states_accepted,
            self.states_ignored,
            self.states_late
        )?;
        if self.actions_without_token > 0 {
            write!(
                f,
                "; {} actions of parties without a token skipped",
                self.actions_without_token
            )?;
        }
        let errors: u64 = self.errors.by_kind.values().sum();
        if errors == 0 {
            write!(f, "; no errors")
        } else {
            write!(f, "; {errors} errors:")?;
            for (kind, count) in &self.errors.by_kind {
                write!(f, "\n  {count} × {kind}")?;
            }
            for example in &self.errors.examples {
                write!(f, "\n  e.g. {example}")?;
            }
            Ok(())
        }
    }
}

/// Why a drive cannot begin.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("cannot reach the service at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the service at {url} answered {what} unexpectedly: {detail}")]
    Unexpected {
        url: String,
        what: &'static str,
        detail: String,
    },
}

/// Plays actions against a service.
pub struct Driver {
    agent: ureq::Agent,
    base_url: String,
    /// Party id to bearer token.
    tokens: BTreeMap<String, String>,
    counters: Arc<DriveCounters>,
    errors: Mutex<DriveErrors>,
    stop: Arc<AtomicBool>,
}

/// An intent the driver has filed: its volumes and the version to quote next.
struct Filed {
    volumes: Arc<Vec<Volume4DJson>>,
    version: i64,
}

impl Driver {
    /// A driver for the service at `base_url` (`http://host:port`), acting as each party
    /// of `tokens`. Setting `stop` ends a drive between two actions.
    pub fn new(
        base_url: &str,
        tokens: BTreeMap<String, String>,
        counters: Arc<DriveCounters>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Driver {
            agent: ureq::AgentBuilder::new().timeout(REQUEST_TIMEOUT).build(),
            base_url: base_url.trim_end_matches('/').to_string(),
            tokens,
            counters,
            errors: Mutex::new(DriveErrors::default()),
            stop,
        }
    }

    /// The parties the driver holds tokens for.
    pub fn parties(&self) -> std::collections::BTreeSet<String> {
        self.tokens.keys().cloned().collect()
    }

    /// The service's clock now, from `GET /v1/health` (`time`), or `None` when the service
    /// does not say.
    pub fn service_time_ms(&self) -> Result<Option<i64>, DriveError> {
        let url = format!("{}/v1/health", self.base_url);
        let body: Value = self
            .agent
            .get(&url)
            .call()
            .map_err(|error| DriveError::Unreachable {
                url: url.clone(),
                detail: error.to_string(),
            })?
            .into_json()
            .map_err(|error| DriveError::Unexpected {
                url: url.clone(),
                what: "GET /v1/health",
                detail: error.to_string(),
            })?;
        Ok(body
            .get("time")
            .and_then(Value::as_str)
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.timestamp_millis()))
    }

    /// Checks every token with `GET /v1/me`: each must name its party.
    pub fn check_tokens(&self) -> Result<(), DriveError> {
        let url = format!("{}/v1/me", self.base_url);
        for (party, token) in &self.tokens {
            let answer = self
                .agent
                .get(&url)
                .set("Authorization", &format!("Bearer {token}"))
                .call();
            match answer {
                Ok(response) => {
                    let body: Value = response.into_json().unwrap_or(Value::Null);
                    let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
                    if id != party {
                        return Err(DriveError::Unexpected {
                            url: url.clone(),
                            what: "GET /v1/me",
                            detail: format!("the token given for {party:?} belongs to {id:?}"),
                        });
                    }
                }
                Err(ureq::Error::Status(status, response)) => {
                    return Err(DriveError::Unexpected {
                        url: url.clone(),
                        what: "GET /v1/me",
                        detail: format!(
                            "the token given for {party:?} was refused ({status}: {})",
                            problem_detail(response)
                        ),
                    })
                }
                Err(error) => {
                    return Err(DriveError::Unreachable {
                        url: url.clone(),
                        detail: error.to_string(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Plays `actions` (in time order) paced by `pace`, until the last or until stopped.
    pub fn run(&self, actions: &[TimedAction], pace: &Pace) -> DriveReport {
        self.counters
            .actions_total
            .store(actions.len() as u64, Ordering::Relaxed);
        let mut filed: BTreeMap<(String, String), Filed> = BTreeMap::new();
        let mut stopped = false;
        for timed in actions {
            if !self.wait_until(pace, timed.at_ms) {
                stopped = true;
                break;
            }
            self.counters
                .scenario_ms
                .store(timed.at_ms, Ordering::Relaxed);
            match self.tokens.get(&timed.party) {
                None => DriveCounters::add(&self.counters.actions_without_token, 1),
                Some(token) => self.play(token, timed, pace, &mut filed),
            }
            DriveCounters::add(&self.counters.actions_done, 1);
        }
        self.report(stopped)
    }

    /// Sleeps until the clock reaches `at_ms`; false when stopped first.
    fn wait_until(&self, pace: &Pace, at_ms: i64) -> bool {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            let wait = pace.real_time_until(at_ms);
            if wait.is_zero() {
                return true;
            }
            std::thread::sleep(wait.min(SLEEP_SLICE_MAX));
        }
    }

    fn play(
        &self,
        token: &str,
        timed: &TimedAction,
        pace: &Pace,
        filed: &mut BTreeMap<(String, String), Filed>,
    ) {
        let counters = &self.counters;
        match &timed.action {
            Action::File { intent_id, volumes } => {
                let body = json!({"volumes": volumes.as_ref(), "state": "accepted"});
                if let Some(answer) = self.put_intent(token, intent_id, &body, "file") {
                    DriveCounters::add(&counters.intents_filed, 1);
                    self.count_conflicts(&answer);
                    if let Some(version) = answer.get("version").and_then(Value::as_i64) {
                        filed.insert(
                            (timed.party.clone(), intent_id.clone()),
                            Filed {
                                volumes: volumes.clone(),
                                version,
                            },
                        );
                    }
                }
            }
            Action::Activate { intent_id } | Action::End { intent_id } => {
                let (state, counter, what) = match &timed.action {
                    Action::Activate { .. } => {
                        ("activated", &counters.intents_activated, "activate")
                    }
                    _ => ("ended", &counters.intents_ended, "end"),
                };
                let key = (timed.party.clone(), intent_id.clone());
                // An intent whose filing failed was counted then; nothing to move.
                let Some(intent) = filed.get_mut(&key) else {
                    return;
                };
                let body = json!({
                    "volumes": intent.volumes.as_ref(),
                    "state": state,
                    "version": intent.version,
                });
                if let Some(answer) = self.put_intent(token, intent_id, &body, what) {
                    DriveCounters::add(counter, 1);
                    self.count_conflicts(&answer);
                    if let Some(version) = answer.get("version").and_then(Value::as_i64) {
                        intent.version = version;
                    }
                }
                if state == "ended" {
                    filed.remove(&key);
                }
            }
            Action::Tracks { states } => {
                let oldest_allowed_ms = pace.now_ms() - TRACK_LATE_MAX_MS;
                let fresh: Vec<&StateVector> = states
                    .iter()
                    .filter(|s| s.time_ms >= oldest_allowed_ms)
                    .collect();
                DriveCounters::add(&counters.states_late, (states.len() - fresh.len()) as u64);
                for chunk in fresh.chunks(TRACK_BATCH_STATES_MAX) {
                    self.post_tracks(token, chunk);
                }
            }
        }
    }

    fn count_conflicts(&self, answer: &Value) {
        let conflicts = answer
            .get("conflicts")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        DriveCounters::add(&self.counters.conflicts_on_write, conflicts as u64);
    }

    fn put_intent(&self, token: &str, intent_id: &str, body: &Value, what: &str) -> Option<Value> {
        let url = format!("{}/v1/intents/{intent_id}", self.base_url);
        let answer = self
            .agent
            .put(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(body);
        self.answer(answer, &format!("PUT /v1/intents ({what})"), intent_id)
    }

    fn post_tracks(&self, token: &str, states: &[&StateVector]) {
        let url = format!("{}/v1/tracks", self.base_url);
        let body = Value::Array(states.iter().map(|s| s.to_json()).collect());
        DriveCounters::add(&self.counters.track_batches, 1);
        DriveCounters::add(&self.counters.states_sent, states.len() as u64);
        let answer = self
            .agent
            .post(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(body);
        let first = states.first().map_or("", |s| s.id.as_str());
        if let Some(answer) = self.answer(answer, "POST /v1/tracks", first) {
            let count = |field: &str| answer.get(field).and_then(Value::as_u64).unwrap_or(0);
            DriveCounters::add(&self.counters.states_accepted, count("accepted"));
            DriveCounters::add(&self.counters.states_ignored, count("ignored"));
        }
    }

    /// The body of a successful answer; a failure is counted and `None` returned.
    fn answer(
        &self,
        answer: Result<ureq::Response, ureq::Error>,
        request: &str,
        subject: &str,
    ) -> Option<Value> {
        let (kind, detail) = match answer {
            Ok(response) => match response.into_json::<Value>() {
                Ok(body) => return Some(body),
                Err(error) => (format!("{request}: unreadable answer"), error.to_string()),
            },
            Err(ureq::Error::Status(status, response)) => {
                (format!("{request}: {status}"), problem_detail(response))
            }
            Err(error) => (format!("{request}: no answer"), error.to_string()),
        };
        DriveCounters::add(&self.counters.errors, 1);
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *errors.by_kind.entry(kind.clone()).or_default() += 1;
        // One example per kind and detail: a failure repeated every step says nothing new.
        let seen = format!("{kind}: {detail}");
        if errors.examples.len() < ERROR_EXAMPLES_MAX
            && !errors
                .examples
                .iter()
                .any(|example| example.ends_with(&seen))
        {
            errors.examples.push(format!("({subject}) {seen}"));
        }
        None
    }

    /// The counts so far.
    pub fn report(&self, stopped: bool) -> DriveReport {
        let c = &self.counters;
        DriveReport {
            intents_filed: DriveCounters::get(&c.intents_filed),
            intents_activated: DriveCounters::get(&c.intents_activated),
            intents_ended: DriveCounters::get(&c.intents_ended),
            conflicts_on_write: DriveCounters::get(&c.conflicts_on_write),
            track_batches: DriveCounters::get(&c.track_batches),
            states_sent: DriveCounters::get(&c.states_sent),
            states_accepted: DriveCounters::get(&c.states_accepted),
            states_ignored: DriveCounters::get(&c.states_ignored),
            states_late: DriveCounters::get(&c.states_late),
            actions_without_token: DriveCounters::get(&c.actions_without_token),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            stopped,
        }
    }
}

/// The `detail` of a problem+json answer, or its text.
fn problem_detail(response: ureq::Response) -> String {
    let text = response.into_string().unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| {
            body.get("detail")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or(text)
}

/// RFC 3339 UTC with milliseconds, as the service writes times.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    DateTime::from_timestamp_millis(unix_ms)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| unix_ms.to_string())
}

/// Parses `PARTY=TOKEN` arguments into a map, refusing malformed or repeated parties.
pub fn parse_tokens(arguments: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut tokens = BTreeMap::new();
    for argument in arguments {
        let Some((party, token)) = argument.split_once('=') else {
            return Err(format!("--token {argument:?} must be PARTY=TOKEN"));
        };
        let (party, token) = (party.trim(), token.trim());
        if party.is_empty() || token.is_empty() {
            return Err(format!("--token {argument:?} must be PARTY=TOKEN"));
        }
        if tokens
            .insert(party.to_string(), token.to_string())
            .is_some()
        {
            return Err(format!("--token gives party {party:?} twice"));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deconflict_core::tactical::{AircraftState, PartyIndex};

    #[test]
    fn tokens_are_party_equals_token_and_each_party_once() {
        let parsed = parse_tokens(&["coalition=abc".into(), "russia=d=ef".into()]).unwrap();
        assert_eq!(parsed["coalition"], "abc");
        assert_eq!(parsed["russia"], "d=ef");
        assert!(parse_tokens(&["coalition".into()]).is_err());
        assert!(parse_tokens(&["=abc".into()]).is_err());
        assert!(parse_tokens(&["a=1".into(), "a=2".into()]).is_err());
    }

    #[test]
    fn a_pace_runs_speed_times_as_fast_from_its_reading() {
        let pace = Pace {
            reading_ms: 1_000_000,
            origin: Instant::now(),
            speed: 10.0,
        };
        let now = pace.now_ms();
        assert!((1_000_000..1_010_000).contains(&now), "{now}");
        let wait = pace.real_time_until(1_060_000);
        assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(6));
        assert_eq!(pace.real_time_until(0), Duration::ZERO);
    }

    #[test]
    fn recorded_rows_are_batched_per_party_and_sent_at_the_end_of_their_batch() {
        let state = AircraftState::new(PartyIndex(0), 35.0, 36.0, 8000.0, 0.0, 200.0, 0.0).unwrap();
        let row = |time_s: f64, id: &str, party: Option<&str>| TrackRow {
            time_s,
            id: id.into(),
            party: party.map(str::to_owned),
            state,
            line: 1,
        };
        let (actions, without_party) = plan_recorded(
            vec![
                row(10.0, "A", Some("blue")),
                row(10.4, "B", Some("red")),
                row(10.9, "A", Some("blue")),
                row(11.0, "C", None),
                row(11.2, "B", Some("red")),
            ],
            1000,
        );
        assert_eq!(without_party, 1);
        let summary: Vec<(i64, &str, usize)> = actions
            .iter()
            .map(|a| match &a.action {
                Action::Tracks { states } => (a.at_ms, a.party.as_str(), states.len()),
                _ => unreachable!("recorded traffic has only tracks"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                (10_000, "blue", 1),
                (11_000, "blue", 1),
                (11_000, "red", 1),
                (12_000, "red", 1)
            ]
        );
    }

    #[test]
    fn a_scenario_is_played_plans_first_in_time_order_and_within_its_span() {
        let scenario = crate::Scenario::from_toml(crate::builtin("syria-2015").unwrap()).unwrap();
        let options = crate::GenerateOptions {
            duration_s: Some(900),
            ..crate::GenerateOptions::with_seed(7)
        };
        let generated = crate::generate(&scenario, &options, &|_| {}).unwrap();
        let actions = plan_scenario(&generated, &ScenarioPlanOptions::default());
        let span_start_ms = generated.start_unix_s * 1000;
        let span_end_ms = span_start_ms + 900_000;
        assert!(actions.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        let mut filed = std::collections::BTreeSet::new();
        let mut batches = std::collections::BTreeSet::new();
        for timed in &actions {
            assert!(timed.at_ms >= span_start_ms && timed.at_ms <= span_end_ms);
            match &timed.action {
                Action::File { intent_id, .. } => assert!(filed.insert(intent_id.clone())),
                Action::Activate { intent_id } | Action::End { intent_id } => {
                    assert!(filed.contains(intent_id), "{intent_id} moved before filing")
                }
                Action::Tracks { states } => {
                    assert!(states.iter().all(|s| s.time_ms == timed.at_ms));
                    assert!(batches.insert((timed.at_ms, timed.party.clone())));
                }
            }
        }
        assert_eq!(filed.len(), generated.intents.len());
        let states: usize = generated.flights.iter().map(|f| f.track.len()).sum();
        let sent: usize = actions
            .iter()
            .map(|a| match &a.action {
                Action::Tracks { states } => states.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(sent, states);
    }

    #[test]
    fn state_vectors_are_written_as_the_service_reads_them() {
        let state = StateVector {
            time_ms: 1_446_541_200_500,
            id: "MUSTANG01".into(),
            lat_deg: 34.4,
            lon_deg: 37.5,
            alt_m: 7050.0,
            vn_mps: 0.0,
            ve_mps: -220.0,
            vu_mps: 0.0,
        };
        assert_eq!(
            state.to_json(),
            json!({"time": "2015-11-03T09:00:00.500Z", "id": "MUSTANG01", "lat": 34.4,
                   "lon": 37.5, "alt_m": 7050.0, "vn_mps": 0.0, "ve_mps": -220.0, "vu_mps": 0.0})
        );
    }
}
