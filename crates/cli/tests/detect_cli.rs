//! `deconflict detect` and `deconflict bench tactical` run as users run them: the real
//! binary on files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn deconflict(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deconflict"))
        .args(args)
        .output()
        .expect("the deconflict binary runs")
}

fn example(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "examples", name]
        .iter()
        .collect();
    path.to_string_lossy().into_owned()
}

fn temp_file(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("deconflict-detect-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

const HEADER: &str = "time,a,b,level,time_to_los_s,tcpa_s,dcpa_m,distance_m,vertical_m";

/// The rows of the output as (time, a, b, level) and the figures.
fn rows(output: &Output) -> Vec<(String, String, String, String, Vec<f64>)> {
    let text = stdout(output);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(HEADER));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 9, "{line}");
            (
                fields[0].to_string(),
                fields[1].to_string(),
                fields[2].to_string(),
                fields[3].to_string(),
                fields[4..].iter().map(|f| f.parse().unwrap()).collect(),
            )
        })
        .collect()
}

#[test]
fn a_tracks_csv_gives_one_row_per_step_per_conflicting_pair_sorted() {
    let output = deconflict(&["detect", &example("tracks-head-on.csv")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let found = rows(&output);
    let keys: Vec<(&str, &str, &str, &str)> = found
        .iter()
        .map(|(t, a, b, level, _)| (t.as_str(), a.as_str(), b.as_str(), level.as_str()))
        .collect();
    // The two coalition aircraft fly in formation (same party: never a conflict) and the
    // unnamed civil aircraft is 6 km lower; the federation aircraft closes on both.
    assert_eq!(
        keys,
        [
            ("0", "C-101", "F-7", "advisory"),
            ("0", "C-102", "F-7", "advisory"),
            ("60", "C-101", "F-7", "caution"),
            ("60", "C-102", "F-7", "caution"),
            ("120", "C-101", "F-7", "warning"),
            ("120", "C-102", "F-7", "warning"),
        ]
    );
    // 400 m/s closing from about 78.85 km: LoS when the gap is 9260 m.
    let figures = &found[0].4;
    assert!(
        (figures[0] - (78_846.0 - 9260.0) / 400.0).abs() < 0.5,
        "{figures:?}"
    );
    assert!((figures[4] - 100.0).abs() < 1e-6);
}

#[test]
fn a_daa_file_is_read_with_its_units_under_both_criteria() {
    let file = example("encounter-crossing.daa");
    let cylinder = rows(&deconflict(&["detect", &file]));
    assert_eq!(cylinder.len(), 2);
    assert_eq!(
        (cylinder[0].1.as_str(), cylinder[0].2.as_str()),
        ("Intruder", "Ownship")
    );
    // 500 ft apart at first.
    assert!((cylinder[0].4[4] - 152.4).abs() < 1e-6);

    let well_clear = rows(&deconflict(&["detect", &file, "--criterion", "wellclear"]));
    assert_eq!(well_clear.len(), 2);
    // Well clear (0.66 NM, 450 ft, tau 35 s) is lost later than 5 NM / 1,000 ft.
    assert!(well_clear[0].4[0] > cylinder[0].4[0]);
    // A smaller DTHR than the miss distance (about 380 m) removes the conflict.
    let tight = deconflict(&[
        "detect",
        &file,
        "--criterion",
        "wellclear",
        "--dthr-m",
        "300",
    ]);
    assert!(rows(&tight).is_empty());
}

#[test]
fn parameters_change_the_verdict() {
    let file = example("tracks-head-on.csv");
    // The earliest loss of separation is about 54 s ahead (last step): beyond 50 s.
    let short = rows(&deconflict(&["detect", &file, "--lookahead-s", "50"]));
    assert!(short.is_empty(), "{short:?}");
    let levels = rows(&deconflict(&[
        "detect",
        &file,
        "--warning-s",
        "120",
        "--caution-s",
        "180",
    ]));
    assert!(levels
        .iter()
        .filter(|r| r.0 == "60")
        .all(|r| r.3 == "warning"));
    assert!(levels
        .iter()
        .filter(|r| r.0 == "0")
        .all(|r| r.3 == "caution"));
    let separated = rows(&deconflict(&["detect", &file, "--vertical-m", "100"]));
    assert!(
        separated.is_empty(),
        "100 m apart is separated with a 100 m minimum"
    );
}

#[test]
fn no_conflict_prints_the_header_alone_and_exits_0() {
    let file = temp_file(
        "quiet.csv",
        "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n0,a,,10,10,1000,0,100,0\n0,b,,-10,-10,1000,0,100,0\n",
    );
    let output = deconflict(&["detect", &file]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), format!("{HEADER}\n"));
}

#[test]
fn unusable_input_exits_2_naming_the_line_and_column() {
    let file = temp_file(
        "bad.csv",
        "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n0,a,,10,10,1000,0,100,0\n0,b,,10,west,1000,0,100,0\n",
    );
    let output = deconflict(&["detect", &file]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("line 3, column 5 (lon)"), "{message}");

    let file = temp_file(
        "bad.daa",
        "NAME lat lon alt trk gs vs time\n[none] [deg] [deg] [ft] [deg] [knot] [fpm] [s]\nA 1 2 3 4 5 6 0\nB 1 2 3 4 5\n",
    );
    let output = deconflict(&["detect", &file]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("line 4"), "{}", stderr(&output));

    let twice = temp_file(
        "twice.csv",
        "time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n0,a,p,10,10,1000,0,100,0\n0,a,p,10,10,1000,0,100,0\n",
    );
    let output = deconflict(&["detect", &twice]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("line 3"), "{}", stderr(&output));

    let output = deconflict(&[
        "detect",
        &example("tracks-head-on.csv"),
        "--horizontal-m",
        "-5",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("horizontal_m"),
        "{}",
        stderr(&output)
    );

    let output = deconflict(&["detect", "/nonexistent/tracks.csv"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bench_tactical_verifies_against_the_exhaustive_check_and_prints_one_json_line() {
    let output = deconflict(&[
        "bench",
        "tactical",
        "--aircraft",
        "3000",
        "--density",
        "200",
        "--verify",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let line = text.trim_end();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        line.starts_with("{\"aircraft\": 3000, \"pairs\": "),
        "{line}"
    );
    for key in ["\"cycle_ms\": ", "\"threads\": ", "\"brute_force_ms\": "] {
        assert!(line.contains(key), "{line}");
    }
    assert!(line.ends_with("\"verified\": true}"), "{line}");
    let pairs: usize = line["{\"aircraft\": 3000, \"pairs\": ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pairs > 0, "200 per 10,000 km² should conflict: {line}");
}

#[test]
fn bench_tactical_readable_output_reports_bytes_per_aircraft() {
    let output = deconflict(&["bench", "tactical", "--aircraft", "500"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("bytes per aircraft"),
        "{}",
        stdout(&output)
    );
}
