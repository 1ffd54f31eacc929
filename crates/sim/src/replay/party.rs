//! Which party each recorded aircraft belongs to, by a rule: the party the recording names
//! (only the tracks CSV names one), each aircraft its own party (by ICAO address), or a
//! map from callsign prefixes to parties.
//!
//! A party map is TOML or JSON:
//!
//! ```toml
//! default = "general-aviation"   # optional
//! [prefixes]
//! RYR = "ryanair"
//! EZY = "easyjet"
//! EZS = "easyjet"
//! ```
//!
//! Callsigns are matched case-insensitively and the longest matching prefix wins. An
//! aircraft whose callsign matches no prefix, or that has no callsign, belongs to the
//! default party; without a default it is its own party.

use std::collections::BTreeMap;

use serde::Deserialize;
use thiserror::Error;

use super::Observation;

#[derive(Debug, Clone, PartialEq, Error)]
#[error("party map: {0}")]
pub struct PartyMapError(String);

/// Callsign prefixes to parties, validated: no empty prefix or party, no prefix twice.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyMap {
    /// Upper-case prefixes, longest first, so that the first match is the longest.
    prefixes: Vec<(String, String)>,
    default: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyMapFile {
    default: Option<String>,
    #[serde(default)]
    prefixes: BTreeMap<String, String>,
}

impl PartyMap {
    pub fn new(
        prefixes: impl IntoIterator<Item = (String, String)>,
        default: Option<String>,
    ) -> Result<Self, PartyMapError> {
        let mut seen = BTreeMap::new();
        for (prefix, party) in prefixes {
            let key = prefix.trim().to_uppercase();
            if key.is_empty() {
                return Err(PartyMapError(
                    "an empty prefix matches everything; use `default`".into(),
                ));
            }
            if party.trim().is_empty() {
                return Err(PartyMapError(format!(
                    "prefix {prefix:?} maps to an empty party"
                )));
            }
            if seen.insert(key, party.trim().to_string()).is_some() {
                return Err(PartyMapError(format!(
                    "prefix {prefix:?} is given twice (prefixes are matched regardless of case)"
                )));
            }
        }
        if default.as_deref().is_some_and(|d| d.trim().is_empty()) {
            return Err(PartyMapError("the default party is empty".into()));
        }
        let mut prefixes: Vec<(String, String)> = seen.into_iter().collect();
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(Self {
            prefixes,
            default: default.map(|d| d.trim().to_string()),
        })
    }

    /// Reads a map written in TOML, or in JSON when the text starts with `{`.
    pub fn parse(text: &str) -> Result<Self, PartyMapError> {
        let file: PartyMapFile = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| PartyMapError(format!("JSON: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| PartyMapError(format!("TOML: {e}")))?
        };
        Self::new(file.prefixes, file.default)
    }

    /// The party of a callsign: the longest matching prefix's, else the default.
    pub fn party_of_callsign(&self, callsign: Option<&str>) -> Option<&str> {
        callsign
            .map(str::to_uppercase)
            .and_then(|callsign| {
                self.prefixes
                    .iter()
                    .find(|(prefix, _)| callsign.starts_with(prefix.as_str()))
                    .map(|(_, party)| party.as_str())
            })
            .or(self.default.as_deref())
    }
}

/// How parties are given to recorded aircraft.
#[derive(Debug, Clone, PartialEq)]
pub enum PartyRule {
    /// The party the recording names, if any (else the aircraft is its own party).
    Recorded,
    /// Each aircraft its own party, named by its ICAO address (its id when it has none).
    Icao24,
    /// By callsign prefix (the id stands for the callsign when the format has no other).
    CallsignPrefix(PartyMap),
}

impl PartyRule {
    /// The party name to write; `None` leaves it empty, which makes the aircraft its own
    /// party in the contract's tracks CSV.
    pub fn party_of(&self, observation: &Observation) -> Option<String> {
        match self {
            Self::Recorded => observation.recorded_party.clone(),
            Self::Icao24 => Some(
                observation
                    .icao24
                    .clone()
                    .unwrap_or_else(|| observation.id.clone()),
            ),
            Self::CallsignPrefix(map) => {
                let callsign = match (&observation.callsign, &observation.icao24) {
                    (Some(callsign), _) => Some(callsign.as_str()),
                    (None, Some(_)) => None,
                    // The tracks CSV has no callsign column: its id is the callsign.
                    (None, None) => Some(observation.id.as_str()),
                };
                map.party_of_callsign(callsign).map(str::to_string)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins_regardless_of_case_and_order() {
        let map = PartyMap::parse(
            "default = \"ga\"\n[prefixes]\nRY = \"r-short\"\nryr = \"ryanair\"\nEZY = \"easyjet\"\n",
        )
        .unwrap();
        assert_eq!(map.party_of_callsign(Some("RYR12A")), Some("ryanair"));
        assert_eq!(map.party_of_callsign(Some("ry77")), Some("r-short"));
        assert_eq!(map.party_of_callsign(Some("EZY9")), Some("easyjet"));
        assert_eq!(map.party_of_callsign(Some("DLH4")), Some("ga"));
        assert_eq!(map.party_of_callsign(None), Some("ga"));
    }

    #[test]
    fn json_maps_work_and_without_a_default_unmatched_aircraft_stand_alone() {
        let map = PartyMap::parse(r#"{"prefixes": {"AFR": "air-france"}}"#).unwrap();
        assert_eq!(map.party_of_callsign(Some("AFR1")), Some("air-france"));
        assert_eq!(map.party_of_callsign(Some("BAW1")), None);
    }

    #[test]
    fn bad_maps_are_refused_with_a_reason() {
        for (text, expected) in [
            ("[prefixes]\n\"\" = \"x\"\n", "empty prefix"),
            ("[prefixes]\nAB = \"x\"\nab = \"y\"\n", "given twice"),
            ("[prefixes]\nAB = \" \"\n", "empty party"),
            ("default = \"\"\n", "default party is empty"),
            ("defualt = \"x\"\n", "unknown field"),
            ("{\"prefixes\": 3}", "JSON"),
        ] {
            let error = PartyMap::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
