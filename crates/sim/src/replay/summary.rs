//! The account a reader keeps of its input: records read, states produced, records used
//! without producing a state, and records skipped, counted by reason with the first few
//! shown by place.

use std::collections::BTreeMap;
use std::fmt;

/// How many skipped records a summary names individually; the rest are only counted.
pub const SKIP_EXAMPLES_MAX: usize = 8;

/// Why a record gave no state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Not a record of the format at all (garbage, a truncated line, not a JSON object).
    Malformed,
    /// A field holds something that is not a number or a time.
    BadField,
    /// The record lacks a time, position or aircraft address.
    MissingPosition,
    /// The record lacks ground speed, track or vertical rate.
    MissingVelocity,
    /// An SBS position arrived with no velocity of that aircraft recent enough.
    NoRecentVelocity,
    /// The values are out of range for an aircraft state (the core refused them).
    InvalidState,
    /// A message type that carries nothing this reader uses (SBS MSG,5-8, SEL, ID, STA…).
    UnusedMessage,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed record",
            Self::BadField => "field not a number or time",
            Self::MissingPosition => "no time, position or address",
            Self::MissingVelocity => "no velocity",
            Self::NoRecentVelocity => "position without a recent velocity",
            Self::InvalidState => "state out of range",
            Self::UnusedMessage => "message type not used",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One skipped record, kept as an example.
#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    /// 1-based line or record.
    pub place: u64,
    pub reason: SkipReason,
    pub detail: String,
}

/// What a reader made of its input so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// "line" or "record": what `place` counts.
    pub unit: &'static str,
    pub records_read: u64,
    pub states_produced: u64,
    /// Records taken into account without producing a state of their own (SBS
    /// identification and velocity messages, remembered for later positions).
    pub records_merged: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The first [`SKIP_EXAMPLES_MAX`] skips, in input order.
    pub first_skips: Vec<Skip>,
}

impl Summary {
    pub fn new(unit: &'static str) -> Self {
        Self {
            unit,
            ..Self::default()
        }
    }

    pub fn skip(&mut self, place: u64, reason: SkipReason, detail: impl Into<String>) {
        *self.skipped.entry(reason).or_insert(0) += 1;
        if self.first_skips.len() < SKIP_EXAMPLES_MAX {
            self.first_skips.push(Skip {
                place,
                reason,
                detail: detail.into(),
            });
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// The count of one reason (0 when none).
    pub fn skipped_for(&self, reason: SkipReason) -> u64 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}s read, {} states produced",
            self.records_read, self.unit, self.states_produced
        )?;
        if self.records_merged > 0 {
            write!(f, ", {} merged into later states", self.records_merged)?;
        }
        write!(f, ", {} skipped", self.skipped_total())?;
        for (reason, count) in &self.skipped {
            write!(f, "\n  {count} {reason}")?;
        }
        for skip in &self.first_skips {
            write!(
                f,
                "\n  {} {}: {}: {}",
                self.unit, skip.place, skip.reason, skip.detail
            )?;
        }
        let more = self.skipped_total() - self.first_skips.len() as u64;
        if more > 0 {
            write!(f, "\n  ({more} more skips not shown)")?;
        }
        Ok(())
    }
}
