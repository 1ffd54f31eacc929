//! The generator's files: intents in the input format of `deconflict check`, tracks in the
//! contract's CSV, GeoJSON to look at, and a manifest tying sorties, aircraft and intents
//! together.
//!
//! Intents are written with the contract's serde types from `deconflict-wire` (Volume4D,
//! the check input); the track CSV follows the contract's header. Positions are rounded to 1e-7 degree (about a centimetre),
//! altitudes, speeds and radii to a centimetre, so the files stay readable.

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat};
use deconflict_wire::check::{CheckInputJson, IntentJson, SeparationJson};
use deconflict_wire::tracks::{TracksCsvRecord, TracksCsvWriter};
use deconflict_wire::volume::{
    AltitudeJson, CircleJson, LatLngJson, PolygonJson, RadiusJson, TimeJson, Volume4DJson,
    VolumeJson,
};
use serde_json::{json, Value};

use crate::generate::Generated;
use crate::geo::{destination, LatLon};
use crate::intents::{Footprint, PlannedVolume};
use crate::scenario::{AreaShape, Role, Scenario};

/// Degrees rounded to 1e-7. Adding 0.0 turns a negative zero into a positive one, so
/// that no file ever shows "-0".
fn degrees(value_deg: f64) -> f64 {
    (value_deg * 1e7).round() / 1e7 + 0.0
}

/// Metres or metres per second rounded to a centimetre (and no negative zero).
fn centi(value: f64) -> f64 {
    (value * 100.0).round() / 100.0 + 0.0
}

fn lat_lng(point: LatLon) -> LatLngJson {
    LatLngJson {
        lat: degrees(point.lat_deg()),
        lng: degrees(point.lon_deg()),
    }
}

/// RFC 3339 UTC with whole seconds, as the contract writes times.
pub fn rfc3339(unix_s: i64) -> String {
    DateTime::from_timestamp(unix_s, 0)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix_s.to_string())
}

fn time_json(unix_s: i64) -> TimeJson {
    TimeJson {
        value: rfc3339(unix_s),
        format: "RFC3339".to_string(),
    }
}

fn altitude_json(value_m: f64) -> AltitudeJson {
    AltitudeJson {
        value: value_m,
        reference: "W84".to_string(),
        units: "M".to_string(),
    }
}

/// A planned volume as the contract's Volume4D.
pub fn volume_json(volume: &PlannedVolume) -> Volume4DJson {
    let (outline_polygon, outline_circle) = match &volume.footprint {
        Footprint::Polygon(vertices) => (
            Some(PolygonJson {
                vertices: vertices.iter().map(|v| lat_lng(*v)).collect(),
            }),
            None,
        ),
        Footprint::Circle { center, radius_m } => (
            None,
            Some(CircleJson {
                center: lat_lng(*center),
                radius: RadiusJson {
                    value: *radius_m,
                    units: "M".to_string(),
                },
            }),
        ),
    };
    Volume4DJson {
        volume: VolumeJson {
            outline_polygon,
            outline_circle,
            altitude_lower: altitude_json(volume.altitude_lower_m),
            altitude_upper: altitude_json(volume.altitude_upper_m),
        },
        time_start: time_json(volume.time_start_unix_s),
        time_end: time_json(volume.time_end_unix_s),
    }
}

/// The intents as the contract's `deconflict check` input (the `deconflict-wire` types).
pub fn check_input(scenario: &Scenario, generated: &Generated) -> CheckInputJson {
    CheckInputJson {
        separation: SeparationJson {
            horizontal_m: scenario.agreement.horizontal_m,
            vertical_m: scenario.agreement.vertical_m,
            time_s: scenario.agreement.time_s,
        },
        intents: generated
            .intents
            .iter()
            .map(|intent| IntentJson {
                id: intent.id.clone(),
                party: intent.party.clone(),
                volumes: intent.volumes.iter().map(volume_json).collect(),
            })
            .collect(),
    }
}

/// The intents in the input format of `deconflict check`, with the agreement's minima.
/// The document is validated as `deconflict check` would read it before it is written, so
/// a generator bug shows here rather than in whoever reads the file.
pub fn write_intents_json(
    scenario: &Scenario,
    generated: &Generated,
    out: &mut dyn Write,
) -> io::Result<()> {
    let input = check_input(scenario, generated);
    if let Err(error) = input.to_core() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the generated intents are not valid check input: {error}"),
        ));
    }
    serde_json::to_writer_pretty(&mut *out, &input)?;
    out.write_all(b"\n")
}

/// The contract's track CSV header.
pub const TRACKS_CSV_HEADER: &str = "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps";

/// Tracks as the contract's CSV, one row per aircraft per step, in time order then by id.
/// `time` is Unix seconds.
pub fn write_tracks_csv(generated: &Generated, out: &mut dyn Write) -> io::Result<()> {
    let mut rows: Vec<(i64, usize, usize)> = Vec::new();
    for (flight_index, flight) in generated.flights.iter().enumerate() {
        for state_index in 0..flight.track.len() {
            rows.push((
                flight.track[state_index].time_unix_s,
                flight_index,
                state_index,
            ));
        }
    }
    // Flights are sorted by aircraft id, so sorting by (time, flight) orders rows by
    // time, then id.
    rows.sort_unstable();
    let mut writer = TracksCsvWriter::new(out)?;
    for (time, flight_index, state_index) in rows {
        let flight = &generated.flights[flight_index];
        let state = &flight.track[state_index].state;
        let (vn, ve, vu) = state.velocity_neu_mps();
        writer.write(&TracksCsvRecord {
            // Whole Unix seconds are exact in an f64 and print without a fraction.
            time_s: time as f64,
            id: &flight.aircraft_id,
            party: &flight.party,
            lat_deg: state.position.lat_deg(),
            lon_deg: state.position.lon_deg(),
            alt_m: state.altitude_m,
            vn_mps: vn,
            ve_mps: ve,
            vu_mps: vu,
        })?;
    }
    writer.finish()
}

const CIRCLE_VERTICES: usize = 48;

fn ring(footprint: &Footprint) -> Vec<Value> {
    let points: Vec<LatLon> = match footprint {
        Footprint::Polygon(vertices) => vertices.clone(),
        Footprint::Circle { center, radius_m } => (0..CIRCLE_VERTICES)
            .map(|i| {
                let bearing = std::f64::consts::TAU * i as f64 / CIRCLE_VERTICES as f64;
                destination(*center, bearing, *radius_m).0
            })
            .collect(),
    };
    let mut ring: Vec<Value> = points
        .iter()
        .map(|p| json!([degrees(p.lon_deg()), degrees(p.lat_deg())]))
        .collect();
    ring.push(ring[0].clone());
    ring
}

/// Bases, areas, intent volumes and tracks as one GeoJSON FeatureCollection
/// (coordinates longitude, latitude[, altitude]).
pub fn write_geojson(
    scenario: &Scenario,
    generated: &Generated,
    out: &mut dyn Write,
) -> io::Result<()> {
    // Features are written one at a time: a large run's collection would otherwise be
    // held in memory whole, several times the size of the file.
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
    let mut first = true;
    let mut feature = |out: &mut dyn Write, value: Value| -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        out.write_all(b"\n")?;
        serde_json::to_writer(&mut *out, &value)?;
        Ok(())
    };
    for base in &scenario.bases {
        feature(
            out,
            json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [degrees(base.position.lon_deg()), degrees(base.position.lat_deg())]},
                "properties": {"kind": "base", "id": base.id, "name": base.name, "elevation_m": base.elevation_m},
            }),
        )?;
    }
    for area in &scenario.areas {
        let footprint = match &area.shape {
            AreaShape::Circle { center, radius_m } => Footprint::Circle {
                center: *center,
                radius_m: *radius_m,
            },
            AreaShape::Polygon(vertices) => Footprint::Polygon(vertices.clone()),
        };
        feature(
            out,
            json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring(&footprint)]},
                "properties": {"kind": "area", "id": area.id, "name": area.name},
            }),
        )?;
    }
    for intent in &generated.intents {
        for (index, volume) in intent.volumes.iter().enumerate() {
            feature(
                out,
                json!({
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring(&volume.footprint)]},
                    "properties": {
                        "kind": "volume",
                        "intent": intent.id,
                        "party": intent.party,
                        "index": index,
                        "altitude_lower_m": volume.altitude_lower_m,
                        "altitude_upper_m": volume.altitude_upper_m,
                        "time_start": rfc3339(volume.time_start_unix_s),
                        "time_end": rfc3339(volume.time_end_unix_s),
                    },
                }),
            )?;
        }
    }
    for flight in &generated.flights {
        if flight.track.len() < 2 {
            continue;
        }
        let coordinates: Vec<Value> = flight
            .track
            .iter()
            .map(|s| {
                json!([
                    degrees(s.state.position.lon_deg()),
                    degrees(s.state.position.lat_deg()),
                    centi(s.state.altitude_m)
                ])
            })
            .collect();
        feature(
            out,
            json!({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coordinates},
                "properties": {
                    "kind": "track",
                    "id": flight.aircraft_id,
                    "party": flight.party,
                    "intent": flight.intent_id,
                    "time_start": rfc3339(flight.track[0].time_unix_s),
                    "time_end": rfc3339(flight.track[flight.track.len() - 1].time_unix_s),
                },
            }),
        )?;
    }
    out.write_all(b"\n]}\n")
}

/// What was generated and from what: the parties, the agreement's terms and one line per
/// sortie (aircraft, intent, pattern, type, times), for the replay and the demo.
pub fn write_manifest(
    scenario: &Scenario,
    generated: &Generated,
    out: &mut dyn Write,
) -> io::Result<()> {
    let role = |role: Role| match role {
        Role::Party => "party",
        Role::Observer => "observer",
        Role::Admin => "admin",
    };
    let agreement = &scenario.agreement;
    let manifest = json!({
        "scenario": scenario.name,
        "description": scenario.description,
        "seed": generated.seed,
        "start": rfc3339(generated.start_unix_s),
        "duration_s": generated.duration_s,
        "track_step_s": generated.track_step_s,
        "parties": scenario.parties.iter().map(|p| json!({"id": p.id, "name": p.name, "role": role(p.role)})).collect::<Vec<_>>(),
        "agreement": {
            "title": agreement.title,
            "signed": agreement.signed,
            "separation": {"horizontal_m": agreement.horizontal_m, "vertical_m": agreement.vertical_m, "time_s": agreement.time_s},
            "frequencies": agreement.frequencies,
            "ground_line": agreement.ground_line.as_ref().map(|(from, to)| json!({"from": from, "to": to})),
            "working_group": agreement.working_group,
        },
        "sorties": generated.flights.iter().map(|f| json!({
            "aircraft": f.aircraft_id,
            "party": f.party,
            "intent": f.intent_id,
            "pattern": f.pattern_id,
            "type": scenario.aircraft_types[f.aircraft_type].id,
            "planned_departure": rfc3339(f.planned_departure_unix_s),
            "departure": rfc3339(f.departure_unix_s),
            "on_station": rfc3339(f.on_station_unix_s),
            "landing": rfc3339(f.landing_unix_s),
            "track_states": f.track.len(),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_writer_pretty(&mut *out, &manifest)?;
    out.write_all(b"\n")
}
