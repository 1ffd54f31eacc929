//! Live tracks and tactical alerts.
//!
//! Parties report their aircraft (`POST /v1/tracks`, `GET /v1/tracks/stream`); the latest
//! report of each aircraft is kept in memory ([`LiveTracks`]), sampled into the store for
//! history, and optionally recorded to a tracks CSV. A detection task ([`run_detection`])
//! brings every live aircraft to the present at constant velocity, runs the tactical
//! detector over all of them with the agreement's criterion, and feeds the conflicting
//! pairs of different parties to the core's alert tracker; what changed goes to the engine
//! as one [`Command::Alerts`], which stores it, audits it and pushes the `alert.*` events.
//!
//! Detection runs every cycle (`LiveConfig::cycle`, default 1 s) and also as soon as new
//! reports arrive, but no sooner than `LiveConfig::min_gap` after the previous run, so an
//! alert follows the report that makes it predictable by a fraction of a cycle.
//!
//! Architecture invariant: a counterpart's aircraft is shown to a party only inside an
//! alert, under the alert's opaque reference ([`alert_view`]); track reads
//! (`GET /v1/tracks`, history) return the caller's own aircraft only.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;
use utoipa::ToSchema;

use deconflict_core::tactical::{
    AircraftKey, AircraftState, AlertChange, AlertId, AlertIdSource, AlertLevel, AlertSettings,
    AlertTracker, PairAssessment, PairKey, PartyIndex, TacticalDetector,
};
use deconflict_store::{AlertRecord, PartyRecord, Role, TrackSampleRecord};
use deconflict_wire::tracks::{TracksCsvRecord, TracksCsvWriter};

use crate::clock::{parse_rfc3339_ms, rfc3339_ms};
use crate::engine::Command;
use crate::error::ApiError;
use crate::AppState;

/// Reports more than this far ahead of the service's clock are refused (a client clock
/// that is badly off would otherwise pin its aircraft in the future).
pub const REPORT_AHEAD_MS_MAX: i64 = 60_000;
/// Longest aircraft id in a report, in characters.
pub const AIRCRAFT_ID_CHARS_MAX: usize = 64;
/// Shards of the live track table: reports of different aircraft rarely wait for each
/// other's lock.
const TRACK_SHARDS: usize = 64;
/// Sampled points read per history request at most.
pub const HISTORY_POINTS_MAX: u32 = 10_000;

/// An alert at the same level is updated at most this often by default: duty officers
/// need each change of level at once, not every wobble of the figures, and every update
/// is a signed audit entry and an event to each side.
pub const DEFAULT_ALERT_UPDATE_INTERVAL_S: f64 = 2.0;

/// How live tracks are kept and judged.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Detection runs at least this often.
    pub cycle: Duration,
    /// And when reports arrive, but no sooner than this after the previous run.
    pub min_gap: Duration,
    /// An aircraft not reported for this long leaves the live picture.
    pub track_expiry_s: f64,
    /// One history point per aircraft per this many seconds (0 keeps every report).
    pub sample_interval_s: f64,
    /// Every accepted or ignored report is appended to this tracks CSV.
    pub record: Option<PathBuf>,
    /// Alert hysteresis and update thresholds.
    pub alerts: AlertSettings,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            cycle: Duration::from_secs(1),
            min_gap: Duration::from_millis(20),
            track_expiry_s: 30.0,
            sample_interval_s: 5.0,
            record: None,
            alerts: AlertSettings::default()
                .with_update_interval_s(DEFAULT_ALERT_UPDATE_INTERVAL_S)
                .expect("a valid interval"),
        }
    }
}

/// One state vector as reported (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub time_ms: i64,
    /// Shared, so the live picture and each cycle's snapshot copy no string.
    pub id: Arc<str>,
    pub lat: f64,
    pub lon: f64,
    pub alt_m: f64,
    pub vn_mps: f64,
    pub ve_mps: f64,
    pub vu_mps: f64,
}

/// A report as sent; strings borrow from the body when they hold no escapes. Its schema
/// (`StateVector`) documents `POST /v1/tracks`.
#[derive(Deserialize, ToSchema)]
#[schema(as = StateVector)]
pub(crate) struct ReportJson<'a> {
    /// When the state was measured, RFC 3339; at most REPORT_AHEAD_MS_MAX = 60 s ahead of
    /// the service's clock.
    #[serde(borrow)]
    #[schema(value_type = String, format = DateTime)]
    time: Cow<'a, str>,
    /// The aircraft: 1 to AIRCRAFT_ID_CHARS_MAX = 64 characters, no control characters.
    #[serde(borrow)]
    #[schema(value_type = crate::openapi::AircraftId)]
    id: Cow<'a, str>,
    /// The reporting party, if given: must be the caller.
    #[serde(default, borrow)]
    #[schema(value_type = Option<String>)]
    party: Option<Cow<'a, str>>,
    #[schema(minimum = -90, maximum = 90)]
    lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    lon: f64,
    /// Metres above the WGS84 ellipsoid.
    #[schema(minimum = -12000, maximum = 1000000)]
    alt_m: f64,
    /// Velocity north, east and up, metres per second.
    #[schema(minimum = -10000, maximum = 10000)]
    vn_mps: f64,
    #[schema(minimum = -10000, maximum = 10000)]
    ve_mps: f64,
    #[schema(minimum = -10000, maximum = 10000)]
    vu_mps: f64,
}

/// The body of `POST /v1/tracks` as documented: many reports, or one. Only its schema is
/// used; `parse_reports` tells the two apart by the first character instead of through
/// serde's untagged enums, whose errors cannot say which field is wrong.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = TrackReports)]
#[allow(dead_code)]
pub(crate) enum TrackReportsJson<'a> {
    Many(#[serde(borrow)] Vec<ReportJson<'a>>),
    One(#[serde(borrow)] ReportJson<'a>),
}

/// Whether `id` can name an aircraft: 1 to [`AIRCRAFT_ID_CHARS_MAX`] characters, none of
/// them a control character (so none is U+0000, which PostgreSQL cannot store or compare).
pub fn check_aircraft_id(id: &str) -> Result<(), String> {
    if id.is_empty()
        || id.chars().count() > AIRCRAFT_ID_CHARS_MAX
        || id.chars().any(char::is_control)
    {
        Err(format!(
            "{id:?} must be 1 to {AIRCRAFT_ID_CHARS_MAX} characters without control characters"
        ))
    } else {
        Ok(())
    }
}

/// Parses a body of reports (a JSON array, or one object) for `party`: every field is
/// checked and the first problem is named by its place (`[3].lat: …`); nothing of a bad
/// body is applied.
pub fn parse_reports(bytes: &[u8], party: &str, now_ms: i64) -> Result<Vec<Report>, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let raw: Vec<ReportJson> = if first == Some(&b'{') {
        vec![crate::error::parse_json_borrowed(bytes)?]
    } else {
        crate::error::parse_json_borrowed(bytes)?
    };
    raw.into_iter()
        .enumerate()
        .map(|(index, report)| {
            check_report(report, party, now_ms)
                .map_err(|error| ApiError::Unprocessable(format!("[{index}].{error}")))
        })
        .collect()
}

fn check_report(report: ReportJson<'_>, party: &str, now_ms: i64) -> Result<Report, String> {
    if let Some(claimed) = &report.party {
        if claimed.as_ref() != party {
            return Err(format!(
                "party: {claimed:?} is not the caller; a party reports only its own aircraft ({party:?})"
            ));
        }
    }
    let id = report.id;
    check_aircraft_id(&id).map_err(|error| format!("id: {error}"))?;
    let time_ms = match utc_millis(&report.time) {
        Some(time_ms) => time_ms,
        None => parse_rfc3339_ms(&report.time).map_err(|error| format!("time: {error}"))?,
    };
    if time_ms > now_ms + REPORT_AHEAD_MS_MAX {
        return Err(format!(
            "time: {} is {:.0} s ahead of the service's clock ({}); at most {} s is accepted",
            report.time,
            (time_ms - now_ms) as f64 / 1000.0,
            rfc3339_ms(now_ms),
            REPORT_AHEAD_MS_MAX / 1000
        ));
    }
    AircraftState::new(
        PartyIndex(0),
        report.lat,
        report.lon,
        report.alt_m,
        report.vn_mps,
        report.ve_mps,
        report.vu_mps,
    )
    .map_err(|error| {
        let field = match error {
            deconflict_core::tactical::InvalidState::Latitude(_) => "lat",
            deconflict_core::tactical::InvalidState::Longitude(_) => "lon",
            deconflict_core::tactical::InvalidState::Altitude(_) => "alt_m",
            deconflict_core::tactical::InvalidState::Velocity { name, .. } => match name {
                "vn" => "vn_mps",
                "ve" => "ve_mps",
                _ => "vu_mps",
            },
        };
        format!("{field}: {error}")
    })?;
    Ok(Report {
        time_ms,
        id: Arc::from(id.as_ref()),
        lat: report.lat,
        lon: report.lon,
        alt_m: report.alt_m,
        vn_mps: report.vn_mps,
        ve_mps: report.ve_mps,
        vu_mps: report.vu_mps,
    })
}

/// Milliseconds since the Unix epoch of the common form `YYYY-MM-DDTHH:MM:SS[.fff…]Z`;
/// `None` for anything else (the caller falls back to the full RFC 3339 parser).
/// Written by hand because it runs once per track report, a million times a second, and
/// the general parser costs several times more; the test below checks it against that
/// parser.
fn utc_millis(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        b[range].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let (fraction, end) = match b[19] {
        b'Z' => (0, 20),
        b'.' => {
            let count = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
            if count == 0 || count > 9 {
                return None;
            }
            let mut ms = 0i64;
            for k in 0..3 {
                let digit = b.get(20 + k).filter(|c| k < count && c.is_ascii_digit());
                ms = ms * 10 + digit.map_or(0, |c| i64::from(c - b'0'));
            }
            (ms, 20 + count + 1)
        }
        _ => return None,
    };
    if b.len() != end || b[end - 1] != b'Z' {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days from 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + fraction)
}

/// The latest report of one aircraft.
#[derive(Debug, Clone)]
struct Track {
    report: Report,
    /// When the last history point was taken (`i64::MIN` before the first).
    sampled_ms: i64,
}

/// What one batch of reports did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Ingested {
    /// Reports that became their aircraft's latest.
    pub accepted: usize,
    /// Reports older than (or as old as) the aircraft's latest, or already expired.
    pub ignored: usize,
}

/// One live aircraft as the detector takes it.
#[derive(Debug, Clone)]
pub struct LiveAircraft {
    pub party: Arc<str>,
    pub id: Arc<str>,
    pub report: Report,
}

type Shard = HashMap<Arc<str>, HashMap<Arc<str>, Track>>;

/// The live picture: every aircraft's latest report, by party and id.
pub struct LiveTracks {
    shards: Vec<Mutex<Shard>>,
    samples: Mutex<Vec<TrackSampleRecord>>,
    arrived: Notify,
    recorder: Option<std::sync::mpsc::Sender<(Arc<str>, Vec<Report>)>>,
    expiry_ms: i64,
    sample_ms: i64,
}

fn shard_of(party: &str, id: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    party.hash(&mut hasher);
    id.hash(&mut hasher);
    (hasher.finish() as usize) % TRACK_SHARDS
}

impl LiveTracks {
    /// An empty picture; with `config.record`, a thread appends every report to that CSV.
    pub fn new(config: &LiveConfig) -> std::io::Result<Self> {
        let recorder = match &config.record {
            Some(path) => Some(start_recorder(path.clone())?),
            None => None,
        };
        Ok(LiveTracks {
            shards: (0..TRACK_SHARDS).map(|_| Mutex::default()).collect(),
            samples: Mutex::default(),
            arrived: Notify::new(),
            recorder,
            expiry_ms: (config.track_expiry_s * 1000.0).round() as i64,
            sample_ms: (config.sample_interval_s * 1000.0).round() as i64,
        })
    }

    /// Applies a party's reports: each becomes its aircraft's latest unless an equal or
    /// newer one is known or it is already older than the expiry.
    pub fn ingest(&self, party: &str, reports: Vec<Report>, now_ms: i64) -> Ingested {
        let mut outcome = Ingested::default();
        let oldest_ms = now_ms - self.expiry_ms;
        let mut samples = Vec::new();
        let party_arc: Arc<str> = Arc::from(party);
        for report in &reports {
            if report.time_ms < oldest_ms {
                outcome.ignored += 1;
                continue;
            }
            let mut shard = lock(&self.shards[shard_of(party, &report.id)]);
            let aircraft = match shard.get_mut(party) {
                Some(aircraft) => aircraft,
                None => shard.entry(party_arc.clone()).or_default(),
            };
            let track = match aircraft.get_mut(&*report.id) {
                Some(track) if track.report.time_ms >= report.time_ms => {
                    outcome.ignored += 1;
                    continue;
                }
                Some(track) => {
                    track.report = report.clone();
                    track
                }
                None => aircraft.entry(report.id.clone()).or_insert(Track {
                    report: report.clone(),
                    sampled_ms: i64::MIN,
                }),
            };
            outcome.accepted += 1;
            if track.sampled_ms == i64::MIN || report.time_ms - track.sampled_ms >= self.sample_ms {
                track.sampled_ms = report.time_ms;
                samples.push(TrackSampleRecord {
                    party_id: party.to_owned(),
                    aircraft_id: report.id.to_string(),
                    time_ms: report.time_ms,
                    lat: report.lat,
                    lon: report.lon,
                    alt_m: report.alt_m,
                    vn_mps: report.vn_mps,
                    ve_mps: report.ve_mps,
                    vu_mps: report.vu_mps,
                });
            }
        }
        if !samples.is_empty() {
            lock(&self.samples).append(&mut samples);
        }
        if let Some(recorder) = &self.recorder {
            // The recorder thread ends only with the service; a send cannot fail before.
            let _ = recorder.send((party_arc, reports));
        }
        metrics::counter!("deconflict_track_reports_total", "outcome" => "accepted")
            .increment(outcome.accepted as u64);
        metrics::counter!("deconflict_track_reports_total", "outcome" => "ignored")
            .increment(outcome.ignored as u64);
        if outcome.accepted > 0 {
            self.arrived.notify_one();
        }
        outcome
    }

    /// Every live aircraft (dropping those silent for longer than the expiry).
    pub fn snapshot(&self, now_ms: i64) -> Vec<LiveAircraft> {
        let oldest_ms = now_ms - self.expiry_ms;
        let mut out = Vec::new();
        for shard in &self.shards {
            let mut shard = lock(shard);
            shard.retain(|party, aircraft| {
                aircraft.retain(|id, track| {
                    if track.report.time_ms < oldest_ms {
                        return false;
                    }
                    out.push(LiveAircraft {
                        party: party.clone(),
                        id: id.clone(),
                        report: track.report.clone(),
                    });
                    true
                });
                !aircraft.is_empty()
            });
        }
        out
    }

    /// One party's live aircraft, by id.
    pub fn of_party(&self, party: &str, now_ms: i64) -> Vec<Report> {
        let oldest_ms = now_ms - self.expiry_ms;
        let mut out: Vec<Report> = self
            .shards
            .iter()
            .flat_map(|shard| {
                lock(shard)
                    .get(party)
                    .map(|aircraft| {
                        aircraft
                            .values()
                            .filter(|track| track.report.time_ms >= oldest_ms)
                            .map(|track| track.report.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    fn take_samples(&self) -> Vec<TrackSampleRecord> {
        std::mem::take(&mut *lock(&self.samples))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Appends every report to a tracks CSV on its own thread, flushed after each batch.
fn start_recorder(
    path: PathBuf,
) -> std::io::Result<std::sync::mpsc::Sender<(Arc<str>, Vec<Report>)>> {
    let file = std::fs::File::create(&path)?;
    let mut writer = TracksCsvWriter::new(BufWriter::new(file))?;
    let (sender, receiver) = std::sync::mpsc::channel::<(Arc<str>, Vec<Report>)>();
    std::thread::Builder::new()
        .name("track-recorder".into())
        .spawn(move || {
            for (party, reports) in receiver {
                for report in &reports {
                    let record = TracksCsvRecord {
                        time_s: report.time_ms as f64 / 1000.0,
                        id: &report.id,
                        party: &party,
                        lat_deg: report.lat,
                        lon_deg: report.lon,
                        alt_m: report.alt_m,
                        vn_mps: report.vn_mps,
                        ve_mps: report.ve_mps,
                        vu_mps: report.vu_mps,
                    };
                    if let Err(error) = writer.write(&record) {
                        tracing::error!(%error, path = %path.display(), "recording tracks stopped");
                        return;
                    }
                }
                if let Err(error) = writer.flush() {
                    tracing::error!(%error, path = %path.display(), "recording tracks stopped");
                    return;
                }
            }
        })?;
    Ok(sender)
}

/// The JSON of a report as the caller's own aircraft.
pub fn report_json(report: &Report) -> Value {
    with_fields(json!({"id": &*report.id}), state_json(report))
}

/// One history point as JSON (the same shape as a report).
pub fn sample_json(sample: &TrackSampleRecord) -> Value {
    json!({
        "id": sample.aircraft_id,
        "time": rfc3339_ms(sample.time_ms),
        "lat": sample.lat,
        "lon": sample.lon,
        "alt_m": sample.alt_m,
        "vn_mps": sample.vn_mps,
        "ve_mps": sample.ve_mps,
        "vu_mps": sample.vu_mps,
    })
}

// ---------------------------------------------------------------- alerts

/// What the engine stores and announces for one alert change.
#[derive(Debug, Clone)]
pub struct AlertUpdate {
    /// `alert.raised`, `alert.updated` or `alert.cleared`.
    pub kind: &'static str,
    pub record: AlertRecord,
    /// Whether this change brings the alert to warning for the first time (a hotline
    /// thread opens).
    pub reaches_warning: bool,
}

/// The live alerts as last committed, for `GET /v1/alerts`.
#[derive(Default)]
pub struct ActiveAlerts {
    by_id: RwLock<HashMap<String, AlertRecord>>,
}

impl ActiveAlerts {
    /// Alerts involving `viewer` (all of them for observers), most urgent first.
    pub fn visible_to(&self, viewer: &PartyRecord) -> Vec<AlertRecord> {
        let by_id = self.by_id.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<AlertRecord> = by_id
            .values()
            .filter(|record| viewer.role == Role::Observer || record.involves(&viewer.id))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            urgency(a)
                .total_cmp(&urgency(b))
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }

    fn apply(&self, updates: &[AlertUpdate]) {
        let mut by_id = self.by_id.write().unwrap_or_else(|p| p.into_inner());
        for update in updates {
            if update.record.cleared_ms.is_some() {
                by_id.remove(&update.record.id);
            } else {
                by_id.insert(update.record.id.clone(), update.record.clone());
            }
        }
        metrics::gauge!("deconflict_active_alerts").set(by_id.len() as f64);
    }

    fn get(&self, id: &str) -> Option<AlertRecord> {
        self.by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

fn urgency(record: &AlertRecord) -> f64 {
    record.details["time_to_los_s"]
        .as_f64()
        .unwrap_or(f64::INFINITY)
}

/// Everything live that handlers and the detection task share.
pub struct Live {
    pub config: LiveConfig,
    pub tracks: LiveTracks,
    pub alerts: ActiveAlerts,
}

impl Live {
    pub fn new(config: LiveConfig) -> std::io::Result<Self> {
        Ok(Live {
            tracks: LiveTracks::new(&config)?,
            alerts: ActiveAlerts::default(),
            config,
        })
    }
}

/// The id of an alert as the API shows it.
fn alert_id_text(id: AlertId) -> String {
    format!("alr-{:016x}", id.0)
}

/// Alert ids drawn from the seeded generator, so they do not repeat across restarts.
#[derive(Clone)]
struct RandomAlertIds(StdRng);

impl AlertIdSource for RandomAlertIds {
    fn next_alert_id(&mut self) -> AlertId {
        AlertId(self.0.random())
    }
}

/// An aircraft's state as both the detector and the alert views see it.
fn state_json(report: &Report) -> Value {
    json!({
        "time": rfc3339_ms(report.time_ms),
        "lat": report.lat,
        "lon": report.lon,
        "alt_m": report.alt_m,
        "vn_mps": report.vn_mps,
        "ve_mps": report.ve_mps,
        "vu_mps": report.vu_mps,
    })
}

fn point_json(state: &AircraftState) -> Value {
    json!({"lat": state.lat_deg(), "lon": state.lon_deg(), "alt_m": state.alt_m()})
}

/// The alert's figures and both aircraft at `now_ms` (`a` and `b` in pair order).
fn alert_details(
    assessment: &PairAssessment,
    a: &AircraftState,
    b: &AircraftState,
    now_ms: i64,
) -> Value {
    let at = |state: &AircraftState| Report {
        time_ms: now_ms,
        id: Arc::from(""),
        lat: state.lat_deg(),
        lon: state.lon_deg(),
        alt_m: state.alt_m(),
        vn_mps: state.vn_mps(),
        ve_mps: state.ve_mps(),
        vu_mps: state.vu_mps(),
    };
    let cpa = |state: &AircraftState| {
        state
            .extrapolated(assessment.tcpa_s)
            .map(|s| point_json(&s))
            .unwrap_or(Value::Null)
    };
    json!({
        "time_to_los_s": assessment.time_to_los_s,
        "tcpa_s": assessment.tcpa_s,
        "dcpa_m": assessment.dcpa_m,
        "distance_m": assessment.distance_m,
        "vertical_m": assessment.vertical_m,
        "a": state_json(&at(a)),
        "b": state_json(&at(b)),
        "cpa": {"a": cpa(a), "b": cpa(b)},
    })
}

fn with_fields(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// An alert as `viewer` may see it: a party sees its own aircraft by id and the
/// counterpart's only by the alert's opaque reference; an observer sees both by
/// reference. `None` for a viewer the alert does not concern.
pub fn alert_view(record: &AlertRecord, viewer: &PartyRecord) -> Option<Value> {
    let d = &record.details;
    let mut view = json!({
        "id": record.id,
        "level": record.level,
        "active": record.cleared_ms.is_none(),
        "time_to_los_s": d["time_to_los_s"],
        "tcpa_s": d["tcpa_s"],
        "dcpa_m": d["dcpa_m"],
        "distance_m": d["distance_m"],
        "vertical_m": d["vertical_m"],
        "raised_at": rfc3339_ms(record.raised_ms),
        "updated_at": rfc3339_ms(record.updated_ms),
        "cleared_at": record.cleared_ms.map(rfc3339_ms),
    });
    let object = view.as_object_mut()?;
    match viewer.role {
        Role::Party => {
            let (own, other) = if viewer.id == record.party_a {
                ("a", "b")
            } else if viewer.id == record.party_b {
                ("b", "a")
            } else {
                return None;
            };
            let (own_id, own_ref, other_ref, other_party) = if own == "a" {
                (
                    &record.aircraft_a,
                    &record.ref_a,
                    &record.ref_b,
                    &record.party_b,
                )
            } else {
                (
                    &record.aircraft_b,
                    &record.ref_b,
                    &record.ref_a,
                    &record.party_a,
                )
            };
            object.insert(
                "own".into(),
                with_fields(json!({"id": own_id, "ref": own_ref}), d[own].clone()),
            );
            object.insert(
                "counterpart".into(),
                with_fields(
                    json!({"ref": other_ref, "party": other_party}),
                    d[other].clone(),
                ),
            );
            object.insert(
                "cpa".into(),
                json!({"own": d["cpa"][own], "counterpart": d["cpa"][other]}),
            );
        }
        Role::Observer => {
            object.insert(
                "aircraft".into(),
                json!([
                    with_fields(
                        json!({"ref": record.ref_a, "party": record.party_a}),
                        d["a"].clone()
                    ),
                    with_fields(
                        json!({"ref": record.ref_b, "party": record.party_b}),
                        d["b"].clone()
                    ),
                ]),
            );
            object.insert(
                "cpa".into(),
                json!({"points": [d["cpa"]["a"], d["cpa"]["b"]]}),
            );
        }
        Role::Admin => return None,
    }
    Some(view)
}

/// What the audit log keeps of an alert change: the figures, the parties and both
/// aircraft by reference (never by id, since both parties read the entry).
pub fn alert_audit_body(record: &AlertRecord) -> Value {
    let d = &record.details;
    json!({
        "alert": record.id,
        "level": record.level,
        "parties": [record.party_a, record.party_b],
        "refs": [record.ref_a, record.ref_b],
        "time_to_los_s": d["time_to_los_s"],
        "tcpa_s": d["tcpa_s"],
        "dcpa_m": d["dcpa_m"],
        "distance_m": d["distance_m"],
        "vertical_m": d["vertical_m"],
        "positions": [d["a"], d["b"]],
        "cleared_at": record.cleared_ms.map(rfc3339_ms),
    })
}

/// The detection task's own state between cycles.
struct Detection {
    detector: Option<(i64, TacticalDetector)>,
    tracker: AlertTracker<RandomAlertIds>,
    parties: HashMap<Arc<str>, u32>,
    rng: StdRng,
    /// The previous cycle's alert changes, being committed while this cycle detects.
    in_flight: Option<InFlight>,
}

/// Alert changes sent to the engine and not yet answered, with the tracker as it was
/// before them (restored if they are not stored).
struct InFlight {
    answer: tokio::task::JoinHandle<Result<(), ApiError>>,
    before: AlertTracker<RandomAlertIds>,
    count: usize,
}

/// Waits for the previous cycle's changes: on success they become the active alerts; if
/// they were not stored, the tracker goes back to before them, so this cycle finds them
/// again. `false` when the engine is gone (the service is stopping).
async fn settle(state: &AppState, detection: &mut Detection) -> bool {
    let Some(in_flight) = detection.in_flight.take() else {
        return true;
    };
    let count = in_flight.count;
    match in_flight.answer.await {
        // Applied to the active alerts by the task itself, as soon as it was committed.
        Ok(Ok(())) => {
            tracing::debug!(count, "alert changes committed");
            true
        }
        Ok(Err(ApiError::Unavailable)) if state.shutdown.is_cancelled() => false,
        Ok(Err(error)) => {
            tracing::error!(%error, count, "alert changes were not stored; retrying next cycle");
            detection.tracker = in_flight.before;
            true
        }
        Err(error) => {
            tracing::error!(%error, count, "alert changes were lost with their task; retrying next cycle");
            detection.tracker = in_flight.before;
            true
        }
    }
}

/// Runs detection cycles until the service shuts down. Alerts left active by an earlier
/// run of the service are cleared first (this run's tracker starts empty; a pair still
/// in conflict is raised again on the first cycle).
pub async fn run_detection(state: AppState, seed: Option<u64>) {
    let live = state.live.clone();
    let mut rng = match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    let ids = RandomAlertIds(StdRng::seed_from_u64(rng.random()));
    let mut detection = Detection {
        detector: None,
        tracker: AlertTracker::new(live.config.alerts, ids),
        parties: HashMap::new(),
        rng,
        in_flight: None,
    };
    settle_stale_alerts(&state).await;
    let mut last_run = tokio::time::Instant::now();
    loop {
        let due = last_run + live.config.cycle;
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            () = tokio::time::sleep_until(due) => {},
            () = live.tracks.arrived.notified() => {
                let earliest = last_run + live.config.min_gap;
                tokio::select! {
                    () = state.shutdown.cancelled() => break,
                    () = tokio::time::sleep_until(earliest) => {},
                }
            }
        }
        last_run = tokio::time::Instant::now();
        if !cycle(&state, &mut detection).await {
            break;
        }
        flush_samples(&state);
    }
    settle(&state, &mut detection).await;
    flush_samples(&state);
    tracing::info!("detection stopped");
}

/// Writes the sampled history points gathered since the last call, in the background.
fn flush_samples(state: &AppState) {
    let samples = state.live.tracks.take_samples();
    if samples.is_empty() {
        return;
    }
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(error) = store.append_track_samples(&samples).await {
            tracing::warn!(%error, points = samples.len(), "track history points were not stored");
        }
    });
}

async fn settle_stale_alerts(state: &AppState) {
    let stale = match state.store.active_alerts().await {
        Ok(stale) => stale,
        Err(error) => {
            tracing::warn!(%error, "cannot read alerts left active; they stay as they are");
            return;
        }
    };
    if stale.is_empty() {
        return;
    }
    let now_ms = state.clock.now_ms();
    let updates: Vec<AlertUpdate> = stale
        .into_iter()
        .map(|mut record| {
            record.cleared_ms = Some(now_ms);
            record.updated_ms = now_ms;
            AlertUpdate {
                kind: "alert.cleared",
                record,
                reaches_warning: false,
            }
        })
        .collect();
    let count = updates.len();
    match state
        .engine
        .call(|reply| Command::Alerts { updates, reply })
        .await
    {
        Ok(()) => tracing::info!(count, "cleared alerts left active by the previous run"),
        Err(error) => tracing::warn!(%error, "cannot clear alerts left active"),
    }
}

/// One detection cycle; `false` when the engine is gone (the service is stopping).
async fn cycle(state: &AppState, detection: &mut Detection) -> bool {
    let started = std::time::Instant::now();
    let now_ms = state.clock.now_ms();
    let aircraft = state.live.tracks.snapshot(now_ms);
    let snapshot_s = started.elapsed().as_secs_f64();
    metrics::gauge!("deconflict_live_aircraft").set(aircraft.len() as f64);

    let agreement = state.published.agreement();
    let detector = match detection.detector.take() {
        Some((version, detector)) if version == agreement.version => detector,
        _ => match agreement.terms.detection_params() {
            Ok(params) => TacticalDetector::new(params),
            Err(error) => {
                tracing::error!(%error, "the agreement's tactical terms are unusable; no detection");
                return true;
            }
        },
    };
    let parties_started = std::time::Instant::now();
    let parties: Vec<u32> = aircraft
        .iter()
        .map(|plane| {
            let next = detection.parties.len() as u32;
            *detection.parties.entry(plane.party.clone()).or_insert(next)
        })
        .collect();
    let parties_s = parties_started.elapsed().as_secs_f64();
    let version = agreement.version;
    let detect_started = std::time::Instant::now();
    // Bringing every aircraft to now and the detection itself run on the blocking pool,
    // both spread over the cores (extrapolation is trigonometry for every aircraft).
    let joined = tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        let brought: Vec<Result<AircraftState, _>> = aircraft
            .par_iter()
            .zip(parties.par_iter())
            .map(|(plane, &party)| {
                let r = &plane.report;
                AircraftState::new(
                    PartyIndex(party),
                    r.lat,
                    r.lon,
                    r.alt_m,
                    r.vn_mps,
                    r.ve_mps,
                    r.vu_mps,
                )
                .and_then(|s| s.extrapolated((now_ms - r.time_ms) as f64 / 1000.0))
            })
            .collect();
        // The aircraft judged this cycle (by position in `aircraft`) and their states.
        let mut judged = Vec::with_capacity(aircraft.len());
        let mut states = Vec::with_capacity(aircraft.len());
        for (index, state) in brought.into_iter().enumerate() {
            match state {
                Ok(state) => {
                    judged.push(index);
                    states.push(state);
                }
                // Reports are validated on the way in and extrapolation of a valid state
                // stays valid, so this does not happen; leaving the aircraft out is logged.
                Err(error) => {
                    let plane = &aircraft[index];
                    tracing::error!(%error, party = %plane.party, id = %plane.id, "live aircraft skipped")
                }
            }
        }
        let mut detector = detector;
        let pairs = detector.detect(&states);
        (detector, aircraft, judged, states, pairs)
    })
    .await;
    let (detector, aircraft, judged, states, pairs) = match joined {
        Ok(result) => result,
        Err(error) => {
            tracing::error!(%error, "a detection cycle failed");
            return true;
        }
    };
    detection.detector = Some((version, detector));
    let detect_s = detect_started.elapsed().as_secs_f64();

    let key_of = |index: u32| {
        let plane = &aircraft[judged[index as usize]];
        AircraftKey::new(&*plane.party, &*plane.id)
    };
    let mut position: HashMap<AircraftKey, usize> = HashMap::new();
    let conflicts: Vec<(PairKey, PairAssessment)> = pairs
        .iter()
        .map(|pair| {
            let (a, b) = (key_of(pair.first), key_of(pair.second));
            position.insert(a.clone(), pair.first as usize);
            position.insert(b.clone(), pair.second as usize);
            (PairKey::new(a, b), pair.assessment)
        })
        .collect();

    // The previous cycle's changes were committing while this one detected.
    let settle_started = std::time::Instant::now();
    if !settle(state, detection).await {
        return false;
    }
    let settle_s = settle_started.elapsed().as_secs_f64();
    let before = detection.tracker.clone();
    let changes = match detection.tracker.cycle(now_ms as f64 / 1000.0, conflicts) {
        Ok(changes) => changes,
        Err(error) => {
            tracing::warn!(%error, "alert cycle skipped");
            return true;
        }
    };
    metrics::histogram!("deconflict_detection_cycle_seconds")
        .record(started.elapsed().as_secs_f64());
    tracing::debug!(
        aircraft = judged.len(),
        snapshot_s,
        parties_s,
        detect_s,
        settle_s,
        total_s = started.elapsed().as_secs_f64(),
        "detection cycle"
    );
    if changes.is_empty() {
        return true;
    }
    let updates: Vec<AlertUpdate> = changes
        .iter()
        .filter_map(|change| {
            alert_update(
                change,
                &state.live.alerts,
                &position,
                &states,
                now_ms,
                &mut detection.rng,
            )
        })
        .collect();
    let engine = state.engine.clone();
    let live = state.live.clone();
    let count = updates.len();
    let committed = updates.clone();
    detection.in_flight = Some(InFlight {
        answer: tokio::spawn(async move {
            let answer = engine
                .call(|reply| Command::Alerts { updates, reply })
                .await;
            if answer.is_ok() {
                // At once, so `GET /v1/alerts` agrees with the events just published.
                live.alerts.apply(&committed);
            }
            answer
        }),
        before,
        count,
    });
    true
}

fn alert_update(
    change: &AlertChange,
    active: &ActiveAlerts,
    position: &HashMap<AircraftKey, usize>,
    states: &[AircraftState],
    now_ms: i64,
    rng: &mut StdRng,
) -> Option<AlertUpdate> {
    let alert = change.alert();
    let id = alert_id_text(alert.id);
    let (first, second) = (alert.pair.first(), alert.pair.second());
    let details = match (position.get(first), position.get(second)) {
        (Some(&a), Some(&b)) => Some(alert_details(
            &alert.assessment,
            &states[a],
            &states[b],
            now_ms,
        )),
        _ => None,
    };
    let previous = active.get(&id);
    let new_ref = |rng: &mut StdRng| format!("ac-{:012x}", rng.random::<u64>() >> 16);
    let (ref_a, ref_b, raised_ms) = match &previous {
        Some(previous) => (
            previous.ref_a.clone(),
            previous.ref_b.clone(),
            previous.raised_ms,
        ),
        None => (new_ref(rng), new_ref(rng), now_ms),
    };
    let details = details.or_else(|| previous.as_ref().map(|p| p.details.clone()))?;
    let (kind, cleared_ms, reaches_warning) = match change {
        AlertChange::Raised(alert) => (
            "alert.raised",
            None,
            alert.assessment.level == AlertLevel::Warning,
        ),
        AlertChange::Updated {
            alert,
            previous_level,
        } => (
            "alert.updated",
            None,
            alert.assessment.level == AlertLevel::Warning && *previous_level != AlertLevel::Warning,
        ),
        AlertChange::Cleared { .. } => ("alert.cleared", Some(now_ms), false),
    };
    Some(AlertUpdate {
        kind,
        reaches_warning,
        record: AlertRecord {
            id,
            party_a: first.party.clone(),
            aircraft_a: first.aircraft.clone(),
            ref_a,
            party_b: second.party.clone(),
            aircraft_b: second.aircraft.clone(),
            ref_b,
            level: alert.assessment.level.as_str().to_owned(),
            raised_ms,
            updated_ms: now_ms,
            cleared_ms,
            details,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_time_parser_agrees_with_the_full_one_or_declines() {
        let cases = [
            "2015-10-20T10:00:00Z",
            "2015-10-20T10:00:00.5Z",
            "2015-10-20T10:00:00.123Z",
            "2015-10-20T10:00:00.123456789Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "2000-02-29T12:34:56Z",
            "2100-03-01T00:00:00Z",
            "2024-12-31T23:59:59.9Z",
        ];
        for text in cases {
            assert_eq!(
                utc_millis(text),
                Some(parse_rfc3339_ms(text).unwrap()),
                "{text}"
            );
        }
        for text in [
            "2015-10-20T10:00:00+02:00",
            "2015-10-20t10:00:00Z",
            "2015-02-29T10:00:00Z",
            "2015-10-20T24:00:00Z",
            "2015-10-20T10:00:00.Z",
            "2015-10-20T10:00:00.1234567890Z",
            "2015-10-20T10:00:00ZZ",
            "2015-13-20T10:00:00Z",
            "20151020T100000Z",
            "",
        ] {
            assert_eq!(utc_millis(text), None, "{text}");
        }
        // Offsets still parse through the full parser.
        assert_eq!(
            parse_rfc3339_ms("2015-10-20T12:00:00+02:00").unwrap(),
            utc_millis("2015-10-20T10:00:00Z").unwrap()
        );
    }
}
