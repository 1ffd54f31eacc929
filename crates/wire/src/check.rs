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
        Separation::new(self.horizontal_m, self.vertical_m, self.time_s)
            .map_err(|error| WireError::at(format!("{path}.{}", error.what()), error.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use deconflict_core::strategic::{disclosure_region, intents_conflict};
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../../../examples/two-parties.json");

    /// Numbers that stress validation and geometry: out of range, huge, tiny, negative,
    /// at the poles and the antimeridian.
    const NUMBERS: &[&str] = &[
        "0",
        "-0",
        "90",
        "-90",
        "180",
        "-180",
        "90.0000001",
        "1e308",
        "-1e308",
        "1e-300",
        "5e6",
        "-1",
        "89.99999999",
        "179.9999999",
        "35.3",
        "\"x\"",
        "null",
        "[]",
        "{}",
    ];

    fn mutate(text: &str, edits: &[(usize, usize)]) -> String {
        // Replace some numbers of the example with stress values.
        let mut out = String::new();
        let mut number_index = 0;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let starts_number = c.is_ascii_digit()
                || (c == '-' && chars.peek().is_some_and(|n| n.is_ascii_digit()));
            if !starts_number {
                out.push(c);
                continue;
            }
            let mut number = c.to_string();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-' | ':' | 'T' | 'Z')
                {
                    number.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            match edits.iter().find(|(at, _)| *at == number_index) {
                Some((_, choice)) if !number.contains(':') => {
                    out.push_str(NUMBERS[choice % NUMBERS.len()])
                }
                _ => out.push_str(&number),
            }
            number_index += 1;
        }
        out
    }

    #[test]
    fn a_separation_minimum_beyond_its_maximum_is_refused_naming_it() {
        let text = EXAMPLE.replacen("\"time_s\": 120", "\"time_s\": 1e308", 1);
        assert_ne!(
            text, EXAMPLE,
            "the example's time buffer moved; update this test"
        );
        let error = parse_check_input(&text).unwrap_err().to_string();
        assert!(error.contains("separation.time_s"), "{error}");
        assert!(error.contains("above the maximum"), "{error}");
    }

    #[test]
    fn the_example_file_is_valid() {
        let input = parse_check_input(EXAMPLE).unwrap();
        assert_eq!(input.intents.len(), 4);
        let round_trip = serde_json::to_string(&CheckInputJson::from_core(&input)).unwrap();
        assert_eq!(parse_check_input(&round_trip).unwrap(), input);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn no_mutated_file_makes_parsing_or_detection_panic(
            edits in proptest::collection::vec((0usize..120, 0usize..100), 1..6),
            cut in proptest::option::of(0usize..4000),
        ) {
            let mut text = mutate(EXAMPLE, &edits);
            if let Some(cut) = cut {
                text.truncate(cut.min(text.len()));
            }
            match parse_check_input(&text) {
                Err(error) => prop_assert!(!error.to_string().is_empty()),
                Ok(input) => {
                    for a in &input.intents {
                        for b in &input.intents {
                            if let Some(conflict) = intents_conflict(&a.volumes, &b.volumes, &input.separation) {
                                let (i, j) = conflict.closest_pair;
                                let region = disclosure_region(&a.volumes[i], &b.volumes[j], &input.separation);
                                prop_assert!(region.is_some());
                            }
                        }
                    }
                }
            }
        }
    }
}
