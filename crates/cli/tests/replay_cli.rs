//! `deconflict replay` end to end: the recorded samples in `examples/recorded` (OpenSky
//! JSON and SBS-1 lines of the same converging pair, with nulls and garbage) converted to a
//! tracks CSV, then `deconflict detect` run on it finds the encounter between the two
//! parties.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deconflict(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(args)
        .output()
        .unwrap()
}

fn sample(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/recorded")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn replay_then_detect(source: &str, out: &Path) -> (String, String, String) {
    let replay = deconflict(&[
        "replay",
        source,
        "--party-map",
        &sample("parties.toml"),
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary = String::from_utf8(replay.stderr).unwrap();
    assert_eq!(replay.status.code(), Some(0), "{summary}");
    let tracks = std::fs::read_to_string(out).unwrap();
    let detect = deconflict(&["detect", out.to_str().unwrap()]);
    assert_eq!(detect.status.code(), Some(0));
    (summary, tracks, String::from_utf8(detect.stdout).unwrap())
}

fn assert_the_encounter_is_found(tracks: &str, conflicts: &str) {
    assert!(tracks.starts_with("time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n"));
    assert!(tracks.contains(",RYR123,ryanair,"), "{tracks}");
    assert!(tracks.contains(",EZY45,easyjet,"), "{tracks}");
    // Sorted by time, then id.
    let keys: Vec<(f64, String)> = tracks
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split(',');
            let time: f64 = fields.next().unwrap().parse().unwrap();
            (time, fields.next().unwrap().to_string())
        })
        .collect();
    assert!(keys
        .windows(2)
        .all(|w| (w[0].0, &w[0].1) <= (w[1].0, &w[1].1)));

    let rows: Vec<Vec<&str>> = conflicts
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert!(!rows.is_empty(), "no conflict found:\n{conflicts}");
    assert!(
        rows.iter().all(|r| r[1] == "EZY45" && r[2] == "RYR123"),
        "{conflicts}"
    );
    // Head-on at 450 kt each, about 44 km apart at the start: caution first (time to loss
    // of 5 NM above 60 s), then warning.
    assert_eq!(rows[0][3], "caution", "{conflicts}");
    assert!(rows.iter().any(|r| r[3] == "warning"), "{conflicts}");
    let first_time_to_los_s: f64 = rows[0][4].parse().unwrap();
    assert!((60.0..=80.0).contains(&first_time_to_los_s), "{conflicts}");
}

#[test]
fn opensky_records_replayed_to_csv_let_detect_find_the_converging_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("tracks.csv");
    let (summary, tracks, conflicts) = replay_then_detect(&sample("converging.json"), &out);
    assert!(
        summary.contains("21 records read, 18 states produced"),
        "{summary}"
    );
    assert!(
        summary.contains("record 4: no time, position or address"),
        "{summary}"
    );
    assert!(summary.contains("record 21: malformed record"), "{summary}");
    // The aircraft without a callsign is named by its address and falls to the default.
    assert!(tracks.contains(",3c6444,general-aviation,"), "{tracks}");
    assert_the_encounter_is_found(&tracks, &conflicts);
}

#[test]
fn sbs_lines_replayed_to_csv_let_detect_find_the_converging_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tracks.csv");
    let (summary, tracks, conflicts) = replay_then_detect(&sample("converging.sbs"), &out);
    assert!(
        summary.contains("127 lines read, 60 states produced"),
        "{summary}"
    );
    assert!(summary.contains("line 30: malformed record"), "{summary}");
    assert_the_encounter_is_found(&tracks, &conflicts);
}

#[test]
fn each_aircraft_is_its_own_party_by_icao24_and_recorded_times_can_be_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tracks.csv");
    let replay = deconflict(&[
        "replay",
        &sample("converging.json"),
        "--party-by",
        "icao24",
        "--step-s",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(replay.status.code(), Some(0));
    let tracks = std::fs::read_to_string(&out).unwrap();
    assert_eq!(tracks.lines().count(), 1 + 18);
    assert!(tracks.contains("1700000004,EZY45,400a1b,"), "{tracks}");
    assert!(tracks.contains("1700000000,RYR123,4ca7b5,"), "{tracks}");
}

#[test]
fn unusable_input_exits_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tracks.csv");
    let out = out.to_str().unwrap();
    let unknown = dir.path().join("recording.bin");
    std::fs::write(&unknown, "x").unwrap();
    let garbage = dir.path().join("garbage.sbs");
    std::fs::write(&garbage, "nothing\nof use\n").unwrap();
    for (args, expected) in [
        (
            vec!["replay", unknown.to_str().unwrap(), "--out", out],
            "cannot tell the format",
        ),
        (
            vec!["replay", garbage.to_str().unwrap(), "--out", out],
            "gave no state",
        ),
        (
            vec![
                "replay",
                &sample("converging.json"),
                "--party-by",
                "callsign-prefix",
                "--out",
                out,
            ],
            "needs --party-map",
        ),
        (
            vec!["replay", "tcp://127.0.0.1:1", "--out", out],
            "cannot connect",
        ),
    ] {
        let output = deconflict(&args);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
