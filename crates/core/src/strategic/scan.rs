//! The exhaustive scan: every stored intent tested against the candidate. Quadratic and
//! simple on purpose; it is the reference the index is tested against.

use std::collections::BTreeMap;

use super::{intents_conflict, Separation, StrategicConflict};
use crate::geometry::Volume4D;

/// Intents keyed by (party, intent), with the same conflict query as
/// [`super::StrategicIndex`] answered by testing every stored intent.
#[derive(Debug, Clone, Default)]
pub struct ExhaustiveScan<P, I> {
    intents: BTreeMap<(P, I), Vec<Volume4D>>,
}

impl<P: Clone + Ord, I: Clone + Ord> ExhaustiveScan<P, I> {
    pub fn new() -> Self {
        ExhaustiveScan {
            intents: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.intents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.intents.is_empty()
    }

    pub fn upsert(&mut self, party: P, intent: I, volumes: Vec<Volume4D>) -> Option<Vec<Volume4D>> {
        self.intents.insert((party, intent), volumes)
    }

    pub fn remove(&mut self, party: &P, intent: &I) -> Option<Vec<Volume4D>> {
        self.intents.remove(&(party.clone(), intent.clone()))
    }

    /// Every stored intent of another party that conflicts with the candidate, sorted by
    /// (party, intent); volume pairs are `(candidate index, stored index)`.
    pub fn conflicts(
        &self,
        party: &P,
        volumes: &[Volume4D],
        separation: &Separation,
    ) -> Vec<StrategicConflict<P, I>> {
        self.intents
            .iter()
            .filter(|((stored_party, _), _)| stored_party != party)
            .filter_map(|((stored_party, intent), stored)| {
                Some(StrategicConflict {
                    party: stored_party.clone(),
                    intent: intent.clone(),
                    conflict: intents_conflict(volumes, stored, separation)?,
                })
            })
            .collect()
    }
}
