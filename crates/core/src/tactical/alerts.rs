//! The alert lifecycle: a pure state machine from the conflicting pairs of successive
//! cycles to the alerts raised, updated and cleared.
//!
//! * An alert is keyed by the unordered pair of aircraft, each aircraft being
//!   (party, aircraft id); its id comes from an injected [`AlertIdSource`] and stays the
//!   same for as long as the alert lives.
//! * **Raised** when a pair without an alert is found in conflict.
//! * **Updated** when the level changes, or when the figures move materially: the
//!   predicted instant of loss of separation (cycle time plus time to loss of separation,
//!   so a steady encounter does not update every cycle just because time passes; not once
//!   separation is lost) by more than [`AlertSettings::update_time_s`], or the distance at
//!   closest approach by more than [`AlertSettings::update_distance_m`] since the figures
//!   were last reported.
//! * **Cleared** with hysteresis: only after the pair has been predicted clear (absent from
//!   the cycles' conflicts) for [`AlertSettings::clear_after_s`] without interruption, so
//!   a pair hovering at the edge of the criterion does not flicker. A pair found in
//!   conflict again before then keeps its alert and its id.
//!
//! Time is an argument: the tracker never reads a clock.

use std::collections::BTreeMap;

use thiserror::Error;

use super::assess::{AlertLevel, PairAssessment};
use super::params::InvalidParameter;

/// One aircraft as the service knows it: its party and its own id within that party.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AircraftKey {
    pub party: String,
    pub aircraft: String,
}

impl AircraftKey {
    pub fn new(party: impl Into<String>, aircraft: impl Into<String>) -> Self {
        Self {
            party: party.into(),
            aircraft: aircraft.into(),
        }
    }
}

/// An unordered pair of aircraft, stored in order so that (a, b) and (b, a) are one key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PairKey {
    first: AircraftKey,
    second: AircraftKey,
}

impl PairKey {
    pub fn new(a: AircraftKey, b: AircraftKey) -> Self {
        if a <= b {
            Self {
                first: a,
                second: b,
            }
        } else {
            Self {
                first: b,
                second: a,
            }
        }
    }
    pub fn first(&self) -> &AircraftKey {
        &self.first
    }
    pub fn second(&self) -> &AircraftKey {
        &self.second
    }
}

/// An alert's identifier, stable for the alert's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId(pub u64);

/// Where new alert ids come from: a counter, a database sequence, a replayed log.
pub trait AlertIdSource {
    fn next_alert_id(&mut self) -> AlertId;
}

/// Ids 1, 2, 3, … (or from any starting value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequentialAlertIds {
    next: u64,
}

impl SequentialAlertIds {
    pub fn starting_at(first: u64) -> Self {
        Self { next: first }
    }
}

impl Default for SequentialAlertIds {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl AlertIdSource for SequentialAlertIds {
    fn next_alert_id(&mut self) -> AlertId {
        let id = AlertId(self.next);
        self.next += 1;
        id
    }
}

/// How alerts clear and when they count as changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertSettings {
    clear_after_s: f64,
    update_time_s: f64,
    update_distance_m: f64,
    update_interval_s: f64,
}

impl AlertSettings {
    pub fn new(
        clear_after_s: f64,
        update_time_s: f64,
        update_distance_m: f64,
    ) -> Result<Self, InvalidParameter> {
        for (name, value) in [
            ("clear_after_s", clear_after_s),
            ("update_time_s", update_time_s),
            ("update_distance_m", update_distance_m),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(InvalidParameter::Negative { name, value });
            }
        }
        Ok(Self {
            clear_after_s,
            update_time_s,
            update_distance_m,
            update_interval_s: 0.0,
        })
    }
    /// The same settings, but an alert whose level has not changed is updated at most
    /// once per `interval_s` (a level change is always reported at once).
    pub fn with_update_interval_s(self, interval_s: f64) -> Result<Self, InvalidParameter> {
        if !(interval_s.is_finite() && interval_s >= 0.0) {
            return Err(InvalidParameter::Negative {
                name: "update_interval_s",
                value: interval_s,
            });
        }
        Ok(Self {
            update_interval_s: interval_s,
            ..self
        })
    }
    /// The shortest time between two updates of an alert at the same level.
    pub fn update_interval_s(&self) -> f64 {
        self.update_interval_s
    }
    /// How long a pair must be predicted clear, without interruption, before its alert
    /// clears.
    pub fn clear_after_s(&self) -> f64 {
        self.clear_after_s
    }
    /// How far the predicted instant of loss of separation must move for an update.
    pub fn update_time_s(&self) -> f64 {
        self.update_time_s
    }
    /// How far the distance at closest approach must move for an update.
    pub fn update_distance_m(&self) -> f64 {
        self.update_distance_m
    }
}

impl Default for AlertSettings {
    /// Clear after 10 s predicted clear; update on 5 s or 100 m of change, as often as
    /// it happens.
    fn default() -> Self {
        Self {
            clear_after_s: 10.0,
            update_time_s: 5.0,
            update_distance_m: 100.0,
            update_interval_s: 0.0,
        }
    }
}

/// A live alert as last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: AlertId,
    pub pair: PairKey,
    /// The figures as last reported (raised or updated).
    pub assessment: PairAssessment,
    pub raised_at_s: f64,
    /// When the figures were last reported.
    pub reported_at_s: f64,
    /// The last cycle that found the pair in conflict.
    pub last_conflict_at_s: f64,
}

/// What changed in one cycle.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChange {
    Raised(Alert),
    Updated {
        alert: Alert,
        previous_level: AlertLevel,
    },
    Cleared {
        alert: Alert,
        cleared_at_s: f64,
    },
}

impl AlertChange {
    pub fn alert(&self) -> &Alert {
        match self {
            Self::Raised(alert) | Self::Updated { alert, .. } | Self::Cleared { alert, .. } => {
                alert
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum AlertTrackerError {
    #[error("cycle time {now_s} s is before the previous cycle's {previous_s} s")]
    TimeWentBackwards { previous_s: f64, now_s: f64 },
    #[error("cycle time {0} s is not a finite number")]
    NonFiniteTime(f64),
    #[error("the pair {0:?} appears twice in one cycle")]
    DuplicatePair(Box<PairKey>),
}

#[derive(Debug, Clone)]
struct Tracked {
    alert: Alert,
    /// Since when the pair has been predicted clear, if it is now.
    clear_since_s: Option<f64>,
}

/// The alerts of one airspace, cycle after cycle.
#[derive(Debug, Clone)]
pub struct AlertTracker<S: AlertIdSource = SequentialAlertIds> {
    settings: AlertSettings,
    ids: S,
    alerts: BTreeMap<PairKey, Tracked>,
    last_cycle_s: Option<f64>,
}

impl<S: AlertIdSource> AlertTracker<S> {
    pub fn new(settings: AlertSettings, ids: S) -> Self {
        Self {
            settings,
            ids,
            alerts: BTreeMap::new(),
            last_cycle_s: None,
        }
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// Every live alert (including those waiting out their hysteresis), in pair order.
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().map(|tracked| &tracked.alert)
    }

    pub fn get(&self, pair: &PairKey) -> Option<&Alert> {
        self.alerts.get(pair).map(|tracked| &tracked.alert)
    }

    /// Takes the conflicting pairs of the cycle at `now_s` and returns what changed, in
    /// pair order (cleared, updated and raised alike). Pairs not listed are predicted
    /// clear. On error nothing changes.
    pub fn cycle(
        &mut self,
        now_s: f64,
        conflicts: impl IntoIterator<Item = (PairKey, PairAssessment)>,
    ) -> Result<Vec<AlertChange>, AlertTrackerError> {
        if !now_s.is_finite() {
            return Err(AlertTrackerError::NonFiniteTime(now_s));
        }
        if let Some(previous_s) = self.last_cycle_s {
            if now_s < previous_s {
                return Err(AlertTrackerError::TimeWentBackwards { previous_s, now_s });
            }
        }
        let mut current: BTreeMap<PairKey, PairAssessment> = BTreeMap::new();
        for (pair, assessment) in conflicts {
            if current.contains_key(&pair) {
                return Err(AlertTrackerError::DuplicatePair(Box::new(pair)));
            }
            current.insert(pair, assessment);
        }
        self.last_cycle_s = Some(now_s);

        let mut changes = Vec::new();
        // Pairs with an alert but clear this cycle: start or continue the hysteresis.
        let settings = self.settings;
        self.alerts.retain(|pair, tracked| {
            if current.contains_key(pair) {
                return true;
            }
            let since_s = *tracked.clear_since_s.get_or_insert(now_s);
            if now_s - since_s >= settings.clear_after_s {
                changes.push(AlertChange::Cleared {
                    alert: tracked.alert.clone(),
                    cleared_at_s: now_s,
                });
                false
            } else {
                true
            }
        });
        for (pair, assessment) in current {
            match self.alerts.get_mut(&pair) {
                Some(tracked) => {
                    tracked.clear_since_s = None;
                    tracked.alert.last_conflict_at_s = now_s;
                    let previous_level = tracked.alert.assessment.level;
                    if materially_changed(&tracked.alert, now_s, &assessment, &settings) {
                        tracked.alert.assessment = assessment;
                        tracked.alert.reported_at_s = now_s;
                        changes.push(AlertChange::Updated {
                            alert: tracked.alert.clone(),
                            previous_level,
                        });
                    }
                }
                None => {
                    let alert = Alert {
                        id: self.ids.next_alert_id(),
                        pair: pair.clone(),
                        assessment,
                        raised_at_s: now_s,
                        reported_at_s: now_s,
                        last_conflict_at_s: now_s,
                    };
                    changes.push(AlertChange::Raised(alert.clone()));
                    self.alerts.insert(
                        pair,
                        Tracked {
                            alert,
                            clear_since_s: None,
                        },
                    );
                }
            }
        }
        changes.sort_by(|x, y| x.alert().pair.cmp(&y.alert().pair));
        Ok(changes)
    }
}

fn materially_changed(
    alert: &Alert,
    now_s: f64,
    new: &PairAssessment,
    settings: &AlertSettings,
) -> bool {
    let old = &alert.assessment;
    let then_s = alert.reported_at_s;
    // Once separation is lost the instant of loss is no longer news.
    let los_moved = new.time_to_los_s > 0.0
        && old.time_to_los_s > 0.0
        && ((now_s + new.time_to_los_s) - (then_s + old.time_to_los_s)).abs()
            > settings.update_time_s;
    let figures_moved = los_moved || (new.dcpa_m - old.dcpa_m).abs() > settings.update_distance_m;
    new.level != old.level || (figures_moved && now_s - then_s >= settings.update_interval_s)
}
