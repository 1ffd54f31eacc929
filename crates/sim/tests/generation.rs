//! The generator's promises: determinism, kinematic plausibility, tracks that keep to
//! their intents, and a seed scenario busy enough to exercise the detectors.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{
    assert_conforming, assert_plausible, generate_with, horizontal_distance_m, predicted_conflict,
    syria, volumes_conflict,
};
use deconflict_core::strategic::intents_conflict;
use deconflict_core::tactical::{DetectionParams, TacticalDetector};
use deconflict_sim::geo::{haversine_distance_m, initial_bearing_rad, wrap_pi};
use deconflict_sim::intents::PlannedVolume;
use deconflict_sim::output::{write_geojson, write_intents_json, write_manifest, write_tracks_csv};
use deconflict_sim::{GenerateOptions, Generated, Scenario};
use deconflict_wire::check::parse_check_input;
use deconflict_wire::tracks::{party_indexes, read_tracks_csv};

fn files(scenario: &Scenario, generated: &Generated) -> Vec<Vec<u8>> {
    let mut intents = Vec::new();
    write_intents_json(scenario, generated, &mut intents).unwrap();
    let mut tracks = Vec::new();
    write_tracks_csv(generated, &mut tracks).unwrap();
    let mut geojson = Vec::new();
    write_geojson(scenario, generated, &mut geojson).unwrap();
    let mut manifest = Vec::new();
    write_manifest(scenario, generated, &mut manifest).unwrap();
    vec![intents, tracks, geojson, manifest]
}

#[test]
fn the_same_seed_gives_byte_identical_files_and_another_seed_different_ones() {
    let scenario = syria();
    let options = GenerateOptions::with_seed(7);
    let first = files(&scenario, &generate_with(&scenario, &options));
    let second = files(&scenario, &generate_with(&scenario, &options));
    for (index, (a, b)) in first.iter().zip(&second).enumerate() {
        assert!(a == b, "file {index} differs between two runs with seed 7");
    }
    let other = files(
        &scenario,
        &generate_with(&scenario, &GenerateOptions::with_seed(8)),
    );
    assert_ne!(first[0], other[0], "intents are the same for seeds 7 and 8");
    assert_ne!(first[1], other[1], "tracks are the same for seeds 7 and 8");
}

#[test]
fn tracks_stay_within_their_types_limits_and_velocities_match_positions() {
    let scenario = syria();
    for (seed, step_s) in [(1, 1), (2, 5), (3, 10)] {
        let options = GenerateOptions {
            track_step_s: Some(step_s),
            ..GenerateOptions::with_seed(seed)
        };
        let generated = generate_with(&scenario, &options);
        assert!(generated.flights.len() > 10);
        assert_plausible(&scenario, &generated, seed);
    }
}

#[test]
fn every_track_state_lies_inside_a_volume_of_its_intent() {
    let scenario = syria();
    for seed in [11, 12] {
        let options = GenerateOptions {
            duration_s: Some(2 * 3600),
            ..GenerateOptions::with_seed(seed)
        };
        let generated = generate_with(&scenario, &options);
        assert_conforming(&generated, seed);
    }
}

#[test]
fn syria_2015_yields_strategic_conflicts_and_tactical_encounters_every_hour() {
    let scenario = syria();
    for seed in [1, 2, 2015] {
        assert_busy_hour(&scenario, seed);
    }
}

/// At least three strategic conflicts and three tactical encounters between the parties
/// in the scenario's first hour, and the communications test among the encounters.
fn assert_busy_hour(scenario: &Scenario, seed: u64) {
    let agreement = &scenario.agreement;
    let generated = generate_with(scenario, &GenerateOptions::with_seed(seed));
    let span = generated.start_unix_s..generated.start_unix_s + generated.duration_s as i64;
    let meets_span = |volume: &PlannedVolume| {
        volume.time_start_unix_s < span.end && volume.time_end_unix_s >= span.start
    };

    // Strategic, as `deconflict check` sees it: the written file read back by the wire
    // parser, every pair of intents of different parties tested by the core's detector,
    // counting pairs with a conflicting pair of volumes whose windows meet the span.
    let mut bytes = Vec::new();
    write_intents_json(scenario, &generated, &mut bytes).unwrap();
    let input = parse_check_input(std::str::from_utf8(&bytes).unwrap()).unwrap();
    assert_eq!(input.intents.len(), generated.intents.len());
    let mut strategic = BTreeSet::new();
    for (i, a) in input.intents.iter().enumerate() {
        for (j, b) in input.intents.iter().enumerate().skip(i + 1) {
            if a.party == b.party {
                continue;
            }
            let Some(conflict) = intents_conflict(&a.volumes, &b.volumes, &input.separation) else {
                continue;
            };
            let in_span = conflict.volume_pairs.iter().any(|&(va, vb)| {
                meets_span(&generated.intents[i].volumes[va])
                    && meets_span(&generated.intents[j].volumes[vb])
            });
            if in_span {
                strategic.insert((a.id.clone(), b.id.clone()));
            }
        }
    }
    assert!(
        strategic.len() >= 3,
        "seed {seed}: only {} strategic conflicts: {strategic:?}",
        strategic.len()
    );
    // The plain planar check agrees on every pair it finds.
    for (i, a) in generated.intents.iter().enumerate() {
        for b in &generated.intents[i + 1..] {
            if a.party == b.party {
                continue;
            }
            let simple = a.volumes.iter().any(|va| {
                b.volumes.iter().any(|vb| {
                    meets_span(va)
                        && meets_span(vb)
                        && volumes_conflict(
                            va,
                            vb,
                            agreement.horizontal_m * 0.99,
                            agreement.vertical_m,
                            agreement.time_s,
                        )
                })
            });
            if simple {
                assert!(
                    strategic.contains(&(a.id.clone(), b.id.clone())),
                    "the planar check finds {} and {} in conflict, the core does not",
                    a.id,
                    b.id
                );
            }
        }
    }

    // Tactical, as `deconflict detect` sees it: the written CSV read back by the wire
    // reader, each step's states run through the core's detector with the contract's
    // defaults (cylinder of 5 NM and 1,000 ft, five minutes' lookahead), counting pairs of
    // aircraft of different parties.
    let mut csv = Vec::new();
    write_tracks_csv(&generated, &mut csv).unwrap();
    let rows = read_tracks_csv(csv.as_slice()).unwrap();
    let parties = party_indexes(&rows);
    let mut by_time: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        by_time.entry(row.time_s as i64).or_default().push(index);
    }
    let mut detector = TacticalDetector::new(DetectionParams::default());
    let mut encounters = BTreeSet::new();
    for indexes in by_time.values() {
        let states: Vec<_> = indexes
            .iter()
            .map(|&index| rows[index].state.with_party(parties[index]))
            .collect();
        for pair in detector.detect(&states) {
            let a = &rows[indexes[pair.first as usize]].id;
            let b = &rows[indexes[pair.second as usize]].id;
            encounters.insert((a.min(b).clone(), a.max(b).clone()));
        }
    }
    assert!(
        encounters.len() >= 3,
        "seed {seed}: only {} tactical encounters: {encounters:?}",
        encounters.len()
    );
    assert!(
        encounters.contains(&("MUSTANG01".to_string(), "SOKOL01".to_string())),
        "seed {seed}: the communications test is not an encounter"
    );
    // The plain planar prediction, with a slightly smaller cylinder, finds no pair the
    // core misses.
    let mut states_at: BTreeMap<i64, Vec<(&str, &str, _)>> = BTreeMap::new();
    for flight in &generated.flights {
        for state in &flight.track {
            states_at.entry(state.time_unix_s).or_default().push((
                flight.aircraft_id.as_str(),
                flight.party.as_str(),
                state.state,
            ));
        }
    }
    for states in states_at.values() {
        for (i, a) in states.iter().enumerate() {
            for b in &states[i + 1..] {
                if a.1 != b.1 && predicted_conflict(&a.2, &b.2, 9200.0, 300.0, 299.0) {
                    let key = (a.0.min(b.0).to_string(), a.0.max(b.0).to_string());
                    assert!(
                        encounters.contains(&key),
                        "the planar check finds {key:?}, the core does not"
                    );
                }
            }
        }
    }
    println!(
        "syria-2015, seed {seed}, one hour: {} flights, {} strategic conflicts, {} tactical encounters",
        generated.flights.len(),
        strategic.len(),
        encounters.len()
    );
}

#[test]
fn the_communications_test_puts_two_fighters_within_about_8_km_for_about_three_minutes() {
    let scenario = syria();
    for seed in [1, 2015, 99] {
        let generated = generate_with(&scenario, &GenerateOptions::with_seed(seed));
        let track = |id: &str| {
            generated
                .flights
                .iter()
                .find(|f| f.aircraft_id == id)
                .unwrap_or_else(|| panic!("seed {seed}: no {id}"))
                .track
                .iter()
                .map(|s| (s.time_unix_s, s.state))
                .collect::<BTreeMap<_, _>>()
        };
        let (coalition, russia) = (track("MUSTANG01"), track("SOKOL01"));
        let mut close_s = 0;
        let mut least_m = f64::MAX;
        for (time, a) in &coalition {
            if let Some(b) = russia.get(time) {
                let distance_m = horizontal_distance_m(a, b);
                least_m = least_m.min(distance_m);
                if distance_m < 9000.0 {
                    close_s += generated.track_step_s;
                    // Side by side, in the same direction.
                    let heading_gap = wrap_pi(a.heading_rad - b.heading_rad).abs();
                    assert!(
                        heading_gap < 0.6,
                        "seed {seed}: headings {heading_gap} rad apart at {time}"
                    );
                }
            }
        }
        assert!(
            (120..=300).contains(&close_s),
            "seed {seed}: within 9 km for {close_s} s"
        );
        assert!(
            (6000.0..=8500.0).contains(&least_m),
            "seed {seed}: closest approach {least_m} m"
        );
    }
}

#[test]
fn longer_spans_and_higher_rates_give_more_traffic() {
    let scenario = syria();
    let hour = generate_with(&scenario, &GenerateOptions::with_seed(5));
    let busy = generate_with(
        &scenario,
        &GenerateOptions {
            rate_scale: 4.0,
            ..GenerateOptions::with_seed(5)
        },
    );
    assert!(
        busy.flights.len() > 3 * hour.flights.len() / 2,
        "{} vs {}",
        busy.flights.len(),
        hour.flights.len()
    );
    // Every aircraft id is unique and every flight has its intent.
    let ids: BTreeSet<_> = busy.flights.iter().map(|f| &f.aircraft_id).collect();
    assert_eq!(ids.len(), busy.flights.len());
    let intents: BTreeSet<_> = busy.intents.iter().map(|i| &i.id).collect();
    assert!(busy.flights.iter().all(|f| intents.contains(&f.intent_id)));
}

#[test]
fn a_sortie_leaves_from_its_base_and_heads_for_its_area() {
    let scenario = syria();
    let generated = generate_with(
        &scenario,
        &GenerateOptions {
            duration_s: Some(4 * 3600),
            ..GenerateOptions::with_seed(3)
        },
    );
    let base_of = |pattern_id: &str| {
        let pattern = scenario
            .patterns
            .iter()
            .find(|p| p.id == pattern_id)
            .unwrap();
        &scenario.bases[pattern.base]
    };
    let mut departures_seen = 0;
    for flight in &generated.flights {
        let first = &flight.track[0];
        if first.time_unix_s - flight.departure_unix_s < generated.track_step_s as i64 {
            departures_seen += 1;
            let base = base_of(&flight.pattern_id);
            let from_base_m = haversine_distance_m(base.position, first.state.position);
            assert!(
                from_base_m < 2_000.0,
                "{} starts {from_base_m} m from {}",
                flight.aircraft_id,
                base.id
            );
            assert!(first.state.altitude_m < base.elevation_m + 200.0);
            // Climbing out, not yet turning back.
            let later = &flight.track[flight.track.len().min(60) - 1];
            let bearing_out = initial_bearing_rad(base.position, later.state.position);
            assert!(bearing_out.is_finite());
        }
    }
    assert!(
        departures_seen > 5,
        "only {departures_seen} departures in four hours"
    );
}

#[test]
fn removing_one_pattern_leaves_every_other_patterns_sorties_unchanged() {
    let text = deconflict_sim::builtin("syria-2015").unwrap();
    let start = text.find("[[patterns]]\nid = \"ru-recon\"").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..]);
    let full = generate_with(&syria(), &GenerateOptions::with_seed(21));
    let reduced = generate_with(
        &Scenario::from_toml(&without).unwrap(),
        &GenerateOptions::with_seed(21),
    );
    let others: Vec<_> = full
        .flights
        .iter()
        .filter(|f| f.pattern_id != "ru-recon")
        .collect();
    assert_eq!(others.len(), reduced.flights.len());
    for (a, b) in others.iter().zip(&reduced.flights) {
        assert_eq!(a.aircraft_id, b.aircraft_id);
        assert_eq!(a.track, b.track, "{} changed", a.aircraft_id);
    }
}

#[test]
fn a_longer_span_holds_every_sortie_of_a_shorter_one_unchanged() {
    let scenario = syria();
    let hour = generate_with(&scenario, &GenerateOptions::with_seed(17));
    let two_hours = generate_with(
        &scenario,
        &GenerateOptions {
            duration_s: Some(7200),
            ..GenerateOptions::with_seed(17)
        },
    );
    for flight in &hour.flights {
        // Matched by pattern and take-off: numbering follows the kept sorties, so an id
        // may shift when a longer span keeps an earlier sortie the shorter one did not.
        let longer = two_hours
            .flights
            .iter()
            .find(|f| {
                f.pattern_id == flight.pattern_id && f.departure_unix_s == flight.departure_unix_s
            })
            .unwrap_or_else(|| panic!("{} is missing from the longer span", flight.aircraft_id));
        assert_eq!(&longer.track[..flight.track.len()], &flight.track[..]);
    }
    assert!(two_hours.flights.len() > hour.flights.len());
}

#[test]
fn moving_the_start_moves_every_sortie_by_the_same_amount() {
    let scenario = syria();
    let day_s = 86_400 * 30;
    let original = generate_with(&scenario, &GenerateOptions::with_seed(4));
    let moved = generate_with(
        &scenario,
        &GenerateOptions {
            start_unix_s: Some(scenario.start_unix_s + day_s),
            ..GenerateOptions::with_seed(4)
        },
    );
    assert_eq!(original.flights.len(), moved.flights.len());
    for (a, b) in original.flights.iter().zip(&moved.flights) {
        assert_eq!(a.aircraft_id, b.aircraft_id);
        assert_eq!(a.departure_unix_s + day_s, b.departure_unix_s);
        assert_eq!(a.track.len(), b.track.len());
        for (sa, sb) in a.track.iter().zip(&b.track) {
            assert_eq!(sa.time_unix_s + day_s, sb.time_unix_s);
            assert_eq!(sa.state, sb.state);
        }
    }
}

#[test]
fn an_impossible_amount_of_traffic_is_refused_before_it_is_drawn() {
    let scenario = syria();
    let options = GenerateOptions {
        rate_scale: 10_000.0,
        duration_s: Some(7 * 24 * 3600),
        ..GenerateOptions::with_seed(1)
    };
    match deconflict_sim::generate(&scenario, &options, &|_| {}) {
        Err(error) => assert!(error.to_string().contains("rate scale"), "{error}"),
        Ok(generated) => panic!("{} flights generated", generated.flights.len()),
    }
}
