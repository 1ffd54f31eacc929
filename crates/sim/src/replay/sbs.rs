//! SBS-1 BaseStation lines, the text dump1090 serves on port 30003:
//! `MSG,<type>,<session>,<aircraft>,<hex>,<flight>,<date gen>,<time gen>,<date log>,
//! <time log>,<callsign>,<altitude ft>,<ground speed kt>,<track deg>,<lat>,<lon>,
//! <vertical rate ft/min>,<squawk>,<alert>,<emergency>,<spi>,<is on ground>`.
//!
//! Identification (MSG,1), airborne position (MSG,3) and airborne velocity (MSG,4) come
//! in separate messages. The reader keeps, per aircraft address, the latest callsign and
//! the latest velocity with its time, and emits a state whenever a position arrives while
//! a velocity is known that is at most [`VELOCITY_AGE_MAX_S`] away from it in time (a
//! transponder sends both twice a second, so a ten-second gap means the velocity is no
//! longer the aircraft's). Times are the "generated" date and time, read as UTC, or the
//! "logged" ones when the generated are empty. Surface positions (MSG,2), altitude and
//! squawk messages (MSG,5-8) and the non-MSG lines (SEL, ID, AIR, STA, CLK) carry
//! nothing used here and are counted as such.
//!
//! States come out in arrival order, which for a live feed or its recording is time order.

use std::collections::HashMap;
use std::io::BufRead;

use chrono::NaiveDateTime;
use deconflict_core::tactical::{AircraftState, PartyIndex};

use super::{
    north_east_mps, Observation, SkipReason, StateSource, Summary, MPS_PER_FT_PER_MIN, MPS_PER_KT,
    M_PER_FT,
};

/// The oldest (or newest) a velocity may be, relative to a position, to make a state.
pub const VELOCITY_AGE_MAX_S: f64 = 10.0;

/// Field positions (0-based) in an SBS line.
const HEX: usize = 4;
const DATE_GENERATED: usize = 6;
const TIME_GENERATED: usize = 7;
const DATE_LOGGED: usize = 8;
const TIME_LOGGED: usize = 9;
const CALLSIGN: usize = 10;
const ALTITUDE_FT: usize = 11;
const GROUND_SPEED_KT: usize = 12;
const TRACK_DEG: usize = 13;
const LAT_DEG: usize = 14;
const LON_DEG: usize = 15;
const VERTICAL_RATE_FT_PER_MIN: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Velocity {
    time_s: f64,
    vn_mps: f64,
    ve_mps: f64,
    vu_mps: f64,
}

#[derive(Debug, Default)]
struct Aircraft {
    callsign: Option<String>,
    velocity: Option<Velocity>,
}

/// The states of a stream of SBS lines (a file or a TCP feed).
#[derive(Debug)]
pub struct SbsReader<R> {
    input: R,
    line: u64,
    buffer: Vec<u8>,
    aircraft: HashMap<String, Aircraft>,
    summary: Summary,
    /// Why reading stopped early, if it did (a reset connection, a failing disk).
    io_error: Option<std::io::Error>,
}

type Refusal = (SkipReason, String);

impl<R: BufRead> SbsReader<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            buffer: Vec::new(),
            aircraft: HashMap::new(),
            summary: Summary::new("line"),
            io_error: None,
        }
    }

    /// One line: `Ok(Some)` a state, `Ok(None)` merged or nothing to do, `Err` a skip.
    fn take(&mut self, text: &str) -> Result<Option<Observation>, Refusal> {
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        match fields[0] {
            "MSG" => {}
            "SEL" | "ID" | "AIR" | "STA" | "CLK" => {
                return Err((SkipReason::UnusedMessage, format!("{} line", fields[0])))
            }
            _ => return Err((SkipReason::Malformed, "not an SBS line".to_string())),
        }
        if fields.len() <= TIME_LOGGED {
            return Err((
                SkipReason::Malformed,
                format!("{} fields, at least 10 expected", fields.len()),
            ));
        }
        let field = |index: usize| fields.get(index).copied().unwrap_or("");
        let kind = field(1);
        if !matches!(kind, "1" | "3" | "4") {
            return match kind.parse::<u8>() {
                Ok(1..=8) => Err((SkipReason::UnusedMessage, format!("MSG,{kind}"))),
                _ => Err((
                    SkipReason::Malformed,
                    format!("message type {kind:?} is not 1 to 8"),
                )),
            };
        }
        let hex = field(HEX).to_ascii_lowercase();
        if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err((
                SkipReason::Malformed,
                format!("aircraft address {:?} is not hexadecimal", field(HEX)),
            ));
        }
        let time_s = if field(DATE_GENERATED).is_empty() {
            time_s(field(DATE_LOGGED), field(TIME_LOGGED))?
        } else {
            time_s(field(DATE_GENERATED), field(TIME_GENERATED))?
        };
        match kind {
            "1" => {
                let callsign = field(CALLSIGN);
                if callsign.is_empty() {
                    return Err((
                        SkipReason::MissingPosition,
                        "identification without a callsign".to_string(),
                    ));
                }
                self.aircraft.entry(hex).or_default().callsign = Some(callsign.to_string());
                self.summary.records_merged += 1;
                Ok(None)
            }
            "4" => {
                let speed_kt = number(
                    field(GROUND_SPEED_KT),
                    "ground speed",
                    SkipReason::MissingVelocity,
                )?;
                let track_deg = number(field(TRACK_DEG), "track", SkipReason::MissingVelocity)?;
                let rate = number(
                    field(VERTICAL_RATE_FT_PER_MIN),
                    "vertical rate",
                    SkipReason::MissingVelocity,
                )?;
                let (vn_mps, ve_mps) = north_east_mps(speed_kt * MPS_PER_KT, track_deg);
                self.aircraft.entry(hex).or_default().velocity = Some(Velocity {
                    time_s,
                    vn_mps,
                    ve_mps,
                    vu_mps: rate * MPS_PER_FT_PER_MIN,
                });
                self.summary.records_merged += 1;
                Ok(None)
            }
            _ => {
                let altitude_ft =
                    number(field(ALTITUDE_FT), "altitude", SkipReason::MissingPosition)?;
                let lat_deg = number(field(LAT_DEG), "latitude", SkipReason::MissingPosition)?;
                let lon_deg = number(field(LON_DEG), "longitude", SkipReason::MissingPosition)?;
                let aircraft = self.aircraft.entry(hex.clone()).or_default();
                if !field(CALLSIGN).is_empty() {
                    aircraft.callsign = Some(field(CALLSIGN).to_string());
                }
                let velocity = match aircraft.velocity {
                    Some(v) if (time_s - v.time_s).abs() <= VELOCITY_AGE_MAX_S => v,
                    Some(v) => {
                        return Err((
                            SkipReason::NoRecentVelocity,
                            format!(
                                "the last velocity of {hex} is {:.1} s away",
                                (time_s - v.time_s).abs()
                            ),
                        ))
                    }
                    None => {
                        return Err((
                            SkipReason::NoRecentVelocity,
                            format!("no velocity of {hex} yet"),
                        ))
                    }
                };
                let state = AircraftState::new(
                    PartyIndex(0),
                    lat_deg,
                    lon_deg,
                    altitude_ft * M_PER_FT,
                    velocity.vn_mps,
                    velocity.ve_mps,
                    velocity.vu_mps,
                )
                .map_err(|error| (SkipReason::InvalidState, error.to_string()))?;
                let callsign = aircraft.callsign.clone();
                Ok(Some(Observation {
                    time_s,
                    id: Observation::id_from(callsign.as_deref(), &hex),
                    icao24: Some(hex),
                    callsign,
                    recorded_party: None,
                    state,
                    place: self.line,
                }))
            }
        }
    }
}

impl<R: BufRead> Iterator for SbsReader<R> {
    type Item = Observation;

    fn next(&mut self) -> Option<Observation> {
        loop {
            self.buffer.clear();
            match self.input.read_until(b'\n', &mut self.buffer) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    self.io_error = Some(error);
                    return None;
                }
            }
            self.line += 1;
            // Lines are ASCII; anything else is garbage, shown rather than refused whole.
            let text = String::from_utf8_lossy(&self.buffer).trim().to_string();
            if text.is_empty() {
                continue;
            }
            self.summary.records_read += 1;
            match self.take(&text) {
                Ok(Some(observation)) => {
                    self.summary.states_produced += 1;
                    return Some(observation);
                }
                Ok(None) => {}
                Err((reason, detail)) => self.summary.skip(self.line, reason, detail),
            }
        }
    }
}

impl<R: BufRead> StateSource for SbsReader<R> {
    fn summary(&self) -> &Summary {
        &self.summary
    }
    fn io_error(&self) -> Option<&std::io::Error> {
        self.io_error.as_ref()
    }
}

fn number(text: &str, name: &str, missing: SkipReason) -> Result<f64, Refusal> {
    if text.is_empty() {
        return Err((missing, format!("no {name}")));
    }
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            (
                SkipReason::BadField,
                format!("{name} {text:?} is not a number"),
            )
        })
}

/// `2024/01/15` and `12:34:56.789`, UTC, to Unix seconds.
fn time_s(date: &str, time: &str) -> Result<f64, Refusal> {
    NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y/%m/%d %H:%M:%S%.f")
        .map(|t| t.and_utc().timestamp_micros() as f64 / 1e6)
        .map_err(|_| {
            (
                SkipReason::BadField,
                format!("date and time {date:?} {time:?} are not yyyy/mm/dd hh:mm:ss.sss"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: u8, hex: &str, time: &str, rest: [&str; 7]) -> String {
        let [callsign, alt, gs, track, lat, lon, vr] = rest;
        format!(
            "MSG,{kind},1,1,{hex},1,2024/01/15,{time},2024/01/15,{time},{callsign},{alt},{gs},{track},{lat},{lon},{vr},,,,,0\n"
        )
    }

    #[test]
    fn a_position_with_a_recent_velocity_makes_a_state_named_by_the_callsign() {
        let text = [
            line(
                1,
                "4CA7B5",
                "12:00:00.000",
                ["RYR12A", "", "", "", "", "", ""],
            ),
            line(
                4,
                "4CA7B5",
                "12:00:00.500",
                ["", "", "400", "270", "", "", "-640"],
            ),
            line(
                3,
                "4CA7B5",
                "12:00:01.250",
                ["", "10000", "", "", "53.5", "-6.25", ""],
            ),
        ]
        .concat();
        let mut reader = SbsReader::new(text.as_bytes());
        let state = reader.next().expect("one state");
        assert!(reader.next().is_none());
        assert_eq!(state.id, "RYR12A");
        assert_eq!(state.icao24.as_deref(), Some("4ca7b5"));
        assert_eq!(state.place, 3);
        // 2024-01-15T12:00:01.25Z
        assert_eq!(state.time_s, 1_705_320_001.25);
        assert!((state.state.alt_m() - 3048.0).abs() < 1e-9);
        assert!((state.state.ve_mps() + 400.0 * 1852.0 / 3600.0).abs() < 1e-9);
        assert!(state.state.vn_mps().abs() < 1e-9);
        assert!((state.state.vu_mps() + 3.2512).abs() < 1e-12);
        assert_eq!(
            (state.state.lat_deg(), state.state.lon_deg()),
            (53.5, -6.25)
        );
        assert_eq!(reader.summary().records_merged, 2);
        assert_eq!(reader.summary().states_produced, 1);
    }

    #[test]
    fn positions_without_a_recent_velocity_are_skipped_and_the_id_falls_back_to_the_address() {
        let text = [
            line(
                3,
                "abc123",
                "12:00:00.000",
                ["", "5000", "", "", "50", "8", ""],
            ),
            line(
                4,
                "abc123",
                "12:00:01.000",
                ["", "", "200", "0", "", "", "0"],
            ),
            line(
                3,
                "abc123",
                "12:00:11.000",
                ["", "5000", "", "", "50", "8", ""],
            ),
            line(
                3,
                "abc123",
                "12:00:11.001",
                ["", "5000", "", "", "50", "8", ""],
            ),
        ]
        .concat();
        let mut reader = SbsReader::new(text.as_bytes());
        let states: Vec<Observation> = reader.by_ref().collect();
        assert_eq!(states.len(), 1, "10 s is recent enough, 10.001 s is not");
        assert_eq!(states[0].id, "abc123");
        assert_eq!(states[0].place, 3);
        assert_eq!(
            reader.summary().skipped_for(SkipReason::NoRecentVelocity),
            2
        );
    }

    #[test]
    fn garbage_and_unused_messages_are_counted_with_their_lines() {
        let text = [
            "garbage here\n".to_string(),
            "MSG,5,1,1,4CA7B5,1,2024/01/15,12:00:00.000,2024/01/15,12:00:00.000,,9000,,,,,,,0,0,0,0\n"
                .to_string(),
            "MSG,3,1,1,4CA7B5\n".to_string(),
            line(4, "4CA7B5", "25:00:00.000", ["", "", "1", "1", "", "", "1"]),
            line(4, "4CA7B5", "12:00:00.000", ["", "", "fast", "1", "", "", "1"]),
            line(4, "4CA7B5", "12:00:00.000", ["", "", "100", "1", "", "", ""]),
            "\n".to_string(),
            "STA,,1,1,4CA7B5,1,2024/01/15,12:00:00.000,2024/01/15,12:00:00.000,RM\n".to_string(),
            line(4, "ZZZZZZ", "12:00:00.000", ["", "", "100", "1", "", "", "0"]),
            "MSG,9,1,1,4CA7B5,1,2024/01/15,12:00:00.000,2024/01/15,12:00:00.000\n".to_string(),
        ]
        .concat();
        let mut reader = SbsReader::new(text.as_bytes());
        assert_eq!(reader.by_ref().count(), 0);
        let summary = reader.summary();
        assert_eq!(summary.records_read, 9, "the empty line is not a record");
        assert_eq!(summary.skipped_for(SkipReason::Malformed), 4);
        assert_eq!(summary.skipped_for(SkipReason::UnusedMessage), 2);
        assert_eq!(summary.skipped_for(SkipReason::BadField), 2);
        assert_eq!(summary.skipped_for(SkipReason::MissingVelocity), 1);
        let places: Vec<u64> = summary.first_skips.iter().map(|s| s.place).collect();
        assert_eq!(places, [1, 2, 3, 4, 5, 6, 8, 9]);
        assert_eq!(summary.skipped_total(), 9);
    }
}
