//! Durability: a server killed with SIGKILL in the middle of a storm of writes loses none
//! it acknowledged, and its audit chain still verifies, on SQLite and on PostgreSQL.

mod serve_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deconflict_audit::AuditPublicKey;
use serve_support::{call, call_with, json, party_add, square_intent, Backend, Server};

/// Writers hammering the server at once.
const WRITERS: usize = 8;
/// Acknowledged writes after which the server is killed.
const ACKNOWLEDGED_BEFORE_KILL: usize = 400;
/// Intents each writer cycles through (creates, then updates).
const INTENTS_PER_WRITER: usize = 10;

fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let tokens = [
        party_add(&backend, "coalition", "party"),
        party_add(&backend, "russia", "party"),
    ];
    let mut server = Server::start(&backend);
    let acknowledged: Arc<Mutex<HashMap<(usize, String), i64>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for writer in 0..WRITERS {
        let (base, token) = (server.base.clone(), tokens[writer % 2].clone());
        let (acknowledged, count, stop) = (acknowledged.clone(), count.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let agent = ureq::agent();
            let mut versions = [None::<i64>; INTENTS_PER_WRITER];
            let started = Instant::now();
            for n in 0.. {
                if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(120) {
                    return;
                }
                let slot = n % INTENTS_PER_WRITER;
                let id = format!("w{writer}-i{slot}");
                // Spread over a region so some writes conflict and some do not.
                let lat = 30.0 + (writer as f64) * 0.05 + (slot as f64) * 0.5;
                let body = square_intent(lat, 38.0, versions[slot]);
                match call_with(
                    &agent,
                    "PUT",
                    &format!("{base}/v1/intents/{id}"),
                    Some(&token),
                    Some(&body),
                ) {
                    Ok((200 | 201, text)) => {
                        let version = json(&text)["version"].as_i64().unwrap();
                        versions[slot] = Some(version);
                        acknowledged
                            .lock()
                            .unwrap()
                            .insert((writer % 2, id), version);
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok((status, text)) => panic!("unexpected {status}: {text}"),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill(); // SIGKILL, writes in flight
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= WRITERS,
        "the storm wrote too little to test anything"
    );

    let server = Server::start(&backend);
    for ((party, id), version) in &acknowledged {
        let (status, text) = call(
            "GET",
            &server.url(&format!("/v1/intents/{id}")),
            Some(&tokens[*party]),
            None,
        );
        assert_eq!(status, 200, "acknowledged intent {id} lost: {text}");
        let stored = json(&text)["version"].as_i64().unwrap();
        // A write committed but not yet answered when the kill came may be there too.
        assert!(
            stored == *version || stored == version + 1,
            "{id}: acknowledged {version}, stored {stored}"
        );
    }
    let (_, key) = call("GET", &server.url("/v1/audit/key"), None, None);
    let public_key =
        AuditPublicKey::from_base64(json(&key)["public_key"].as_str().unwrap()).unwrap();
    let (status, export) = call(
        "GET",
        &server.url("/v1/audit/export"),
        Some(&tokens[0]),
        None,
    );
    assert_eq!(status, 200);
    let summary = deconflict_audit::verify(export.as_bytes(), &public_key)
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(
        summary.entries as usize >= acknowledged.len(),
        "{summary:?}"
    );
    // The chain goes on after the restart.
    let (status, _) = call(
        "PUT",
        &server.url("/v1/intents/after-restart"),
        Some(&tokens[0]),
        Some(&square_intent(0.0, 0.0, None)),
    );
    assert_eq!(status, 201);
    let (_, export) = call(
        "GET",
        &server.url("/v1/audit/export"),
        Some(&tokens[0]),
        None,
    );
    let after = deconflict_audit::verify(export.as_bytes(), &public_key)
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(after.entries, summary.entries + 1);
}

#[test]
fn acknowledged_writes_survive_sigkill_on_sqlite() {
    acknowledged_writes_survive_sigkill(Backend::sqlite());
}

#[test]
fn acknowledged_writes_survive_sigkill_on_postgres() {
    if let Some(backend) = Backend::postgres("sigkill") {
        acknowledged_writes_survive_sigkill(backend);
    }
}
