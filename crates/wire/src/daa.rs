//! DAIDALUS `.daa` encounter files, as DAIDALUS's own state reader accepts them.
//!
//! * Lines that are empty or start with `#` are comments; `key = value` lines before the
//!   header are DAIDALUS parameters and are skipped.
//! * The first other line is the header; names are case-insensitive, and each column may
//!   go by any of DAIDALUS's names: `name|aircraft|id`, `lat|latitude`,
//!   `lon|long|longitude`, `alt|altitude`, and either `trk|track`, `gs|groundspeed|groundspd`,
//!   `vs|verticalspeed|hdot` or `vx` (east), `vy` (north), `vz` (up); and `time|tm|st`
//!   (seconds) or `clock` (`HH:MM:SS`). Other columns (alerter, heading, airspeed,
//!   uncertainties) are ignored. A file without a time column is one instant, time 0.
//! * The line after the header is a units line when each of its fields is a unit in
//!   brackets (`[deg]`) or `unitless`/`none`; without it, DAIDALUS's defaults apply: deg, ft,
//!   knot, fpm, s. Values are converted to SI by those units.
//! * Fields are separated by commas, spaces or both. A name of `"` repeats the previous
//!   row's name.
//! * Every aircraft is its own party. Euclidean files (`sx sy sz`) have no place on Earth
//!   and are refused.

use std::io::Read;

use super::tracks::{finite, state_at, TrackRow, TracksError};

/// Columns of a `.daa` file that deconflict reads, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Lat,
    Lon,
    Alt,
    /// `trk` (with `gs`, `vs`) or `vx` (with `vy`, `vz`).
    TrackOrVx,
    SpeedOrVy,
    VerticalOrVz,
    Time,
}

const FIELDS: usize = 8;

/// A unit's factor to SI, by kind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Angle(f64),
    Length(f64),
    Speed(f64),
    Time(f64),
    None,
}

fn unit(text: &str) -> Option<Unit> {
    let inner = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim()
        .to_ascii_lowercase();
    Some(match inner.as_str() {
        "deg" | "degree" | "degrees" => Unit::Angle(std::f64::consts::PI / 180.0),
        "rad" | "radian" | "radians" => Unit::Angle(1.0),
        "m" | "meter" | "meters" | "metre" | "metres" => Unit::Length(1.0),
        "km" => Unit::Length(1000.0),
        "ft" | "foot" | "feet" => Unit::Length(0.3048),
        "nmi" | "nm" => Unit::Length(1852.0),
        "mi" => Unit::Length(1609.344),
        "m/s" | "mps" => Unit::Speed(1.0),
        "km/h" | "kph" => Unit::Speed(1000.0 / 3600.0),
        "knot" | "knots" | "kn" | "kts" | "kt" => Unit::Speed(1852.0 / 3600.0),
        "fpm" | "ft/min" => Unit::Speed(0.3048 / 60.0),
        "ft/s" | "fps" => Unit::Speed(0.3048),
        "m/min" => Unit::Speed(1.0 / 60.0),
        "mph" => Unit::Speed(1609.344 / 3600.0),
        "nmi/s" => Unit::Speed(1852.0),
        "s" | "sec" | "second" | "seconds" => Unit::Time(1.0),
        "ms" => Unit::Time(0.001),
        "min" => Unit::Time(60.0),
        "h" | "hr" | "hour" | "hours" => Unit::Time(3600.0),
        "none" | "unitless" | "unspecified" | "" => Unit::None,
        _ => return None,
    })
}

fn is_units_line(tokens: &[&str]) -> bool {
    !tokens.is_empty()
        && tokens.iter().all(|t| {
            let t = t.trim();
            (t.starts_with('[') && t.ends_with(']'))
                || t.eq_ignore_ascii_case("unitless")
                || t.eq_ignore_ascii_case("none")
        })
}

fn tokens(line: &str) -> Vec<&str> {
    line.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Reads a DAIDALUS encounter file into state vectors, every aircraft its own party.
pub fn read_daa(mut input: impl Read) -> Result<Vec<TrackRow>, TracksError> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| TracksError::at_line(0, format!("cannot read the file as UTF-8 text: {e}")))?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.trim_start_matches('\u{feff}')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));

    // The header: the first line that is not a parameter (`key = value`).
    let (header_line, header) = loop {
        match lines.next() {
            None => {
                return Err(TracksError::at_line(
                    1,
                    "no header line (NAME lat lon alt trk gs vs time)",
                ))
            }
            Some((_, line)) if line.contains('=') => continue,
            Some(found) => break found,
        }
    };
    let names: Vec<String> = tokens(header)
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    let find = |aliases: &[&str]| names.iter().position(|n| aliases.contains(&n.as_str()));
    if find(&["sx", "sy", "sz"]).is_some() && find(&["lat", "latitude"]).is_none() {
        return Err(TracksError::at_line(
            header_line,
            "Euclidean positions (sx, sy, sz) are not supported: deconflict needs lat, lon and alt",
        ));
    }
    let track_form = find(&["trk", "track"]).is_some();
    let required: [(Field, &[&str]); 7] = [
        (Field::Name, &["name", "aircraft", "id"]),
        (Field::Lat, &["lat", "latitude"]),
        (Field::Lon, &["lon", "long", "longitude"]),
        (Field::Alt, &["alt", "altitude"]),
        (
            Field::TrackOrVx,
            if track_form {
                &["trk", "track"]
            } else {
                &["vx"]
            },
        ),
        (
            Field::SpeedOrVy,
            if track_form {
                &["gs", "groundspeed", "groundspd"]
            } else {
                &["vy"]
            },
        ),
        (
            Field::VerticalOrVz,
            if track_form {
                &["vs", "verticalspeed", "hdot"]
            } else {
                &["vz"]
            },
        ),
    ];
    let mut columns = [usize::MAX; FIELDS];
    for (field, aliases) in required {
        columns[field as usize] = find(aliases).ok_or_else(|| {
            TracksError::at_line(
                header_line,
                format!(
                    "the header has no {} column (expected NAME lat lon alt, then trk gs vs or vx vy vz, and time)",
                    aliases.join("|")
                ),
            )
        })?;
    }
    let clock = find(&["clock"]);
    let time_column = find(&["time", "tm", "st"]).or(clock);
    let display_names: Vec<&str> = tokens(header);

    // DAIDALUS's default units, used when there is no units line.
    let defaults = [
        Unit::None,
        Unit::Angle(std::f64::consts::PI / 180.0),
        Unit::Angle(std::f64::consts::PI / 180.0),
        Unit::Length(0.3048),
        if track_form {
            Unit::Angle(std::f64::consts::PI / 180.0)
        } else {
            Unit::Speed(1852.0 / 3600.0)
        },
        Unit::Speed(1852.0 / 3600.0),
        Unit::Speed(0.3048 / 60.0),
        Unit::Time(1.0),
    ];
    let mut units = defaults;
    let mut pending = lines.next();
    if let Some((units_line, line)) = pending {
        let found = tokens(line);
        if is_units_line(&found) {
            for field in 0..FIELDS {
                let column = if field == Field::Time as usize {
                    match time_column {
                        Some(c) if clock != Some(c) => c,
                        _ => continue,
                    }
                } else {
                    columns[field]
                };
                let Some(text) = found.get(column) else {
                    continue;
                };
                let parsed = unit(text).ok_or_else(|| {
                    TracksError::at_column(
                        units_line,
                        column + 1,
                        display_names[column],
                        format!("unknown unit {text}"),
                    )
                })?;
                units[field] = match (parsed, defaults[field]) {
                    (Unit::None, default) => default,
                    (parsed, default)
                        if std::mem::discriminant(&parsed) == std::mem::discriminant(&default) =>
                    {
                        parsed
                    }
                    _ => {
                        return Err(TracksError::at_column(
                            units_line,
                            column + 1,
                            display_names[column],
                            format!("unit {text} does not fit this column"),
                        ))
                    }
                };
            }
            pending = lines.next();
        }
    }

    let factor = |field: Field| match units[field as usize] {
        Unit::Angle(k) | Unit::Length(k) | Unit::Speed(k) | Unit::Time(k) => k,
        Unit::None => 1.0,
    };
    let mut rows = Vec::new();
    let mut previous_name = String::new();
    while let Some((line_number, line)) = pending {
        pending = lines.next();
        if line.contains('=') && rows.is_empty() {
            continue;
        }
        let found = tokens(line);
        let needed = columns
            .iter()
            .take(7)
            .copied()
            .chain(time_column)
            .max()
            .unwrap_or(0)
            + 1;
        if found.len() < needed {
            return Err(TracksError::at_line(
                line_number,
                format!(
                    "{} fields, at least {needed} expected from the header",
                    found.len()
                ),
            ));
        }
        let number = |field: Field| {
            let column = columns[field as usize];
            finite(
                found[column],
                line_number,
                column + 1,
                display_names[column],
            )
        };
        let mut name = found[columns[Field::Name as usize]].to_string();
        if name == "\"" {
            name = previous_name.clone();
        }
        previous_name = name.clone();
        let time_s = match time_column {
            None => 0.0,
            Some(c) if clock == Some(c) => clock_seconds(found[c]).ok_or_else(|| {
                TracksError::at_column(
                    line_number,
                    c + 1,
                    display_names[c],
                    format!("{:?} is not HH:MM:SS", found[c]),
                )
            })?,
            Some(c) => {
                finite(found[c], line_number, c + 1, display_names[c])? * factor(Field::Time)
            }
        };
        let lat = number(Field::Lat)? * factor(Field::Lat).to_degrees();
        let lon = number(Field::Lon)? * factor(Field::Lon).to_degrees();
        let alt_m = number(Field::Alt)? * factor(Field::Alt);
        let first = number(Field::TrackOrVx)?;
        let second = number(Field::SpeedOrVy)? * factor(Field::SpeedOrVy);
        let vu_mps = number(Field::VerticalOrVz)? * factor(Field::VerticalOrVz);
        let (vn_mps, ve_mps) = if track_form {
            let track = first * factor(Field::TrackOrVx);
            (second * track.cos(), second * track.sin())
        } else {
            (second, first * factor(Field::TrackOrVx))
        };
        let column = |field: Field| {
            let c = columns[field as usize];
            (c + 1, display_names[c])
        };
        // North comes from gs or vy; east from gs or vx.
        let horizontal = column(Field::SpeedOrVy);
        let state = state_at(
            line_number,
            [lat, lon, alt_m, vn_mps, ve_mps, vu_mps],
            [
                column(Field::Lat),
                column(Field::Lon),
                column(Field::Alt),
                horizontal,
                if track_form {
                    horizontal
                } else {
                    column(Field::TrackOrVx)
                },
                column(Field::VerticalOrVz),
            ],
        )?;
        rows.push(TrackRow {
            time_s,
            id: name,
            party: None,
            state,
            line: line_number,
        });
    }
    Ok(rows)
}

fn clock_seconds(text: &str) -> Option<f64> {
    let parts: Vec<&str> = text.split(':').collect();
    let numbers: Option<Vec<f64>> = parts
        .iter()
        .map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    match numbers?[..] {
        [h, m, s] => Some(h * 3600.0 + m * 60.0 + s),
        [m, s] => Some(m * 60.0 + s),
        [s] => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOT: f64 = 1852.0 / 3600.0;

    #[test]
    fn the_track_ground_speed_form_with_units_is_converted_to_si() {
        let text = "NAME lat lon alt trk gs vs heading airspeed time alerter\n\
                    [none] [deg] [deg] [ft] [deg] [knot] [fpm] [deg] [knot] [s] [none]\n\
                    Ownship, 40.588997, -74.04466, 15000.0, 90.0, 150.0, 1000.0, 0.0, 150.0, 0.0, 1\n\
                    Intruder, 40.672297, -74.132559, 15000.0, 180.0, 120.0, 0.0, 90.0, 120.0, 0.0, 1\n";
        let rows = read_daa(text.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        let own = &rows[0].state;
        assert!((own.alt_m() - 4572.0).abs() < 1e-9);
        assert!(own.vn_mps().abs() < 1e-9 && (own.ve_mps() - 150.0 * KNOT).abs() < 1e-9);
        assert!((own.vu_mps() - 1000.0 * 0.3048 / 60.0).abs() < 1e-12);
        assert!((rows[1].state.vn_mps() + 120.0 * KNOT).abs() < 1e-9);
        assert_eq!(
            (rows[1].id.as_str(), rows[1].line, rows[1].party.clone()),
            ("Intruder", 4, None)
        );
    }

    #[test]
    fn the_vx_vy_vz_form_reads_east_then_north() {
        let text = "# a comment\nNAME,     lat,    lon,    alt,    vx,     vy,     vz,     time\n\
                    unitless,   [deg],    [deg],   [ft],    [knot],   [knot],   [fpm],  [s]\n\
                    Ownship, 33.8149396, -117.0, 17000.0, 10.0, 200.0, 0.0, 0.0\n\
                    \", 33.8158, -117.0, 17000.0, 10.0, 200.0, 0.0, 1.0\n";
        let rows = read_daa(text.as_bytes()).unwrap();
        assert!((rows[0].state.vn_mps() - 200.0 * KNOT).abs() < 1e-9);
        assert!((rows[0].state.ve_mps() - 10.0 * KNOT).abs() < 1e-9);
        assert_eq!(rows[1].id, "Ownship");
        assert_eq!(rows[1].time_s, 1.0);
    }

    #[test]
    fn without_a_units_line_daidalus_defaults_apply_and_other_units_convert() {
        let text = "name lat lon alt trk gs vs time\nA 0 0 1000 0 100 0 5\n";
        let rows = read_daa(text.as_bytes()).unwrap();
        assert!((rows[0].state.alt_m() - 304.8).abs() < 1e-9);
        let text = "name lat lon alt trk gs vs time\n[none] [rad] [deg] [m] [deg] [m/s] [m/s] [min]\nA 0.5 0 1000 0 100 2 5\n";
        let rows = read_daa(text.as_bytes()).unwrap();
        assert!((rows[0].state.lat_deg() - 0.5f64.to_degrees()).abs() < 1e-9);
        assert_eq!(
            (
                rows[0].state.alt_m(),
                rows[0].state.vn_mps(),
                rows[0].state.vu_mps()
            ),
            (1000.0, 100.0, 2.0)
        );
        assert_eq!(rows[0].time_s, 300.0);
    }

    #[test]
    fn problems_name_the_line_and_column() {
        let text = "name lat lon alt trk gs vs time\n[none] [deg] [deg] [ft] [deg] [knot] [fpm] [s]\nA 95 0 1000 0 100 0 0\n";
        let error = read_daa(text.as_bytes()).unwrap_err();
        assert_eq!(
            (error.line, error.column.clone()),
            (3, Some((2, "lat".to_string()))),
            "{error}"
        );
        let text = "name lat lon alt trk gs vs time\n[none] [deg] [deg] [furlong] [deg] [knot] [fpm] [s]\n";
        let error = read_daa(text.as_bytes()).unwrap_err();
        assert_eq!(
            (error.line, error.column.clone()),
            (2, Some((4, "alt".to_string()))),
            "{error}"
        );
        let text = "name lat lon alt gs vs time\n";
        assert!(
            read_daa(text.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("trk"),
            "missing velocity"
        );
        let text = "name sx sy sz vx vy vz time\n";
        assert!(read_daa(text.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("Euclidean"));
        let text = "name lat lon alt trk gs vs time\nA 1 2 3 x 5 6 7\n";
        assert_eq!(
            read_daa(text.as_bytes()).unwrap_err().column,
            Some((5, "trk".to_string()))
        );
        let text = "name lat lon alt trk gs vs time\nA 1 2 3\n";
        assert_eq!(read_daa(text.as_bytes()).unwrap_err().line, 2);
    }
}
