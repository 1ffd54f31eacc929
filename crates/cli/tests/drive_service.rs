//! Driving a running service: a recorded tracks CSV replayed through it on a scaled clock
//! raises alerts for exactly the pairs `deconflict detect` finds in the same file; a
//! service whose clock cannot match, a refused token or a party without a token stops the
//! drive before anything is sent, saying why.

mod serve_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use serve_support::{party_add, Backend, Server, BIN};

/// The recording's first second (2023-11-14T22:13:20Z).
const T0_UNIX_S: i64 = 1_700_000_000;
const RECORDING_S: i64 = 120;
const SPEED: &str = "20";
const METRES_PER_DEGREE: f64 = 111_195.0;
const LAT0_DEG: f64 = 35.0;
const LON0_DEG: f64 = 36.0;

/// One aircraft flying a straight line in a local plane around (35 N, 36 E).
struct Flight {
    id: &'static str,
    party: &'static str,
    east_m: f64,
    north_m: f64,
    alt_m: f64,
    ve_mps: f64,
    vn_mps: f64,
}

fn recording() -> String {
    let flight = |id, party, east_km: f64, north_km: f64, alt_m, ve_mps, vn_mps| Flight {
        id,
        party,
        east_m: east_km * 1000.0,
        north_m: north_km * 1000.0,
        alt_m,
        ve_mps,
        vn_mps,
    };
    let flights = [
        // Head-on, same level, 60 km apart: separation lost within the lookahead.
        flight("BLUE1", "blue", -30.0, 0.0, 8000.0, 200.0, 0.0),
        flight("RED1", "red", 30.0, 0.0, 8000.0, -200.0, 0.0),
        // Diverging from 12 km apart: never in conflict.
        flight("BLUE2", "blue", -6.0, 100.0, 8000.0, -200.0, 0.0),
        flight("RED2", "red", 6.0, 100.0, 8000.0, 200.0, 0.0),
        // Crossing at one point 600 m apart vertically: separated.
        flight("BLUE3", "blue", -20.0, -100.0, 8000.0, 200.0, 0.0),
        flight("RED3", "red", 0.0, -120.0, 8600.0, 0.0, 200.0),
        // Converging head-on but of one party: not a conflict between parties.
        flight("BLUE4", "blue", -20.0, 200.0, 8000.0, 200.0, 0.0),
        flight("BLUE5", "blue", 20.0, 200.0, 8000.0, -200.0, 0.0),
        // Converging from 200 km: loss of separation beyond the lookahead throughout.
        flight("BLUE6", "blue", -100.0, 300.0, 8000.0, 200.0, 0.0),
        flight("RED6", "red", 100.0, 300.0, 8000.0, -200.0, 0.0),
        // Crossing at right angles, 100 m apart vertically: in conflict.
        flight("BLUE7", "blue", -25.0, -250.0, 6000.0, 250.0, 0.0),
        flight("RED7", "red", 0.0, -275.0, 6100.0, 0.0, 250.0),
    ];
    let metres_per_degree_lon = METRES_PER_DEGREE * LAT0_DEG.to_radians().cos();
    let mut text = String::from("time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n");
    for t in 0..=RECORDING_S {
        for f in &flights {
            let east_m = f.east_m + f.ve_mps * t as f64;
            let north_m = f.north_m + f.vn_mps * t as f64;
            text.push_str(&format!(
                "{},{},{},{:.7},{:.7},{:.2},{:.2},{:.2},0.00\n",
                T0_UNIX_S + t,
                f.id,
                f.party,
                LAT0_DEG + north_m / METRES_PER_DEGREE,
                LON0_DEG + east_m / metres_per_degree_lon,
                f.alt_m,
                f.vn_mps,
                f.ve_mps
            ));
        }
    }
    text
}

/// The pairs `deconflict detect` finds at any step.
fn detected_pairs(csv: &std::path::Path) -> BTreeSet<(String, String)> {
    let output = Command::new(BIN).arg("detect").arg(csv).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[1].to_owned(), fields[2].to_owned())
        })
        .collect()
}

/// Every stored event of `token`'s stream, read until the stream is quiet for a moment.
fn stored_events(base: &str, token: &str) -> Vec<(String, Value)> {
    let agent = ureq::AgentBuilder::new()
        .timeout_read(Duration::from_secs(3))
        .build();
    let response = agent
        .get(&format!("{base}/v1/events"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Last-Event-ID", "0")
        .call()
        .unwrap();
    let mut events = Vec::new();
    let (mut kind, mut data) = (String::new(), String::new());
    for line in BufReader::new(response.into_reader()).lines() {
        let Ok(line) = line else { break };
        if line.is_empty() {
            if let Ok(value) = serde_json::from_str::<Value>(&data) {
                events.push((kind.clone(), value));
            }
            kind.clear();
            data.clear();
        } else if let Some(rest) = line.strip_prefix("event:") {
            kind = rest.trim().to_owned();
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push_str(rest.trim_start());
        }
    }
    events
}

/// Alert id to the party's own aircraft, from its `alert.raised` events.
fn own_aircraft_by_alert(events: &[(String, Value)]) -> BTreeMap<String, String> {
    events
        .iter()
        .filter(|(kind, _)| kind == "alert.raised")
        .map(|(_, alert)| {
            (
                alert["id"].as_str().unwrap().to_owned(),
                alert["own"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_recording_replayed_through_the_service_alerts_the_pairs_detect_finds() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("recorded.csv");
    std::fs::write(&csv, recording()).unwrap();
    let expected = detected_pairs(&csv);
    assert_eq!(
        expected,
        BTreeSet::from([
            ("BLUE1".to_owned(), "RED1".to_owned()),
            ("BLUE7".to_owned(), "RED7".to_owned())
        ]),
        "the recording is meant to hold two conflicting pairs"
    );

    let backend = Backend::sqlite();
    let blue = party_add(&backend, "blue", "party");
    let red = party_add(&backend, "red", "party");
    // The clock starts a little before the recording, so no report is late.
    let server = Server::start_with(
        &backend,
        &[
            "--clock-start",
            "2023-11-14T22:13:18Z",
            "--clock-speed",
            SPEED,
        ],
    );
    let output = Command::new(BIN)
        .arg("replay")
        .arg(&csv)
        .args(["--url", &server.base, "--speed", SPEED])
        .args(["--token", &format!("blue={blue}")])
        .args(["--token", &format!("red={red}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "replay failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("no errors"), "{stdout}");

    assert_eq!(alerted_pairs(&server.base, &blue, &red), expected);
}

/// The pairs alerted between two parties' aircraft: each party's `alert.raised` events
/// give its own aircraft, joined by alert id (both sides see one alert under one id);
/// each pair in ascending order, as `detect` writes them.
fn alerted_pairs(base: &str, first: &str, second: &str) -> BTreeSet<(String, String)> {
    let first_alerts = own_aircraft_by_alert(&stored_events(base, first));
    let second_alerts = own_aircraft_by_alert(&stored_events(base, second));
    assert_eq!(
        first_alerts.len(),
        second_alerts.len(),
        "{first_alerts:?} {second_alerts:?}"
    );
    first_alerts
        .iter()
        .map(|(alert, a)| {
            let b = second_alerts
                .get(alert)
                .unwrap_or_else(|| panic!("alert {alert} reached one side only"))
                .clone();
            if *a < b {
                (a.clone(), b)
            } else {
                (b, a.clone())
            }
        })
        .collect()
}

#[test]
fn recorded_sbs_lines_replayed_through_the_service_alert_the_pair_detect_finds() {
    let dir = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/recorded");
    let sbs = format!("{examples}/converging.sbs");
    let party_map = format!("{examples}/parties.toml");
    let csv = dir.path().join("converging.csv");
    let converted = Command::new(BIN)
        .args(["replay", &sbs, "--party-map", &party_map, "--out"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(converted.status.success());
    let expected = detected_pairs(&csv);
    assert_eq!(
        expected,
        BTreeSet::from([("EZY45".to_owned(), "RYR123".to_owned())])
    );

    let backend = Backend::sqlite();
    let ryanair = party_add(&backend, "ryanair", "party");
    let easyjet = party_add(&backend, "easyjet", "party");
    let server = Server::start_with(
        &backend,
        &[
            "--clock-start",
            "2023-11-14T22:13:18Z",
            "--clock-speed",
            SPEED,
        ],
    );
    let output = Command::new(BIN)
        .args(["replay", &sbs, "--party-map", &party_map])
        .args(["--url", &server.base, "--speed", SPEED])
        .args(["--token", &format!("ryanair={ryanair}")])
        .args(["--token", &format!("easyjet={easyjet}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "replay failed: {stdout}{stderr}");
    // The recording's bad lines are counted, not fatal.
    assert!(stderr.contains("5 skipped"), "{stderr}");
    assert!(stdout.contains("no errors"), "{stdout}");
    assert_eq!(alerted_pairs(&server.base, &ryanair, &easyjet), expected);
}

#[test]
fn a_replay_into_a_service_whose_clock_has_passed_the_recording_says_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("recorded.csv");
    std::fs::write(&csv, recording()).unwrap();
    let backend = Backend::sqlite();
    let blue = party_add(&backend, "blue", "party");
    let server = Server::start(&backend);
    let output = Command::new(BIN)
        .arg("replay")
        .arg(&csv)
        .args(["--url", &server.base])
        .args(["--token", &format!("blue={blue}")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--clock-start 2023-11-14T22:13:20Z"),
        "{stderr}"
    );
}

#[test]
fn a_wrong_token_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("recorded.csv");
    std::fs::write(&csv, recording()).unwrap();
    let backend = Backend::sqlite();
    let server = Server::start(&backend);
    let output = Command::new(BIN)
        .arg("replay")
        .arg(&csv)
        .args(["--url", &server.base, "--token", "blue=dcf_not-a-token"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"blue\" was refused (401"), "{stderr}");
}

#[test]
fn a_scenario_is_driven_only_with_a_token_for_every_party_that_flies() {
    let backend = Backend::sqlite();
    let coalition = party_add(&backend, "coalition", "party");
    let server = Server::start_with(
        &backend,
        &[
            "--clock-start",
            "2015-11-03T09:00:00Z",
            "--clock-speed",
            "10",
        ],
    );
    let output = Command::new(BIN)
        .args(["sim", "syria-2015", "--duration", "600"])
        .args(["--url", &server.base, "--speed", "10"])
        .args(["--token", &format!("coalition={coalition}")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no --token for russia"), "{stderr}");
}
