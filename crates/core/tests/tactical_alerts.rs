//! The alert lifecycle: raise, update, clear with hysteresis, stable ids.

use deconflict_core::tactical::{
    AircraftKey, AlertChange, AlertId, AlertLevel, AlertSettings, AlertTracker, AlertTrackerError,
    PairAssessment, PairKey, SequentialAlertIds,
};

fn pair(a: &str, b: &str) -> PairKey {
    PairKey::new(AircraftKey::new("red", a), AircraftKey::new("blue", b))
}

fn assessment(level: AlertLevel, time_to_los_s: f64, dcpa_m: f64) -> PairAssessment {
    PairAssessment {
        level,
        time_to_los_s,
        tcpa_s: time_to_los_s + 10.0,
        dcpa_m,
        distance_m: 20_000.0,
        vertical_m: 0.0,
    }
}

fn tracker() -> AlertTracker<SequentialAlertIds> {
    AlertTracker::new(
        AlertSettings::default(),
        SequentialAlertIds::starting_at(100),
    )
}

fn kinds(changes: &[AlertChange]) -> Vec<(&'static str, u64)> {
    changes
        .iter()
        .map(|c| {
            let kind = match c {
                AlertChange::Raised(_) => "raised",
                AlertChange::Updated { .. } => "updated",
                AlertChange::Cleared { .. } => "cleared",
            };
            (kind, c.alert().id.0)
        })
        .collect()
}

#[test]
fn a_new_conflict_raises_an_alert_with_the_next_id() {
    let mut t = tracker();
    let changes = t
        .cycle(
            0.0,
            [(
                pair("r1", "b1"),
                assessment(AlertLevel::Advisory, 200.0, 500.0),
            )],
        )
        .unwrap();
    assert_eq!(kinds(&changes), [("raised", 100)]);
    let changes = t
        .cycle(
            1.0,
            [
                (
                    pair("r1", "b1"),
                    assessment(AlertLevel::Advisory, 199.0, 500.0),
                ),
                (
                    pair("r2", "b1"),
                    assessment(AlertLevel::Caution, 100.0, 0.0),
                ),
            ],
        )
        .unwrap();
    assert_eq!(kinds(&changes), [("raised", 101)]);
    assert_eq!(t.active().count(), 2);
}

#[test]
fn the_pair_key_ignores_the_order_of_the_two_aircraft() {
    let a = AircraftKey::new("red", "r1");
    let b = AircraftKey::new("blue", "b1");
    assert_eq!(PairKey::new(a.clone(), b.clone()), PairKey::new(b, a));
}

#[test]
fn a_steady_encounter_does_not_update_every_cycle_but_a_level_change_does() {
    let mut t = tracker();
    t.cycle(
        0.0,
        [(
            pair("r1", "b1"),
            assessment(AlertLevel::Caution, 70.0, 500.0),
        )],
    )
    .unwrap();
    // Time to LoS falls one second per second: the same predicted instant, no update.
    for now in 1..10 {
        let changes = t
            .cycle(
                now as f64,
                [(
                    pair("r1", "b1"),
                    assessment(AlertLevel::Caution, 70.0 - now as f64, 500.0),
                )],
            )
            .unwrap();
        assert!(changes.is_empty(), "at {now} s: {changes:?}");
    }
    let changes = t
        .cycle(
            10.0,
            [(
                pair("r1", "b1"),
                assessment(AlertLevel::Warning, 60.0, 500.0),
            )],
        )
        .unwrap();
    match &changes[..] {
        [AlertChange::Updated {
            alert,
            previous_level,
        }] => {
            assert_eq!(alert.id, AlertId(100));
            assert_eq!(*previous_level, AlertLevel::Caution);
            assert_eq!(alert.assessment.level, AlertLevel::Warning);
        }
        other => panic!("expected one update, got {other:?}"),
    }
}

#[test]
fn figures_that_move_materially_update_the_alert() {
    let mut t = tracker();
    t.cycle(
        0.0,
        [(
            pair("r1", "b1"),
            assessment(AlertLevel::Advisory, 200.0, 500.0),
        )],
    )
    .unwrap();
    // The LoS instant moves by 20 s (a manoeuvre).
    let changes = t
        .cycle(
            1.0,
            [(
                pair("r1", "b1"),
                assessment(AlertLevel::Advisory, 219.0, 500.0),
            )],
        )
        .unwrap();
    assert_eq!(kinds(&changes), [("updated", 100)]);
    // The miss distance moves by 150 m.
    let changes = t
        .cycle(
            2.0,
            [(
                pair("r1", "b1"),
                assessment(AlertLevel::Advisory, 218.0, 650.0),
            )],
        )
        .unwrap();
    assert_eq!(kinds(&changes), [("updated", 100)]);
    // Small wobble: nothing.
    let changes = t
        .cycle(
            3.0,
            [(
                pair("r1", "b1"),
                assessment(AlertLevel::Advisory, 218.0, 700.0),
            )],
        )
        .unwrap();
    assert!(changes.is_empty());
}

#[test]
fn an_alert_clears_only_after_the_pair_stays_clear_for_the_hysteresis_time() {
    let mut t = tracker();
    let conflict = || {
        [(
            pair("r1", "b1"),
            assessment(AlertLevel::Advisory, 200.0, 500.0),
        )]
    };
    t.cycle(0.0, conflict()).unwrap();
    // Clear for 9 s, then back: the alert survives with its id.
    for now in 1..=9 {
        assert!(t.cycle(now as f64, []).unwrap().is_empty());
    }
    assert!(t
        .cycle(10.0, conflict())
        .unwrap()
        .iter()
        .all(|c| c.alert().id == AlertId(100)));
    assert_eq!(t.active().count(), 1);
    // Clear from 11 s: cleared at 21 s, not before.
    for now in 11..21 {
        assert!(
            t.cycle(now as f64, []).unwrap().is_empty(),
            "cleared early at {now} s"
        );
    }
    let changes = t.cycle(21.0, []).unwrap();
    match &changes[..] {
        [AlertChange::Cleared {
            alert,
            cleared_at_s,
        }] => {
            assert_eq!(alert.id, AlertId(100));
            assert_eq!(*cleared_at_s, 21.0);
            assert_eq!(alert.last_conflict_at_s, 10.0);
        }
        other => panic!("expected one clearance, got {other:?}"),
    }
    assert_eq!(t.active().count(), 0);
    // The same pair in conflict again is a new alert with a new id.
    let changes = t.cycle(22.0, conflict()).unwrap();
    assert_eq!(kinds(&changes), [("raised", 101)]);
}

#[test]
fn zero_hysteresis_clears_on_the_first_clear_cycle() {
    let mut t = AlertTracker::new(
        AlertSettings::new(0.0, 5.0, 100.0).unwrap(),
        SequentialAlertIds::default(),
    );
    t.cycle(
        0.0,
        [(
            pair("r1", "b1"),
            assessment(AlertLevel::Advisory, 200.0, 500.0),
        )],
    )
    .unwrap();
    assert_eq!(kinds(&t.cycle(1.0, []).unwrap()), [("cleared", 1)]);
}

#[test]
fn time_going_backwards_or_a_repeated_pair_is_refused_and_changes_nothing() {
    let mut t = tracker();
    t.cycle(
        5.0,
        [(
            pair("r1", "b1"),
            assessment(AlertLevel::Advisory, 200.0, 500.0),
        )],
    )
    .unwrap();
    assert!(matches!(
        t.cycle(4.0, []),
        Err(AlertTrackerError::TimeWentBackwards { .. })
    ));
    let twice = [
        (
            pair("r2", "b2"),
            assessment(AlertLevel::Advisory, 200.0, 500.0),
        ),
        (
            pair("r2", "b2"),
            assessment(AlertLevel::Warning, 20.0, 500.0),
        ),
    ];
    assert!(matches!(
        t.cycle(6.0, twice),
        Err(AlertTrackerError::DuplicatePair(_))
    ));
    assert!(t.cycle(f64::NAN, []).is_err());
    assert_eq!(t.active().count(), 1);
    assert!(t.get(&pair("r2", "b2")).is_none());
}

#[test]
fn the_changes_of_a_cycle_come_in_pair_order() {
    let mut t = tracker();
    let changes = t
        .cycle(
            0.0,
            [
                (
                    pair("r9", "b1"),
                    assessment(AlertLevel::Advisory, 200.0, 500.0),
                ),
                (
                    pair("r1", "b1"),
                    assessment(AlertLevel::Advisory, 200.0, 500.0),
                ),
            ],
        )
        .unwrap();
    let pairs: Vec<_> = changes.iter().map(|c| c.alert().pair.clone()).collect();
    let mut sorted = pairs.clone();
    sorted.sort();
    assert_eq!(pairs, sorted);
}

#[test]
fn with_an_update_interval_figures_are_reported_at_most_that_often_but_levels_at_once() {
    let settings = AlertSettings::default()
        .with_update_interval_s(2.0)
        .unwrap();
    assert_eq!(settings.update_interval_s(), 2.0);
    assert!(AlertSettings::default()
        .with_update_interval_s(-1.0)
        .is_err());
    let mut t = AlertTracker::new(settings, SequentialAlertIds::starting_at(100));
    let key = pair("r1", "b1");
    t.cycle(
        0.0,
        [(key.clone(), assessment(AlertLevel::Advisory, 200.0, 500.0))],
    )
    .unwrap();
    // The miss distance moves by 150 m 1 s later: too soon for an update at the same level.
    let changes = t
        .cycle(
            1.0,
            [(key.clone(), assessment(AlertLevel::Advisory, 199.0, 650.0))],
        )
        .unwrap();
    assert!(changes.is_empty());
    // 2 s after the last report it is reported, measured against what was last reported.
    let changes = t
        .cycle(
            2.0,
            [(key.clone(), assessment(AlertLevel::Advisory, 198.0, 650.0))],
        )
        .unwrap();
    assert_eq!(kinds(&changes), [("updated", 100)]);
    // A level change is reported at once, whatever the interval.
    let changes = t
        .cycle(
            2.5,
            [(key.clone(), assessment(AlertLevel::Caution, 110.0, 650.0))],
        )
        .unwrap();
    assert_eq!(kinds(&changes), [("updated", 100)]);
}
