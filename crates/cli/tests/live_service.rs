//! End-to-end: the built `deconflict` binary taking live tracks from two parties over
//! HTTP and alerting both on their event streams, on SQLite and on PostgreSQL.

#[macro_use]
mod serve_support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use serve_support::{call, json, party_add, Backend, Server, SseEvent, SseStream};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn rfc3339(ms: i64) -> String {
    deconflict_server::clock::rfc3339_ms(ms)
}

/// Metres per degree of longitude at 35 N.
const M_PER_DEG_LON: f64 = 111_320.0 * 0.819_152;

/// A level state vector at 8,000 m, now.
fn report(id: &str, lon: f64, ve: f64) -> Value {
    json!({"time": rfc3339(now_ms()), "id": id, "lat": 35.0, "lon": lon, "alt_m": 8000.0,
           "vn_mps": 0.0, "ve_mps": ve, "vu_mps": 0.0})
}

/// Two aircraft `gap_m` apart on 35 N around 38.5 E, flying at (or away from) each other.
fn pair(gap_m: f64, closing: bool) -> (Value, Value) {
    let half = gap_m / 2.0 / M_PER_DEG_LON;
    let speed = if closing { 250.0 } else { -250.0 };
    (
        report("F16-1", 38.5 - half, speed),
        report("SU30-1", 38.5 + half, -speed),
    )
}

fn post(server: &Server, token: &str, reports: Value) {
    let (status, body) = call(
        "POST",
        &server.url("/v1/tracks"),
        Some(token),
        Some(&reports),
    );
    assert_eq!(status, 202, "{body}");
}

/// The next event of `kind`, skipping others; every event passed over is kept in `seen`.
fn next_of(stream: &mut SseStream, kind: &str, seen: &mut Vec<SseEvent>) -> SseEvent {
    loop {
        let event = stream.next_event();
        seen.push(event.clone());
        if event.kind == kind {
            return event;
        }
    }
}

fn converging_tracks_alert_both_parties_and_clear(backend: Backend) {
    let coalition = party_add(&backend, "coalition", "party");
    let russia = party_add(&backend, "russia", "party");
    let turkey = party_add(&backend, "turkey", "party");
    let server = Server::start_with(
        &backend,
        &[
            "--cycle-ms",
            "200",
            "--min-gap-ms",
            "20",
            "--alert-clear-after-s",
            "1",
        ],
    );
    let mut coalition_events = SseStream::open(&server.address, &coalition, Some(0));
    let mut russia_events = SseStream::open(&server.address, &russia, Some(0));
    let mut seen = Vec::new();

    // Turkey flies alone, far away: never visible to the others.
    post(
        &server,
        &turkey,
        json!([{"time": rfc3339(now_ms()), "id": "TK-1", "lat": 39.0,
        "lon": 32.0, "alt_m": 9000.0, "vn_mps": 200.0, "ve_mps": 0.0, "vu_mps": 0.0}]),
    );
    // 60 km apart closing at 500 m/s: separation is lost in about 100 s, a caution.
    let (f16, su30) = pair(60_000.0, true);
    post(&server, &coalition, json!([f16]));
    let sent = Instant::now();
    post(&server, &russia, json!([su30]));
    let raised = next_of(&mut coalition_events, "alert.raised", &mut seen);
    let theirs = next_of(&mut russia_events, "alert.raised", &mut seen);
    let delay = sent.elapsed();
    assert!(
        delay < Duration::from_secs(5),
        "alerts arrived {delay:?} after the report (one cycle is 200 ms)"
    );
    assert_eq!(raised.data["id"], theirs.data["id"]);
    assert_eq!(raised.data["level"], "caution", "{}", raised.data);
    assert_eq!(raised.data["own"]["id"], "F16-1");
    assert_eq!(theirs.data["own"]["id"], "SU30-1");
    assert_eq!(raised.data["counterpart"]["party"], "russia");
    assert_eq!(raised.data["counterpart"]["ref"], theirs.data["own"]["ref"]);
    assert!(!raised.data.to_string().contains("SU30-1"));
    assert!(!theirs.data.to_string().contains("F16-1"));

    // 20 km apart, still closing: separation is lost within 60 s, a warning.
    let (f16, su30) = pair(20_000.0, true);
    post(&server, &coalition, json!([f16]));
    post(&server, &russia, json!([su30]));
    let warned = next_of(&mut coalition_events, "alert.updated", &mut seen);
    assert_eq!(warned.data["level"], "warning", "{}", warned.data);
    assert_eq!(warned.data["id"], raised.data["id"]);
    let warned = next_of(&mut russia_events, "alert.updated", &mut seen);
    assert_eq!(warned.data["level"], "warning");
    // The warning opened a hotline thread about the alert for both duty officers.
    for token in [&coalition, &russia] {
        let (status, messages) = call(
            "GET",
            &server.url("/v1/hotline/messages"),
            Some(token),
            None,
        );
        assert_eq!(status, 200, "{messages}");
        let messages = json(&messages);
        assert!(
            messages
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["about"]["alert"] == raised.data["id"]),
            "{messages}"
        );
    }

    // They turn apart; the alert clears for both.
    let (f16, su30) = pair(20_000.0, false);
    post(&server, &coalition, json!([f16]));
    post(&server, &russia, json!([su30]));
    let deadline = Instant::now() + Duration::from_secs(20);
    let cleared = loop {
        // Keep reporting so the aircraft stay live while the hysteresis runs out.
        std::thread::sleep(Duration::from_millis(300));
        let (f16, su30) = pair(20_000.0, false);
        post(&server, &coalition, json!([f16]));
        post(&server, &russia, json!([su30]));
        let (_, alerts) = call("GET", &server.url("/v1/alerts"), Some(&coalition), None);
        if json(&alerts) == json!([]) {
            break next_of(&mut coalition_events, "alert.cleared", &mut seen);
        }
        assert!(
            Instant::now() < deadline,
            "the alert did not clear: {alerts}"
        );
    };
    assert_eq!(cleared.data["id"], raised.data["id"]);
    next_of(&mut russia_events, "alert.cleared", &mut seen);

    let everything: String = seen.iter().map(|e| e.data.to_string()).collect();
    assert!(!everything.contains("TK-1") && !everything.contains("turkey"));
    let (_, tracks) = call("GET", &server.url("/v1/tracks"), Some(&coalition), None);
    let tracks = json(&tracks);
    assert_eq!(tracks.as_array().unwrap().len(), 1);
    assert_eq!(tracks[0]["id"], "F16-1");
}

on_both_backends!(converging_tracks_alert_both_parties_and_clear);
