//! `deconflict check` run as a user runs it: the built binary on files, its exit codes, its
//! JSON and its messages.

use std::path::{Path, PathBuf};
use std::process::Command;

use deconflict_core::geometry::{
    AltitudeBand, Circle, Footprint, LatLng, Polygon, TimeWindow, Volume4D,
};
use deconflict_core::strategic::intents_conflict;
use deconflict_wire::check::{parse_check_input, CheckInput, CheckInputJson, CheckIntent};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn check(file: &Path, json: bool) -> Outcome {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deconflict"));
    command.arg("check").arg(file);
    if json {
        command.arg("--json");
    }
    let output = command.output().expect("the binary runs");
    Outcome {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn check_text(text: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.json");
    std::fs::write(&path, text).unwrap();
    check(&path, true)
}

const VOLUME: &str = r#"{"volume": {"outline_polygon": {"vertices": [{"lat": 35.10, "lng": 38.20}, {"lat": 35.30, "lng": 38.20}, {"lat": 35.30, "lng": 38.50}]},
  "altitude_lower": {"value": 3000, "reference": "W84", "units": "M"},
  "altitude_upper": {"value": 6000, "reference": "W84", "units": "M"}},
 "time_start": {"value": "2015-10-20T10:00:00Z", "format": "RFC3339"},
 "time_end": {"value": "2015-10-20T11:00:00Z", "format": "RFC3339"}}"#;

fn file_with(intents: &[(&str, &str, &str)]) -> String {
    let intents: Vec<String> = intents
        .iter()
        .map(|(id, party, volume)| {
            format!(r#"{{"id": "{id}", "party": "{party}", "volumes": [{volume}]}}"#)
        })
        .collect();
    format!(
        r#"{{"separation": {{"horizontal_m": 9260, "vertical_m": 300, "time_s": 120}},
 "intents": [{}]}}"#,
        intents.join(",\n")
    )
}

#[test]
fn the_example_has_conflicts_and_exits_1_with_the_contract_json() {
    let outcome = check(&example("two-parties.json"), true);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let report: Value = serde_json::from_str(outcome.stdout.trim()).unwrap();
    assert_eq!(report["intents"], 4);
    assert!(report["elapsed_ms"].as_f64().unwrap() >= 0.0);
    let conflicts = report["conflicts"].as_array().unwrap();
    assert!(!conflicts.is_empty());
    let mut previous: Option<(String, String)> = None;
    for conflict in conflicts {
        let keys: Vec<&str> = conflict
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "horizontal_distance_m",
                "intents",
                "time_gap_s",
                "vertical_gap_m",
                "volumes"
            ]
        );
        let ids = conflict["intents"].as_array().unwrap();
        let (a, b) = (ids[0].as_str().unwrap(), ids[1].as_str().unwrap());
        assert!(a < b, "ids ascending within a pair");
        let pair = (a.to_string(), b.to_string());
        assert!(previous.as_ref().is_none_or(|p| p < &pair), "pairs sorted");
        previous = Some(pair);
        for volumes in conflict["volumes"].as_array().unwrap() {
            assert_eq!(volumes.as_array().unwrap().len(), 2);
        }
    }
}

#[test]
fn the_table_is_the_default_output() {
    let outcome = check(&example("two-parties.json"), false);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.stdout.contains("HORIZONTAL_M"),
        "{}",
        outcome.stdout
    );
    assert!(outcome.stdout.contains("coalition-raqqa-1"));
}

#[test]
fn a_file_without_conflicts_exits_0() {
    let far = VOLUME
        .replace("10:00:00Z", "20:00:00Z")
        .replace("11:00:00Z", "21:00:00Z");
    let outcome = check_text(&file_with(&[("a", "p", VOLUME), ("b", "q", &far)]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let report: Value = serde_json::from_str(outcome.stdout.trim()).unwrap();
    assert_eq!(report["conflicts"], serde_json::json!([]));
    assert_eq!(report["intents"], 2);
}

#[test]
fn intents_of_the_same_party_never_conflict() {
    let outcome = check_text(&file_with(&[("a", "p", VOLUME), ("b", "p", VOLUME)]));
    assert_eq!(outcome.code, 0);
    let outcome = check_text(&file_with(&[("b", "p", VOLUME), ("a", "q", VOLUME)]));
    assert_eq!(outcome.code, 1);
    let report: Value = serde_json::from_str(outcome.stdout.trim()).unwrap();
    assert_eq!(
        report["conflicts"][0]["intents"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(
        report["conflicts"][0]["volumes"],
        serde_json::json!([[0, 0]])
    );
    assert_eq!(report["conflicts"][0]["horizontal_distance_m"], 0.0);
}

fn assert_unusable(text: &str, expected: &str) {
    let outcome = check_text(text);
    assert_eq!(
        outcome.code, 2,
        "stdout {} stderr {}",
        outcome.stdout, outcome.stderr
    );
    assert!(
        outcome.stderr.contains(expected),
        "expected {expected:?} in {:?}",
        outcome.stderr
    );
    assert!(!outcome.stderr.contains("panicked"));
}

#[test]
fn unusable_input_exits_2_naming_the_place() {
    let bad_vertex = VOLUME.replacen(
        r#""lat": 35.30, "lng": 38.50"#,
        r#""lat": 95, "lng": 38.50"#,
        1,
    );
    assert_unusable(
        &file_with(&[("a", "p", VOLUME), ("b", "q", VOLUME), ("c", "q", VOLUME), ("d", "q", &bad_vertex)]),
        "intents[3].volumes[0].volume.outline_polygon.vertices[2].lat: latitude 95 is outside [-90, 90]",
    );
    assert_unusable(
        &file_with(&[(
            "a",
            "p",
            &VOLUME.replacen(r#""units": "M""#, r#""units": "FT""#, 1),
        )]),
        r#"intents[0].volumes[0].volume.altitude_lower.units: unknown units "FT""#,
    );
    assert_unusable(
        &file_with(&[("a", "p", &VOLUME.replacen("W84", "AMSL", 1))]),
        "intents[0].volumes[0].volume.altitude_lower.reference",
    );
    assert_unusable(
        &file_with(&[("a", "p", &VOLUME.replace("3000", "7000"))]),
        "intents[0].volumes[0].volume.altitude_lower: altitude_lower 7000 m is not below altitude_upper 6000 m",
    );
    assert_unusable(
        &file_with(&[("a", "p", &VOLUME.replace("11:00:00Z", "09:00:00Z"))]),
        "intents[0].volumes[0].time_end: time_end",
    );
    assert_unusable(
        &file_with(&[(
            "a",
            "p",
            &VOLUME.replace("2015-10-20T10:00:00Z", "yesterday"),
        )]),
        "intents[0].volumes[0].time_start.value",
    );
    assert_unusable(
        &file_with(&[("a", "p", VOLUME), ("a", "q", VOLUME)]),
        r#"intents[1].id: duplicate intent id "a""#,
    );
    let bow_tie = r#"{"volume": {"outline_polygon": {"vertices": [{"lat": 0, "lng": 0}, {"lat": 1, "lng": 1}, {"lat": 1, "lng": 0}, {"lat": 0, "lng": 1}]},
      "altitude_lower": {"value": 0, "reference": "W84", "units": "M"}, "altitude_upper": {"value": 10, "reference": "W84", "units": "M"}},
      "time_start": {"value": "2015-10-20T10:00:00Z", "format": "RFC3339"}, "time_end": {"value": "2015-10-20T11:00:00Z", "format": "RFC3339"}}"#;
    assert_unusable(
        &file_with(&[("a", "p", bow_tie)]),
        "intents[0].volumes[0].volume.outline_polygon: the polygon intersects itself",
    );
    let two_vertices = bow_tie.replace(r#", {"lat": 1, "lng": 0}, {"lat": 0, "lng": 1}"#, "");
    assert_unusable(
        &file_with(&[("a", "p", &two_vertices)]),
        "intents[0].volumes[0].volume.outline_polygon.vertices: a polygon needs at least 3 vertices",
    );
    assert_unusable(
        r#"{"separation": {"horizontal_m": 0, "vertical_m": 300, "time_s": 120}, "intents": []}"#,
        "separation.horizontal_m",
    );
    assert_unusable(
        "{\"separation\": {\"horizontal_m\": 9260,\n  \"vertical_m\": 300 \"time_s\": 1}}",
        "line 2 column",
    );
    assert_unusable(
        r#"{"separation": {"horizontal_m": 9260, "vertical_m": 300, "time_s": 120}, "intents": [{"id": "a", "party": "p", "volumes": [{"volume": 5}]}]}"#,
        "intents[0].volumes[0].volume",
    );
    assert_unusable(
        &file_with(&[("a", "p", &VOLUME.replace("38.20", "1e999"))]),
        "number out of range",
    );
}

#[test]
fn a_missing_file_exits_2() {
    let outcome = check(Path::new("/nonexistent/intents.json"), true);
    assert_eq!(outcome.code, 2);
    assert!(outcome.stderr.contains("/nonexistent/intents.json"));
}

/// A random file of intents of three parties over one region, built through the wire
/// types as any writer would.
fn random_input(seed: u64, count: usize) -> CheckInput {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let regions = [
        (35.0, 38.0),
        (48.0, 2.0),
        (-33.9, 151.0),
        (40.7, -74.0),
        (0.0, 179.9),
        (89.5, 0.0),
    ];
    let (lat0, lng0) = regions[(seed as usize) % regions.len()];
    let intents = (0..count)
        .map(|k| {
            let volumes = (0..rng.random_range(1..=3))
                .map(|_| {
                    let lat = (lat0 + rng.random_range(-1.0..1.0f64)).clamp(-89.9, 89.9);
                    let lng = lng0 + rng.random_range(-1.0..1.0f64);
                    let lng = (lng + 540.0f64).rem_euclid(360.0) - 180.0;
                    let centre = LatLng::new(lat, lng).unwrap();
                    let size_deg = rng.random_range(0.02..0.3f64);
                    let footprint = if rng.random_range(0..3) == 0 {
                        Footprint::Circle(Circle::new(centre, size_deg * 50_000.0).unwrap())
                    } else {
                        let around = |da: f64, db: f64| {
                            let lng = (lng + db + 540.0f64).rem_euclid(360.0) - 180.0;
                            LatLng::new((lat + da).clamp(-90.0, 90.0), lng).unwrap()
                        };
                        // Near the pole clamped vertices can coincide: a circle then.
                        Polygon::new(vec![
                            around(0.0, 0.0),
                            around(0.0, size_deg),
                            around(size_deg * 0.8, size_deg * 0.7),
                            around(size_deg, 0.1 * size_deg),
                        ])
                        .map(Footprint::Polygon)
                        .unwrap_or_else(|_| {
                            Footprint::Circle(Circle::new(centre, size_deg * 50_000.0).unwrap())
                        })
                    };
                    let lower = rng.random_range(0..40) as f64 * 250.0;
                    let start = 1_445_335_200.0 + rng.random_range(0..48) as f64 * 300.0;
                    Volume4D::new(
                        footprint,
                        AltitudeBand::new(lower, lower + rng.random_range(1..8) as f64 * 150.0)
                            .unwrap(),
                        TimeWindow::from_unix_s(
                            start,
                            start + rng.random_range(1..12) as f64 * 300.0,
                        )
                        .unwrap(),
                    )
                })
                .collect();
            CheckIntent {
                id: format!("i-{k:04}"),
                party: ["coalition", "russia", "observer"][rng.random_range(0..3)].to_string(),
                volumes,
            }
        })
        .collect();
    CheckInput {
        separation: deconflict_core::strategic::Separation::new(9_260.0, 300.0, 120.0).unwrap(),
        intents,
    }
}

#[test]
fn check_finds_exactly_the_pairs_an_exhaustive_comparison_finds() {
    for seed in 0..6 {
        let input = random_input(seed, 150);
        let text = serde_json::to_string(&CheckInputJson::from_core(&input)).unwrap();
        // The reference reads the same file, so both see the same numbers.
        let parsed = parse_check_input(&text).unwrap();
        let mut expected = Vec::new();
        for a in &parsed.intents {
            for b in &parsed.intents {
                if a.party != b.party && a.id < b.id {
                    if let Some(conflict) =
                        intents_conflict(&a.volumes, &b.volumes, &parsed.separation)
                    {
                        let volumes: Vec<Value> = conflict
                            .volume_pairs
                            .iter()
                            .map(|&(x, y)| serde_json::json!([x, y]))
                            .collect();
                        expected.push(serde_json::json!({
                            "intents": [a.id, b.id],
                            "volumes": volumes,
                            "horizontal_distance_m": conflict.closest.horizontal_distance_m,
                            "vertical_gap_m": conflict.closest.vertical_gap_m,
                            "time_gap_s": conflict.closest.time_gap_s,
                        }));
                    }
                }
            }
        }
        let outcome = check_text(&text);
        assert_eq!(
            outcome.code,
            if expected.is_empty() { 0 } else { 1 },
            "seed {seed}: {}",
            outcome.stderr
        );
        let report: Value = serde_json::from_str(outcome.stdout.trim()).unwrap();
        assert_eq!(
            report["conflicts"],
            Value::Array(expected.clone()),
            "seed {seed}"
        );
        assert!(
            expected.len() > 5,
            "seed {seed}: only {} conflicts",
            expected.len()
        );
    }
}
