//! The files follow the contract's shapes exactly: intents as `deconflict check` input
//! (Volume4D), tracks as its CSV.

mod common;

use std::collections::BTreeSet;

use common::{generate_with, syria};
use deconflict_sim::output::{
    write_geojson, write_intents_json, write_tracks_csv, TRACKS_CSV_HEADER,
};
use deconflict_sim::GenerateOptions;
use serde_json::Value;

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: &[&'a str]) -> BTreeSet<&'a str> {
    items.iter().copied().collect()
}

fn rfc3339_seconds(value: &Value) -> i64 {
    assert_eq!(value["format"], "RFC3339");
    let text = value["value"].as_str().unwrap();
    assert!(text.ends_with('Z'), "{text}");
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

#[test]
fn intents_are_in_the_input_format_of_deconflict_check() {
    let scenario = syria();
    let generated = generate_with(
        &scenario,
        &GenerateOptions {
            duration_s: Some(1200),
            ..GenerateOptions::with_seed(4)
        },
    );
    let mut bytes = Vec::new();
    write_intents_json(&scenario, &generated, &mut bytes).unwrap();
    let document: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(keys(&document), set(&["separation", "intents"]));
    assert_eq!(
        document["separation"],
        serde_json::json!({"horizontal_m": 9260.0, "vertical_m": 300.0, "time_s": 120.0})
    );
    let intents = document["intents"].as_array().unwrap();
    assert!(!intents.is_empty());
    let mut ids = BTreeSet::new();
    for intent in intents {
        assert_eq!(keys(intent), set(&["id", "party", "volumes"]));
        assert!(ids.insert(intent["id"].as_str().unwrap()));
        assert!(["coalition", "russia"].contains(&intent["party"].as_str().unwrap()));
        for volume4d in intent["volumes"].as_array().unwrap() {
            assert_eq!(keys(volume4d), set(&["volume", "time_start", "time_end"]));
            assert!(
                rfc3339_seconds(&volume4d["time_start"]) < rfc3339_seconds(&volume4d["time_end"])
            );
            let volume = &volume4d["volume"];
            let outline = if volume.get("outline_polygon").is_some() {
                assert_eq!(
                    keys(volume),
                    set(&["outline_polygon", "altitude_lower", "altitude_upper"])
                );
                let vertices = volume["outline_polygon"]["vertices"].as_array().unwrap();
                assert!(vertices.len() >= 3);
                for vertex in vertices {
                    assert_eq!(keys(vertex), set(&["lat", "lng"]));
                    assert!(vertex["lat"].as_f64().unwrap().abs() <= 90.0);
                }
                "polygon"
            } else {
                assert_eq!(
                    keys(volume),
                    set(&["outline_circle", "altitude_lower", "altitude_upper"])
                );
                let circle = &volume["outline_circle"];
                assert_eq!(keys(&circle["center"]), set(&["lat", "lng"]));
                assert_eq!(circle["radius"]["units"], "M");
                assert!(circle["radius"]["value"].as_f64().unwrap() > 0.0);
                "circle"
            };
            let lower = &volume["altitude_lower"];
            let upper = &volume["altitude_upper"];
            for altitude in [lower, upper] {
                assert_eq!(altitude["reference"], "W84", "{outline}");
                assert_eq!(altitude["units"], "M");
            }
            assert!(lower["value"].as_f64().unwrap() < upper["value"].as_f64().unwrap());
        }
    }
}

#[test]
fn tracks_are_the_contracts_csv_in_time_order() {
    let scenario = syria();
    let generated = generate_with(
        &scenario,
        &GenerateOptions {
            duration_s: Some(900),
            track_step_s: Some(15),
            ..GenerateOptions::with_seed(4)
        },
    );
    let mut bytes = Vec::new();
    write_tracks_csv(&generated, &mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(TRACKS_CSV_HEADER));
    assert_eq!(
        TRACKS_CSV_HEADER,
        "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps"
    );
    let mut previous: Option<(i64, String)> = None;
    let mut rows = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 9, "{line}");
        let time: i64 = fields[0].parse().unwrap();
        assert_eq!((time - generated.start_unix_s) % 15, 0, "{line}");
        assert!(time < generated.start_unix_s + 900);
        for number in &fields[3..] {
            let value: f64 = number.parse().unwrap();
            assert!(value.is_finite());
            assert!(
                !number.starts_with("-0.00") || value != 0.0,
                "negative zero in {line}"
            );
        }
        let key = (time, fields[1].to_string());
        if let Some(previous) = &previous {
            assert!(previous < &key, "rows out of order at {line}");
        }
        previous = Some(key);
        rows += 1;
    }
    let states: usize = generated.flights.iter().map(|f| f.track.len()).sum();
    assert_eq!(rows, states);
}

#[test]
fn the_geojson_holds_bases_areas_volumes_and_tracks() {
    let scenario = syria();
    let generated = generate_with(
        &scenario,
        &GenerateOptions {
            duration_s: Some(600),
            ..GenerateOptions::with_seed(4)
        },
    );
    let mut bytes = Vec::new();
    write_geojson(&scenario, &generated, &mut bytes).unwrap();
    let document: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(document["type"], "FeatureCollection");
    let kinds: BTreeSet<&str> = document["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|feature| feature["properties"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, set(&["area", "base", "track", "volume"]));
    for feature in document["features"].as_array().unwrap() {
        if feature["geometry"]["type"] == "Polygon" {
            let ring = feature["geometry"]["coordinates"][0].as_array().unwrap();
            assert_eq!(ring.first(), ring.last(), "rings are closed");
        }
    }
}
