//! Live tracks and tactical alerts through the API: ingest, detection cycles, the alert
//! lifecycle, disclosure, history, recording and the WebSocket stream.

mod common;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use common::{test_app_with, token, TestApp};
use deconflict_server::clock::rfc3339_ms;
use deconflict_server::live::LiveConfig;
use deconflict_server::ServerConfig;

fn fast_live() -> LiveConfig {
    LiveConfig {
        cycle: Duration::from_millis(50),
        min_gap: Duration::from_millis(10),
        ..LiveConfig::default()
    }
}

async fn live_app() -> TestApp {
    live_app_with(fast_live()).await
}

async fn live_app_with(live: LiveConfig) -> TestApp {
    test_app_with(ServerConfig {
        rng_seed: Some(42),
        live,
        ..ServerConfig::default()
    })
    .await
}

/// A state vector at `time_ms`: position, altitude 8,000 m, level flight.
fn report(id: &str, time_ms: i64, lat: f64, lon: f64, vn: f64, ve: f64) -> Value {
    json!({
        "time": rfc3339_ms(time_ms),
        "id": id,
        "lat": lat,
        "lon": lon,
        "alt_m": 8000.0,
        "vn_mps": vn,
        "ve_mps": ve,
        "vu_mps": 0.0,
    })
}

/// Metres of longitude per degree at 35 N (spherical, close enough for placing aircraft).
const M_PER_DEG_LON_35N: f64 = 111_320.0 * 0.819_152;

/// Two aircraft on one parallel at 35 N, `gap_m` apart, flying at each other at 250 m/s.
fn converging(time_ms: i64, gap_m: f64) -> (Value, Value) {
    let half = gap_m / 2.0 / M_PER_DEG_LON_35N;
    (
        report("F16-1", time_ms, 35.0, 38.5 - half, 0.0, 250.0),
        report("SU30-1", time_ms, 35.0, 38.5 + half, 0.0, -250.0),
    )
}

async fn post_tracks(app: &TestApp, party: &str, reports: Value) -> common::Answer {
    app.post("/v1/tracks", party, Some(reports)).await
}

/// Waits (polling the stored events) until `party` has an event of `kind` matching
/// `matches`; panics with what it has after 10 s.
async fn wait_event(
    app: &TestApp,
    party: &str,
    kind: &str,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = app.events(party).await;
        if let Some((_, data)) = events.iter().find(|(k, d)| k == kind && matches(d)) {
            return data.clone();
        }
        if Instant::now() > deadline {
            panic!("{party} got no {kind} event; it has {events:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn converging_aircraft_raise_an_alert_for_both_parties_that_rises_and_clears() {
    let app = live_app().await;
    let t0 = app.clock.peek_ms();
    // 91 km apart, closing at 500 m/s: separation (9,260 m) is lost in about 164 s.
    let (f16, su30) = converging(t0, 91_260.0);
    assert_eq!(
        post_tracks(&app, "coalition", json!([f16])).await.status,
        202
    );
    let answer = post_tracks(&app, "russia", json!([su30])).await;
    assert_eq!(answer.status, 202, "{}", answer.text);
    assert_eq!(answer.json(), json!({"accepted": 1, "ignored": 0}));

    let mine = wait_event(&app, "coalition", "alert.raised", |_| true).await;
    let theirs = wait_event(&app, "russia", "alert.raised", |_| true).await;
    assert_eq!(mine["id"], theirs["id"]);
    assert_eq!(mine["level"], "advisory");
    let los = mine["time_to_los_s"].as_f64().unwrap();
    assert!((150.0..175.0).contains(&los), "time to LoS {los}");
    assert_eq!(mine["own"]["id"], "F16-1");
    assert_eq!(theirs["own"]["id"], "SU30-1");
    // Each side sees the other only by reference, with its position and velocity.
    assert_eq!(mine["counterpart"]["party"], "russia");
    assert_eq!(mine["counterpart"]["ref"], theirs["own"]["ref"]);
    assert!(mine["counterpart"].get("id").is_none());
    assert!((mine["counterpart"]["ve_mps"].as_f64().unwrap() + 250.0).abs() < 1.0);
    assert!(!mine.to_string().contains("SU30-1"));
    assert!(!theirs.to_string().contains("F16-1"));
    assert!(mine["cpa"]["own"]["lat"].is_number());
    // The observer sees both by reference.
    let observed = wait_event(&app, "wg", "alert.raised", |_| true).await;
    assert_eq!(observed["aircraft"].as_array().unwrap().len(), 2);
    assert!(!observed.to_string().contains("F16-1"));

    let listed = app.get("/v1/alerts", "coalition").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], mine["id"]);
    assert_eq!(
        app.get("/v1/alerts", "turkey").await.json(),
        json!([]),
        "a third party sees no alert"
    );

    // 110 s later they are 36 km apart: loss of separation within 60 s, a warning.
    app.clock.advance_ms(110_000);
    let t1 = app.clock.peek_ms();
    let (f16, su30) = converging(t1, 36_260.0);
    post_tracks(&app, "coalition", json!([f16])).await;
    post_tracks(&app, "russia", json!([su30])).await;
    let warned = wait_event(&app, "coalition", "alert.updated", |d| {
        d["level"] == "warning"
    })
    .await;
    assert_eq!(warned["id"], mine["id"]);
    wait_event(&app, "russia", "alert.updated", |d| d["level"] == "warning").await;
    // The warning opened a hotline thread about the alert, a message to each party.
    for party in ["coalition", "russia"] {
        let message = wait_event(&app, party, "hotline.message", |d| {
            d["about"]["alert"] == mine["id"]
        })
        .await;
        assert_eq!(message["to"], party);
        assert!(message["from"].is_null());
        assert!(!message.to_string().contains("F16-1") && !message.to_string().contains("SU30-1"));
    }

    // They turn apart; after 10 s predicted clear the alert clears for both.
    app.clock.advance_ms(1_000);
    let t2 = app.clock.peek_ms();
    post_tracks(
        &app,
        "coalition",
        json!([report("F16-1", t2, 35.0, 38.0, 0.0, -250.0)]),
    )
    .await;
    post_tracks(
        &app,
        "russia",
        json!([report("SU30-1", t2, 35.0, 39.0, 0.0, 250.0)]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.clock.advance_ms(11_000);
    let t3 = app.clock.peek_ms();
    post_tracks(
        &app,
        "coalition",
        json!([report("F16-1", t3, 35.0, 37.97, 0.0, -250.0)]),
    )
    .await;
    post_tracks(
        &app,
        "russia",
        json!([report("SU30-1", t3, 35.0, 39.03, 0.0, 250.0)]),
    )
    .await;
    let cleared = wait_event(&app, "coalition", "alert.cleared", |_| true).await;
    assert_eq!(cleared["id"], mine["id"]);
    assert_eq!(cleared["active"], false);
    wait_event(&app, "russia", "alert.cleared", |_| true).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app
        .get("/v1/alerts", "coalition")
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the cleared alert is still listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Both parties' audit views hold the alert's entries, without the other's aircraft id.
    let export = app.get("/v1/audit/export", "coalition").await.text;
    assert!(export.contains("alert.raised") && export.contains("alert.cleared"));
    assert!(!export.contains("SU30-1"));
}

#[tokio::test]
async fn aircraft_outside_any_alert_are_never_visible_to_other_parties() {
    let app = live_app().await;
    let t0 = app.clock.peek_ms();
    // Russia and Turkey converge far from the coalition; the coalition flies alone.
    post_tracks(
        &app,
        "russia",
        json!([report("SU24-7", t0, 36.0, 36.0, 0.0, 250.0)]),
    )
    .await;
    post_tracks(
        &app,
        "turkey",
        json!([report("F4-2", t0, 36.0, 36.5, 0.0, -250.0)]),
    )
    .await;
    post_tracks(
        &app,
        "coalition",
        json!([report("F15-9", t0, 30.0, 45.0, 200.0, 0.0)]),
    )
    .await;
    wait_event(&app, "turkey", "alert.raised", |_| true).await;
    wait_event(&app, "russia", "alert.raised", |_| true).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let coalition_events = app.events("coalition").await;
    assert!(
        coalition_events
            .iter()
            .all(|(kind, _)| !kind.starts_with("alert.")),
        "{coalition_events:?}"
    );
    let own = app.get("/v1/tracks", "coalition").await.json();
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["id"], "F15-9");
    assert_eq!(app.get("/v1/alerts", "coalition").await.json(), json!([]));
    let russia_tracks = app.get("/v1/tracks", "russia").await.text;
    assert!(russia_tracks.contains("SU24-7") && !russia_tracks.contains("F4-2"));
    // Turkey's view of the alert names Russia's aircraft by reference only.
    let alerts = app.get("/v1/alerts", "turkey").await.text;
    assert!(
        alerts.contains("F4-2") && !alerts.contains("SU24-7"),
        "{alerts}"
    );
    let export = app.get("/v1/audit/export", "coalition").await.text;
    assert!(!export.contains("SU24-7") && !export.contains("F4-2"));
}

#[tokio::test]
async fn reports_are_checked_and_every_problem_is_named() {
    let app = live_app().await;
    let now = app.clock.peek_ms();
    let good = report("F16-1", now, 35.0, 38.0, 0.0, 250.0);
    let cases = [
        (
            json!([good, {"time": "yesterday", "id": "x", "lat": 1, "lon": 1, "alt_m": 1, "vn_mps": 0, "ve_mps": 0, "vu_mps": 0}]),
            422,
            "[1].time",
        ),
        (
            json!([report("F16-1", now, 95.0, 38.0, 0.0, 0.0)]),
            422,
            "[0].lat",
        ),
        (
            json!([report("F16-1", now, 35.0, 181.0, 0.0, 0.0)]),
            422,
            "[0].lon",
        ),
        (
            json!([report("F16-1", now, 35.0, 38.0, 0.0, 1e9)]),
            422,
            "[0].ve_mps",
        ),
        (
            json!([report("", now, 35.0, 38.0, 0.0, 0.0)]),
            422,
            "[0].id",
        ),
        (
            json!([report("F16-1", now + 3_600_000, 35.0, 38.0, 0.0, 0.0)]),
            422,
            "ahead",
        ),
        (
            json!([{"time": rfc3339_ms(now), "id": "F16-1", "lat": 35.0}]),
            422,
            "lon",
        ),
        (json!({"tracks": []}), 422, "time"),
        (json!("F16-1"), 422, "sequence"),
    ];
    for (body, status, names) in cases {
        let answer = post_tracks(&app, "coalition", body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text);
        assert_eq!(answer.content_type(), "application/problem+json");
        assert!(
            answer.json()["detail"].as_str().unwrap().contains(names),
            "{body}: {}",
            answer.text
        );
    }
    let mut claimed = report("F16-1", now, 35.0, 38.0, 0.0, 0.0);
    claimed["party"] = json!("russia");
    let answer = post_tracks(&app, "coalition", json!([claimed])).await;
    assert_eq!(answer.status, 422);
    assert!(answer.text.contains("[0].party"), "{}", answer.text);

    let malformed = app
        .raw(
            axum::http::Request::post("/v1/tracks")
                .header("authorization", format!("Bearer {}", token("coalition")))
                .header("content-type", "application/json")
                .body(axum::body::Body::from("[{\"time\": "))
                .unwrap(),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(post_tracks(&app, "wg", json!([])).await.status, 403);
    assert_eq!(
        app.call(
            axum::http::Method::POST,
            "/v1/tracks",
            None,
            Some(json!([]))
        )
        .await
        .status,
        401
    );
    // Nothing of a refused batch was applied.
    assert_eq!(app.get("/v1/tracks", "coalition").await.json(), json!([]));

    // One object is accepted as a batch of one; older and repeated reports are ignored.
    let answer = post_tracks(
        &app,
        "coalition",
        report("F16-1", now, 35.0, 38.0, 0.0, 1.0),
    )
    .await;
    assert_eq!(answer.json(), json!({"accepted": 1, "ignored": 0}));
    let answer = post_tracks(
        &app,
        "coalition",
        json!([
            report("F16-1", now - 1_000, 35.0, 37.0, 0.0, 2.0),
            report("F16-1", now, 35.0, 37.0, 0.0, 3.0),
            report("F16-1", now - 3_600_000, 35.0, 37.0, 0.0, 4.0),
        ]),
    )
    .await;
    assert_eq!(answer.json(), json!({"accepted": 0, "ignored": 3}));
    let listed = app.get("/v1/tracks", "coalition").await.json();
    assert_eq!(listed[0]["ve_mps"], 1.0);
    // Another party may use the same aircraft id: ids are scoped to the party.
    let answer = post_tracks(
        &app,
        "russia",
        json!([report("F16-1", now, 34.0, 38.0, 0.0, 0.0)]),
    )
    .await;
    assert_eq!(answer.json(), json!({"accepted": 1, "ignored": 0}));
    assert_eq!(
        app.get("/v1/tracks", "coalition").await.json()[0]["lat"],
        35.0
    );
}

#[tokio::test]
async fn silent_aircraft_expire_and_history_is_sampled() {
    let app = live_app().await;
    let t0 = app.clock.peek_ms();
    for second in 0..=12 {
        let time = t0 + second * 1_000;
        let answer = post_tracks(
            &app,
            "coalition",
            json!([report(
                "C17-1",
                time,
                35.0 + second as f64 * 0.001,
                38.0,
                100.0,
                0.0
            )]),
        )
        .await;
        assert_eq!(answer.json()["accepted"], 1);
    }
    // One point per 5 s: 0, 5 and 10 s.
    let deadline = Instant::now() + Duration::from_secs(10);
    let history = loop {
        let history = app
            .get("/v1/tracks/history?id=C17-1", "coalition")
            .await
            .json();
        if history.as_array().unwrap().len() >= 3 || Instant::now() > deadline {
            break history;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let times: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            rfc3339_ms(t0),
            rfc3339_ms(t0 + 5_000),
            rfc3339_ms(t0 + 10_000)
        ]
    );
    let since = app
        .get(
            &format!(
                "/v1/tracks/history?id=C17-1&since={}",
                rfc3339_ms(t0 + 5_000)
            ),
            "coalition",
        )
        .await
        .json();
    assert_eq!(since.as_array().unwrap().len(), 2);
    assert_eq!(
        app.get("/v1/tracks/history?id=C17-1", "russia")
            .await
            .json(),
        json!([]),
        "history is the caller's own"
    );
    assert_eq!(
        app.get("/v1/tracks/history?id=C17-1&since=soon", "coalition")
            .await
            .status,
        400
    );
    assert_eq!(app.get("/v1/tracks/history", "coalition").await.status, 400);

    // 30 s after its last report the aircraft leaves the live picture.
    assert_eq!(
        app.get("/v1/tracks", "coalition")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.clock.advance_ms(45_000);
    assert_eq!(app.get("/v1/tracks", "coalition").await.json(), json!([]));
}

#[tokio::test]
async fn every_report_is_recorded_in_the_tracks_csv() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recorded.csv");
    let app = live_app_with(LiveConfig {
        record: Some(path.clone()),
        ..fast_live()
    })
    .await;
    let t0 = app.clock.peek_ms();
    post_tracks(
        &app,
        "coalition",
        json!([
            report("F16-1", t0, 35.0, 38.0, 0.0, 250.0),
            report("F16-2", t0, 35.5, 38.0, 0.0, 250.0)
        ]),
    )
    .await;
    post_tracks(
        &app,
        "russia",
        json!([report("SU30-1", t0, 34.0, 39.0, 10.0, -250.0)]),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let rows = deconflict_wire::tracks::read_tracks_csv(text.as_bytes());
        if let Ok(rows) = &rows {
            if rows.len() == 3 {
                break rows.clone();
            }
        }
        assert!(Instant::now() < deadline, "recorded: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows[2].id, "SU30-1");
    assert_eq!(rows[2].party.as_deref(), Some("russia"));
    assert_eq!(rows[0].time_s, t0 as f64 / 1000.0);
    assert_eq!(rows[2].state.ve_mps(), -250.0);
}

#[tokio::test]
async fn the_websocket_stream_takes_reports_and_answers_each_frame() {
    let app = live_app().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let mut request = format!("ws://{address}/v1/tracks/stream")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", token("coalition")).parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let now = app.clock.peek_ms();
    let mut ask = async |text: String| -> Value {
        socket.send(Message::Text(text.into())).await.unwrap();
        loop {
            match socket.next().await.unwrap().unwrap() {
                Message::Text(answer) => return serde_json::from_str(&answer).unwrap(),
                _ => continue,
            }
        }
    };
    let answer = ask(json!([report("F16-1", now, 35.0, 38.0, 0.0, 250.0)]).to_string()).await;
    assert_eq!(answer, json!({"accepted": 1, "ignored": 0}));
    let answer = ask(report("F16-2", now, 35.0, 38.0, 0.0, 250.0).to_string()).await;
    assert_eq!(answer, json!({"accepted": 1, "ignored": 0}));
    let answer = ask(json!([report("F16-1", now, 95.0, 38.0, 0.0, 0.0)]).to_string()).await;
    assert_eq!(answer["status"], 422);
    assert!(answer["error"].as_str().unwrap().contains("[0].lat"));
    let answer = ask("not json".into()).await;
    assert_eq!(answer["status"], 400);
    // Still open after errors.
    let answer = ask(json!([report("F16-3", now, 35.0, 38.0, 0.0, 250.0)]).to_string()).await;
    assert_eq!(answer["accepted"], 1);
    assert_eq!(
        app.get("/v1/tracks", "coalition")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Browsers pass the token in the query; a missing or wrong one is refused.
    let (mut by_query, _) = tokio_tungstenite::connect_async(format!(
        "ws://{address}/v1/tracks/stream?token={}",
        token("russia")
    ))
    .await
    .unwrap();
    by_query
        .send(Message::Text(
            json!([report("SU30-1", now, 34.0, 38.0, 0.0, 0.0)])
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let reply = by_query.next().await.unwrap().unwrap();
    assert!(reply.to_text().unwrap().contains("\"accepted\":1"));
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{address}/v1/tracks/stream")).await;
    assert!(refused.is_err());
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{address}/v1/tracks/stream?token=wrong"))
            .await;
    assert!(refused.is_err());
}
