//! `deconflict demo` run headless as a newcomer would, then looked at as each party: a
//! strategic conflict, a tactical alert and a hotline thread each, disclosed as the
//! contract says.

mod serve_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use serve_support::{call_with, json, BIN};

/// Real seconds the demo runs; at 20× the encounter (5 min of scenario time in) comes
/// after about 15 s.
const DEMO_DURATION_S: u64 = 30;

/// What the demo printed: its address and each console's token.
struct Started {
    base: String,
    tokens: BTreeMap<String, String>,
}

fn read_welcome(lines: &mpsc::Receiver<String>) -> Started {
    let mut base = None;
    let mut tokens = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the demo did not print its welcome");
        if let Some(address) = line.strip_prefix("deconflict demo: listening on ") {
            base = Some(address.trim().to_owned());
        }
        if let Some((party, url)) = line.trim().split_once(char::is_whitespace) {
            if let Some((_, token)) = url.trim().split_once("/?token=") {
                tokens.insert(party.to_owned(), token.to_owned());
            }
        }
        if line.starts_with("Running for") {
            break;
        }
    }
    Started {
        base: base.expect("the demo printed no address"),
        tokens,
    }
}

/// Every event of `token`'s stream from the first (`Last-Event-ID: 0`), read until the
/// stream ends (the demo stopping) into a channel of (kind, data).
fn watch_events(base: &str, token: &str) -> mpsc::Receiver<(String, Value)> {
    let (sender, receiver) = mpsc::channel();
    let url = format!("{base}/v1/events");
    let token = token.to_owned();
    std::thread::spawn(move || {
        let response = ureq::get(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .set("Last-Event-ID", "0")
            .call();
        let Ok(response) = response else { return };
        let (mut kind, mut data) = (String::new(), String::new());
        for line in BufReader::new(response.into_reader()).lines() {
            let Ok(line) = line else { return };
            if line.is_empty() {
                if let Ok(value) = serde_json::from_str::<Value>(&data) {
                    if sender.send((kind.clone(), value)).is_err() {
                        return;
                    }
                }
                kind.clear();
                data.clear();
            } else if let Some(rest) = line.strip_prefix("event:") {
                kind = rest.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("data:") {
                data.push_str(rest.trim_start());
            }
        }
    });
    receiver
}

/// The intent ids of a party's sorties begin with its pattern prefix.
fn intent_prefix(party: &str) -> &'static str {
    match party {
        "coalition" => "co-",
        _ => "ru-",
    }
}

fn other(party: &str) -> &'static str {
    if party == "coalition" {
        "russia"
    } else {
        "coalition"
    }
}

#[test]
fn the_demo_shows_each_party_a_conflict_an_alert_and_a_hotline_thread_as_disclosed() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "20",
            "--duration",
            &DEMO_DURATION_S.to_string(),
            "--data",
        ])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line_sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_sender.send(line);
        }
    });
    let stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let started = read_welcome(&lines);
    for party in ["coalition", "russia", "working-group"] {
        assert!(started.tokens.contains_key(party), "no console for {party}");
    }
    let streams: BTreeMap<&str, _> = ["coalition", "russia", "working-group"]
        .into_iter()
        .map(|party| (party, watch_events(&started.base, &started.tokens[party])))
        .collect();

    // Conflicts are read over HTTP while the demo runs.
    let agent = ureq::agent();
    let mut conflicts: BTreeMap<&str, Value> = BTreeMap::new();
    let conflicts_deadline = Instant::now() + Duration::from_secs(DEMO_DURATION_S - 5);
    while conflicts.len() < 2 && Instant::now() < conflicts_deadline {
        for party in ["coalition", "russia"] {
            if conflicts.contains_key(party) {
                continue;
            }
            let url = format!("{}/v1/conflicts?status=all", started.base);
            if let Ok((200, body)) =
                call_with(&agent, "GET", &url, Some(&started.tokens[party]), None)
            {
                if let Some(first) = json(&body)["conflicts"]
                    .as_array()
                    .and_then(|list| list.first())
                {
                    conflicts.insert(party, first.clone());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Each party's events until the demo ends its stream.
    let mut seen: BTreeMap<&str, Vec<(String, Value)>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(DEMO_DURATION_S + 30);
    for (party, stream) in &streams {
        while let Ok(event) =
            stream.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.entry(party).or_default().push(event);
        }
    }
    let status = child.wait().unwrap();
    let stderr = stderr_reader.join().unwrap();
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(
        status.success(),
        "the demo failed: {stderr}\n{}",
        rest.join("\n")
    );
    assert!(
        rest.iter().any(|line| line.starts_with("stopped")),
        "no final tally: {}",
        rest.join("\n")
    );

    for party in ["coalition", "russia"] {
        let events = seen.get(party).cloned().unwrap_or_default();
        let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();

        // A conflict, with only the overlap of the counterpart's plan.
        let conflict = conflicts
            .get(party)
            .unwrap_or_else(|| panic!("{party} saw no conflict; events: {kinds:?}"));
        let text = conflict.to_string();
        assert!(
            !text.contains(&format!("\"{}", intent_prefix(other(party)))),
            "{party} sees a counterpart intent id: {text}"
        );
        for withheld in ["outline_polygon", "outline_circle", "vertices"] {
            assert!(!text.contains(withheld), "{party} sees {withheld}: {text}");
        }
        assert!(
            text.contains(intent_prefix(party)),
            "{party} does not see its own intent id: {text}"
        );

        // An alert: own aircraft by id, the counterpart only by reference.
        let alert = events
            .iter()
            .find(|(kind, _)| kind == "alert.raised")
            .map(|(_, data)| data)
            .unwrap_or_else(|| panic!("{party} saw no alert; events: {kinds:?}"));
        assert!(alert["own"]["id"].is_string(), "{alert}");
        let counterpart = &alert["counterpart"];
        assert!(counterpart["ref"].is_string(), "{alert}");
        assert!(counterpart.get("id").is_none(), "{alert}");
        assert_eq!(counterpart["party"], other(party), "{alert}");
        for field in ["lat", "lon", "alt_m", "vn_mps", "ve_mps", "vu_mps"] {
            assert!(counterpart[field].is_number(), "{field}: {alert}");
        }

        // A hotline thread involving the party.
        let message = events
            .iter()
            .find(|(kind, _)| kind == "hotline.message")
            .map(|(_, data)| data)
            .unwrap_or_else(|| panic!("{party} saw no hotline message; events: {kinds:?}"));
        assert!(message["thread"].is_string(), "{message}");
        assert!(
            message["to"] == party || message["from"] == party,
            "{party}: {message}"
        );
    }

    // The working group sees the alerts, with both aircraft by reference only.
    let observed = seen.get("working-group").cloned().unwrap_or_default();
    let alert = observed
        .iter()
        .find(|(kind, _)| kind == "alert.raised")
        .map(|(_, data)| data)
        .expect("the working group saw no alert");
    let aircraft = alert["aircraft"]
        .as_array()
        .expect("observers see aircraft");
    assert_eq!(aircraft.len(), 2, "{alert}");
    for plane in aircraft {
        assert!(
            plane["ref"].is_string() && plane.get("id").is_none(),
            "{alert}"
        );
    }
    assert!(alert.get("own").is_none(), "{alert}");
}
