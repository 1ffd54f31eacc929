//! End-to-end: the built `deconflict` binary serving real parties on a loopback port, on
//! SQLite and on PostgreSQL.

#[macro_use]
mod serve_support;

use std::process::Command;
use std::time::Duration;

use serve_support::{
    call, json, party_add, square_intent, Backend, Launched, Server, SseStream, BIN,
};

/// Two parties file conflicting intents; the counterpart hears of it over SSE, misses
/// nothing across a reconnect with Last-Event-ID, and the conflict resolves when the
/// writer moves away. A party added while the server runs can use the service at once.
fn two_parties_deconflict_over_http(backend: Backend) {
    let coalition = party_add(&backend, "coalition", "party");
    let server = Server::start(&backend);
    let russia = party_add(&backend, "russia", "party");

    let (status, body) = call("GET", &server.url("/v1/health"), None, None);
    let health = json(&body);
    assert_eq!((status, &health["status"]), (200, &serde_json::json!("ok")));
    assert!(
        health["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{health}"
    );
    let (status, _) = call("GET", &server.url("/v1/me"), None, None);
    assert_eq!(status, 401);
    let (status, me) = call("GET", &server.url("/v1/me"), Some(&russia), None);
    assert_eq!(
        (status, json(&me)["id"].clone()),
        (200, "russia".into()),
        "a party added while serving works"
    );

    let mut events = SseStream::open(&server.address, &coalition, Some(0));
    let (status, created) = call(
        "PUT",
        &server.url("/v1/intents/c-1"),
        Some(&coalition),
        Some(&square_intent(35.2, 38.3, None)),
    );
    assert_eq!(status, 201, "{created}");
    let (status, written) = call(
        "PUT",
        &server.url("/v1/intents/r-1"),
        Some(&russia),
        Some(&square_intent(35.25, 38.35, None)),
    );
    assert_eq!(status, 201, "{written}");
    let conflict_id = json(&written)["conflicts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let opened = events.next_event();
    assert_eq!(opened.kind, "conflict.opened");
    assert_eq!(opened.data["id"], conflict_id.as_str());
    assert_eq!(opened.data["intent"], "c-1");
    assert!(!opened.data.to_string().contains("r-1"), "{}", opened.data);
    events.close();

    // While the coalition is away, russia moves its intent away: the conflict resolves.
    let (status, _) = call(
        "PUT",
        &server.url("/v1/intents/r-1"),
        Some(&russia),
        Some(&square_intent(10.0, 10.0, Some(1))),
    );
    assert_eq!(status, 200);
    let mut resumed = SseStream::open(&server.address, &coalition, Some(opened.id));
    // The conflict opened a hotline thread: the service's message to the coalition.
    let thread = resumed.next_event();
    assert_eq!(thread.kind, "hotline.message");
    assert_eq!(thread.data["from"], serde_json::Value::Null);
    assert_eq!(thread.data["to"], "coalition");
    assert_eq!(thread.data["about"]["conflict"], conflict_id.as_str());
    let resolved = resumed.next_event();
    assert_eq!(resolved.kind, "conflict.resolved");
    assert_eq!(resolved.data["id"], conflict_id.as_str());
    assert!(resolved.id > opened.id);
    resumed.close();

    let (status, stale) = call(
        "PUT",
        &server.url("/v1/intents/r-1"),
        Some(&russia),
        Some(&square_intent(10.0, 10.0, Some(1))),
    );
    assert_eq!(status, 409, "{stale}");
    let (status, malformed) = call(
        "PUT",
        &server.url("/v1/intents/r-2"),
        Some(&russia),
        Some(&serde_json::json!({"volumes": 3})),
    );
    assert_eq!(status, 422, "{malformed}");
    assert!(json(&malformed)["detail"]
        .as_str()
        .unwrap()
        .contains("volumes"));
    // PostgreSQL keeps no NUL in text: such a message is refused before the commit, and
    // the writes after it are served as usual.
    let (status, nul) = call(
        "POST",
        &server.url("/v1/hotline/messages"),
        Some(&russia),
        Some(&serde_json::json!({"to": "coalition", "text": "a\u{0}b"})),
    );
    assert_eq!(status, 422, "{nul}");
    let (status, nul) = call(
        "GET",
        &server.url("/v1/tracks/history?id=a%00b"),
        Some(&russia),
        None,
    );
    assert_eq!(status, 400, "{nul}");
    let (status, after) = call(
        "PUT",
        &server.url("/v1/intents/r-3"),
        Some(&russia),
        Some(&square_intent(40.0, 40.0, None)),
    );
    assert_eq!(status, 201, "{after}");
}

/// SIGTERM stops the server cleanly (exit 0) and the data survives a restart.
fn a_terminated_server_keeps_its_data(backend: Backend) {
    let token = party_add(&backend, "coalition", "party");
    let server = Server::start(&backend);
    let (status, _) = call(
        "PUT",
        &server.url("/v1/intents/c-1"),
        Some(&token),
        Some(&square_intent(35.2, 38.3, None)),
    );
    assert_eq!(status, 201);
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, not {exit}");
    let server = Server::start(&backend);
    let (status, body) = call("GET", &server.url("/v1/intents/c-1"), Some(&token), None);
    assert_eq!((status, json(&body)["version"].clone()), (200, 1.into()));
}

/// Files a new square intent `id` about (`lat`, `lng`) as `token`'s party; it must be
/// created (201).
fn file_new_intent(server: &Server, token: &str, id: &str, lat: f64, lng: f64) {
    let (status, body) = call(
        "PUT",
        &server.url(&format!("/v1/intents/{id}")),
        Some(token),
        Some(&square_intent(lat, lng, None)),
    );
    assert_eq!(status, 201, "{body}");
}

/// One service per store: a second `serve` on the same store stands by, serving nothing,
/// until the first dies; it then takes over with everything the first acknowledged.
fn a_second_server_on_one_store_stands_by_until_the_first_dies(backend: Backend) {
    let token = party_add(&backend, "coalition", "party");
    let mut first = Server::start(&backend);
    file_new_intent(&first, &token, "c-1", 35.2, 38.3);

    let second = Server::launch(&backend, &[]);
    assert!(
        matches!(
            second.next(Duration::from_secs(60)),
            Some(Launched::StandingBy)
        ),
        "the second server says it stands by"
    );
    assert!(
        second.next(Duration::from_secs(2)).is_none(),
        "a standing-by server does not listen while the first serves"
    );
    // The first still serves alone.
    file_new_intent(&first, &token, "c-2", 35.6, 38.3);

    first.kill();
    let second = second.ready();
    for id in ["c-1", "c-2"] {
        let (status, body) = call(
            "GET",
            &second.url(&format!("/v1/intents/{id}")),
            Some(&token),
            None,
        );
        assert_eq!(
            (status, json(&body)["version"].clone()),
            (200, 1.into()),
            "{id}"
        );
    }
    file_new_intent(&second, &token, "c-3", 35.9, 38.3);
}

on_both_backends!(
    two_parties_deconflict_over_http,
    a_terminated_server_keeps_its_data,
    a_second_server_on_one_store_stands_by_until_the_first_dies
);

/// Tokens the service does not know cost a store read each, so one client address may
/// try only so many: past the burst it is answered 429 (naming the limit) without the store
/// being asked, while a known token from the same address still works.
#[test]
fn a_client_sending_unknown_tokens_is_slowed_and_known_tokens_are_not() {
    let backend = Backend::sqlite();
    let token = party_add(&backend, "coalition", "party");
    let server = Server::start(&backend);
    let url = server.url("/v1/intents");
    // The known token is seen (and remembered) before the flood; its first use asked the
    // store, so it took one of the address's 100.
    assert_eq!(call("GET", &url, Some(&token), None).0, 200);
    let mut statuses = Vec::new();
    for attempt in 0..300 {
        let (status, body) = call("GET", &url, Some(&format!("dcf_wrong{attempt}")), None);
        if status == 429 {
            let problem = json(&body);
            assert_eq!(problem["status"], 429);
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("client address"),
                "{problem}"
            );
        }
        statuses.push(status);
    }
    assert!(
        statuses[..99].iter().all(|status| *status == 401),
        "the burst of unknown tokens is answered 401"
    );
    assert!(
        statuses.iter().all(|status| [401, 429].contains(status)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&429),
        "a flood of unknown tokens is slowed"
    );
    assert_eq!(
        call("GET", &url, Some(&token), None).0,
        200,
        "a known token from the same address is not slowed"
    );
}

#[test]
fn party_add_refuses_a_taken_id_and_bad_input_with_exit_2() {
    let backend = Backend::sqlite();
    party_add(&backend, "coalition", "party");
    let again = Command::new(BIN)
        .args(["party", "add", "coalition", "--name", "x"])
        .args(backend.args())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let bad = Command::new(BIN)
        .args(["party", "add", "a/b", "--name", "x"])
        .args(backend.args())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let listed = Command::new(BIN)
        .args(["party", "list"])
        .args(backend.args())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("coalition\tparty"));
}

#[test]
fn serve_refuses_an_unusable_agreement_file_with_exit_2() {
    let backend = Backend::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("terms.json");
    std::fs::write(&file, r#"{"separation": {"horizontal_m": -5}}"#).unwrap();
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--agreement",
            file.to_str().unwrap(),
        ])
        .args(backend.args())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("terms.json"));
}

#[test]
fn bench_strategic_over_http_times_checked_writes_against_a_running_server() {
    let backend = Backend::sqlite();
    let admin = party_add(&backend, "root", "admin");
    let server = Server::start(&backend);
    let output = Command::new(BIN)
        .args([
            "bench",
            "strategic",
            "--intents",
            "60",
            "--writes",
            "80",
            "--clients",
            "4",
            "--preload-clients",
            "3",
            "--json",
        ])
        .args(["--url", &server.base, "--admin-token", &admin])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json(String::from_utf8_lossy(&output.stdout).trim());
    assert_eq!(report["intents"], 60);
    assert_eq!(report["writes"], 80);
    assert_eq!(report["errors"], 0);
    assert_eq!(
        report["days"], 1.0,
        "one day per 100,000 intents, at least one"
    );
    assert!(report["writes_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["check_p99_ms"].as_f64().unwrap() >= report["check_p50_ms"].as_f64().unwrap());
    // The split tail: each group's p99 is no more than the slowest write; a group no write
    // fell in is null.
    let max_ms = report["check_max_ms"].as_f64().unwrap();
    for group in ["check_p99_ms_no_conflict", "check_p99_ms_with_conflicts"] {
        let p99 = &report[group];
        assert!(
            p99.is_null() || p99.as_f64().is_some_and(|ms| ms <= max_ms),
            "{group} in {report}"
        );
    }
    if report["conflicts_per_write"].as_f64().unwrap() > 0.0 {
        assert!(report["check_p99_ms_with_conflicts"].is_f64(), "{report}");
    }
    if cfg!(target_os = "linux") {
        // Read from the server's process metrics (in clock ticks: may round to 0 here).
        let cpu = report["server_cpu_ms_per_write"].as_f64();
        assert!(cpu.is_some_and(|ms| ms >= 0.0), "{report}");
        assert!(
            report["server_cores"]
                .as_f64()
                .is_some_and(|cores| cores >= 0.0),
            "{report}"
        );
    }
    // What bounded the run, from the engine's and the commit stage's metrics: shares of the
    // run each was busy (timed by the server, so a little over 1 at most), and the writes
    // each commit took.
    for share in ["decide_busy_share", "commit_busy_share"] {
        assert!(
            report[share]
                .as_f64()
                .is_some_and(|share| (0.0..=1.5).contains(&share)),
            "{share} in {report}"
        );
    }
    let per_commit = report["writes_per_commit"].as_f64().unwrap();
    assert!((1.0..=80.0).contains(&per_commit), "{report}");
    // The writes really reached the server: one of the benchmark's parties holds intents.
    let (_, parties) = call("GET", &server.url("/v1/parties"), Some(&admin), None);
    assert_eq!(
        json(&parties).as_array().unwrap().len(),
        9,
        "root and eight benchmark parties"
    );
    // 60 preloaded, then 40 of them updated (each quoting its version) and 40 new.
    let (_, metrics) = call("GET", &server.url("/metrics"), None, None);
    assert!(
        metrics.lines().any(|line| line == "deconflict_intents 100"),
        "{metrics}"
    );
    let wrong = Command::new(BIN)
        .args([
            "bench",
            "strategic",
            "--intents",
            "5",
            "--url",
            &server.base,
            "--admin-token",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "a wrong admin token is unusable input"
    );
}
