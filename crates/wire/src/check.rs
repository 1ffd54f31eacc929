//! The input and output of `deconflict check`: separation minima and intents in, the
//! conflicting pairs out.
//!
//! Input: `{"separation": {"horizontal_m", "vertical_m", "time_s"}, "intents": [{"id",
//! "party", "volumes": [Volume4D…]}]}`. Intent ids are unique across the file (whatever
//! the party), non-empty, and every intent has at least one volume.

use std::collections::HashMap;

use deconflict_core::geometry::Volume4D;
use deconflict_core::strategic::Separation;
use serde::{Deserialize, Serialize};

use crate::volume::{from_json_str, Volume4DJson, WireError};

/// Separation minima: metres and seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeparationJson {
    pub horizontal_m: f64,
    pub vertical_m: f64,
    pub time_s: f64,
}

impl SeparationJson {
    pub fn to_core(&self, path: &str) -> Result<Separation, WireError> {
        Separation::new(self.horizontal_m, self.vertical_m, self.time_s).map_err(|error| {
            let deconflict_core::strategic::SeparationError::NotPositive { what, .. } = &error;
            WireError::at(format!("{path}.{what}"), error.to_string())
        })
    }

    pub fn from_core(separation: &Separation) -> Self {
        SeparationJson {
            horizontal_m: separation.horizontal_m(),
            vertical_m: separation.vertical_m(),
            time_s: separation.time_s(),
        }
    }
}

/// One intent of the check file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentJson {
    pub id: String,
    pub party: String,
    pub volumes: Vec<Volume4DJson>,
}

/// The check file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInputJson {
    pub separation: SeparationJson,
    pub intents: Vec<IntentJson>,
}

/// A validated intent of the check file.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckIntent {
    pub id: String,
    pub party: String,
    pub volumes: Vec<Volume4D>,
}

/// The validated check file.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckInput {
    pub separation: Separation,
    pub intents: Vec<CheckIntent>,
}

impl CheckInputJson {
    pub fn to_core(&self) -> Result<CheckInput, WireError> {
        let separation = self.separation.to_core("separation")?;
        let mut first_index: HashMap<&str, usize> = HashMap::with_capacity(self.intents.len());
        let mut intents = Vec::with_capacity(self.intents.len());
        for (index, intent) in self.intents.iter().enumerate() {
            let path = format!("intents[{index}]");
            if intent.id.is_empty() {
                return Err(WireError::at(
                    format!("{path}.id"),
                    "an intent id must not be empty",
                ));
            }
            if intent.party.is_empty() {
                return Err(WireError::at(
                    format!("{path}.party"),
                    "a party must not be empty",
                ));
            }
            if let Some(first) = first_index.insert(&intent.id, index) {
                return Err(WireError::at(
                    format!("{path}.id"),
                    format!(
                        "duplicate intent id {:?} (first at intents[{first}])",
                        intent.id
                    ),
                ));
            }
            if intent.volumes.is_empty() {
                return Err(WireError::at(
                    format!("{path}.volumes"),
                    "an intent needs at least one volume",
                ));
            }
            let volumes = intent
                .volumes
                .iter()
                .enumerate()
                .map(|(volume_index, volume)| {
                    volume.to_core(&format!("{path}.volumes[{volume_index}]"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            intents.push(CheckIntent {
                id: intent.id.clone(),
                party: intent.party.clone(),
                volumes,
            });
        }
        Ok(CheckInput {
            separation,
            intents,
        })
    }

    pub fn from_core(input: &CheckInput) -> Self {
        CheckInputJson {
            separation: SeparationJson::from_core(&input.separation),
            intents: input
                .intents
                .iter()
                .map(|intent| IntentJson {
                    id: intent.id.clone(),
                    party: intent.party.clone(),
                    volumes: intent.volumes.iter().map(Volume4DJson::from_core).collect(),
                })
                .collect(),
        }
    }
}

/// Parses and validates a check file's text.
pub fn parse_check_input(text: &str) -> Result<CheckInput, WireError> {
    from_json_str::<CheckInputJson>(text)?.to_core()
}

/// One conflicting pair of intents in the `check --json` output: ids ascending, every
/// conflicting volume index pair (first index into the first intent), and the gaps of the
/// closest pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckConflictJson {
    pub intents: [String; 2],
    pub volumes: Vec<[usize; 2]>,
    pub horizontal_distance_m: f64,
    pub vertical_gap_m: f64,
    pub time_gap_s: f64,
}

/// The `check --json` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReportJson {
    pub conflicts: Vec<CheckConflictJson>,
    pub intents: usize,
    pub elapsed_ms: f64,
}
