//! The agreement's terms document: its JSON shape, its defaults and its validation.
//!
//! A terms document is always whole (a proposal replaces every term). Unknown fields are
//! refused, since a misspelt term in an agreement between parties must not pass silently.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use deconflict_core::strategic::Separation;
use deconflict_core::tactical::{
    self as core_tactical, AlertThresholds, CylinderMinima, DetectionParams, WellClearThresholds,
};
use deconflict_wire::volume::PolygonJson;

/// Most frequencies or contacts one terms document lists.
pub const TERMS_LIST_MAX: usize = 100;
/// Longest free-text field of a terms document, in characters.
pub const TERMS_TEXT_CHARS_MAX: usize = 500;
/// Longest hotline answer deadline: one week.
pub const ANSWER_WITHIN_S_MAX: f64 = 7.0 * 24.0 * 3600.0;

/// The strategic separation minima: two volumes of different parties conflict when all
/// three gaps are below these at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeparationTerms {
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    pub horizontal_m: f64,
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub vertical_m: f64,
    #[schema(exclusive_minimum = 0, maximum = 604800)]
    pub time_s: f64,
}

/// Which tactical criterion live tracks are judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TacticalCriterion {
    Cylinder,
    Wellclear,
}

/// The tactical criterion and its thresholds (see the contract's "Tactical conflict").
/// Besides each bound below: `warning_s <= caution_s <= lookahead_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TacticalTerms {
    pub criterion: TacticalCriterion,
    #[schema(exclusive_minimum = 0)]
    pub horizontal_m: f64,
    #[schema(exclusive_minimum = 0)]
    pub vertical_m: f64,
    #[schema(exclusive_minimum = 0)]
    pub lookahead_s: f64,
    #[schema(exclusive_minimum = 0)]
    pub dthr_m: f64,
    #[schema(exclusive_minimum = 0)]
    pub zthr_m: f64,
    #[schema(exclusive_minimum = 0)]
    pub tthr_s: f64,
    #[schema(minimum = 0)]
    pub tcoa_s: f64,
    #[schema(exclusive_minimum = 0)]
    pub warning_s: f64,
    #[schema(exclusive_minimum = 0)]
    pub caution_s: f64,
}

/// What a party learns of a counterpart's intent in conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DisclosurePolicy {
    /// Only where the buffered footprints meet, the overlapping altitude band and time
    /// window, and an opaque reference.
    Minimal,
    /// Also the counterpart's whole conflicting volumes.
    Volume,
    /// The counterpart's whole intent: id, state and every volume.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HotlineTerms {
    /// How long a duty officer has to answer a hotline message before it escalates.
    #[schema(exclusive_minimum = 0, maximum = 604800)]
    pub answer_within_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Frequency {
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub name: String,
    #[schema(exclusive_minimum = 0)]
    pub mhz: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub party: String,
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub email: Option<String>,
}

/// The whole terms document of one agreement version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    pub separation: SeparationTerms,
    pub tactical: TacticalTerms,
    pub disclosure: DisclosurePolicy,
    pub hotline: HotlineTerms,
    /// The region the agreement covers, as the contract's polygon
    /// (`{"vertices": [{"lat", "lng"}, …]}`); `null` for everywhere. Informative: intents
    /// outside it are still checked.
    #[serde(default)]
    pub region: Option<PolygonJson>,
    #[serde(default)]
    #[schema(max_items = 100)]
    pub frequencies: Vec<Frequency>,
    #[serde(default)]
    #[schema(max_items = 100)]
    pub contacts: Vec<Contact>,
}

impl Default for Terms {
    /// The contract's defaults: strategic 9,260 m, 300 m, 120 s; tactical cylinder
    /// 9,260 m, 304.8 m, lookahead 300 s (DO-365 well-clear thresholds DTHR 1,219.2 m,
    /// ZTHR 137.16 m, TTHR 35 s, TCOA 0 s kept for when `wellclear` is chosen); warning
    /// at 60 s, caution at 120 s; minimal disclosure; hotline answers within 300 s.
    fn default() -> Self {
        Terms {
            separation: SeparationTerms {
                horizontal_m: 9260.0,
                vertical_m: 300.0,
                time_s: 120.0,
            },
            tactical: TacticalTerms {
                criterion: TacticalCriterion::Cylinder,
                horizontal_m: 9260.0,
                vertical_m: 304.8,
                lookahead_s: 300.0,
                dthr_m: 1219.2,
                zthr_m: 137.16,
                tthr_s: 35.0,
                tcoa_s: 0.0,
                warning_s: 60.0,
                caution_s: 120.0,
            },
            disclosure: DisclosurePolicy::Minimal,
            hotline: HotlineTerms {
                answer_within_s: 300.0,
            },
            region: None,
            frequencies: Vec::new(),
            contacts: Vec::new(),
        }
    }
}

fn positive(path: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{path} must be a positive finite number, not {value}"
        ))
    }
}

fn text(path: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > TERMS_TEXT_CHARS_MAX {
        Err(format!(
            "{path} must be 1 to {TERMS_TEXT_CHARS_MAX} characters of text"
        ))
    } else {
        crate::limits::check_no_nul(path, value)
    }
}

impl Terms {
    /// Checks every term; the error names the JSON path of the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        self.strategic_separation()?;
        let t = &self.tactical;
        positive("tactical.horizontal_m", t.horizontal_m)?;
        positive("tactical.vertical_m", t.vertical_m)?;
        positive("tactical.lookahead_s", t.lookahead_s)?;
        positive("tactical.dthr_m", t.dthr_m)?;
        positive("tactical.zthr_m", t.zthr_m)?;
        positive("tactical.tthr_s", t.tthr_s)?;
        if !(t.tcoa_s.is_finite() && t.tcoa_s >= 0.0) {
            return Err(format!(
                "tactical.tcoa_s must be a finite number of seconds, at least 0, not {}",
                t.tcoa_s
            ));
        }
        positive("tactical.warning_s", t.warning_s)?;
        positive("tactical.caution_s", t.caution_s)?;
        if t.warning_s > t.caution_s || t.caution_s > t.lookahead_s {
            return Err(format!(
                "tactical thresholds must satisfy warning_s <= caution_s <= lookahead_s, not {} <= {} <= {}",
                t.warning_s, t.caution_s, t.lookahead_s
            ));
        }
        self.detection_params()?;
        positive("hotline.answer_within_s", self.hotline.answer_within_s)?;
        if self.hotline.answer_within_s > ANSWER_WITHIN_S_MAX {
            return Err(format!(
                "hotline.answer_within_s must be at most {ANSWER_WITHIN_S_MAX} (one week)"
            ));
        }
        if let Some(region) = &self.region {
            region
                .to_core("region")
                .map_err(|error| error.to_string())?;
        }
        if self.frequencies.len() > TERMS_LIST_MAX || self.contacts.len() > TERMS_LIST_MAX {
            return Err(format!(
                "frequencies and contacts may list at most {TERMS_LIST_MAX} entries each"
            ));
        }
        for (index, frequency) in self.frequencies.iter().enumerate() {
            text(&format!("frequencies[{index}].name"), &frequency.name)?;
            positive(&format!("frequencies[{index}].mhz"), frequency.mhz)?;
        }
        for (index, contact) in self.contacts.iter().enumerate() {
            text(&format!("contacts[{index}].party"), &contact.party)?;
            text(&format!("contacts[{index}].name"), &contact.name)?;
            if let Some(phone) = &contact.phone {
                text(&format!("contacts[{index}].phone"), phone)?;
            }
            if let Some(email) = &contact.email {
                text(&format!("contacts[{index}].email"), email)?;
            }
        }
        Ok(())
    }

    /// The strategic minima as the core's validated type.
    pub fn strategic_separation(&self) -> Result<Separation, String> {
        let s = &self.separation;
        Separation::new(s.horizontal_m, s.vertical_m, s.time_s)
            .map_err(|error| format!("separation: {error}"))
    }

    /// The tactical criterion and thresholds as the core's detection parameters.
    pub fn detection_params(&self) -> Result<DetectionParams, String> {
        let t = &self.tactical;
        let criterion = match t.criterion {
            TacticalCriterion::Cylinder => core_tactical::TacticalCriterion::Cylinder(
                CylinderMinima::new(t.horizontal_m, t.vertical_m)
                    .map_err(|error| format!("tactical: {error}"))?,
            ),
            TacticalCriterion::Wellclear => core_tactical::TacticalCriterion::WellClear(
                WellClearThresholds::new(t.dthr_m, t.zthr_m, t.tthr_s, t.tcoa_s)
                    .map_err(|error| format!("tactical: {error}"))?,
            ),
        };
        let alert = AlertThresholds::new(t.warning_s, t.caution_s)
            .map_err(|error| format!("tactical: {error}"))?;
        DetectionParams::new(criterion, t.lookahead_s, alert)
            .map_err(|error| format!("tactical: {error}"))
    }

    /// Parses and validates a terms document (the `--agreement FILE` or a stored one).
    pub fn from_json(text: &str) -> Result<Terms, String> {
        let terms: Terms =
            deconflict_wire::volume::from_json_str(text).map_err(|error| error.to_string())?;
        terms.validate()?;
        Ok(terms)
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("terms serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_terms_are_valid_and_round_trip() {
        let terms = Terms::default();
        terms.validate().unwrap();
        let text = terms.to_value().to_string();
        assert_eq!(Terms::from_json(&text).unwrap(), terms);
    }

    #[test]
    fn a_misspelt_term_is_refused_naming_it() {
        let mut value = Terms::default().to_value();
        value["separation"]["horizontal_nm"] = 5.into();
        let error = Terms::from_json(&value.to_string()).unwrap_err();
        assert!(error.contains("horizontal_nm"), "{error}");
    }

    #[test]
    fn a_negative_minimum_is_refused_naming_its_path() {
        let mut terms = Terms::default();
        terms.tactical.lookahead_s = -1.0;
        assert!(terms
            .validate()
            .unwrap_err()
            .contains("tactical.lookahead_s"));
        let mut terms = Terms::default();
        terms.separation.time_s = 0.0;
        assert!(terms.validate().unwrap_err().contains("time_s"));
    }

    #[test]
    fn thresholds_out_of_order_are_refused() {
        let mut terms = Terms::default();
        terms.tactical.caution_s = 30.0;
        assert!(terms
            .validate()
            .unwrap_err()
            .contains("warning_s <= caution_s"));
    }
}
