//! End-to-end: the seed scenario's intents filed with a real `deconflict serve` by both
//! parties, each party's audit export downloaded and checked offline with
//! `deconflict audit verify`, on SQLite and on PostgreSQL.

mod serve_support;

use std::process::Command;

use serde_json::Value;
use serve_support::{call, json, party_add, Backend, Server, BIN};

fn verify(dir: &std::path::Path, name: &str, export: &str, key: &str) -> (i32, String) {
    let path = dir.join(name);
    std::fs::write(&path, export).unwrap();
    let output = Command::new(BIN)
        .args(["audit", "verify", "--json"])
        .arg(&path)
        .args(["--public-key", key])
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

fn exports_of_a_simulated_half_hour_verify_offline(backend: Backend) {
    let coalition = party_add(&backend, "coalition", "party");
    let russia = party_add(&backend, "russia", "party");
    let server = Server::start(&backend);
    let work = tempfile::tempdir().unwrap();

    let sim = Command::new(BIN)
        .args([
            "sim",
            "syria-2015",
            "--seed",
            "2015",
            "--duration",
            "1800",
            "--out",
        ])
        .arg(work.path())
        .output()
        .unwrap();
    assert!(sim.status.success(), "{sim:?}");
    let intents = json(&std::fs::read_to_string(work.path().join("intents.json")).unwrap());
    let mut conflicts = 0;
    for intent in intents["intents"].as_array().unwrap() {
        let token = match intent["party"].as_str().unwrap() {
            "coalition" => &coalition,
            _ => &russia,
        };
        let body = serde_json::json!({"volumes": intent["volumes"], "state": "accepted"});
        let id = intent["id"].as_str().unwrap();
        let (status, answer) = call(
            "PUT",
            &server.url(&format!("/v1/intents/{id}")),
            Some(token),
            Some(&body),
        );
        assert_eq!(status, 201, "{id}: {answer}");
        conflicts += json(&answer)["conflicts"].as_array().unwrap().len();
    }
    assert!(conflicts > 0, "the simulated half hour filed no conflict");

    let (status, key) = call("GET", &server.url("/v1/audit/key"), None, None);
    assert_eq!(status, 200);
    let key = json(&key)["public_key"].as_str().unwrap().to_owned();

    let mut heads = Vec::new();
    for (party, token) in [("coalition", &coalition), ("russia", &russia)] {
        let (status, export) = call("GET", &server.url("/v1/audit/export"), Some(token), None);
        assert_eq!(status, 200);
        let (code, verdict) = verify(work.path(), &format!("{party}.jsonl"), &export, &key);
        assert_eq!(code, 0, "{party}: {verdict}");
        let verdict = json(&verdict);
        assert_eq!(verdict["viewer"], party);
        assert!(verdict["withheld"].as_u64().unwrap() > 0, "{verdict}");
        heads.push(verdict["head_hash"].clone());

        // What is withheld from a party shows nothing of the other party's intents.
        let other = if party == "coalition" { "ru-" } else { "co-" };
        for line in export.lines() {
            let line: Value = serde_json::from_str(line).unwrap();
            if line.get("withheld").is_some() {
                assert!(!line.to_string().contains(other), "{line}");
            }
        }

        // One changed line, and the export no longer verifies, naming that line.
        let lines: Vec<&str> = export.lines().collect();
        let target = lines
            .iter()
            .position(|line| line.contains("\"kind\":\"intent."))
            .expect("an intent entry in the export");
        let mut tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        tampered[target] = tampered[target].replacen("\"version\":1", "\"version\":2", 1);
        assert_ne!(tampered[target], lines[target]);
        let (code, verdict) = verify(
            work.path(),
            &format!("{party}-tampered.jsonl"),
            &(tampered.join("\n") + "\n"),
            &key,
        );
        assert_eq!(code, 1, "{verdict}");
        assert_eq!(json(&verdict)["line"], target + 1);
    }
    assert_eq!(heads[0], heads[1], "both views end at the same head");
}

#[test]
fn exports_of_a_simulated_half_hour_verify_offline_on_sqlite() {
    exports_of_a_simulated_half_hour_verify_offline(Backend::sqlite());
}

#[test]
fn exports_of_a_simulated_half_hour_verify_offline_on_postgres() {
    if let Some(backend) = Backend::postgres("audit_export") {
        exports_of_a_simulated_half_hour_verify_offline(backend);
    }
}
