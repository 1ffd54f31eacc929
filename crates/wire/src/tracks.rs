//! The contract's tracks CSV (`time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps`) and the
//! `detect` output CSV (`time,a,b,level,time_to_los_s,tcpa_s,dcpa_m,distance_m,vertical_m`).
//!
//! Reading validates every row into a core [`AircraftState`] and names the line and the
//! column of the first problem. Columns may come in any order (matched by name, after
//! trimming); columns the contract does not name are ignored.

use std::io::{Read, Write};

use deconflict_core::tactical::{AircraftState, InvalidState, PairAssessment, PartyIndex};
use thiserror::Error;

/// The contract's header of the tracks CSV.
pub const TRACKS_HEADER: [&str; 9] = [
    "time", "id", "party", "lat", "lon", "alt_m", "vn_mps", "ve_mps", "vu_mps",
];
/// The contract's header of the `detect` output.
pub const CONFLICTS_HEADER: [&str; 9] = [
    "time",
    "a",
    "b",
    "level",
    "time_to_los_s",
    "tcpa_s",
    "dcpa_m",
    "distance_m",
    "vertical_m",
];

/// A problem in a tracks file: where (line, and column when one is to blame) and what.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("line {line}{}: {message}", column.as_ref().map(|(n, name)| format!(", column {n} ({name})")).unwrap_or_default())]
pub struct TracksError {
    /// 1-based line in the file.
    pub line: u64,
    /// 1-based column number and its name, when one column is at fault.
    pub column: Option<(usize, String)>,
    pub message: String,
}

impl TracksError {
    pub fn at_line(line: u64, message: impl Into<String>) -> Self {
        Self {
            line,
            column: None,
            message: message.into(),
        }
    }
    pub fn at_column(line: u64, column: usize, name: &str, message: impl Into<String>) -> Self {
        Self {
            line,
            column: Some((column, name.to_string())),
            message: message.into(),
        }
    }
}

/// One state vector read from a file. `state` carries `PartyIndex(0)`; the caller numbers
/// parties (see [`party_indexes`]) and tags each state with `with_party`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    pub time_s: f64,
    pub id: String,
    /// `None` when the file leaves it empty (or has no party at all, as `.daa` files):
    /// the aircraft is then its own party.
    pub party: Option<String>,
    pub state: AircraftState,
    /// 1-based line of the row in its file.
    pub line: u64,
}

/// The party index of every row: rows with the same party name share one, and every
/// aircraft without a party gets one of its own (shared by that aircraft's rows only).
pub fn party_indexes(rows: &[TrackRow]) -> Vec<PartyIndex> {
    use std::collections::HashMap;
    let mut named: HashMap<&str, u32> = HashMap::new();
    let mut alone: HashMap<&str, u32> = HashMap::new();
    let mut next = 0u32;
    rows.iter()
        .map(|row| {
            let table = if row.party.is_some() {
                &mut named
            } else {
                &mut alone
            };
            let key = row.party.as_deref().unwrap_or(&row.id);
            let index = *table.entry(key).or_insert_with(|| {
                next += 1;
                next - 1
            });
            PartyIndex(index)
        })
        .collect()
}

/// Parses one number, naming the place when it is not a finite one.
pub(crate) fn finite(text: &str, line: u64, column: usize, name: &str) -> Result<f64, TracksError> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(TracksError::at_column(
            line,
            column,
            name,
            format!("{text:?} is not a finite number"),
        )),
        Err(_) if text.trim().is_empty() => Err(TracksError::at_column(
            line,
            column,
            name,
            "empty, a number is required",
        )),
        Err(_) => Err(TracksError::at_column(
            line,
            column,
            name,
            format!("{text:?} is not a number"),
        )),
    }
}

/// The validated state, with a refused field traced back to its column.
/// `columns` gives the (1-based column, name) of lat, lon, alt, vn, ve, vu in that order
/// (for files where velocity comes from other columns, the columns it was computed from).
pub(crate) fn state_at(
    line: u64,
    values: [f64; 6],
    columns: [(usize, &str); 6],
) -> Result<AircraftState, TracksError> {
    let [lat, lon, alt, vn, ve, vu] = values;
    AircraftState::new(PartyIndex(0), lat, lon, alt, vn, ve, vu).map_err(|error| {
        let index = match &error {
            InvalidState::Latitude(_) => 0,
            InvalidState::Longitude(_) => 1,
            InvalidState::Altitude(_) => 2,
            InvalidState::Velocity { name: "vn", .. } => 3,
            InvalidState::Velocity { name: "ve", .. } => 4,
            InvalidState::Velocity { .. } => 5,
        };
        let (column, name) = columns[index];
        TracksError::at_column(line, column, name, error.to_string())
    })
}

/// Reads the contract's tracks CSV.
pub fn read_tracks_csv(input: impl Read) -> Result<Vec<TrackRow>, TracksError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut records = reader.records();
    let header = match records.next() {
        None => {
            return Err(TracksError::at_line(
                1,
                "the file is empty; expected the header ".to_string() + &TRACKS_HEADER.join(","),
            ))
        }
        Some(record) => record.map_err(|e| csv_error(&e))?,
    };
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // A byte-order mark is not part of the first column's name.
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                name
            };
            name.trim().to_string()
        })
        .collect();
    let mut positions = [0usize; 9];
    for (k, wanted) in TRACKS_HEADER.iter().enumerate() {
        let found: Vec<usize> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| n == wanted)
            .map(|(i, _)| i)
            .collect();
        match found[..] {
            [i] => positions[k] = i,
            [] => {
                return Err(TracksError::at_line(
                    1,
                    format!(
                        "the header has no column {wanted:?}; expected {}",
                        TRACKS_HEADER.join(",")
                    ),
                ))
            }
            _ => {
                return Err(TracksError::at_line(
                    1,
                    format!("the header names column {wanted:?} twice"),
                ))
            }
        }
    }

    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|field| field.is_empty()) {
            continue;
        }
        if record.len() < names.len() {
            return Err(TracksError::at_line(
                line,
                format!("{} columns, the header has {}", record.len(), names.len()),
            ));
        }
        let field = |k: usize| record.get(positions[k]).unwrap_or("");
        let column = |k: usize| (positions[k] + 1, TRACKS_HEADER[k]);
        let number = |k: usize| finite(field(k), line, positions[k] + 1, TRACKS_HEADER[k]);
        let time_s = number(0)?;
        let id = field(1).to_string();
        if id.is_empty() {
            let (c, n) = column(1);
            return Err(TracksError::at_column(
                line,
                c,
                n,
                "empty, every row needs an aircraft id",
            ));
        }
        let party = Some(field(2).to_string()).filter(|p| !p.is_empty());
        let values = [
            number(3)?,
            number(4)?,
            number(5)?,
            number(6)?,
            number(7)?,
            number(8)?,
        ];
        let state = state_at(
            line,
            values,
            [
                column(3),
                column(4),
                column(5),
                column(6),
                column(7),
                column(8),
            ],
        )?;
        rows.push(TrackRow {
            time_s,
            id,
            party,
            state,
            line,
        });
    }
    Ok(rows)
}

fn csv_error(error: &csv::Error) -> TracksError {
    let line = error.position().map_or(0, |p| p.line());
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => TracksError::at_line(line, "not valid UTF-8 text"),
        _ => TracksError::at_line(line, error.to_string()),
    }
}

/// One row of the `detect` output.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRow {
    pub time_s: f64,
    /// The lesser of the two ids (as strings).
    pub a: String,
    pub b: String,
    pub assessment: PairAssessment,
}

/// One row of the contract's tracks CSV as plain numbers (degrees, metres, m/s, Unix
/// seconds), so that any source of states, generated or recorded, writes it the same way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracksCsvRecord<'a> {
    pub time_s: f64,
    pub id: &'a str,
    pub party: &'a str,
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_m: f64,
    pub vn_mps: f64,
    pub ve_mps: f64,
    pub vu_mps: f64,
}

/// Writes the contract's tracks CSV: the header on creation, then one line per record in
/// the order given. Times in their shortest exact form (whole seconds print without a
/// fraction); positions rounded to 1e-7 degree, altitudes and speeds to the centimetre,
/// well inside any sensor's precision, never as a negative zero.
pub struct TracksCsvWriter<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> TracksCsvWriter<W> {
    pub fn new(output: W) -> std::io::Result<Self> {
        let mut writer = csv::Writer::from_writer(output);
        writer.write_record(TRACKS_HEADER)?;
        Ok(TracksCsvWriter { writer })
    }

    pub fn write(&mut self, record: &TracksCsvRecord<'_>) -> std::io::Result<()> {
        // Rounded before formatting and then added to +0.0, so that a value that rounds
        // to zero prints as 0, never -0.
        fn rounded(value: f64, scale: f64) -> f64 {
            (value * scale).round() / scale + 0.0
        }
        self.writer.write_record([
            format!("{}", record.time_s),
            record.id.to_string(),
            record.party.to_string(),
            format!("{:.7}", rounded(record.lat_deg, 1e7)),
            format!("{:.7}", rounded(record.lon_deg, 1e7)),
            format!("{:.2}", rounded(record.alt_m, 100.0)),
            format!("{:.2}", rounded(record.vn_mps, 100.0)),
            format!("{:.2}", rounded(record.ve_mps, 100.0)),
            format!("{:.2}", rounded(record.vu_mps, 100.0)),
        ])?;
        Ok(())
    }

    /// Writes out what is buffered so far (the writer stays usable).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }

    /// Flushes what is buffered; dropping the writer without it may lose the last lines.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Writes the `detect` output: the header, then one line per row as given. Times are
/// written as read (shortest exact form); durations and distances to the millisecond and
/// the millimetre.
pub fn write_conflicts_csv(output: impl Write, rows: &[ConflictRow]) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(CONFLICTS_HEADER)?;
    for row in rows {
        let x = &row.assessment;
        writer.write_record([
            format!("{}", row.time_s),
            row.a.clone(),
            row.b.clone(),
            x.level.as_str().to_string(),
            format!("{:.3}", x.time_to_los_s),
            format!("{:.3}", x.tcpa_s),
            format!("{:.3}", x.dcpa_m),
            format!("{:.3}", x.distance_m),
            format!("{:.3}", x.vertical_m),
        ])?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n\
                        0,a1,red,45.0,10.0,3000,0,200,0\n\
                        0,b1,,45.0,10.5,3000,0,-200,0\n";

    #[test]
    fn a_well_formed_file_is_read_with_its_lines() {
        let rows = read_tracks_csv(GOOD.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].party.as_deref(), Some("red"));
        assert_eq!(rows[1].party, None);
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[1].state.ve_mps(), -200.0);
    }

    #[test]
    fn columns_may_come_in_any_order() {
        let text = "id,time,lat,lon,alt_m,party,vu_mps,ve_mps,vn_mps\nx,1.5,1,2,3,p,0.5,6,7\n";
        let rows = read_tracks_csv(text.as_bytes()).unwrap();
        assert_eq!(rows[0].time_s, 1.5);
        assert_eq!(
            (
                rows[0].state.vn_mps(),
                rows[0].state.ve_mps(),
                rows[0].state.vu_mps()
            ),
            (7.0, 6.0, 0.5)
        );
    }

    #[test]
    fn errors_name_the_line_and_the_column() {
        let bad_lat = GOOD.replace("45.0,10.5", "95.0,10.5");
        let error = read_tracks_csv(bad_lat.as_bytes()).unwrap_err();
        assert_eq!(
            (error.line, error.column.clone()),
            (3, Some((4, "lat".to_string()))),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("line 3, column 4 (lat): latitude 95"),
            "{error}"
        );

        let bad_number = GOOD.replace("3000,0,-200", "3000,zero,-200");
        let error = read_tracks_csv(bad_number.as_bytes()).unwrap_err();
        assert_eq!(error.column, Some((7, "vn_mps".to_string())), "{error}");

        let missing = "time,id,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n";
        let error = read_tracks_csv(missing.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("\"party\""), "{error}");

        let short = GOOD.replace("0,b1,,45.0,10.5,3000,0,-200,0", "0,b1,,45.0");
        assert_eq!(read_tracks_csv(short.as_bytes()).unwrap_err().line, 3);

        let no_id = GOOD.replace("0,b1,", "0,,");
        assert_eq!(
            read_tracks_csv(no_id.as_bytes()).unwrap_err().column,
            Some((2, "id".to_string()))
        );

        let not_finite = GOOD.replace("0,b1", "inf,b1");
        assert_eq!(
            read_tracks_csv(not_finite.as_bytes()).unwrap_err().column,
            Some((1, "time".to_string()))
        );
    }

    #[test]
    fn parties_are_shared_by_name_and_unnamed_aircraft_stand_alone() {
        let text = "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n\
                    0,a,red,0,0,0,0,0,0\n0,b,red,0,0,0,0,0,0\n0,c,,0,0,0,0,0,0\n0,d,,0,0,0,0,0,0\n1,c,,0,0,0,0,0,0\n";
        let rows = read_tracks_csv(text.as_bytes()).unwrap();
        let parties = party_indexes(&rows);
        assert_eq!(parties[0], parties[1]);
        assert_ne!(parties[2], parties[3]);
        assert_ne!(parties[0], parties[2]);
        assert_eq!(parties[2], parties[4]);
    }
}
