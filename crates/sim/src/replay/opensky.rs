//! OpenSky-style JSON records: a JSON array of objects with `timestamp` (Unix
//! milliseconds, or an RFC 3339 string), `icao24`, `callsign`, `latitude`, `longitude`,
//! `altitude` (feet), `groundspeed` (knots), `track` (degrees true) and `vertical_rate`
//! (feet per minute), as the `traffic` Python package writes flights with
//! `to_json(orient="records")`. Other keys are ignored.
//!
//! Null fields are normal in such data: a record without time, address or position, or
//! without ground speed, track or vertical rate, is skipped and counted. `altitude` is the
//! recorded (barometric) altitude, taken as it is: the recording has nothing better to
//! bring it to the ellipsoid, and every aircraft nearby shares the same pressure error.

use std::io::Read;

use deconflict_core::tactical::{AircraftState, PartyIndex};
use serde_json::{Map, Value};

use super::source::ReplayError;
use super::{
    north_east_mps, Observation, SkipReason, StateSource, Summary, MPS_PER_FT_PER_MIN, MPS_PER_KT,
    M_PER_FT,
};

/// The states of a JSON array of records, in time order (records of equal time keep
/// their order in the file).
#[derive(Debug)]
pub struct OpenSkyReader {
    states: std::vec::IntoIter<Observation>,
    summary: Summary,
}

impl OpenSkyReader {
    /// Reads the whole array (it cannot be put in time order before it is all read). Only
    /// input that is not a JSON array at all is an error; bad records are skipped.
    pub fn new(input: impl Read) -> Result<Self, ReplayError> {
        let document: Value =
            serde_json::from_reader(input).map_err(|error| ReplayError::Json(error.to_string()))?;
        let Value::Array(records) = document else {
            return Err(ReplayError::Json(
                "the document is not a JSON array of records".to_string(),
            ));
        };
        let mut summary = Summary::new("record");
        let mut states = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let place = index as u64 + 1;
            summary.records_read += 1;
            match observation(record, place) {
                Ok(observation) => states.push(observation),
                Err((reason, detail)) => summary.skip(place, reason, detail),
            }
        }
        states.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        summary.states_produced = states.len() as u64;
        Ok(Self {
            states: states.into_iter(),
            summary,
        })
    }
}

impl Iterator for OpenSkyReader {
    type Item = Observation;
    fn next(&mut self) -> Option<Observation> {
        self.states.next()
    }
}

impl StateSource for OpenSkyReader {
    fn summary(&self) -> &Summary {
        &self.summary
    }
}

type Refusal = (SkipReason, String);

fn observation(record: &Value, place: u64) -> Result<Observation, Refusal> {
    let Value::Object(fields) = record else {
        return Err((SkipReason::Malformed, "not a JSON object".to_string()));
    };
    let time_s = timestamp_s(fields)?;
    let icao24 = match fields.get("icao24") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_lowercase(),
        Some(Value::String(_)) | Some(Value::Null) | None => {
            return Err((SkipReason::MissingPosition, "no icao24".to_string()))
        }
        Some(other) => return Err((SkipReason::BadField, format!("icao24 is {other}"))),
    };
    let callsign = match fields.get("callsign") {
        Some(Value::String(text)) => Some(text.trim().to_string()).filter(|c| !c.is_empty()),
        _ => None,
    };
    let lat_deg = number(fields, "latitude", SkipReason::MissingPosition)?;
    let lon_deg = number(fields, "longitude", SkipReason::MissingPosition)?;
    let altitude_ft = number(fields, "altitude", SkipReason::MissingPosition)?;
    let ground_speed_kt = number(fields, "groundspeed", SkipReason::MissingVelocity)?;
    let track_deg = number(fields, "track", SkipReason::MissingVelocity)?;
    let vertical_rate_ft_per_min = number(fields, "vertical_rate", SkipReason::MissingVelocity)?;
    let (vn_mps, ve_mps) = north_east_mps(ground_speed_kt * MPS_PER_KT, track_deg);
    let state = AircraftState::new(
        PartyIndex(0),
        lat_deg,
        lon_deg,
        altitude_ft * M_PER_FT,
        vn_mps,
        ve_mps,
        vertical_rate_ft_per_min * MPS_PER_FT_PER_MIN,
    )
    .map_err(|error| (SkipReason::InvalidState, error.to_string()))?;
    Ok(Observation {
        time_s,
        id: Observation::id_from(callsign.as_deref(), &icao24),
        icao24: Some(icao24),
        callsign,
        recorded_party: None,
        state,
        place,
    })
}

/// A number field; null or absent is `missing`, anything else not a finite number is a
/// bad field.
fn number(fields: &Map<String, Value>, name: &str, missing: SkipReason) -> Result<f64, Refusal> {
    match fields.get(name) {
        None | Some(Value::Null) => Err((missing, format!("{name} is null or absent"))),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| (SkipReason::BadField, format!("{name} {n} is not finite"))),
        Some(other) => Err((
            SkipReason::BadField,
            format!("{name} is {other}, not a number"),
        )),
    }
}

fn timestamp_s(fields: &Map<String, Value>) -> Result<f64, Refusal> {
    match fields.get("timestamp") {
        None | Some(Value::Null) => Err((
            SkipReason::MissingPosition,
            "timestamp is null or absent".to_string(),
        )),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(|ms| ms / 1000.0)
            .ok_or_else(|| (SkipReason::BadField, format!("timestamp {n} is not finite"))),
        Some(Value::String(text)) => chrono::DateTime::parse_from_rfc3339(text.trim())
            .map(|time| time.timestamp_micros() as f64 / 1e6)
            .map_err(|_| {
                (
                    SkipReason::BadField,
                    format!("timestamp {text:?} is neither milliseconds nor RFC 3339"),
                )
            }),
        Some(other) => Err((SkipReason::BadField, format!("timestamp is {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"[
      {"timestamp": 1700000010000, "icao24": "3C6444", "callsign": "DLH4AB  ",
       "latitude": 48.5, "longitude": 11.25, "altitude": 35000, "groundspeed": 450,
       "track": 90, "vertical_rate": -1200},
      {"timestamp": 1700000000000, "icao24": "4ca7b5", "callsign": null,
       "latitude": 48.0, "longitude": 11.0, "altitude": 1000.0, "groundspeed": 100,
       "track": 180, "vertical_rate": 0, "geoaltitude": 1100},
      {"timestamp": 1700000020000, "icao24": "4ca7b5", "callsign": "",
       "latitude": null, "longitude": null, "altitude": 1000, "groundspeed": 100,
       "track": 180, "vertical_rate": 0},
      {"timestamp": 1700000030000, "icao24": "4ca7b5", "latitude": 48.0,
       "longitude": 11.0, "altitude": 1000, "groundspeed": null, "track": 180,
       "vertical_rate": 0},
      {"timestamp": "2023-11-14T22:14:00.5Z", "icao24": "4ca7b5", "latitude": 91.0,
       "longitude": 11.0, "altitude": 1000, "groundspeed": 1, "track": 0,
       "vertical_rate": 0},
      {"timestamp": 1700000050000, "icao24": "4ca7b5", "latitude": "north",
       "longitude": 11.0, "altitude": 1000, "groundspeed": 1, "track": 0,
       "vertical_rate": 0},
      17
    ]"#;

    #[test]
    fn records_are_converted_to_si_and_put_in_time_order() {
        let reader = OpenSkyReader::new(SAMPLE.as_bytes()).unwrap();
        let states: Vec<Observation> = reader.collect();
        assert_eq!(states.len(), 2);
        let first = &states[0];
        assert_eq!(
            (first.time_s, first.id.as_str()),
            (1_700_000_000.0, "4ca7b5")
        );
        assert_eq!(first.place, 2);
        assert!((first.state.alt_m() - 304.8).abs() < 1e-9);
        assert!((first.state.vn_mps() + 100.0 * 1852.0 / 3600.0).abs() < 1e-9);
        assert!(first.state.ve_mps().abs() < 1e-9);
        let second = &states[1];
        assert_eq!(second.id, "DLH4AB", "the callsign, trimmed, is the id");
        assert_eq!(second.icao24.as_deref(), Some("3c6444"));
        assert!((second.state.alt_m() - 10_668.0).abs() < 1e-9);
        assert!((second.state.ve_mps() - 231.5).abs() < 1e-9);
        assert!(second.state.vn_mps().abs() < 1e-9);
        assert!((second.state.vu_mps() + 6.096).abs() < 1e-12);
    }

    #[test]
    fn nulls_garbage_and_out_of_range_records_are_counted_not_fatal() {
        let reader = OpenSkyReader::new(SAMPLE.as_bytes()).unwrap();
        let summary = reader.summary().clone();
        assert_eq!(summary.records_read, 7);
        assert_eq!(summary.states_produced, 2);
        assert_eq!(summary.skipped_for(SkipReason::MissingPosition), 1);
        assert_eq!(summary.skipped_for(SkipReason::MissingVelocity), 1);
        assert_eq!(summary.skipped_for(SkipReason::InvalidState), 1);
        assert_eq!(summary.skipped_for(SkipReason::BadField), 1);
        assert_eq!(summary.skipped_for(SkipReason::Malformed), 1);
        let places: Vec<u64> = summary.first_skips.iter().map(|s| s.place).collect();
        assert_eq!(places, [3, 4, 5, 6, 7]);
        assert!(summary
            .to_string()
            .contains("record 6: field not a number or time"));
    }

    #[test]
    fn input_that_is_not_an_array_is_an_error() {
        assert!(OpenSkyReader::new(&b"{\"a\": 1}"[..]).is_err());
        assert!(OpenSkyReader::new(&b"[{\"a\": "[..]).is_err());
    }
}
