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
//! would inflate every cube; those above twice the 99th percentile are instead tested
//! against every aircraft, directly.
//!
//! Cubes are processed in parallel with rayon; every buffer lives in the
//! [`TacticalDetector`] and is reused from one cycle to the next.

use rayon::prelude::*;

use super::assess::{assess_prepared, PairAssessment};
use super::frame::PreparedAircraft;
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

/// One aircraft in the grid, sorted by (cube, band bottom). It carries copies of what the
/// cheap checks need (party, band, position, reach), so the sweep reads the entries in
/// order and touches the full [`PreparedAircraft`] (a random access) only for the few
/// pairs that pass them.
#[derive(Debug, Clone, Copy)]
struct GridEntry {
    cube: u64,
    band_low_m: f64,
    band_high_m: f64,
    surface_m: [f64; 3],
    reach_m: f64,
    aircraft: u32,
    party: u32,
}

impl GridEntry {
    /// The same party, band and reach checks as [`assess_prepared`] opens with, on the
    /// same values, so this only skips pairs that it would refuse.
    #[inline]
    fn may_conflict(&self, other: &GridEntry) -> bool {
        let chord = [
            other.surface_m[0] - self.surface_m[0],
            other.surface_m[1] - self.surface_m[1],
            other.surface_m[2] - self.surface_m[2],
        ];
        let reach_m = self.reach_m + other.reach_m;
        self.party != other.party
            && chord[0] * chord[0] + chord[1] * chord[1] + chord[2] * chord[2] <= reach_m * reach_m
            && self.band_low_m <= other.band_high_m
            && other.band_low_m <= self.band_high_m
    }
}

/// One occupied cube: its key and its run in the sorted entries.
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
    prepared: Vec<PreparedAircraft>,
    entries: Vec<GridEntry>,
    cubes: Vec<Cube>,
    wide: Vec<u32>,
    radius_scratch: Vec<f64>,
}

impl TacticalDetector {
    pub fn new(params: DetectionParams) -> Self {
        Self {
            params,
            prepared: Vec::new(),
            entries: Vec::new(),
            cubes: Vec::new(),
            wide: Vec::new(),
            radius_scratch: Vec::new(),
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
        self.prepared.clear();
        states
            .par_iter()
            .map(|state| PreparedAircraft::new(state, &params))
            .collect_into_vec(&mut self.prepared);
        if self.prepared.len() < 2 {
            return Vec::new();
        }

        let reach_cut_m = self.reach_cut_m();
        let cube_edge_m = (2.0 * reach_cut_m * (1.0 + 1e-9) + 1.0).max(CUBE_EDGE_MIN_M);
        self.fill_grid(reach_cut_m, cube_edge_m);

        let prepared = &self.prepared;
        let entries = &self.entries;
        let cubes = &self.cubes;
        let mut pairs: Vec<ConflictingPair> = cubes
            .par_iter()
            .enumerate()
            .fold(Vec::new, |mut found, (index, cube)| {
                pairs_of_cube(prepared, entries, cubes, index, cube, &params, &mut found);
                found
            })
            .reduce(Vec::new, |mut a, mut b| {
                a.append(&mut b);
                a
            });

        let wide = &self.wide;
        let wide_pairs: Vec<ConflictingPair> = wide
            .par_iter()
            .fold(Vec::new, |mut found, &w| {
                let a = &prepared[w as usize];
                // Against every narrow aircraft, and against the wide ones of higher
                // index, so each pair is tested once.
                for (index, b) in prepared.iter().enumerate() {
                    let index = index as u32;
                    if index == w || (b.reach_m > reach_cut_m && index < w) {
                        continue;
                    }
                    if let Some(assessment) = assess_prepared(a, b, &params) {
                        found.push(ordered_pair(w, index, assessment));
                    }
                }
                found
            })
            .reduce(Vec::new, |mut a, mut b| {
                a.append(&mut b);
                a
            });
        pairs.extend(wide_pairs);
        pairs.par_sort_unstable_by_key(|pair| (pair.first, pair.second));
        pairs
    }

    /// Bytes of working memory the detector holds per aircraft of the last cycle (buffer
    /// capacities, not counting the caller's states or the returned pairs).
    pub fn bytes_per_aircraft(&self) -> f64 {
        let bytes = self.prepared.capacity() * std::mem::size_of::<PreparedAircraft>()
            + self.entries.capacity() * std::mem::size_of::<GridEntry>()
            + self.cubes.capacity() * std::mem::size_of::<Cube>()
            + self.wide.capacity() * std::mem::size_of::<u32>()
            + self.radius_scratch.capacity() * std::mem::size_of::<f64>();
        bytes as f64 / self.prepared.len().max(1) as f64
    }

    /// The reach above which an aircraft is tested directly rather than through the grid:
    /// twice the 99th percentile, or the largest reach when that is smaller.
    fn reach_cut_m(&mut self) -> f64 {
        self.radius_scratch.clear();
        self.radius_scratch
            .extend(self.prepared.iter().map(|p| p.reach_m));
        let n = self.radius_scratch.len();
        let rank = (n * 99 / 100).min(n - 1);
        let (_, p99, _) = self
            .radius_scratch
            .select_nth_unstable_by(rank, f64::total_cmp);
        let p99 = *p99;
        let max = self
            .prepared
            .iter()
            .map(|p| p.reach_m)
            .fold(0.0_f64, f64::max);
        max.min(2.0 * p99)
    }

    fn fill_grid(&mut self, reach_cut_m: f64, cube_edge_m: f64) {
        self.wide.clear();
        self.wide.extend(
            self.prepared
                .iter()
                .enumerate()
                .filter(|(_, p)| p.reach_m > reach_cut_m)
                .map(|(i, _)| i as u32),
        );
        self.entries.clear();
        self.entries.extend(
            self.prepared
                .iter()
                .enumerate()
                .filter(|(_, p)| p.reach_m <= reach_cut_m)
                .map(|(i, p)| GridEntry {
                    cube: cube_key(p.surface_m, cube_edge_m),
                    band_low_m: p.band_low_m,
                    band_high_m: p.band_high_m,
                    surface_m: p.surface_m,
                    reach_m: p.reach_m,
                    aircraft: i as u32,
                    party: p.party,
                }),
        );
        self.entries.par_sort_unstable_by(|x, y| {
            x.cube
                .cmp(&y.cube)
                .then(x.band_low_m.total_cmp(&y.band_low_m))
                .then(x.aircraft.cmp(&y.aircraft))
        });
        self.cubes.clear();
        let mut start = 0usize;
        for i in 1..=self.entries.len() {
            if i == self.entries.len() || self.entries[i].cube != self.entries[start].cube {
                self.cubes.push(Cube {
                    key: self.entries[start].cube,
                    start: start as u32,
                    end: i as u32,
                });
                start = i;
            }
        }
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
/// a neighbouring cube of higher key (so each pair of cubes is visited once).
fn pairs_of_cube(
    prepared: &[PreparedAircraft],
    entries: &[GridEntry],
    cubes: &[Cube],
    index: usize,
    cube: &Cube,
    params: &DetectionParams,
    found: &mut Vec<ConflictingPair>,
) {
    let own = &entries[cube.start as usize..cube.end as usize];
    let mut test = |x: &GridEntry, y: &GridEntry| {
        if !x.may_conflict(y) {
            return;
        }
        let (i, j) = (x.aircraft, y.aircraft);
        if let Some(assessment) =
            assess_prepared(&prepared[i as usize], &prepared[j as usize], params)
        {
            found.push(ordered_pair(i, j, assessment));
        }
    };

    // Pairs inside the cube: entries are sorted by band bottom, so for each one only the
    // following entries whose bottom is at most its top can overlap it.
    for (k, x) in own.iter().enumerate() {
        let top = x.band_high_m;
        for y in &own[k + 1..] {
            if y.band_low_m > top {
                break;
            }
            test(x, y);
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
                let theirs = &entries[other.start as usize..other.end as usize];
                sweep(own, theirs, &mut test);
            }
        }
    }
}

/// Every pair (one from each list) whose altitude bands overlap, both lists sorted by band
/// bottom: the list whose next entry starts lower pairs it with the other list's entries
/// that start at or below its top.
fn sweep(left: &[GridEntry], right: &[GridEntry], test: &mut impl FnMut(&GridEntry, &GridEntry)) {
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if left[i].band_low_m <= right[j].band_low_m {
            let top = left[i].band_high_m;
            for y in &right[j..] {
                if y.band_low_m > top {
                    break;
                }
                test(&left[i], y);
            }
            i += 1;
        } else {
            let top = right[j].band_high_m;
            for x in &left[i..] {
                if x.band_low_m > top {
                    break;
                }
                test(x, &right[j]);
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
