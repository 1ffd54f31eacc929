//! Readers for recorded real traffic: OpenSky-style JSON records, SBS-1 BaseStation lines
//! (dump1090's port 30003 output, from a file or a TCP feed) and the contract's tracks CSV,
//! each turned into the core's validated state vectors.
//!
//! Every reader is an iterator of [`Observation`]s in time order (the JSON and CSV readers
//! load and sort their input; an SBS feed arrives in time order), so that a caller can
//! write them out, or later pace them into a running service. Bad records are never
//! fatal: each reader counts what it read, what it produced and what it skipped and why,
//! in a [`Summary`]. Parties are given by a [`PartyRule`].
//!
//! An aircraft's id is its callsign when the recording has one (trimmed), its ICAO 24-bit
//! address (lower-case hex) otherwise.

pub mod opensky;
pub mod party;
pub mod sbs;
pub mod source;
pub mod summary;

use std::collections::BTreeMap;
use std::io::{self, Write};

use deconflict_core::tactical::AircraftState;
use deconflict_wire::tracks::{TrackRow, TracksCsvRecord, TracksCsvWriter};

pub use opensky::OpenSkyReader;
pub use party::{PartyMap, PartyMapError, PartyRule};
pub use sbs::{SbsReader, VELOCITY_AGE_MAX_S};
pub use source::{decompressed, CsvReader, Format, ReplayError};
pub use summary::{Skip, SkipReason, Summary, SKIP_EXAMPLES_MAX};

/// Feet to metres (exact, by the international foot).
pub const M_PER_FT: f64 = 0.3048;
/// Knots to metres per second (exact: one nautical mile is 1852 m).
pub const MPS_PER_KT: f64 = 1852.0 / 3600.0;
/// Feet per minute to metres per second.
pub const MPS_PER_FT_PER_MIN: f64 = M_PER_FT / 60.0;

/// One recorded state of one aircraft.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Unix seconds.
    pub time_s: f64,
    /// The callsign when known, else the ICAO address (or the tracks CSV's id).
    pub id: String,
    /// The ICAO 24-bit address, lower-case hex, when the format carries one.
    pub icao24: Option<String>,
    pub callsign: Option<String>,
    /// The party the recording itself names (only the tracks CSV has one).
    pub recorded_party: Option<String>,
    /// Carries `PartyIndex(0)`; parties are numbered by whoever detects.
    pub state: AircraftState,
    /// 1-based line (SBS, CSV) or record (JSON) it came from.
    pub place: u64,
}

impl Observation {
    /// The id rule: callsign if present, else the ICAO address.
    pub fn id_from(callsign: Option<&str>, icao24: &str) -> String {
        callsign.unwrap_or(icao24).to_string()
    }
}

/// A reader of recorded traffic: the states it yields, and its account of the input.
pub trait StateSource: Iterator<Item = Observation> {
    fn summary(&self) -> &Summary;
    /// The error that ended a stream before its end (a reset connection), if any; what
    /// came before it stands.
    fn io_error(&self) -> Option<&io::Error> {
        None
    }
}

/// North and east velocity (m/s) from a ground speed and a track angle (degrees true,
/// clockwise from north).
pub fn north_east_mps(ground_speed_mps: f64, track_deg: f64) -> (f64, f64) {
    let track_rad = track_deg.to_radians();
    (
        ground_speed_mps * track_rad.cos(),
        ground_speed_mps * track_rad.sin(),
    )
}

/// The tracks CSV rows of some observations, parties given by `rule`, sorted by time then
/// id (stable, so one aircraft's reports at one time keep their recorded order).
pub fn track_rows(observations: Vec<Observation>, rule: &PartyRule) -> Vec<TrackRow> {
    let mut rows: Vec<TrackRow> = observations
        .into_iter()
        .map(|observation| TrackRow {
            party: rule.party_of(&observation),
            time_s: observation.time_s,
            id: observation.id,
            state: observation.state,
            line: observation.place,
        })
        .collect();
    rows.sort_by(|a, b| a.time_s.total_cmp(&b.time_s).then_with(|| a.id.cmp(&b.id)));
    rows
}

/// The observations brought onto a common time grid (multiples of `step_s` since the Unix
/// epoch), because `deconflict detect` judges each time step on the states of that exact
/// time and recorded reports of different aircraft almost never share one. At each grid
/// time from an aircraft's first report to `age_max_s` after its last, its latest report at or before that
/// time, if at most `age_max_s` old, is extrapolated to it at constant velocity (as the
/// detector itself predicts); across longer gaps the aircraft has no state. The result is
/// sorted by time then id.
pub fn resampled(observations: Vec<Observation>, step_s: f64, age_max_s: f64) -> Vec<Observation> {
    assert!(
        step_s > 0.0 && step_s.is_finite(),
        "the step must be a positive duration"
    );
    let mut by_aircraft: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    for observation in observations {
        by_aircraft
            .entry(observation.id.clone())
            .or_default()
            .push(observation);
    }
    let mut out = Vec::new();
    for reports in by_aircraft.values_mut() {
        reports.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        let (Some(first), Some(last)) = (reports.first(), reports.last()) else {
            continue;
        };
        let mut k = (first.time_s / step_s).ceil() as i64;
        let mut latest = 0usize;
        loop {
            let time_s = k as f64 * step_s;
            if time_s > last.time_s + age_max_s {
                break;
            }
            while latest + 1 < reports.len() && reports[latest + 1].time_s <= time_s {
                latest += 1;
            }
            let report = &reports[latest];
            let age_s = time_s - report.time_s;
            if age_s <= age_max_s {
                if let Ok(state) = report.state.extrapolated(age_s) {
                    out.push(Observation {
                        time_s,
                        state,
                        ..report.clone()
                    });
                }
            }
            k += 1;
        }
    }
    out.sort_by(|a, b| a.time_s.total_cmp(&b.time_s).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Writes rows as the contract's tracks CSV, in the order given (see
/// [`TracksCsvWriter`] for the rounding).
pub fn write_tracks_csv(out: impl Write, rows: &[TrackRow]) -> io::Result<()> {
    let mut writer = TracksCsvWriter::new(out)?;
    for row in rows {
        let s = &row.state;
        writer.write(&TracksCsvRecord {
            time_s: row.time_s,
            id: &row.id,
            party: row.party.as_deref().unwrap_or_default(),
            lat_deg: s.lat_deg(),
            lon_deg: s.lon_deg(),
            alt_m: s.alt_m(),
            vn_mps: s.vn_mps(),
            ve_mps: s.ve_mps(),
            vu_mps: s.vu_mps(),
        })?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use deconflict_core::tactical::PartyIndex;

    #[test]
    fn ground_speed_and_track_give_north_and_east_components() {
        let (vn, ve) = north_east_mps(100.0, 90.0);
        assert!(vn.abs() < 1e-9 && (ve - 100.0).abs() < 1e-9);
        let (vn, ve) = north_east_mps(100.0, 225.0);
        assert!((vn + 70.710_678).abs() < 1e-5 && (ve + 70.710_678).abs() < 1e-5);
    }

    #[test]
    fn unit_factors_are_the_exact_definitions() {
        assert_eq!(1000.0 * M_PER_FT, 304.8);
        assert!((450.0 * MPS_PER_KT - 231.5).abs() < 1e-12);
        assert!((1200.0 * MPS_PER_FT_PER_MIN - 6.096).abs() < 1e-12);
    }

    #[test]
    fn resampling_puts_every_aircraft_on_the_common_grid_and_leaves_gaps_empty() {
        // East at 100 m/s; reports at 0.4 s and 2.7 s, then a 20 s gap, then 23.2 s.
        let report = |time_s: f64, id: &str| Observation {
            time_s,
            id: id.to_string(),
            icao24: None,
            callsign: None,
            recorded_party: None,
            state: AircraftState::new(PartyIndex(0), 0.0, 0.0, 1000.0, 0.0, 100.0, 0.0).unwrap(),
            place: 1,
        };
        let out = resampled(
            vec![
                report(23.2, "A"),
                report(0.4, "A"),
                report(2.7, "A"),
                report(5.0, "B"),
            ],
            1.0,
            5.0,
        );
        let times: Vec<(f64, &str)> = out.iter().map(|o| (o.time_s, o.id.as_str())).collect();
        let mut expected: Vec<(f64, &str)> = Vec::new();
        // A: 1..=7 (up to 5 s after its 2.7 s report), nothing across the gap, 24..=28.
        expected.extend((1..=7).map(|t| (t as f64, "A")));
        expected.extend((5..=10).map(|t| (t as f64, "B")));
        expected.extend((24..=28).map(|t| (t as f64, "A")));
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        assert_eq!(times, expected);
        // At 2 s the 0.4 s report has moved 160 m east: 160 m / 6,378,137 m in radians.
        let expected_lon_deg = (160.0 / 6_378_137.0f64).to_degrees();
        let at_two = &out[1];
        assert!(
            (at_two.state.lon_deg() - expected_lon_deg).abs() < 1e-6,
            "{}",
            at_two.state.lon_deg()
        );
    }

    #[test]
    fn rows_are_sorted_by_time_then_id_and_written_with_the_contract_header() {
        let state = AircraftState::new(PartyIndex(0), 45.0, -0.0, 100.0, -0.001, 2.0, 0.0).unwrap();
        let observation = |time_s: f64, id: &str| Observation {
            time_s,
            id: id.to_string(),
            icao24: Some(id.to_lowercase()),
            callsign: None,
            recorded_party: None,
            state,
            place: 1,
        };
        let rows = track_rows(
            vec![
                observation(2.0, "A"),
                observation(1.5, "B"),
                observation(1.5, "A"),
            ],
            &PartyRule::Icao24,
        );
        let order: Vec<(f64, &str)> = rows.iter().map(|r| (r.time_s, r.id.as_str())).collect();
        assert_eq!(order, [(1.5, "A"), (1.5, "B"), (2.0, "A")]);
        let mut out = Vec::new();
        write_tracks_csv(&mut out, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().take(2).collect::<Vec<_>>(),
            [
                "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps",
                "1.5,A,a,45.0000000,0.0000000,100.00,0.00,2.00,0.00"
            ]
        );
    }
}
