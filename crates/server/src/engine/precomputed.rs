//! Conflict details worked out by the handler that received a write, before the write
//! reaches the writer.
//!
//! The disclosed region of a conflict (buffering both footprints and intersecting them)
//! is the costliest part of deciding a write, and it depends only on the two intents'
//! volumes and the separation minima. Computed on the single writer task it capped the
//! service's write rate, while the handlers, which run on every worker, had time to spare:
//! doubling its cost on the writer took 15% of the writes per second at 32 clients.
//!
//! So the handler queries the shared strategic index itself, computes the details of
//! every conflict it finds (its intent as `a`), and sends them with the write. The writer
//! still decides alone and in order: it brings the handler's answer up to date with the
//! intents changed since (`StrategicIndex::conflicts_since`, or queries the index again
//! when that is too many changes ago or the minima differ) and uses a precomputed
//! entry only when it was computed from exactly the counterpart volumes, the conflict and
//! the minima the writer sees now, and oriented as the writer would store it. Otherwise
//! (the counterpart changed meanwhile, new terms came into force, or the stored conflict
//! has this intent as `b`) it computes the details itself, as before.

use std::sync::{Arc, RwLock};

use foldhash::HashMap;

use deconflict_core::geometry::Volume4D;
use deconflict_core::strategic::{IntentsConflict, Separation, StrategicConflict, StrategicIndex};

use super::IntentKey;
use crate::disclosure::ConflictDetails;

/// The strategic index shared between the writer, which alone changes it, and handlers,
/// which read it to precompute conflict details.
pub type SharedIndex = Arc<RwLock<StrategicIndex<String, String>>>;

/// One conflict as a handler found and detailed it.
struct Entry {
    theirs: Vec<Volume4D>,
    conflict: IntentsConflict,
    details: ConflictDetails,
}

/// The conflict details a handler computed for one write, by counterpart.
#[derive(Default)]
pub struct Precomputed {
    separation: Option<Separation>,
    /// The index's generation when the handler queried it.
    generation: u64,
    entries: HashMap<IntentKey, Entry>,
}

impl Precomputed {
    /// The details of every conflict `volumes`, filed by `party`, has under `separation`
    /// with the intents `index` holds now (without references: the writer draws them).
    pub fn compute(
        index: &SharedIndex,
        party: &str,
        volumes: &[Volume4D],
        separation: Separation,
    ) -> Precomputed {
        // Only the lookups hold the lock: the writer waits for no geometry.
        let (generation, found): (u64, Vec<(IntentKey, Vec<Volume4D>, IntentsConflict)>) = {
            let index = index
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let found = index
                .conflicts(&party.to_owned(), volumes, &separation)
                .into_iter()
                .filter_map(|found| {
                    let theirs = index.get(&found.party, &found.intent)?.to_vec();
                    Some(((found.party, found.intent), theirs, found.conflict))
                })
                .collect();
            (index.generation(), found)
        };
        let entries = found
            .into_iter()
            .map(|(counterpart, theirs, conflict)| {
                let details = ConflictDetails::compute(
                    volumes,
                    &theirs,
                    &conflict,
                    &separation,
                    String::new(),
                    String::new(),
                );
                (
                    counterpart,
                    Entry {
                        theirs,
                        conflict,
                        details,
                    },
                )
            })
            .collect();
        Precomputed {
            separation: Some(separation),
            generation,
            entries,
        }
    }

    /// The handler's answer from the index (what `StrategicIndex::conflicts` gave) and the
    /// index's generation then, when it was asked under `separation`; before any is taken.
    pub(super) fn answer(
        &self,
        separation: &Separation,
    ) -> Option<(u64, Vec<StrategicConflict<String, String>>)> {
        if self.separation.as_ref() != Some(separation) {
            return None;
        }
        let answer = self
            .entries
            .iter()
            .map(|((party, intent), entry)| StrategicConflict {
                party: party.clone(),
                intent: intent.clone(),
                conflict: entry.conflict.clone(),
            })
            .collect();
        Some((self.generation, answer))
    }

    /// The details computed for `counterpart`, when they are exactly what the writer would
    /// compute now: the writer's intent as `a`, the same minima, the same counterpart
    /// volumes and the same conflict. Each is taken at most once.
    pub(super) fn take(
        &mut self,
        counterpart: &IntentKey,
        theirs: &[Volume4D],
        conflict: &IntentsConflict,
        separation: &Separation,
    ) -> Option<ConflictDetails> {
        if self.separation.as_ref() != Some(separation) {
            return None;
        }
        let entry = self.entries.remove(counterpart)?;
        (entry.theirs == theirs && entry.conflict == *conflict).then_some(entry.details)
    }
}

#[cfg(test)]
mod tests {
    use deconflict_core::geometry::{AltitudeBand, Circle, Footprint, LatLng, TimeWindow};

    use super::*;

    /// A circle of 5 km at (34°N, `lng_deg`°E), 1,000 to 2,000 m, in the first hour.
    fn volumes(lng_deg: f64) -> Vec<Volume4D> {
        let centre = LatLng::new(34.0, lng_deg).unwrap();
        vec![Volume4D::new(
            Footprint::Circle(Circle::new(centre, 5_000.0).unwrap()),
            AltitudeBand::new(1_000.0, 2_000.0).unwrap(),
            TimeWindow::from_unix_s(0.0, 3_600.0).unwrap(),
        )]
    }

    fn key(party: &str, intent: &str) -> IntentKey {
        (party.to_owned(), intent.to_owned())
    }

    /// An index holding party b's intent `x` at `lng_deg`, the minima, and how a's
    /// intent at 36.0°E conflicts with it.
    fn setup(lng_deg: f64) -> (SharedIndex, Separation, IntentsConflict) {
        let index = SharedIndex::default();
        index
            .write()
            .unwrap()
            .upsert("b".into(), "x".into(), volumes(lng_deg));
        let separation = Separation::new(9_260.0, 300.0, 60.0).unwrap();
        let conflict = index
            .read()
            .unwrap()
            .conflicts(&"a".to_owned(), &volumes(36.0), &separation)
            .remove(0)
            .conflict;
        (index, separation, conflict)
    }

    #[test]
    fn details_computed_ahead_are_those_the_writer_would_compute() {
        let (index, separation, conflict) = setup(36.1);
        let mut precomputed = Precomputed::compute(&index, "a", &volumes(36.0), separation);
        let theirs = volumes(36.1);
        let details = precomputed
            .take(&key("b", "x"), &theirs, &conflict, &separation)
            .expect("computed for the one counterpart");
        let expected = ConflictDetails::compute(
            &volumes(36.0),
            &theirs,
            &conflict,
            &separation,
            String::new(),
            String::new(),
        );
        assert_eq!(details, expected);
        assert!(!details.overlaps.is_empty());
        // Taken once only.
        assert!(precomputed
            .take(&key("b", "x"), &theirs, &conflict, &separation)
            .is_none());
    }

    #[test]
    fn the_handlers_answer_brought_up_to_date_is_what_the_index_answers_now() {
        let (index, separation, _) = setup(36.1);
        let precomputed = Precomputed::compute(&index, "a", &volumes(36.0), separation);
        // After the handler's query: the counterpart leaves, another party's intent comes.
        {
            let mut index = index.write().unwrap();
            index.remove(&"b".to_owned(), &"x".to_owned());
            index.upsert("c".into(), "y".into(), volumes(36.05));
        }
        let (generation, earlier) = precomputed.answer(&separation).unwrap();
        assert_eq!(earlier.len(), 1);
        let index = index.read().unwrap();
        let now = index.conflicts(&"a".to_owned(), &volumes(36.0), &separation);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].party, "c");
        assert_eq!(
            index.conflicts_since(
                &"a".to_owned(),
                &volumes(36.0),
                &separation,
                generation,
                earlier
            ),
            Some(now)
        );
        // Asked under other minima: no answer to bring up to date.
        let wider = Separation::new(12_000.0, 300.0, 60.0).unwrap();
        assert!(precomputed.answer(&wider).is_none());
    }

    #[test]
    fn details_computed_ahead_are_refused_once_anything_they_depend_on_changed() {
        let (index, separation, conflict) = setup(36.1);
        let compute = || Precomputed::compute(&index, "a", &volumes(36.0), separation);
        let theirs = volumes(36.1);
        // The counterpart moved after the handler read it.
        let moved = volumes(36.11);
        assert!(compute()
            .take(&key("b", "x"), &moved, &conflict, &separation)
            .is_none());
        // New minima came into force.
        let wider = Separation::new(12_000.0, 300.0, 60.0).unwrap();
        assert!(compute()
            .take(&key("b", "x"), &theirs, &conflict, &wider)
            .is_none());
        // The writer found the pair conflicting otherwise.
        let mut other = conflict.clone();
        other.closest.horizontal_distance_m += 1.0;
        assert!(compute()
            .take(&key("b", "x"), &theirs, &other, &separation)
            .is_none());
        // A counterpart the handler did not see.
        assert!(compute()
            .take(&key("b", "y"), &theirs, &conflict, &separation)
            .is_none());
        // Nothing is computed for the writer's own party.
        assert!(
            Precomputed::compute(&index, "b", &volumes(36.0), separation)
                .entries
                .is_empty()
        );
    }
}
