//! The strategic index: the volumes of every stored intent in an R-tree of boxes, queried
//! with a candidate intent's boxes expanded by the separation minima, then tested exactly.
//!
//! A box has five axes: the three unit-vector coordinates of the footprint on Bessel's
//! auxiliary sphere (scaled to metres), the altitude band, and the time
//! window. Unit-vector boxes have no trouble at the antimeridian or around the poles. The
//! boxes are unbuffered, so the index does not depend on the minima, which change with the
//! agreement; the query expands the candidate's boxes instead:
//! - horizontally by `horizontal_m / SPHERE_RADIUS_LOWER_M` radians, which bounds from
//!   above the angle on the sphere of any two points less than `horizontal_m` apart on
//!   WGS84 (and a chord is never longer than its angle, so each coordinate moves less);
//! - vertically by `vertical_m`, in time by `time_s`.
//!
//! Every pair the exact test could accept therefore passes the filter.

use std::collections::VecDeque;
use std::hash::Hash;

// The maps are keyed by party and intent ids. foldhash (seeded per process) hashes them
// faster than the standard library's SipHash: under write load at 100,000 intents, SipHash
// over these maps and the engine's took 1.2-1.5% of the service's CPU samples, foldhash
// and what SipHash is left elsewhere 0.7%.
use foldhash::{HashMap, HashMapExt as _, HashSet};
use rstar::{RStarInsertionStrategy, RTree, RTreeObject, RTreeParams, AABB};

use super::{intents_conflict, volume_conflict, ConflictBuilder, IntentsConflict, Separation};
use crate::geometry::{Volume4D, SPHERE_RADIUS_LOWER_M};

/// Unit-vector coordinates are scaled by this radius so that the horizontal axes are in
/// metres like the altitude axis; it only tunes the tree's balance, never a result.
const HORIZONTAL_SCALE_M: f64 = 6_371_000.0;
/// Padding of every box on the unit sphere against rounding in its computation (about
/// 6 mm), so that the boxes contain their footprints.
const BOX_PADDING_UNIT: f64 = 1e-9;
/// The most volumes of one intent (the tree stores a volume's index in 32 bits).
pub const INTENT_VOLUMES_MAX: usize = u32::MAX as usize;

type Point5 = [f64; 5];

/// Node sizes of the tree. Wider nodes than rstar's default (6) suit five dimensions:
/// fewer levels. Measured with `bench strategic` (300,000 intents, CPU time per checked
/// write, p50): 6 wide 0.053 ms, 8 wide 0.048 ms, 12 wide 0.042 ms, 16 and 24 wide no
/// better, with slower loading.
#[derive(Debug, Clone, Copy)]
struct IndexParams;

impl RTreeParams for IndexParams {
    const MIN_SIZE: usize = NODE_CHILDREN_MIN;
    const MAX_SIZE: usize = NODE_CHILDREN_MAX;
    const REINSERTION_COUNT: usize = NODE_REINSERTION_COUNT;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

const NODE_CHILDREN_MIN: usize = 5;
const NODE_CHILDREN_MAX: usize = 12;
const NODE_REINSERTION_COUNT: usize = 3;
const _: () = assert!(NODE_CHILDREN_MIN * 2 <= NODE_CHILDREN_MAX + 1);
const _: () = assert!(NODE_REINSERTION_COUNT < NODE_CHILDREN_MAX - NODE_CHILDREN_MIN);

/// How many of its latest changes the index remembers, for [`StrategicIndex::conflicts_since`]:
/// enough for an answer taken a few thousand writes ago.
pub const CHANGES_REMEMBERED: usize = 4_096;

/// One stored volume: its box and where its intent is.
#[derive(Debug, Clone, PartialEq)]
struct VolumeEntry {
    envelope: AABB<Point5>,
    slot: u32,
    volume: u32,
}

impl RTreeObject for VolumeEntry {
    type Envelope = AABB<Point5>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn volume_box(volume: &Volume4D) -> (Point5, Point5) {
    let bounds = volume.footprint.unit_bounds();
    let mut low = [0.0; 5];
    let mut high = [0.0; 5];
    for axis in 0..3 {
        low[axis] = (bounds.low[axis] - BOX_PADDING_UNIT) * HORIZONTAL_SCALE_M;
        high[axis] = (bounds.high[axis] + BOX_PADDING_UNIT) * HORIZONTAL_SCALE_M;
    }
    low[3] = volume.altitude.lower_m();
    high[3] = volume.altitude.upper_m();
    low[4] = volume.window.start().unix_s();
    high[4] = volume.window.end().unix_s();
    (low, high)
}

fn query_envelope(volume: &Volume4D, separation: &Separation) -> AABB<Point5> {
    let (mut low, mut high) = volume_box(volume);
    // Relative slack on the expansion keeps the filter conservative despite rounding.
    let horizontal =
        separation.horizontal_m() / SPHERE_RADIUS_LOWER_M * HORIZONTAL_SCALE_M * (1.0 + 1e-9);
    // The exact test subtracts and compares; the filter adds. Padding the vertical and time
    // margins by a little more than rounding can move keeps every pair the exact test
    // accepts (a looser filter costs nothing but an exact test).
    let margins = [
        horizontal,
        horizontal,
        horizontal,
        separation.vertical_m() * (1.0 + 1e-9) + 1e-6,
        separation.time_s() * (1.0 + 1e-9) + 1e-3,
    ];
    for axis in 0..5 {
        low[axis] -= margins[axis];
        high[axis] += margins[axis];
    }
    AABB::from_corners(low, high)
}

/// A stored intent that conflicts with a candidate: whose it is, and how it conflicts
/// (volume pairs are `(candidate volume index, stored volume index)`).
#[derive(Debug, Clone, PartialEq)]
pub struct StrategicConflict<P, I> {
    pub party: P,
    pub intent: I,
    pub conflict: IntentsConflict,
}

#[derive(Debug, Clone)]
struct StoredIntent<P, I> {
    party: P,
    intent: I,
    volumes: Vec<Volume4D>,
}

/// The intents of several parties, keyed by (party, intent id), indexed for the question
/// "which intents of other parties conflict with this candidate under these minima?".
///
/// `P` and `I` are opaque keys chosen by the caller (string ids, numbers). Results come
/// sorted by (party, intent), so they are deterministic.
#[derive(Debug, Clone)]
pub struct StrategicIndex<P, I> {
    tree: RTree<VolumeEntry, IndexParams>,
    slots: Vec<Option<StoredIntent<P, I>>>,
    free_slots: Vec<u32>,
    slot_of: HashMap<P, HashMap<I, u32>>,
    intents: usize,
    /// How many times an intent was stored, replaced or removed since the index was made.
    generation: u64,
    /// The intents of the latest changes (at most [`CHANGES_REMEMBERED`]), oldest first:
    /// the last one made `generation`.
    changes: VecDeque<(P, I)>,
}

impl<P, I> Default for StrategicIndex<P, I>
where
    P: Clone + Eq + Hash + Ord,
    I: Clone + Eq + Hash + Ord,
{
    fn default() -> Self {
        StrategicIndex::new()
    }
}

impl<P, I> StrategicIndex<P, I>
where
    P: Clone + Eq + Hash + Ord,
    I: Clone + Eq + Hash + Ord,
{
    pub fn new() -> Self {
        StrategicIndex {
            tree: RTree::new_with_params(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            slot_of: HashMap::new(),
            intents: 0,
            generation: 0,
            changes: VecDeque::new(),
        }
    }

    /// An index holding the given intents. A later intent with the same (party, intent)
    /// replaces an earlier one.
    ///
    /// The entries are inserted one by one rather than with `RTree::bulk_load`: rstar's
    /// bulk loading can leave leaves at different depths, after which an insertion panics
    /// (georust/rstar#239), and in five dimensions it builds oversized nodes
    /// (georust/rstar#197). Entries are inserted in order of their boxes' first corner,
    /// which keeps neighbouring insertions in the same subtrees.
    pub fn bulk_load(intents: impl IntoIterator<Item = (P, I, Vec<Volume4D>)>) -> Self {
        let mut index = StrategicIndex::new();
        for (party, intent, volumes) in intents {
            index.store(party, intent, volumes);
        }
        let mut entries: Vec<VolumeEntry> = index
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, stored)| stored.as_ref().map(|stored| (slot, stored)))
            .flat_map(|(slot, stored)| {
                stored
                    .volumes
                    .iter()
                    .enumerate()
                    .map(move |(volume, v)| entry(slot as u32, volume, v))
            })
            .collect();
        entries.sort_by(|a, b| {
            let (a, b) = (a.envelope.lower(), b.envelope.lower());
            a.iter()
                .zip(b.iter())
                .map(|(x, y)| x.total_cmp(y))
                .find(|ordering| ordering.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for entry in entries {
            index.tree.insert(entry);
        }
        index
    }

    /// The number of stored intents.
    pub fn len(&self) -> usize {
        self.intents
    }

    pub fn is_empty(&self) -> bool {
        self.intents == 0
    }

    /// The number of stored volumes (entries of the tree).
    pub fn volume_count(&self) -> usize {
        self.tree.size()
    }

    /// The volumes of a stored intent.
    pub fn get(&self, party: &P, intent: &I) -> Option<&[Volume4D]> {
        let slot = *self.slot_of.get(party)?.get(intent)?;
        self.slots[slot as usize]
            .as_ref()
            .map(|stored| stored.volumes.as_slice())
    }

    /// Counts the changes made to the index: each [`upsert`](Self::upsert) and each
    /// [`remove`](Self::remove) moves it on.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Takes the intents of `loaded` (an index built afresh, say from a store) in place of
    /// these. Counted as a change of every intent: no answer taken before can be brought up
    /// to date by [`conflicts_since`](Self::conflicts_since).
    pub fn replace_with(&mut self, mut loaded: StrategicIndex<P, I>) {
        loaded.generation = self.generation + 1;
        loaded.changes.clear();
        *self = loaded;
    }

    /// Records a change to the intent's entry.
    fn changed(&mut self, party: &P, intent: &I) {
        self.generation += 1;
        if self.changes.len() == CHANGES_REMEMBERED {
            self.changes.pop_front();
        }
        self.changes.push_back((party.clone(), intent.clone()));
    }

    /// Stores an intent, or replaces the volumes of a stored one; returns the volumes it
    /// replaced.
    pub fn upsert(&mut self, party: P, intent: I, volumes: Vec<Volume4D>) -> Option<Vec<Volume4D>> {
        self.changed(&party, &intent);
        let previous = self.remove_quietly(&party, &intent);
        let slot = self.store(party, intent, volumes);
        let stored = self.slots[slot as usize]
            .as_ref()
            .expect("a slot just stored is occupied");
        for (volume_index, volume) in stored.volumes.iter().enumerate() {
            self.tree.insert(entry(slot, volume_index, volume));
        }
        previous
    }

    /// Removes a stored intent; returns its volumes.
    pub fn remove(&mut self, party: &P, intent: &I) -> Option<Vec<Volume4D>> {
        self.changed(party, intent);
        self.remove_quietly(party, intent)
    }

    /// [`remove`](Self::remove), without counting a change (an upsert counts its own).
    fn remove_quietly(&mut self, party: &P, intent: &I) -> Option<Vec<Volume4D>> {
        let intents_of_party = self.slot_of.get_mut(party)?;
        let slot = intents_of_party.remove(intent)?;
        if intents_of_party.is_empty() {
            self.slot_of.remove(party);
        }
        let stored = self.slots[slot as usize]
            .take()
            .expect("a slot in the key map is occupied");
        for (volume_index, volume) in stored.volumes.iter().enumerate() {
            let removed = self.tree.remove(&entry(slot, volume_index, volume));
            assert!(removed.is_some(), "every stored volume is in the tree");
        }
        self.free_slots.push(slot);
        self.intents -= 1;
        Some(stored.volumes)
    }

    /// Every stored intent of a party other than `party` that conflicts with the candidate
    /// volumes under the separation, sorted by (party, intent). Volume pairs are
    /// `(candidate volume index, stored volume index)`.
    pub fn conflicts(
        &self,
        party: &P,
        volumes: &[Volume4D],
        separation: &Separation,
    ) -> Vec<StrategicConflict<P, I>> {
        let mut found: HashMap<u32, ConflictBuilder> = HashMap::new();
        for (candidate_index, candidate) in volumes.iter().enumerate() {
            let envelope = query_envelope(candidate, separation);
            for stored_entry in self.tree.locate_in_envelope_intersecting(&envelope) {
                let stored = self.slots[stored_entry.slot as usize]
                    .as_ref()
                    .expect("every tree entry points at an occupied slot");
                if &stored.party == party {
                    continue;
                }
                let stored_index = stored_entry.volume as usize;
                if let Some(gaps) =
                    volume_conflict(candidate, &stored.volumes[stored_index], separation)
                {
                    found
                        .entry(stored_entry.slot)
                        .or_default()
                        .add((candidate_index, stored_index), gaps);
                }
            }
        }
        let mut conflicts: Vec<StrategicConflict<P, I>> = found
            .into_iter()
            .filter_map(|(slot, builder)| {
                let stored = self.slots[slot as usize].as_ref()?;
                Some(StrategicConflict {
                    party: stored.party.clone(),
                    intent: stored.intent.clone(),
                    conflict: builder.finish()?,
                })
            })
            .collect();
        conflicts.sort_by(|a, b| (&a.party, &a.intent).cmp(&(&b.party, &b.intent)));
        conflicts
    }

    /// What [`conflicts`](Self::conflicts) answers now, worked out from `earlier`, its
    /// answer for the same party, volumes and separation when the index was at
    /// `generation`: only the intents changed since are tested again (against every
    /// volume of theirs, as [`intents_conflict`] does, which finds what the tree finds).
    /// `None` when the index no longer remembers that many changes; ask `conflicts` then.
    ///
    /// A service that queries the index twice for one write, once ahead of time and once
    /// when it decides, answers the second from the first: a few dozen intents change
    /// between the two, where a query tests every intent near each of the candidate's
    /// volumes.
    pub fn conflicts_since(
        &self,
        party: &P,
        volumes: &[Volume4D],
        separation: &Separation,
        generation: u64,
        earlier: Vec<StrategicConflict<P, I>>,
    ) -> Option<Vec<StrategicConflict<P, I>>> {
        let missed = usize::try_from(self.generation.checked_sub(generation)?).ok()?;
        if missed > self.changes.len() {
            return None;
        }
        let changed: HashSet<(&P, &I)> = self
            .changes
            .iter()
            .skip(self.changes.len() - missed)
            .filter(|(changed_party, _)| changed_party != party)
            .map(|(changed_party, intent)| (changed_party, intent))
            .collect();
        let mut conflicts: Vec<StrategicConflict<P, I>> = earlier
            .into_iter()
            .filter(|found| !changed.contains(&(&found.party, &found.intent)))
            .collect();
        for (changed_party, intent) in changed {
            let Some(theirs) = self.get(changed_party, intent) else {
                continue;
            };
            if let Some(conflict) = intents_conflict(volumes, theirs, separation) {
                conflicts.push(StrategicConflict {
                    party: changed_party.clone(),
                    intent: intent.clone(),
                    conflict,
                });
            }
        }
        conflicts.sort_by(|a, b| (&a.party, &a.intent).cmp(&(&b.party, &b.intent)));
        Some(conflicts)
    }

    /// Every stored intent: party, intent id and volumes, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&P, &I, &[Volume4D])> {
        self.slots
            .iter()
            .flatten()
            .map(|stored| (&stored.party, &stored.intent, stored.volumes.as_slice()))
    }

    /// Puts an intent in a slot and the key map (not in the tree); replaces nothing.
    fn store(&mut self, party: P, intent: I, volumes: Vec<Volume4D>) -> u32 {
        assert!(volumes.len() <= INTENT_VOLUMES_MAX);
        if let Some(slot) = self.slot_of.get(&party).and_then(|m| m.get(&intent)) {
            // Only bulk loading reaches here with a repeated key: the later one wins.
            let slot = *slot;
            self.slots[slot as usize]
                .as_mut()
                .expect("a slot in the key map is occupied")
                .volumes = volumes;
            return slot;
        }
        let stored = StoredIntent {
            party: party.clone(),
            intent: intent.clone(),
            volumes,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(stored);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 intents");
                self.slots.push(Some(stored));
                slot
            }
        };
        self.slot_of.entry(party).or_default().insert(intent, slot);
        self.intents += 1;
        slot
    }
}

fn entry(slot: u32, volume_index: usize, volume: &Volume4D) -> VolumeEntry {
    let (low, high) = volume_box(volume);
    VolumeEntry {
        envelope: AABB::from_corners(low, high),
        slot,
        volume: volume_index as u32,
    }
}
