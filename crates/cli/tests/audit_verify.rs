//! `deconflict audit verify` as a party runs it on a downloaded export: exit 0 when the
//! export holds, 1 naming the first bad line, 2 when the file or key is unusable.

use std::path::PathBuf;

use assert_cmd::Command;
use deconflict_audit::{export_view, AuditChain, AuditEntry, AuditSigner, ChainHead, Visibility};
use serde_json::json;
use tempfile::TempDir;

fn signer() -> AuditSigner {
    AuditSigner::from_seed([11; 32])
}

fn export_text() -> String {
    let mut chain = AuditChain::new(signer(), ChainHead::GENESIS);
    let log: Vec<_> = [
        ("agreement.in_force", Visibility::All),
        ("intent.written", Visibility::parties(["russia"])),
        (
            "conflict.opened",
            Visibility::parties(["coalition", "russia"]),
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (kind, visible_to))| {
        chain
            .append(
                format!("2015-11-03T09:0{index}:00Z"),
                kind,
                None,
                visible_to,
                json!({"n": index}),
            )
            .unwrap()
    })
    .collect();
    export_view(
        &log,
        ChainHead::GENESIS,
        "coalition",
        |entry: &AuditEntry| entry.visible_to().allows("coalition"),
        "2015-11-03T10:00:00Z",
        &signer(),
    )
    .unwrap()
}

struct Files {
    _dir: TempDir,
    export: PathBuf,
    dir: PathBuf,
}

fn files_with(export: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, export).unwrap();
    Files {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        export: path,
    }
}

fn deconflict() -> Command {
    Command::cargo_bin("deconflict").unwrap()
}

#[test]
fn an_honest_export_exits_0_with_the_key_as_base64() {
    let files = files_with(&export_text());
    let output = deconflict()
        .args(["audit", "verify"])
        .arg(&files.export)
        .args(["--public-key", &signer().public_key_base64()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("valid. 3 entries"), "{stdout}");
    assert!(stdout.contains("2 visible, 1 withheld"), "{stdout}");
}

#[test]
fn the_key_may_be_a_file_holding_the_base64_or_the_key_document() {
    let files = files_with(&export_text());
    let bare = files.dir.join("key.txt");
    std::fs::write(&bare, format!("{}\n", signer().public_key_base64())).unwrap();
    let document = files.dir.join("key.json");
    std::fs::write(
        &document,
        format!("{{\"public_key\": \"{}\"}}", signer().public_key_base64()),
    )
    .unwrap();
    for key in [&bare, &document] {
        deconflict()
            .args(["audit", "verify"])
            .arg(&files.export)
            .arg("--public-key")
            .arg(key)
            .assert()
            .code(0);
    }
}

#[test]
fn a_tampered_export_exits_1_naming_the_line() {
    let tampered = export_text().replacen("\"n\":2", "\"n\":3", 1);
    let files = files_with(&tampered);
    let output = deconflict()
        .args(["audit", "verify"])
        .arg(&files.export)
        .args(["--public-key", &signer().public_key_base64()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("export.jsonl:3: does not verify"),
        "{stdout}"
    );
    assert!(stdout.contains("content_hash"), "{stdout}");
}

#[test]
fn json_output_gives_the_line_and_reason() {
    let files = files_with(&export_text());
    let output = deconflict()
        .args(["audit", "verify", "--json"])
        .arg(&files.export)
        .args([
            "--public-key",
            &AuditSigner::from_seed([12; 32]).public_key_base64(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["line"], 1);
    assert!(verdict["reason"].as_str().unwrap().contains("signature"));
}

#[test]
fn the_export_can_come_from_standard_input() {
    deconflict()
        .args([
            "audit",
            "verify",
            "-",
            "--public-key",
            &signer().public_key_base64(),
        ])
        .write_stdin(export_text())
        .assert()
        .code(0);
}

#[test]
fn an_unusable_key_or_missing_file_exits_2_with_a_message() {
    let files = files_with(&export_text());
    let output = deconflict()
        .args(["audit", "verify"])
        .arg(&files.export)
        .args(["--public-key", "not-a-key"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--public-key \"not-a-key\""), "{stderr}");

    let bad_key_file = files.dir.join("bad.json");
    std::fs::write(&bad_key_file, "{\"public_key\": 42}").unwrap();
    deconflict()
        .args(["audit", "verify"])
        .arg(&files.export)
        .arg("--public-key")
        .arg(&bad_key_file)
        .assert()
        .code(2);

    let output = deconflict()
        .args(["audit", "verify"])
        .arg(files.dir.join("absent.jsonl"))
        .args(["--public-key", &signer().public_key_base64()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("absent.jsonl"));
}
