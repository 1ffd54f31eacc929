//! Strategic deconfliction: the conflict test between planned 4-D volumes of different
//! parties, its spatio-temporal index, the exhaustive scan that serves as its reference,
//! and the region disclosed to each side of a conflict.
//!
//! # The conflict test
//! Two volumes conflict under a [`Separation`] when, all at once and strictly: the gap
//! between their time windows is less than `time_s` (0 when they overlap), the gap between
//! their altitude bands is less than `vertical_m`, and the least horizontal distance between
//! their footprints is less than `horizontal_m` (0 when they overlap or one contains the
//! other). Two intents conflict when any volume of one conflicts with any volume of the
//! other.
//!
//! # The closest pair
//! Of all conflicting volume pairs of two intents, the closest is the one with the
//! smallest horizontal distance, then the smallest vertical gap, then the smallest time
//! gap, then the first in order of volume indexes: the horizontal distance comes first
//! because it is the quantity the minima are usually hardest to keep on.

mod disclosure;
mod index;
mod scan;

pub use disclosure::{disclosure_region, disclosure_region_of_conflict, DisclosureRegion};
pub use index::{StrategicConflict, StrategicIndex, CHANGES_REMEMBERED};
pub use scan::ExhaustiveScan;

use std::cmp::Ordering;

use crate::geometry::Volume4D;

/// The separation minima of an agreement: a loss of separation is a distance strictly
/// below the minimum on every axis at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Separation {
    horizontal_m: f64,
    vertical_m: f64,
    time_s: f64,
}

/// Why a [`Separation`] is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeparationError {
    /// Each minimum must be positive: the test is strict, so a zero minimum would make
    /// every pair of volumes separated.
    #[error("{what} must be a positive finite number, not {value}")]
    NotPositive { what: &'static str, value: f64 },
    /// A minimum beyond any aviation use would only make every volume conflict and push
    /// buffered regions and windows past what the geometry and the timestamps represent.
    #[error("{what} is {value}, above the maximum of {max}")]
    TooLarge {
        what: &'static str,
        value: f64,
        max: f64,
    },
}

impl SeparationError {
    /// The name of the minimum the error is about, so that a caller can point at it.
    pub fn what(&self) -> &'static str {
        match self {
            SeparationError::NotPositive { what, .. } | SeparationError::TooLarge { what, .. } => {
                what
            }
        }
    }
}

/// The largest horizontal minimum: the distance accuracy holds for places up to 1,000 km
/// apart, and no agreement separates aircraft by more.
pub const SEPARATION_HORIZONTAL_M_MAX: f64 = 1_000_000.0;
/// The largest vertical minimum: well beyond any airspace's height.
pub const SEPARATION_VERTICAL_M_MAX: f64 = 100_000.0;
/// The largest time buffer: one week.
pub const SEPARATION_TIME_S_MAX: f64 = 7.0 * 24.0 * 3600.0;

impl Separation {
    pub fn new(horizontal_m: f64, vertical_m: f64, time_s: f64) -> Result<Self, SeparationError> {
        for (what, value, max) in [
            ("horizontal_m", horizontal_m, SEPARATION_HORIZONTAL_M_MAX),
            ("vertical_m", vertical_m, SEPARATION_VERTICAL_M_MAX),
            ("time_s", time_s, SEPARATION_TIME_S_MAX),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(SeparationError::NotPositive { what, value });
            }
            if value > max {
                return Err(SeparationError::TooLarge { what, value, max });
            }
        }
        Ok(Separation {
            horizontal_m,
            vertical_m,
            time_s,
        })
    }

    pub fn horizontal_m(&self) -> f64 {
        self.horizontal_m
    }

    pub fn vertical_m(&self) -> f64 {
        self.vertical_m
    }

    pub fn time_s(&self) -> f64 {
        self.time_s
    }
}

/// The distances between two volumes on each axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeGaps {
    /// The least WGS84 geodesic distance between the footprints, 0 when they meet.
    pub horizontal_distance_m: f64,
    /// The gap between the altitude bands, 0 when they overlap or touch.
    pub vertical_gap_m: f64,
    /// The gap between the time windows, 0 when they overlap or touch.
    pub time_gap_s: f64,
}

impl VolumeGaps {
    /// The order of [the closest pair](self#the-closest-pair): horizontal, then vertical,
    /// then time.
    pub fn closeness_cmp(&self, other: &VolumeGaps) -> Ordering {
        self.horizontal_distance_m
            .total_cmp(&other.horizontal_distance_m)
            .then(self.vertical_gap_m.total_cmp(&other.vertical_gap_m))
            .then(self.time_gap_s.total_cmp(&other.time_gap_s))
    }
}

/// The gaps between two volumes when they conflict under the separation, `None` when
/// they are separated. The cheap axes are tested first, and the footprint distance is
/// computed only when the bounding caps do not already separate them.
pub fn volume_conflict(a: &Volume4D, b: &Volume4D, separation: &Separation) -> Option<VolumeGaps> {
    let time_gap_s = a.window.gap_s(&b.window);
    if time_gap_s >= separation.time_s {
        return None;
    }
    let vertical_gap_m = a.altitude.gap_m(&b.altitude);
    if vertical_gap_m >= separation.vertical_m {
        return None;
    }
    if a.footprint.distance_lower_bound_m(&b.footprint) >= separation.horizontal_m {
        return None;
    }
    let horizontal_distance_m = a.footprint.geodesic_distance_m(&b.footprint);
    if horizontal_distance_m >= separation.horizontal_m {
        return None;
    }
    Some(VolumeGaps {
        horizontal_distance_m,
        vertical_gap_m,
        time_gap_s,
    })
}

/// How two intents conflict: every conflicting pair of volume indexes (index into the
/// first intent, index into the second) in ascending order, and the closest of them.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentsConflict {
    pub volume_pairs: Vec<(usize, usize)>,
    pub closest_pair: (usize, usize),
    pub closest: VolumeGaps,
}

impl IntentsConflict {
    /// The same conflict seen from the other intent: every pair's indexes swapped. The
    /// closest pair stays the same pair of volumes.
    pub fn swapped(&self) -> IntentsConflict {
        let mut volume_pairs: Vec<(usize, usize)> =
            self.volume_pairs.iter().map(|&(a, b)| (b, a)).collect();
        volume_pairs.sort_unstable();
        IntentsConflict {
            volume_pairs,
            closest_pair: (self.closest_pair.1, self.closest_pair.0),
            closest: self.closest,
        }
    }
}

/// Accumulates conflicting volume pairs of two intents.
#[derive(Debug, Default)]
pub(crate) struct ConflictBuilder {
    volume_pairs: Vec<(usize, usize)>,
    closest: Option<((usize, usize), VolumeGaps)>,
}

impl ConflictBuilder {
    pub fn add(&mut self, pair: (usize, usize), gaps: VolumeGaps) {
        self.volume_pairs.push(pair);
        let closer = match &self.closest {
            None => true,
            Some((best_pair, best)) => match gaps.closeness_cmp(best) {
                Ordering::Less => true,
                Ordering::Equal => pair < *best_pair,
                Ordering::Greater => false,
            },
        };
        if closer {
            self.closest = Some((pair, gaps));
        }
    }

    pub fn finish(mut self) -> Option<IntentsConflict> {
        let (closest_pair, closest) = self.closest?;
        self.volume_pairs.sort_unstable();
        self.volume_pairs.dedup();
        Some(IntentsConflict {
            volume_pairs: self.volume_pairs,
            closest_pair,
            closest,
        })
    }
}

/// How two intents (their volumes) conflict under the separation, `None` when every
/// pair of their volumes is separated. Tests every pair of volumes.
pub fn intents_conflict(
    a: &[Volume4D],
    b: &[Volume4D],
    separation: &Separation,
) -> Option<IntentsConflict> {
    let mut builder = ConflictBuilder::default();
    for (index_a, volume_a) in a.iter().enumerate() {
        for (index_b, volume_b) in b.iter().enumerate() {
            if let Some(gaps) = volume_conflict(volume_a, volume_b, separation) {
                builder.add((index_a, index_b), gaps);
            }
        }
    }
    builder.finish()
}
