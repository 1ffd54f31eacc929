//! The broad phase: finding the few pairs worth the exact test among N aircraft, in time
//! that grows with N times the local density rather than with N².
//!
//! Each aircraft has a reach (how far, as a 3-D chord, its half of a conflict can extend
//! over the lookahead: ground speed × (lookahead + the criterion's horizontal lead) + half
//! the horizontal threshold) and an altitude band (its altitudes over the lookahead,
//! widened by half the vertical threshold). Two aircraft can only conflict when their
//! chord is at most the sum of their reaches and their bands overlap (see
//! [`PreparedAircraft`]).
//!
//! Aircraft are bucketed into a grid of cubes over ECEF coordinates (the sphere has no
//! seams there: no antimeridian, no poles), with a cube edge of at least twice the largest
//! reach, so a pair within reach sits in the same or in adjacent cubes. Cubes are kept as
//! runs of one array sorted by (cube, band bottom) rather than in a hash map: the sort is
//! parallel and cache-friendly, and finding a neighbour is a binary search over occupied
//! cubes. Within each pair of neighbouring cubes, a sweep over the sorted band bottoms
//! visits only pairs whose altitude bands overlap: with traffic spread over 13 km of
//! altitude and a 300 m vertical minimum, that removes about nine pairs in ten before any
//! horizontal arithmetic.
//!
//! The rare aircraft whose reach is far above the rest (a fast jet among helicopters)
//! would inflate every cube; those above twice the 99th percentile ("wide") are left out
//! of the fine grid and tested through a coarse grid of all aircraft, whose cube edge is
//! twice the largest reach, against everything in their 27 coarse cubes.
//!
//! Cubes are processed in parallel with rayon; every buffer lives in the
//! [`TacticalDetector`] and is reused from one cycle to the next.

use rayon::prelude::*;

use super::assess::{assess_prepared, PairAssessment};
use super::frame::{bands_overlap, within_reach, PreparedAircraft};
use super::params::DetectionParams;
use super::state::AircraftState;

/// One pair of aircraft in conflict: their positions in the slice of states given to the
/// detector (`first < second`) and the figures of the pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConflictingPair {
    pub first: u32,
    pub second: u32,
    pub assessment: PairAssessment,
}

/// Cube coordinates are packed 21 bits each into a `u64`; this offset makes them
/// non-negative.
const CUBE_COORDINATE_OFFSET: i64 = 1 << 20;
/// The smallest cube edge: keeps every cube coordinate of a point on Earth within 21 bits
/// (6.4e6 m / 10 m < 2^20).
const CUBE_EDGE_MIN_M: f64 = 10.0;
const _: () = assert!(6_400_000 / 10 < CUBE_COORDINATE_OFFSET);
/// The largest number of aircraft in one cycle: positions are `u32`.
pub const AIRCRAFT_PER_CYCLE_MAX: usize = u32::MAX as usize;

/// Where one aircraft goes in the grid order: its cube (`WIDE` for aircraft tested
/// directly), its band bottom and its position in the input.
#[derive(Debug, Clone, Copy)]
struct GridKey {
    cube: u64,
    band_low_m: f64,
    aircraft: u32,
}

/// The cube key of aircraft that are not in the grid; sorts after every real cube.
const WIDE: u64 = u64::MAX;

/// One occupied cube: its key and its run in the sorted aircraft.
#[derive(Debug, Clone, Copy)]
struct Cube {
    key: u64,
    start: u32,
    end: u32,
}

/// The detector of one stream of cycles: the parameters, and buffers kept between cycles
/// so a service running a cycle every second does not allocate once warm.
#[derive(Debug, Clone)]
pub struct TacticalDetector {
    params: DetectionParams,
    /// The prepared aircraft in input order.
    prepared: Vec<PreparedAircraft>,
    /// Grid order: by cube, then band bottom; wide aircraft last.
    keys: Vec<GridKey>,
    /// The prepared aircraft copied into grid order, so the sweeps read memory in order
    /// (the random accesses of an index into `prepared` cost more than the arithmetic).
    sorted: Vec<PreparedAircraft>,
    cubes: Vec<Cube>,
    /// (coarse cube, position in `sorted`) of every aircraft, sorted; built only when
    /// some aircraft are wide.
    coarse: Vec<(u64, u32)>,
    reach_scratch: Vec<f64>,
}

impl TacticalDetector {
    pub fn new(params: DetectionParams) -> Self {
        Self {
            params,
            prepared: Vec::new(),
            keys: Vec::new(),
            sorted: Vec::new(),
            cubes: Vec::new(),
            coarse: Vec::new(),
            reach_scratch: Vec::new(),
        }
    }

    pub fn params(&self) -> &DetectionParams {
        &self.params
    }

    /// Every conflicting pair among `states` (all at one instant), sorted by
    /// (first, second). Exactly the pairs [`detect_exhaustive`] finds.
    ///
    /// # Panics
    /// With more than [`AIRCRAFT_PER_CYCLE_MAX`] states.
    pub fn detect(&mut self, states: &[AircraftState]) -> Vec<ConflictingPair> {
        assert!(
            states.len() <= AIRCRAFT_PER_CYCLE_MAX,
            "too many aircraft for one cycle"
        );
        let params = self.params;
        states
            .par_iter()
            .map(|state| PreparedAircraft::new(state, &params))
            .collect_into_vec(&mut self.prepared);
        if self.prepared.len() < 2 {
            return Vec::new();
        }

        let (reach_cut_m, reach_max_m) = self.reach_cut_m();
        let cube_edge_m = (2.0 * reach_cut_m * (1.0 + 1e-9) + 1.0).max(CUBE_EDGE_MIN_M);
        let narrow = self.fill_grid(reach_cut_m, cube_edge_m);

        let sorted = &self.sorted;
        let keys = &self.keys;
        let cubes = &self.cubes;
        let mut pairs: Vec<ConflictingPair> = cubes
            .par_iter()
            .enumerate()
            .fold(Vec::new, |mut found, (index, cube)| {
                pairs_of_cube(sorted, keys, cubes, index, cube, &params, &mut found);
                found
            })
            .reduce(Vec::new, |mut a, mut b| {
                a.append(&mut b);
                a
            });

        // Wide aircraft, through a coarse grid of all aircraft whose cube edge is twice the
        // largest reach: against every aircraft in the 27 cubes around, narrow ones always
        // and wide ones only after them, so each pair is tested once.
        let wide_pairs = if narrow < sorted.len() {
            let coarse_edge_m = (2.0 * reach_max_m * (1.0 + 1e-9) + 1.0).max(CUBE_EDGE_MIN_M);
            self.coarse.clear();
            self.coarse.extend(
                sorted
                    .iter()
                    .enumerate()
                    .map(|(position, p)| (cube_key(p.surface_m, coarse_edge_m), position as u32)),
            );
            self.coarse.par_sort_unstable();
            let coarse = &self.coarse;
            (narrow..sorted.len())
                .into_par_iter()
                .fold(Vec::new, |mut found, w| {
                    let own_key = cube_key(sorted[w].surface_m, coarse_edge_m);
                    for (dx, dy, dz) in NEIGHBOURHOOD {
                        let key = neighbour_key(own_key, dx, dy, dz);
                        let start = coarse.partition_point(|&(k, _)| k < key);
                        for &(k, j) in &coarse[start..] {
                            let j = j as usize;
                            if k != key {
                                break;
                            }
                            if j == w || (j >= narrow && j < w) {
                                continue;
                            }
                            if let Some(assessment) =
                                assess_prepared(&sorted[w], &sorted[j], &params)
                            {
                                found.push(ordered_pair(
                                    keys[w].aircraft,
                                    keys[j].aircraft,
                                    assessment,
                                ));
                            }
                        }
                    }
                    found
                })
                .reduce(Vec::new, |mut a, mut b| {
                    a.append(&mut b);
                    a
                })
        } else {
            Vec::new()
        };
        pairs.extend(wide_pairs);
        pairs.par_sort_unstable_by_key(|pair| (pair.first, pair.second));
        pairs
    }

    /// Bytes of working memory the detector holds per aircraft of the last cycle (buffer
    /// capacities, not counting the caller's states or the returned pairs).
    pub fn bytes_per_aircraft(&self) -> f64 {
        let bytes = self.prepared.capacity() * std::mem::size_of::<PreparedAircraft>()
            + self.keys.capacity() * std::mem::size_of::<GridKey>()
            + self.sorted.capacity() * std::mem::size_of::<PreparedAircraft>()
            + self.cubes.capacity() * std::mem::size_of::<Cube>()
            + self.coarse.capacity() * std::mem::size_of::<(u64, u32)>()
            + self.reach_scratch.capacity() * std::mem::size_of::<f64>();
        bytes as f64 / self.prepared.len().max(1) as f64
    }

    /// The reach above which an aircraft is wide (tested through the coarse grid rather
    /// than the fine one): twice the 99th percentile, or the largest reach when that is
    /// smaller; and the largest reach.
    fn reach_cut_m(&mut self) -> (f64, f64) {
        self.reach_scratch.clear();
        self.reach_scratch
            .extend(self.prepared.iter().map(|p| p.reach_m));
        let n = self.reach_scratch.len();
        let rank = (n * 99 / 100).min(n - 1);
        let (_, p99, _) = self
            .reach_scratch
            .select_nth_unstable_by(rank, f64::total_cmp);
        let p99 = *p99;
        let max = self
            .prepared
            .iter()
            .map(|p| p.reach_m)
            .fold(0.0_f64, f64::max);
        (max.min(2.0 * p99), max)
    }

    /// Sorts the aircraft into grid order and lists the occupied cubes; returns how many
    /// aircraft are in the grid (the rest, the wide ones, come after them).
    fn fill_grid(&mut self, reach_cut_m: f64, cube_edge_m: f64) -> usize {
        self.prepared
            .par_iter()
            .enumerate()
            .map(|(i, p)| GridKey {
                cube: if p.reach_m > reach_cut_m {
                    WIDE
                } else {
                    cube_key(p.surface_m, cube_edge_m)
                },
                band_low_m: p.band_low_m,
                aircraft: i as u32,
            })
            .collect_into_vec(&mut self.keys);
        // Equal keys may land in any order: the pairs found do not depend on it, and they
        // are sorted at the end.
        self.keys
            .par_sort_unstable_by_key(|key| (key.cube, ordered_bits(key.band_low_m)));
        let prepared = &self.prepared;
        self.keys
            .par_iter()
            .map(|key| prepared[key.aircraft as usize])
            .collect_into_vec(&mut self.sorted);
        let narrow = self.keys.partition_point(|key| key.cube != WIDE);

        self.cubes.clear();
        let mut start = 0usize;
        for i in 1..=narrow {
            if i == narrow || self.keys[i].cube != self.keys[start].cube {
                self.cubes.push(Cube {
                    key: self.keys[start].cube,
                    start: start as u32,
                    end: i as u32,
                });
                start = i;
            }
        }
        narrow
    }
}

/// An integer that sorts as the number does (for finite numbers and infinities).
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn cube_coordinate(x_m: f64, cube_edge_m: f64) -> u64 {
    ((x_m / cube_edge_m).floor() as i64 + CUBE_COORDINATE_OFFSET) as u64
}

fn cube_key(p: [f64; 3], cube_edge_m: f64) -> u64 {
    (cube_coordinate(p[0], cube_edge_m) << 42)
        | (cube_coordinate(p[1], cube_edge_m) << 21)
        | cube_coordinate(p[2], cube_edge_m)
}

/// The 27 offsets of a cube and its neighbours.
const NEIGHBOURHOOD: [(i64, i64, i64); 27] = {
    let mut offsets = [(0, 0, 0); 27];
    let mut i = 0;
    while i < 27 {
        offsets[i] = (
            (i / 9) as i64 - 1,
            ((i / 3) % 3) as i64 - 1,
            (i % 3) as i64 - 1,
        );
        i += 1;
    }
    offsets
};

/// The key of the cube offset by (dx, dy, dz) from `key`. Coordinates never reach the
/// packing limits, so the offsets cannot carry into a neighbouring field.
fn neighbour_key(key: u64, dx: i64, dy: i64, dz: i64) -> u64 {
    let x = (key >> 42) as i64 + dx;
    let y = ((key >> 21) & 0x1F_FFFF) as i64 + dy;
    let z = (key & 0x1F_FFFF) as i64 + dz;
    ((x as u64) << 42) | ((y as u64) << 21) | z as u64
}

fn ordered_pair(i: u32, j: u32, assessment: PairAssessment) -> ConflictingPair {
    ConflictingPair {
        first: i.min(j),
        second: i.max(j),
        assessment,
    }
}

/// Every conflicting pair with one aircraft in `cube` and the other in `cube` itself or in
/// a neighbouring cube of higher key (so each pair of cubes is visited once). `sorted` and
/// `keys` are in grid order; positions in them are what the sweeps pass around.
fn pairs_of_cube(
    sorted: &[PreparedAircraft],
    keys: &[GridKey],
    cubes: &[Cube],
    index: usize,
    cube: &Cube,
    params: &DetectionParams,
    found: &mut Vec<ConflictingPair>,
) {
    let mut test = |x: usize, y: usize| {
        if let Some(assessment) = assess_prepared(&sorted[x], &sorted[y], params) {
            found.push(ordered_pair(keys[x].aircraft, keys[y].aircraft, assessment));
        }
    };
    let own = cube.start as usize..cube.end as usize;

    // Pairs inside the cube: sorted by band bottom, so for each aircraft only the
    // following ones whose bottom is at most its top can overlap it.
    for x in own.clone() {
        let top = sorted[x].band_high_m;
        for (y, other) in sorted.iter().enumerate().take(own.end).skip(x + 1) {
            if other.band_low_m > top {
                break;
            }
            if may_conflict(&sorted[x], other) {
                test(x, y);
            }
        }
    }

    for dx in -1..=1 {
        for dy in -1..=1 {
            for dz in -1..=1 {
                let key = neighbour_key(cube.key, dx, dy, dz);
                if key <= cube.key {
                    continue;
                }
                // Cubes are sorted by key, and only higher keys are wanted.
                let Ok(position) = cubes[index + 1..].binary_search_by_key(&key, |c| c.key) else {
                    continue;
                };
                let other = &cubes[index + 1 + position];
                sweep(
                    sorted,
                    own.clone(),
                    other.start as usize..other.end as usize,
                    &mut test,
                );
            }
        }
    }
}

/// The cheap checks [`assess_prepared`] opens with, inlined into the sweeps so the nine
/// candidates in ten they reject cost no call.
#[inline(always)]
fn may_conflict(a: &PreparedAircraft, b: &PreparedAircraft) -> bool {
    a.party != b.party && bands_overlap(a, b) && within_reach(a, b)
}

/// Every pair (one from each run) whose altitude bands overlap, both runs sorted by band
/// bottom: the run whose next aircraft starts lower pairs it with the other run's
/// aircraft that start at or below its top.
fn sweep(
    sorted: &[PreparedAircraft],
    left: std::ops::Range<usize>,
    right: std::ops::Range<usize>,
    test: &mut impl FnMut(usize, usize),
) {
    let (mut i, mut j) = (left.start, right.start);
    while i < left.end && j < right.end {
        if sorted[i].band_low_m <= sorted[j].band_low_m {
            let top = sorted[i].band_high_m;
            for (y, other) in sorted.iter().enumerate().take(right.end).skip(j) {
                if other.band_low_m > top {
                    break;
                }
                if may_conflict(&sorted[i], other) {
                    test(i, y);
                }
            }
            i += 1;
        } else {
            let top = sorted[j].band_high_m;
            for (x, other) in sorted.iter().enumerate().take(left.end).skip(i) {
                if other.band_low_m > top {
                    break;
                }
                if may_conflict(other, &sorted[j]) {
                    test(x, j);
                }
            }
            j += 1;
        }
    }
}

/// The reference: every pair of aircraft through the exact test, no grid. Quadratic; for
/// tests and for `bench tactical --verify`.
pub fn detect_exhaustive(
    states: &[AircraftState],
    params: &DetectionParams,
) -> Vec<ConflictingPair> {
    detect_exhaustive_with_progress(states, params, &|_| {})
}

/// [`detect_exhaustive`], calling `aircraft_done(k)` as each batch of `k` aircraft has been
/// tested against every aircraft after it (from several threads at once), so a long run
/// can show its progress.
pub fn detect_exhaustive_with_progress(
    states: &[AircraftState],
    params: &DetectionParams,
    aircraft_done: &(dyn Fn(usize) + Sync),
) -> Vec<ConflictingPair> {
    assert!(
        states.len() <= AIRCRAFT_PER_CYCLE_MAX,
        "too many aircraft for one cycle"
    );
    let prepared: Vec<PreparedAircraft> = states
        .par_iter()
        .map(|state| PreparedAircraft::new(state, params))
        .collect();
    let prepared = &prepared;
    let mut pairs: Vec<ConflictingPair> = (0..prepared.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let found: Vec<ConflictingPair> = (i + 1..prepared.len())
                .filter_map(|j| {
                    assess_prepared(&prepared[i], &prepared[j], params).map(|assessment| {
                        ConflictingPair {
                            first: i as u32,
                            second: j as u32,
                            assessment,
                        }
                    })
                })
                .collect();
            aircraft_done(1);
            found
        })
        .collect();
    pairs.par_sort_unstable_by_key(|pair| (pair.first, pair.second));
    pairs
}
