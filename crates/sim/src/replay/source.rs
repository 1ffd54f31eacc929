//! Where recorded traffic comes from and in which format: gzip detected by its magic
//! bytes, the format named or guessed from the file name, and the contract's tracks CSV
//! routed through `deconflict_wire::tracks`.

use std::io::{self, BufRead, BufReader, Read};
use std::str::FromStr;

use deconflict_wire::tracks::{read_tracks_csv, TracksError};
use flate2::read::MultiGzDecoder;
use thiserror::Error;

use super::{Observation, StateSource, Summary};

/// Input that cannot be read as recorded traffic at all (as opposed to bad records in it,
/// which are counted and skipped).
#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("not OpenSky JSON records: {0}")]
    Json(String),
    #[error("tracks CSV: {0}")]
    TracksCsv(#[from] TracksError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The recorded formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenSky-style JSON records.
    OpenSky,
    /// SBS-1 BaseStation lines.
    Sbs,
    /// The contract's tracks CSV.
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "opensky" => Ok(Self::OpenSky),
            "sbs" => Ok(Self::Sbs),
            "csv" => Ok(Self::Csv),
            other => Err(format!("{other:?} is not a format (opensky, sbs, csv)")),
        }
    }
}

impl Format {
    /// The format a source's name implies: `tcp://…` is an SBS feed; otherwise, after any
    /// `.gz`, `.json` is OpenSky, `.sbs`, `.basestation` or `.30003` SBS, `.csv` tracks.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.starts_with("tcp://") {
            return Some(Self::Sbs);
        }
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
        let extension = stem.rsplit_once('.').map(|(_, e)| e)?;
        match extension {
            "json" => Some(Self::OpenSky),
            "sbs" | "basestation" | "30003" => Some(Self::Sbs),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// The input, decompressed when it starts with the gzip magic bytes (1f 8b), whatever its
/// name says.
pub fn decompressed<'a>(mut input: impl Read + 'a) -> io::Result<Box<dyn BufRead + 'a>> {
    // A short read (a pipe, a socket) could hide the second magic byte: ask until two
    // bytes are there or the input ends, then put them back in front.
    let mut head = [0u8; 2];
    let mut filled = 0;
    while filled < head.len() {
        match input.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    let gzip = head[..filled] == [0x1f, 0x8b];
    let joined = BufReader::new(io::Cursor::new(head[..filled].to_vec()).chain(input));
    Ok(wrap(gzip, joined))
}

fn wrap<'a>(gzip: bool, input: impl BufRead + 'a) -> Box<dyn BufRead + 'a> {
    if gzip {
        Box::new(BufReader::new(MultiGzDecoder::new(input)))
    } else {
        Box::new(input)
    }
}

/// The contract's tracks CSV as a state source. The contract's own format is strict: the
/// first bad row is an error naming its line and column (as `deconflict detect` reports),
/// not a skip.
#[derive(Debug)]
pub struct CsvReader {
    states: std::vec::IntoIter<Observation>,
    summary: Summary,
}

impl CsvReader {
    pub fn new(input: impl Read) -> Result<Self, ReplayError> {
        let rows = read_tracks_csv(input)?;
        let mut summary = Summary::new("line");
        summary.records_read = rows.len() as u64;
        summary.states_produced = rows.len() as u64;
        let mut states: Vec<Observation> = rows
            .into_iter()
            .map(|row| Observation {
                time_s: row.time_s,
                id: row.id,
                icao24: None,
                callsign: None,
                recorded_party: row.party,
                state: row.state,
                place: row.line,
            })
            .collect();
        states.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
        Ok(Self {
            states: states.into_iter(),
            summary,
        })
    }
}

impl Iterator for CsvReader {
    type Item = Observation;
    fn next(&mut self) -> Option<Observation> {
        self.states.next()
    }
}

impl StateSource for CsvReader {
    fn summary(&self) -> &Summary {
        &self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn read_all(mut input: Box<dyn BufRead + '_>) -> String {
        let mut text = String::new();
        input.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn gzip_is_recognised_by_its_magic_bytes_and_plain_text_passes_through() {
        let text = "hello, recorded world\n".repeat(100);
        assert_eq!(
            read_all(decompressed(&gzip(text.as_bytes())[..]).unwrap()),
            text
        );
        assert_eq!(read_all(decompressed(text.as_bytes()).unwrap()), text);
        assert_eq!(read_all(decompressed(&b""[..]).unwrap()), "");
        assert_eq!(read_all(decompressed(&b"x"[..]).unwrap()), "x");
    }

    #[test]
    fn a_gzip_stream_arriving_one_byte_at_a_time_is_still_recognised() {
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || out.is_empty() {
                    return Ok(0);
                }
                out[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let text = "MSG,1,1,1,abcdef\n".repeat(10);
        let input = Trickle(gzip(text.as_bytes()), 0);
        assert_eq!(read_all(decompressed(input).unwrap()), text);
    }

    #[test]
    fn the_format_follows_the_name() {
        assert_eq!(
            Format::from_name("a/b/flight.json.gz"),
            Some(Format::OpenSky)
        );
        assert_eq!(Format::from_name("FEED.SBS"), Some(Format::Sbs));
        assert_eq!(
            Format::from_name("tcp://127.0.0.1:30003"),
            Some(Format::Sbs)
        );
        assert_eq!(Format::from_name("tracks.csv"), Some(Format::Csv));
        assert_eq!(Format::from_name("recording.bin"), None);
        assert_eq!(Format::from_name("noextension"), None);
        assert!("kml".parse::<Format>().is_err());
    }

    #[test]
    fn a_tracks_csv_keeps_its_parties_and_comes_out_in_time_order() {
        let text = "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n\
                    5,a1,red,45.0,10.0,3000,0,200,0\n\
                    0,b1,,45.0,10.5,3000,0,-200,0\n";
        let reader = CsvReader::new(text.as_bytes()).unwrap();
        let states: Vec<Observation> = reader.collect();
        assert_eq!(states[0].id, "b1");
        assert_eq!(states[0].recorded_party, None);
        assert_eq!(states[1].recorded_party.as_deref(), Some("red"));
        assert_eq!(states[1].place, 2);
        let bad = text.replace("45.0,10.5", "95.0,10.5");
        let error = CsvReader::new(bad.as_bytes()).unwrap_err();
        assert!(
            error.to_string().contains("line 3, column 4 (lat)"),
            "{error}"
        );
    }
}
