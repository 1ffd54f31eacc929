//! `deconflict sim` as a user runs it: files written, the same seed giving the same bytes,
//! unusable scenarios refused with exit 2 and a message naming the place.

use assert_cmd::Command;

fn deconflict() -> Command {
    Command::cargo_bin("deconflict").unwrap()
}

const FILES: [&str; 4] = [
    "intents.json",
    "tracks.csv",
    "scenario.geojson",
    "manifest.json",
];

#[test]
fn the_built_in_scenario_writes_the_same_files_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    for run in ["a", "b", "c"] {
        let seed = if run == "c" { "4" } else { "3" };
        let output = deconflict()
            .args([
                "sim",
                "syria-2015",
                "--seed",
                seed,
                "--duration",
                "600",
                "--out",
            ])
            .arg(dir.path().join(run))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            stdout.contains(&format!("syria-2015: seed {seed}, 600 s")),
            "{stdout}"
        );
    }
    for file in FILES {
        let a = std::fs::read(dir.path().join("a").join(file)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(file)).unwrap();
        assert!(a == b, "{file} differs between two runs with the same seed");
    }
    let a = std::fs::read(dir.path().join("a/tracks.csv")).unwrap();
    let c = std::fs::read(dir.path().join("c/tracks.csv")).unwrap();
    assert!(a != c, "seeds 3 and 4 gave the same tracks");
}

#[test]
fn the_files_do_not_depend_on_the_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    for threads in ["1", "3"] {
        deconflict()
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "sim",
                "syria-2015",
                "--seed",
                "9",
                "--duration",
                "900",
                "--out",
            ])
            .arg(dir.path().join(threads))
            .assert()
            .code(0);
    }
    for file in FILES {
        let one = std::fs::read(dir.path().join("1").join(file)).unwrap();
        let three = std::fs::read(dir.path().join("3").join(file)).unwrap();
        assert!(one == three, "{file} differs between one and three threads");
    }
}

#[test]
fn a_scenario_file_is_read_and_its_errors_exit_2_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = include_str!("../../../scenarios/syria-2015.toml");
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, good).unwrap();
    deconflict()
        .arg("sim")
        .arg(&path)
        .args(["--duration", "300", "--step", "10", "--out"])
        .arg(dir.path().join("out"))
        .assert()
        .code(0);
    let header = std::fs::read_to_string(dir.path().join("out/tracks.csv")).unwrap();
    assert!(header.starts_with("time,id,party,lat,lon,alt_m,vn_mps,ve_mps,vu_mps\n"));

    let broken = good.replacen("duration_s = 3600", "duration_s = \"an hour\"", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("\"an hour\""))
        .unwrap()
        + 1;
    std::fs::write(&path, broken).unwrap();
    let output = deconflict()
        .arg("sim")
        .arg(&path)
        .arg("--out")
        .arg(dir.path().join("out2"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("mine.toml"), "{stderr}");
    assert!(stderr.contains(&format!("line {line}")), "{stderr}");
}

#[test]
fn an_unknown_scenario_or_a_bad_option_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = deconflict()
        .args(["sim", "syria-2016", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("syria-2015"), "{stderr}");

    let output = deconflict()
        .args(["sim", "syria-2015", "--step", "0", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().contains("step"));
}

#[test]
fn deconflict_check_and_detect_read_the_generated_files_and_find_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    deconflict()
        .args(["sim", "syria-2015", "--seed", "2015", "--out"])
        .arg(dir.path())
        .assert()
        .code(0);
    let output = deconflict()
        .args(["check", "--json"])
        .arg(dir.path().join("intents.json"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["conflicts"].as_array().unwrap().len() >= 3,
        "{report}"
    );
}

#[test]
fn the_start_can_be_moved_and_a_bad_start_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = deconflict()
        .args([
            "sim",
            "syria-2015",
            "--duration",
            "300",
            "--start",
            "2026-01-01T00:00:00Z",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let tracks = std::fs::read_to_string(dir.path().join("tracks.csv")).unwrap();
    // 2026-01-01T00:00:00Z is Unix time 1767225600.
    assert!(
        tracks.lines().nth(1).unwrap().starts_with("1767225600,"),
        "{tracks:.200}"
    );

    let output = deconflict()
        .args(["sim", "syria-2015", "--start", "yesterday", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("--start"));
}
