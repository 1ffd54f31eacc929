//! The strategic index against the exhaustive scan, and the laws of the conflict test.

mod geometry_cases;

use deconflict_core::geometry::{TimeWindow, Volume4D};
use deconflict_core::strategic::{
    intents_conflict, ExhaustiveScan, Separation, StrategicConflict, StrategicIndex,
    CHANGES_REMEMBERED,
};
use geometry_cases::*;
use proptest::prelude::*;
use rand::RngExt;

const DAY_START_S: f64 = 1_445_299_200.0; // 2015-10-20T00:00:00Z

fn separation() -> Separation {
    Separation::new(9_260.0, 300.0, 120.0).unwrap()
}

/// Random intents of four parties in one region, dense enough to conflict often.
fn random_intents(seed: u64, count: usize) -> (usize, Vec<(u32, u64, Vec<Volume4D>)>) {
    let mut rng = rng(seed);
    let region = rng.random_range(0..REGIONS.len());
    let centre = random_point(&mut rng, region);
    let intents = (0..count as u64)
        .map(|id| {
            let party = rng.random_range(0..4u32);
            (
                party,
                id,
                random_intent(&mut rng, centre, 150_000.0, DAY_START_S),
            )
        })
        .collect();
    (region, intents)
}

fn assert_same(
    seed: u64,
    what: &str,
    index: &StrategicIndex<u32, u64>,
    scan: &ExhaustiveScan<u32, u64>,
    party: u32,
    volumes: &[Volume4D],
) -> usize {
    let separation = separation();
    let from_index: Vec<StrategicConflict<u32, u64>> =
        index.conflicts(&party, volumes, &separation);
    let from_scan = scan.conflicts(&party, volumes, &separation);
    assert_eq!(from_index, from_scan, "seed {seed}: {what}");
    from_index.len()
}

#[test]
fn the_index_finds_exactly_what_the_exhaustive_scan_finds() {
    let mut conflicts_seen = 0;
    for seed in 0..24 {
        let (region, intents) = random_intents(seed, 300);
        let mut index = StrategicIndex::new();
        let mut scan = ExhaustiveScan::new();
        // Half bulk-loaded, half inserted one by one.
        let (bulk, single) = intents.split_at(intents.len() / 2);
        index = if seed % 2 == 0 {
            StrategicIndex::bulk_load(bulk.iter().cloned())
        } else {
            for (party, id, volumes) in bulk.iter().cloned() {
                index.upsert(party, id, volumes);
            }
            index
        };
        for (party, id, volumes) in bulk.iter().cloned() {
            scan.upsert(party, id, volumes);
        }
        for (party, id, volumes) in single.iter().cloned() {
            index.upsert(party, id, volumes.clone());
            scan.upsert(party, id, volumes);
        }
        assert_eq!(index.len(), scan.len());
        let what = format!("after loading in {}", REGIONS[region].0);
        for (party, _, volumes) in &intents {
            conflicts_seen += assert_same(seed, &what, &index, &scan, *party, volumes);
        }
        // Updates, removals and fresh candidates.
        let mut rng = rng(seed ^ 0x5eed);
        let centre = random_point(&mut rng, region);
        for step in 0..100u64 {
            let id = rng.random_range(0..intents.len() as u64 + 20);
            let party = rng.random_range(0..4u32);
            if rng.random_range(0..4) == 0 {
                let stored_party = intents.get(id as usize).map_or(party, |i| i.0);
                assert_eq!(
                    index.remove(&stored_party, &id).is_some(),
                    scan.remove(&stored_party, &id).is_some(),
                    "seed {seed} step {step}: removal"
                );
            } else {
                let volumes = random_intent(&mut rng, centre, 150_000.0, DAY_START_S);
                let stored_party = intents.get(id as usize).map_or(party, |i| i.0);
                conflicts_seen += assert_same(seed, "candidate", &index, &scan, party, &volumes);
                index.upsert(stored_party, id, volumes.clone());
                scan.upsert(stored_party, id, volumes);
            }
            assert_eq!(index.len(), scan.len(), "seed {seed} step {step}");
        }
        for (party, _, volumes) in &intents {
            conflicts_seen += assert_same(seed, "after updates", &index, &scan, *party, volumes);
        }
    }
    // The cases must actually exercise conflicts, or the comparison proves little.
    assert!(
        conflicts_seen > 1_000,
        "only {conflicts_seen} conflicts seen"
    );
}

#[test]
fn an_intent_never_conflicts_with_its_own_party() {
    let (_, intents) = random_intents(99, 200);
    let index = StrategicIndex::bulk_load(intents.iter().cloned());
    for (party, _, volumes) in &intents {
        for conflict in index.conflicts(party, volumes, &separation()) {
            assert_ne!(conflict.party, *party);
        }
    }
}

#[test]
fn a_removed_intent_no_longer_conflicts_and_an_update_replaces_volumes() {
    let (_, intents) = random_intents(5, 200);
    let mut index = StrategicIndex::bulk_load(intents.iter().cloned());
    let (party, id, volumes) = intents
        .iter()
        .find(|(party, _, volumes)| {
            !index
                .conflicts(&(party + 1), volumes, &separation())
                .is_empty()
        })
        .cloned()
        .expect("some intent conflicts with a probe of another party");
    let probe_party = party + 1;
    let hits = |index: &StrategicIndex<u32, u64>| {
        index
            .conflicts(&probe_party, &volumes, &separation())
            .iter()
            .any(|c| c.party == party && c.intent == id)
    };
    assert!(hits(&index));
    let far = volumes
        .iter()
        .map(|v| {
            let window = TimeWindow::from_unix_s(
                v.window.start().unix_s() + 10.0 * 86_400.0,
                v.window.end().unix_s() + 10.0 * 86_400.0,
            )
            .unwrap();
            Volume4D::new(v.footprint.clone(), v.altitude, window)
        })
        .collect();
    assert_eq!(index.upsert(party, id, far), Some(volumes.clone()));
    assert!(!hits(&index));
    assert!(index.remove(&party, &id).is_some());
    assert!(index.get(&party, &id).is_none());
    assert!(index.remove(&party, &id).is_none());
}

#[test]
fn an_answer_brought_up_to_date_is_the_answer_a_query_gives_now() {
    let (mut conflicts_seen, mut answers_changed) = (0, 0);
    for seed in 0..12 {
        let (region, intents) = random_intents(seed, 300);
        let mut index = StrategicIndex::bulk_load(intents.iter().cloned());
        let mut rng = rng(seed ^ 0xca11);
        let centre = random_point(&mut rng, region);
        // Stored intents as candidates (they conflict often), asked about now and brought
        // up to date after some changes.
        let candidates = &intents[..60];
        let asked_at = index.generation();
        let earlier: Vec<_> = candidates
            .iter()
            .map(|(party, _, volumes)| index.conflicts(party, volumes, &separation()))
            .collect();
        // Updates (of the candidates' parties too), removals and new intents.
        for _ in 0..rng.random_range(20..200) {
            let id = rng.random_range(0..intents.len() as u64 + 40);
            let party = intents.get(id as usize).map_or(0, |i| i.0);
            if rng.random_range(0..4) == 0 {
                index.remove(&party, &id);
            } else {
                let volumes = random_intent(&mut rng, centre, 150_000.0, DAY_START_S);
                index.upsert(party, id, volumes);
            }
        }
        for ((party, _, volumes), earlier) in candidates.iter().zip(earlier) {
            let now = index.conflicts(party, volumes, &separation());
            answers_changed += usize::from(now != earlier);
            let brought_up = index
                .conflicts_since(party, volumes, &separation(), asked_at, earlier)
                .expect("the index remembers this many changes");
            assert_eq!(brought_up, now, "seed {seed}");
            conflicts_seen += now.len();
        }
    }
    // The changes must reach the answers, or the comparison proves little.
    assert!(conflicts_seen > 300, "only {conflicts_seen} conflicts seen");
    assert!(
        answers_changed > 50,
        "only {answers_changed} answers changed"
    );
}

#[test]
fn an_answer_older_than_the_changes_remembered_or_a_reload_is_not_brought_up_to_date() {
    let (_, intents) = random_intents(3, 50);
    let mut index = StrategicIndex::bulk_load(intents.iter().cloned());
    let (party, _, volumes) = intents[0].clone();
    let asked_at = index.generation();
    let earlier = index.conflicts(&party, &volumes, &separation());
    let (other_party, other_id, other_volumes) = intents[1].clone();
    for _ in 0..CHANGES_REMEMBERED {
        index.upsert(other_party, other_id, other_volumes.clone());
    }
    assert!(index
        .conflicts_since(&party, &volumes, &separation(), asked_at, earlier.clone())
        .is_some());
    index.remove(&other_party, &other_id);
    assert!(index
        .conflicts_since(&party, &volumes, &separation(), asked_at, earlier.clone())
        .is_none());

    // An index loaded afresh in place of this one: nothing asked before is brought up.
    let asked_at = index.generation();
    let earlier = index.conflicts(&party, &volumes, &separation());
    index.replace_with(StrategicIndex::bulk_load(intents.iter().cloned()));
    assert!(index
        .conflicts_since(&party, &volumes, &separation(), asked_at, earlier.clone())
        .is_none());
    index.upsert(other_party, other_id, other_volumes);
    assert!(index
        .conflicts_since(&party, &volumes, &separation(), asked_at, earlier)
        .is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_conflict_of_two_intents_is_symmetric(seed in any::<u64>()) {
        let (_, intents) = random_intents(seed, 2);
        let (a, b) = (&intents[0].2, &intents[1].2);
        let ab = intents_conflict(a, b, &separation());
        let ba = intents_conflict(b, a, &separation());
        prop_assert_eq!(ab.map(|c| c.swapped()), ba, "seed {}", seed);
    }

    #[test]
    fn the_order_of_insertion_does_not_change_any_answer(seed in any::<u64>()) {
        let (_, intents) = random_intents(seed, 60);
        let forward = StrategicIndex::bulk_load(intents.iter().cloned());
        let mut backward = StrategicIndex::new();
        for (party, id, volumes) in intents.iter().rev().cloned() {
            backward.upsert(party, id, volumes);
        }
        for (party, _, volumes) in &intents {
            prop_assert_eq!(
                forward.conflicts(party, volumes, &separation()),
                backward.conflicts(party, volumes, &separation()),
                "seed {}", seed
            );
        }
    }

    #[test]
    fn shifting_every_time_by_the_same_amount_changes_nothing(
        seed in any::<u64>(),
        shift_days in -3_000i64..3_000,
    ) {
        let (_, intents) = random_intents(seed, 60);
        let shift_s = shift_days as f64 * 86_400.0;
        let shifted: Vec<(u32, u64, Vec<Volume4D>)> = intents
            .iter()
            .map(|(party, id, volumes)| {
                let volumes = volumes
                    .iter()
                    .map(|v| {
                        let window = TimeWindow::from_unix_s(
                            v.window.start().unix_s() + shift_s,
                            v.window.end().unix_s() + shift_s,
                        )
                        .unwrap();
                        Volume4D::new(v.footprint.clone(), v.altitude, window)
                    })
                    .collect();
                (*party, *id, volumes)
            })
            .collect();
        let original = StrategicIndex::bulk_load(intents.iter().cloned());
        let moved = StrategicIndex::bulk_load(shifted.iter().cloned());
        for ((party, _, volumes), (_, _, shifted_volumes)) in intents.iter().zip(&shifted) {
            prop_assert_eq!(
                original.conflicts(party, volumes, &separation()),
                moved.conflicts(party, shifted_volumes, &separation()),
                "seed {}", seed
            );
        }
    }
}
