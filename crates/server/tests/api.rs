//! Handler tests: the contract's endpoints driven through `app(state)` with `oneshot`.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

use common::{intent, square, test_app, test_app_with, token, TestApp};
use deconflict_audit::AuditPublicKey;

/// Russia's secret intent (id, body), near the coalition's `intent(35.2, 38.3)`.
fn secret_intent() -> (&'static str, Value) {
    (
        "r-secret-7",
        json!({"volumes": [square(35.31379, 38.42713, 0.1, (4000.0, 7000.0), (30, 90))], "state": "activated"}),
    )
}

fn assert_problem(answer: &common::Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(
        answer.content_type(),
        "application/problem+json",
        "{}",
        answer.text
    );
    let problem = answer.json();
    assert_eq!(problem["status"], status.as_u16());
    assert!(
        problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{problem}"
    );
}

#[tokio::test]
async fn health_answers_ok_and_the_service_clock_without_a_token() {
    let app = test_app().await;
    let answer = app.call(Method::GET, "/v1/health", None, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    let health = answer.json();
    assert_eq!(health["status"], "ok");
    // The test clock moves a millisecond at every reading.
    assert!(
        health["time"]
            .as_str()
            .is_some_and(|time| time.starts_with("2015-10-20T10:00:00.")),
        "{health}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let app = test_app().await;
    assert_problem(
        &app.call(Method::GET, "/v1/me", None, None).await,
        StatusCode::UNAUTHORIZED,
    );
    let wrong = Request::get("/v1/me")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    assert_problem(&app.raw(wrong).await, StatusCode::UNAUTHORIZED);
    let basic = Request::get("/v1/me")
        .header("authorization", "Basic dXNlcg==")
        .body(Body::empty())
        .unwrap();
    assert_problem(&app.raw(basic).await, StatusCode::UNAUTHORIZED);
    let me = app.get("/v1/me", "coalition").await;
    assert_eq!(me.json()["id"], "coalition");
    assert_eq!(me.json()["role"], "party");
}

#[tokio::test]
async fn an_intent_is_created_read_listed_updated_and_deleted_with_versions() {
    let app = test_app().await;
    let created = app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json()["version"], 1);
    assert_eq!(created.json()["state"], "accepted");
    assert_eq!(created.json()["conflicts"], json!([]));

    let read = app.get("/v1/intents/c-1", "coalition").await;
    assert_eq!(read.json()["volumes"], created.json()["volumes"]);

    let mut update = intent(35.25, 38.3);
    update["version"] = json!(1);
    update["state"] = json!("activated");
    let updated = app.put_intent("coalition", "c-1", update).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.json()["version"], 2);
    assert_eq!(updated.json()["state"], "activated");

    app.put_intent("coalition", "c-2", intent(30.0, 30.0)).await;
    let list = app.get("/v1/intents?limit=1", "coalition").await.json();
    assert_eq!(list["intents"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_after"], "c-1");
    let rest = app.get("/v1/intents?after=c-1", "coalition").await.json();
    assert_eq!(rest["intents"][0]["id"], "c-2");

    let deleted = app
        .call(
            Method::DELETE,
            "/v1/intents/c-1?version=2",
            Some("coalition"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_problem(
        &app.get("/v1/intents/c-1", "coalition").await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn a_stale_version_is_rejected_with_409() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let mut update = intent(35.2, 38.3);
    update["version"] = json!(1);
    assert_eq!(
        app.put_intent("coalition", "c-1", update.clone())
            .await
            .status,
        StatusCode::OK
    );
    assert_problem(
        &app.put_intent("coalition", "c-1", update).await,
        StatusCode::CONFLICT,
    );
    assert_problem(
        &app.call(
            Method::DELETE,
            "/v1/intents/c-1?version=1",
            Some("coalition"),
            None,
        )
        .await,
        StatusCode::CONFLICT,
    );
    assert_problem(
        &app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await,
        StatusCode::CONFLICT,
    );
}

#[tokio::test]
async fn a_conflict_is_returned_to_the_writer_and_pushed_to_the_other_party() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let (secret_id, body) = secret_intent();
    let written = app.put_intent("russia", secret_id, body).await;
    assert_eq!(written.status, StatusCode::CREATED, "{}", written.text);
    let conflicts = written.json()["conflicts"].as_array().unwrap().clone();
    assert_eq!(conflicts.len(), 1);
    let conflict = &conflicts[0];
    assert_eq!(
        conflict["intent"], secret_id,
        "the writer sees its own intent id"
    );
    assert_eq!(conflict["counterpart"]["party"], "coalition");
    assert_eq!(conflict["status"], "open");
    let overlap = &conflict["overlaps"][0];
    // Buffered bands: [3000-150, 6000+150] and [4000-150, 7000+150] overlap in [3850, 6150].
    assert_eq!(overlap["altitude_lower_m"], 3850.0);
    assert_eq!(overlap["altitude_upper_m"], 6150.0);
    assert_eq!(overlap["region"]["type"], "MultiPolygon");

    let pushed = app.events("coalition").await;
    let opened: Vec<&Value> = pushed
        .iter()
        .filter(|(kind, _)| kind == "conflict.opened")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["id"], conflict["id"]);
    assert_eq!(opened[0]["intent"], "c-1");
    let observed = app.events("wg").await;
    assert!(observed.iter().any(|(kind, data)| kind == "conflict.opened"
        && data["parties"] == json!(["russia", "coalition"])));

    let listed = app.get("/v1/conflicts", "coalition").await.json();
    assert_eq!(listed["conflicts"][0]["id"], conflict["id"]);
}

/// Every lat/lng object and position array in `value`.
fn positions(value: &Value, out: &mut Vec<(f64, f64)>) {
    match value {
        Value::Object(map) => {
            if let (Some(lat), Some(lng)) = (
                map.get("lat").and_then(Value::as_f64),
                map.get("lng").and_then(Value::as_f64),
            ) {
                out.push((lat, lng));
            }
            map.values().for_each(|v| positions(v, out));
        }
        Value::Array(items) => {
            if items.len() == 2 && items.iter().all(Value::is_f64) {
                out.push((items[1].as_f64().unwrap(), items[0].as_f64().unwrap()));
            }
            items.iter().for_each(|v| positions(v, out));
        }
        _ => {}
    }
}

fn assert_leaks_nothing_of_the_secret(text: &str) {
    let (secret_id, body) = secret_intent();
    assert!(
        !text.contains(secret_id),
        "the secret intent id leaked: {text}"
    );
    assert!(
        !text.contains("activated"),
        "the secret intent's state leaked: {text}"
    );
    assert!(
        !text.contains("outline_polygon") && !text.contains("\"vertices\""),
        "volumes leaked: {text}"
    );
    let mut secret_vertices = Vec::new();
    positions(&body, &mut secret_vertices);
    let mut seen = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        positions(&value, &mut seen);
    }
    for (lat, lng) in &secret_vertices {
        assert!(
            !seen
                .iter()
                .any(|(a, b)| (a - lat).abs() < 1e-6 && (b - lng).abs() < 1e-6),
            "a secret vertex ({lat}, {lng}) leaked: {text}"
        );
    }
}

#[tokio::test]
async fn minimal_disclosure_never_shows_the_counterparts_vertices_intent_id_or_state() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let (secret_id, body) = secret_intent();
    app.put_intent("russia", secret_id, body).await;
    let listed = app.get("/v1/conflicts", "coalition").await;
    assert_eq!(listed.json()["conflicts"].as_array().unwrap().len(), 1);
    assert_leaks_nothing_of_the_secret(&listed.text);
    for (_, data) in app.events("coalition").await {
        assert_leaks_nothing_of_the_secret(&data.to_string());
    }
    let observer = app.get("/v1/conflicts", "wg").await;
    assert_leaks_nothing_of_the_secret(&observer.text);
    assert!(
        !observer.text.contains("c-1"),
        "observers see no intent id: {}",
        observer.text
    );
}

#[tokio::test]
async fn ending_or_deleting_an_intent_resolves_its_conflicts() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    app.put_intent("coalition", "c-2", intent(35.2, 38.3)).await;
    let (secret_id, body) = secret_intent();
    let written = app.put_intent("russia", secret_id, body).await.json();
    assert_eq!(written["conflicts"].as_array().unwrap().len(), 2);

    let mut end = intent(35.2, 38.3);
    end["version"] = json!(1);
    end["state"] = json!("ended");
    let ended = app.put_intent("coalition", "c-1", end).await;
    assert_eq!(ended.json()["conflicts"], json!([]));
    assert_eq!(
        app.call(
            Method::DELETE,
            "/v1/intents/c-2?version=1",
            Some("coalition"),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );

    assert_eq!(
        app.get("/v1/conflicts", "russia").await.json()["conflicts"],
        json!([])
    );
    let all = app.get("/v1/conflicts?status=all", "russia").await.json();
    assert_eq!(all["conflicts"].as_array().unwrap().len(), 2);
    assert!(all["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["status"] == "resolved"));
    let resolved = app
        .events("russia")
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "conflict.resolved")
        .count();
    assert_eq!(resolved, 2);
    // An ended intent conflicts with nothing new.
    let again = app
        .put_intent("turkey", "t-1", intent(35.2, 38.3))
        .await
        .json();
    assert_eq!(
        again["conflicts"].as_array().unwrap().len(),
        1,
        "only russia's live intent: {again}"
    );
}

#[tokio::test]
async fn moving_an_intent_away_resolves_the_conflict_and_the_same_party_never_conflicts_with_itself(
) {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let own = app
        .put_intent("coalition", "c-2", intent(35.2, 38.3))
        .await
        .json();
    assert_eq!(own["conflicts"], json!([]));
    let theirs = app
        .put_intent("russia", "r-1", intent(35.2, 38.3))
        .await
        .json();
    assert_eq!(theirs["conflicts"].as_array().unwrap().len(), 2);
    let mut away = intent(10.0, 10.0);
    away["version"] = json!(1);
    let moved = app.put_intent("russia", "r-1", away).await.json();
    assert_eq!(moved["conflicts"], json!([]));
    assert_eq!(
        app.get("/v1/conflicts", "coalition").await.json()["conflicts"],
        json!([])
    );
}

#[tokio::test]
async fn acknowledging_a_conflict_tells_the_counterpart() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let conflict_id = app
        .put_intent("russia", "r-1", intent(35.2, 38.3))
        .await
        .json()["conflicts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let acked = app
        .post(
            &format!("/v1/conflicts/{conflict_id}/ack"),
            "coalition",
            None,
        )
        .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text);
    assert!(acked.json()["acknowledged_at"].is_string());
    let theirs = app.get("/v1/conflicts", "russia").await.json();
    assert_eq!(theirs["conflicts"][0]["counterpart_acknowledged"], true);
    assert!(app
        .events("russia")
        .await
        .iter()
        .any(|(kind, _)| kind == "conflict.acknowledged"));
}

fn terms_with(horizontal_m: f64, disclosure: &str) -> Value {
    let mut terms = deconflict_server::Terms::default().to_value();
    terms["separation"]["horizontal_m"] = json!(horizontal_m);
    terms["disclosure"] = json!(disclosure);
    terms
}

async fn agree(app: &TestApp, terms: Value) -> i64 {
    let proposed = app
        .post("/v1/agreement/proposals", "coalition", Some(terms))
        .await;
    assert_eq!(proposed.status, StatusCode::CREATED, "{}", proposed.text);
    assert_eq!(proposed.json()["status"], "pending");
    let version = proposed.json()["version"].as_i64().unwrap();
    let after_russia = app
        .post(
            &format!("/v1/agreement/proposals/{version}/accept"),
            "russia",
            None,
        )
        .await;
    assert_eq!(
        after_russia.json()["status"],
        "pending",
        "turkey has not answered yet"
    );
    let after_turkey = app
        .post(
            &format!("/v1/agreement/proposals/{version}/accept"),
            "turkey",
            None,
        )
        .await;
    assert_eq!(
        after_turkey.json()["status"],
        "in_force",
        "{}",
        after_turkey.text
    );
    version
}

#[tokio::test]
async fn new_terms_come_into_force_when_every_party_accepts_and_every_intent_is_rechecked() {
    let app = test_app().await;
    // 0.2 degrees of latitude apart (about 22 km): separated under 9,260 m...
    app.put_intent(
        "coalition",
        "c-1",
        json!({"volumes": [square(35.0, 38.3, 0.05, (3000.0, 6000.0), (0, 60))]}),
    )
    .await;
    let far = app
        .put_intent(
            "russia",
            "r-1",
            json!({"volumes": [square(35.2, 38.3, 0.05, (3000.0, 6000.0), (0, 60))]}),
        )
        .await;
    assert_eq!(far.json()["conflicts"], json!([]));
    // ...in conflict under 20,000 m once all three parties agree.
    let version = agree(&app, terms_with(20_000.0, "minimal")).await;
    let agreement = app.get("/v1/agreement", "wg").await.json();
    assert_eq!(agreement["in_force"]["version"], version);
    assert_eq!(agreement["versions"][0]["status"], "superseded");
    assert_eq!(
        app.get("/v1/conflicts", "coalition").await.json()["conflicts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(app
        .events("turkey")
        .await
        .iter()
        .any(|(kind, _)| kind == "agreement.in_force"));
    // Back to the default minimum: the conflict is resolved.
    agree(&app, terms_with(9260.0, "minimal")).await;
    assert_eq!(
        app.get("/v1/conflicts", "coalition").await.json()["conflicts"],
        json!([])
    );
}

/// Pairs of intents, coalition `c-k` and russia `r-k`: 0.2 degrees of latitude apart
/// (separated under 9,260 m, in conflict under 20,000 m) and each pair 0.5 degrees of
/// longitude (about 45 km) from the next. More intents than four re-check steps.
const RECHECK_PAIRS: usize = 2 * deconflict_server::limits::RECHECK_INTENTS_PER_STEP_MAX + 10;

async fn put_recheck_pairs(app: &TestApp) {
    for k in 0..RECHECK_PAIRS {
        let lng = -20.0 + 0.5 * k as f64;
        for (party, lat) in [("coalition", 35.0), ("russia", 35.2)] {
            let id = format!("{}-{k:03}", &party[..1]);
            let body = json!({"volumes": [square(lat, lng, 0.05, (3000.0, 6000.0), (0, 60))]});
            let put = app.put_intent(party, &id, body).await;
            assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
            assert_eq!(put.json()["conflicts"], json!([]));
        }
    }
}

/// The pairs `k` of [`put_recheck_pairs`] with an open conflict, ascending.
async fn open_pairs(app: &TestApp) -> Vec<usize> {
    let mut pairs: Vec<usize> = app
        .store
        .open_conflicts()
        .await
        .unwrap()
        .iter()
        .map(|c| {
            let (a, b) = (&c.intent_a[2..], &c.intent_b[2..]);
            assert_eq!(
                a, b,
                "a conflict between pairs: {} and {}",
                c.intent_a, c.intent_b
            );
            a.parse().unwrap()
        })
        .collect();
    pairs.sort_unstable();
    pairs
}

#[tokio::test]
async fn a_recheck_of_several_steps_is_whole_when_the_last_acceptance_is_answered() {
    let app = test_app().await;
    put_recheck_pairs(&app).await;
    agree(&app, terms_with(20_000.0, "minimal")).await;
    assert_eq!(
        open_pairs(&app).await,
        (0..RECHECK_PAIRS).collect::<Vec<_>>()
    );
    assert_eq!(app.store.recheck().await.unwrap(), None);
    let opened = app
        .events("russia")
        .await
        .iter()
        .filter(|(kind, _)| kind == "conflict.opened")
        .count();
    assert_eq!(opened, RECHECK_PAIRS);
    agree(&app, terms_with(9260.0, "minimal")).await;
    assert_eq!(open_pairs(&app).await, Vec::<usize>::new());
}

/// A service stopped in the middle of a re-check (here: the store is left as a step's
/// commit leaves it, the terms in force and the re-check done up to the first half's last
/// coalition intent) goes on from there when it starts again: it re-checks the rest, and
/// only the rest.
#[tokio::test]
async fn a_service_stopped_during_a_recheck_resumes_it_after_the_last_intent_committed() {
    const HALF: usize = RECHECK_PAIRS / 2;
    let app = test_app().await;
    put_recheck_pairs(&app).await;
    let mut agreements = app.store.agreements().await.unwrap();
    let mut first = agreements.remove(0);
    first.status = deconflict_store::AgreementStatus::Superseded;
    let second = deconflict_store::AgreementRecord {
        version: 2,
        terms: terms_with(20_000.0, "minimal"),
        proposed_by: Some("coalition".into()),
        proposed_ms: first.proposed_ms + 1,
        status: deconflict_store::AgreementStatus::InForce,
        decided_ms: Some(first.proposed_ms + 1),
        answers: Vec::new(),
    };
    app.store
        .apply(deconflict_store::Batch {
            mutations: vec![
                deconflict_store::Mutation::PutAgreement(first),
                deconflict_store::Mutation::PutAgreement(second),
                deconflict_store::Mutation::SetRecheck(Some(deconflict_store::RecheckRecord {
                    version: 2,
                    after: Some(("coalition".into(), format!("c-{:03}", HALF - 1))),
                })),
            ],
        })
        .await
        .unwrap();
    let app = app.restart().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.store.recheck().await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the re-check did not finish within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        open_pairs(&app).await,
        (HALF..RECHECK_PAIRS).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_rejected_proposal_never_comes_into_force() {
    let app = test_app().await;
    let proposed = app
        .post(
            "/v1/agreement/proposals",
            "coalition",
            Some(terms_with(20_000.0, "full")),
        )
        .await
        .json();
    let version = proposed["version"].as_i64().unwrap();
    let rejected = app
        .post(
            &format!("/v1/agreement/proposals/{version}/reject"),
            "russia",
            None,
        )
        .await;
    assert_eq!(rejected.json()["status"], "rejected");
    assert_problem(
        &app.post(
            &format!("/v1/agreement/proposals/{version}/accept"),
            "turkey",
            None,
        )
        .await,
        StatusCode::CONFLICT,
    );
    assert_eq!(
        app.get("/v1/agreement", "coalition").await.json()["in_force"]["version"],
        1
    );
    assert_problem(
        &app.post(
            "/v1/agreement/proposals",
            "wg",
            Some(terms_with(1.0, "full")),
        )
        .await,
        StatusCode::FORBIDDEN,
    );
    assert_problem(
        &app.post("/v1/agreement/proposals/99/accept", "russia", None)
            .await,
        StatusCode::NOT_FOUND,
    );
}

#[tokio::test]
async fn full_disclosure_when_agreed_shows_the_counterparts_intent() {
    let app = test_app().await;
    agree(&app, terms_with(9260.0, "full")).await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let (secret_id, body) = secret_intent();
    app.put_intent("russia", secret_id, body.clone()).await;
    let seen = app.get("/v1/conflicts", "coalition").await.json();
    let counterpart = &seen["conflicts"][0]["counterpart"];
    assert_eq!(counterpart["intent"], secret_id);
    assert_eq!(counterpart["state"], "activated");
    assert_eq!(counterpart["volumes"].as_array().unwrap().len(), 1);
    assert_eq!(seen["conflicts"][0]["disclosure"], "full");
}

#[tokio::test]
async fn the_audit_export_verifies_and_withholds_other_parties_entries() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let (secret_id, body) = secret_intent();
    app.put_intent("russia", secret_id, body).await;
    let key = app
        .call(Method::GET, "/v1/audit/key", None, None)
        .await
        .json();
    let public_key = AuditPublicKey::from_base64(key["public_key"].as_str().unwrap()).unwrap();
    for viewer in ["coalition", "russia", "wg", "root"] {
        let export = app.get("/v1/audit/export", viewer).await;
        assert_eq!(export.status, StatusCode::OK);
        let summary = deconflict_audit::verify(export.text.as_bytes(), &public_key)
            .unwrap_or_else(|error| panic!("{viewer}'s export does not verify: {error}"));
        assert!(summary.from_genesis());
        assert_eq!(
            summary.entries, 11,
            "the five parties added in the store, the agreement, two intents, the conflict and \
             the hotline message to each party, for {viewer}"
        );
        if viewer != "russia" {
            assert!(
                !export.text.contains(secret_id),
                "{viewer} sees russia's intent: {}",
                export.text
            );
        }
    }
    let russia = app.get("/v1/audit/export", "russia").await.text;
    assert!(russia.contains(secret_id));
    // The entry records the intent's volumes as the service keeps them (the handler's
    // canonical text, embedded as it is), beside the members the writer adds.
    let stored = app
        .get(&format!("/v1/intents/{secret_id}"), "russia")
        .await
        .json();
    let put = russia
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["kind"] == "intent.put" && line["body"]["intent"] == secret_id)
        .expect("russia's intent.put entry");
    assert_eq!(put["body"]["volumes"], stored["volumes"]);
    assert_eq!(put["body"]["version"], 1);
    assert_eq!(put["body"]["state"], "activated");
    // The conflict's entry records the overlaps the parties are shown (written in canonical
    // form by the engine and embedded as they are).
    let conflicts = app.get("/v1/conflicts", "russia").await.json();
    let conflict = &conflicts["conflicts"][0];
    let opened = russia
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["kind"] == "conflict.opened")
        .expect("the conflict.opened entry");
    assert_eq!(opened["body"]["conflict"], conflict["id"]);
    assert_eq!(opened["body"]["overlaps"], conflict["overlaps"]);
    assert!(!opened["body"]["overlaps"].as_array().unwrap().is_empty());
}

/// The `party.added` lines of `viewer`'s audit export that it may read.
async fn parties_added_seen_by(app: &TestApp, viewer: &str) -> Vec<Value> {
    let export = app.get("/v1/audit/export", viewer).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    export
        .text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["kind"] == "party.added")
        .collect()
}

#[tokio::test]
async fn parties_added_in_the_store_are_audited_at_start_and_while_serving() {
    let app = test_app().await;
    // Added in the store before the service started (by `party add`): audited at start,
    // each entry visible to its party, with no actor.
    let added = parties_added_seen_by(&app, "coalition").await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["body"]["party"], "coalition");
    assert_eq!(added[0]["body"]["added_through"], "store");
    assert_eq!(added[0]["actor"], Value::Null);

    // Added while the service runs: audited when the writer next reads the parties (at
    // most a second later, at its next batch).
    app.store
        .insert_party(&deconflict_store::PartyRecord {
            id: "latecomer".into(),
            name: "Latecomer duty officer".into(),
            role: deconflict_store::Role::Party,
            token_sha256: deconflict_server::auth::token_sha256(&token("latecomer")),
            created_ms: 1_445_335_200_000,
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    for tick in 0..40 {
        let id = format!("c-tick-{tick}");
        app.put_intent("coalition", &id, intent(10.0, 10.0)).await;
        seen = parties_added_seen_by(&app, "latecomer").await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen.len(), 1, "latecomer's party.added entry: {seen:?}");
    assert_eq!(seen[0]["body"]["party"], "latecomer");
    assert_eq!(seen[0]["body"]["added_at"], "2015-10-20T10:00:00.000Z");
    assert!(app.store.unaudited_parties().await.unwrap().is_empty());

    // Audited once: a restart and more batches add no second entry.
    let app = app.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.put_intent("coalition", "c-tock", intent(10.0, 10.0))
        .await;
    assert_eq!(parties_added_seen_by(&app, "latecomer").await.len(), 1);
    assert_eq!(parties_added_seen_by(&app, "coalition").await.len(), 1);
}

/// Follows `next_after` from `first` to the end; every page's conflict ids in order.
async fn conflict_pages(app: &TestApp, viewer: &str, first: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut uri = first.to_owned();
    loop {
        let page = app.get(&uri, viewer).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let page = page.json();
        pages.push(
            page["conflicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned())
                .collect(),
        );
        match page["next_after"].as_str() {
            Some(after) => uri = format!("{first}&after={after}"),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn conflicts_and_hotline_messages_are_listed_a_page_at_a_time() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    // Five conflicts (the store suite checks the order, ties included).
    for k in 0..5 {
        let answer = app
            .put_intent("russia", &format!("r-{k}"), intent(35.2, 38.3))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    }
    app.put_intent("turkey", "t-1", intent(10.0, 10.0)).await;

    for viewer in ["coalition", "wg"] {
        let whole = conflict_pages(&app, viewer, "/v1/conflicts?limit=100").await;
        assert_eq!(whole.len(), 1);
        assert_eq!(whole[0].len(), 5, "{viewer}");
        let pages = conflict_pages(&app, viewer, "/v1/conflicts?limit=2").await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1], "{viewer}: {pages:?}");
        assert_eq!(
            pages.concat(),
            whole[0],
            "{viewer}: every conflict once, in order"
        );
    }
    // A cursor must be one of the caller's conflicts: another party's would tell when
    // it was opened.
    let theirs = conflict_pages(&app, "coalition", "/v1/conflicts?limit=1").await[0][0].clone();
    for after in [theirs.as_str(), "cf_nothing"] {
        let answer = app
            .get(&format!("/v1/conflicts?after={after}"), "turkey")
            .await;
        assert_problem(&answer, StatusCode::BAD_REQUEST);
    }

    // Each conflict opened a hotline thread with a message to each party.
    let whole = app.get("/v1/hotline/messages", "coalition").await.json();
    let whole: Vec<String> = whole
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(whole.len(), 5);
    let mut uri = "/v1/hotline/messages?limit=2".to_owned();
    let mut paged = Vec::new();
    let mut pages = 0;
    loop {
        let page = app.get(&uri, "coalition").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        pages += 1;
        paged.extend(
            page.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
        let Some(link) = page.headers.get("link") else {
            break;
        };
        let link = link.to_str().unwrap();
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        uri = link[1..link.find('>').unwrap()].to_owned();
    }
    assert_eq!(paged, whole, "every message once, oldest first");
    assert_eq!(pages, 3, "two full pages, then the last one without a Link");
    let after_last = app
        .get(
            &format!("/v1/hotline/messages?after={}", whole[4]),
            "coalition",
        )
        .await;
    assert_eq!(
        after_last.json(),
        json!([]),
        "nothing new after the last message"
    );
    let foreign = app
        .get(
            &format!("/v1/hotline/messages?after={}", whole[0]),
            "turkey",
        )
        .await;
    assert_problem(&foreign, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_authorization_matrix_answers_404_or_403_and_leaks_nothing() {
    let app = test_app().await;
    let (secret_id, body) = secret_intent();
    app.put_intent("russia", secret_id, body).await;
    let conflict_id = app
        .put_intent("turkey", "t-1", intent(35.3, 38.4))
        .await
        .json()["conflicts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut update = intent(35.2, 38.3);
    update["version"] = json!(1);
    for caller in ["coalition", "wg", "root"] {
        let calls: Vec<(Method, String, Option<Value>, &[StatusCode])> = vec![
            (
                Method::GET,
                format!("/v1/intents/{secret_id}"),
                None,
                &[StatusCode::NOT_FOUND],
            ),
            (
                Method::PUT,
                format!("/v1/intents/{secret_id}"),
                Some(update.clone()),
                &[StatusCode::NOT_FOUND, StatusCode::FORBIDDEN],
            ),
            (
                Method::DELETE,
                format!("/v1/intents/{secret_id}?version=1"),
                None,
                &[StatusCode::NOT_FOUND],
            ),
            (
                Method::POST,
                format!("/v1/conflicts/{conflict_id}/ack"),
                None,
                &[StatusCode::NOT_FOUND],
            ),
        ];
        for (method, uri, body, allowed) in calls {
            let answer = app
                .call(method.clone(), &uri, Some(caller), body.clone())
                .await;
            assert!(
                allowed.contains(&answer.status),
                "{caller} {method} {uri}: {} {}",
                answer.status,
                answer.text
            );
            assert_eq!(answer.content_type(), "application/problem+json");
            // Another party's object answers exactly as an object that never existed.
            let never = uri
                .replace(secret_id, "never-was")
                .replace(&conflict_id, "cf_00000000000000000000000000000000");
            let absent = app.call(method.clone(), &never, Some(caller), body).await;
            let normalise = |text: &str| {
                text.replace(secret_id, "ID")
                    .replace("never-was", "ID")
                    .replace(&conflict_id, "ID")
                    .replace("cf_00000000000000000000000000000000", "ID")
            };
            assert_eq!(
                (answer.status, normalise(&answer.text)),
                (absent.status, normalise(&absent.text)),
                "{caller} {method} {uri}"
            );
        }
        for uri in [
            "/v1/intents",
            "/v1/conflicts?status=all",
            "/v1/audit/export",
            "/v1/agreement",
            "/v1/me",
        ] {
            let answer = app.get(uri, caller).await;
            assert!(
                answer.status.is_success() || answer.status == StatusCode::FORBIDDEN,
                "{caller} {uri}: {}",
                answer.status
            );
            for line in answer.text.lines() {
                assert_leaks_nothing_of_the_secret(line);
            }
        }
        for (_, data) in app.events(caller).await {
            assert_leaks_nothing_of_the_secret(&data.to_string());
        }
    }
    assert!(
        !app.get("/v1/conflicts", "coalition")
            .await
            .text
            .contains(&conflict_id),
        "not coalition's conflict"
    );
    for party in ["coalition", "wg"] {
        assert_problem(&app.get("/v1/parties", party).await, StatusCode::FORBIDDEN);
        assert_problem(
            &app.post("/v1/parties", party, Some(json!({"id": "x", "name": "x"})))
                .await,
            StatusCode::FORBIDDEN,
        );
    }
    assert_problem(
        &app.put_intent("wg", "w-1", intent(35.2, 38.3)).await,
        StatusCode::FORBIDDEN,
    );
}

#[tokio::test]
async fn an_admin_adds_a_party_whose_token_works_once_shown() {
    let app = test_app().await;
    let added = app
        .post(
            "/v1/parties",
            "root",
            Some(json!({"id": "israel", "name": "IAF duty officer"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    let new_token = added.json()["token"].as_str().unwrap().to_owned();
    let me = Request::get("/v1/me")
        .header("authorization", format!("Bearer {new_token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.raw(me).await.json()["id"], "israel");
    let listed = app.get("/v1/parties", "root").await;
    assert!(
        listed.text.contains("israel") && !listed.text.contains(&new_token),
        "{}",
        listed.text
    );
    assert_problem(
        &app.post(
            "/v1/parties",
            "root",
            Some(json!({"id": "israel", "name": "again"})),
        )
        .await,
        StatusCode::CONFLICT,
    );
    assert_problem(
        &app.post(
            "/v1/parties",
            "root",
            Some(json!({"id": "x", "name": "x", "role": "king"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
}

#[tokio::test]
async fn every_kind_of_bad_input_is_a_4xx_problem_never_5xx() {
    let app = test_app().await;
    app.put_intent("coalition", "c-1", intent(35.2, 38.3)).await;
    let auth = format!("Bearer {}", token("coalition"));
    let put = |body: Body, content_type: Option<&str>, uri: &str| {
        let mut builder = Request::put(uri).header("authorization", auth.clone());
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(body).unwrap()
    };
    let json = Some("application/json");
    let mut many = Vec::new();
    for _ in 0..65 {
        many.push(square(35.0, 38.0, 0.1, (0.0, 100.0), (0, 10)));
    }
    let huge = "x".repeat(deconflict_server::limits::BODY_BYTES_MAX + 10);
    let mut bad_lat = intent(35.2, 38.3);
    bad_lat["volumes"][0]["volume"]["outline_polygon"]["vertices"][0]["lat"] = json!(95.0);
    let mut backwards = intent(35.2, 38.3);
    backwards["volumes"][0]["time_end"]["value"] = json!("2015-10-20T09:00:00Z");
    let mut bad_time = intent(35.2, 38.3);
    bad_time["volumes"][0]["time_start"]["value"] = json!("yesterday");
    let mut feet = intent(35.2, 38.3);
    feet["volumes"][0]["volume"]["altitude_lower"]["units"] = json!("FT");
    let mut nul_contact = terms_with(9260.0, "minimal");
    nul_contact["contacts"] = json!([{"party": "coalition", "name": "duty\u{0}officer"}]);
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "malformed JSON",
            put(Body::from("{\"volumes\": [}"), json, "/v1/intents/n-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "trailing garbage",
            put(
                Body::from(format!("{} x", intent(1.0, 1.0))),
                json,
                "/v1/intents/n-1",
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not UTF-8",
            put(Body::from(vec![0xff, 0xfe, 0x00]), json, "/v1/intents/n-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "empty body",
            put(Body::empty(), json, "/v1/intents/n-1"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong type",
            put(
                Body::from(r#"{"volumes": "many"}"#),
                json,
                "/v1/intents/n-1",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a JSON array",
            put(Body::from("[]"), json, "/v1/intents/n-1"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown field",
            put(
                Body::from(json!({"volumes": [], "colour": "red"}).to_string()),
                json,
                "/v1/intents/n-1",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "bad state",
            put(
                Body::from(
                    json!({"volumes": intent(1.0, 1.0)["volumes"], "state": "flying"}).to_string(),
                ),
                json,
                "/v1/intents/n-1",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "no volumes",
            put(Body::from(r#"{"volumes": []}"#), json, "/v1/intents/n-1"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "too many volumes",
            put(
                Body::from(json!({"volumes": many}).to_string()),
                json,
                "/v1/intents/n-1",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "latitude out of range",
            put(Body::from(bad_lat.to_string()), json, "/v1/intents/n-1"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "time runs backwards",
            put(Body::from(backwards.to_string()), json, "/v1/intents/n-1"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "time not RFC 3339",
            put(Body::from(bad_time.to_string()), json, "/v1/intents/n-1"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "altitude in feet",
            put(Body::from(feet.to_string()), json, "/v1/intents/n-1"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "negative version",
            put(
                Body::from(
                    json!({"volumes": intent(1.0, 1.0)["volumes"], "version": -3}).to_string(),
                ),
                json,
                "/v1/intents/c-1",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "version as text",
            put(
                Body::from(
                    json!({"volumes": intent(1.0, 1.0)["volumes"], "version": "1"}).to_string(),
                ),
                json,
                "/v1/intents/c-1",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "wrong content type",
            put(
                Body::from(intent(1.0, 1.0).to_string()),
                Some("text/plain"),
                "/v1/intents/n-1",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "no content type",
            put(
                Body::from(intent(1.0, 1.0).to_string()),
                None,
                "/v1/intents/n-1",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "huge body",
            put(Body::from(huge), json, "/v1/intents/n-1"),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "bad path id",
            put(
                Body::from(intent(1.0, 1.0).to_string()),
                json,
                "/v1/intents/%C3%A9t%C3%A9",
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "overlong path id",
            put(
                Body::from(intent(1.0, 1.0).to_string()),
                json,
                &format!("/v1/intents/{}", "a".repeat(200)),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "delete without version",
            Request::delete("/v1/intents/c-1")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "delete with a text version",
            Request::delete("/v1/intents/c-1?version=one")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "unknown query parameter",
            Request::get("/v1/intents?colour=red")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad conflict status",
            Request::get("/v1/conflicts?status=maybe")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "negative limit",
            Request::get("/v1/intents?limit=-1")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "intent page cursor that is not an id",
            Request::get("/v1/intents?after=%C3%97%C3%B8")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "proposal id not a number",
            Request::post("/v1/agreement/proposals/abc/accept")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "bad Last-Event-ID",
            Request::get("/v1/events")
                .header("authorization", auth.clone())
                .header("last-event-id", "x")
                .body(Body::empty())
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "terms with a misspelt field",
            Request::post("/v1/agreement/proposals")
                .header("authorization", auth.clone())
                .header("content-type", "application/json")
                .body(Body::from(r#"{"separation": {"horizontal_nm": 5}}"#))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "terms with a zero minimum",
            Request::post("/v1/agreement/proposals")
                .header("authorization", auth.clone())
                .header("content-type", "application/json")
                .body(Body::from(terms_with(0.0, "minimal").to_string()))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            // PostgreSQL keeps no NUL in text: refused on every backend, before the commit.
            "a NUL character in a hotline message",
            Request::post("/v1/hotline/messages")
                .header("authorization", auth.clone())
                .header("content-type", "application/json")
                .body(Body::from(r#"{"to": "russia", "text": "a\u0000b"}"#))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a NUL character in a term of the agreement",
            Request::post("/v1/agreement/proposals")
                .header("authorization", auth.clone())
                .header("content-type", "application/json")
                .body(Body::from(nul_contact.to_string()))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown route",
            Request::get("/v1/nowhere").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
        ),
        (
            "wrong method",
            Request::patch("/v1/intents/c-1")
                .header("authorization", auth.clone())
                .body(Body::empty())
                .unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (what, request, status) in cases {
        let answer = app.raw(request).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.text);
        assert_eq!(answer.content_type(), "application/problem+json", "{what}");
        let detail = answer.json()["detail"].as_str().unwrap_or("").to_owned();
        assert!(!detail.is_empty(), "{what}: no detail");
    }
    let named = app
        .raw(put(
            Body::from(bad_lat.to_string()),
            json,
            "/v1/intents/n-1",
        ))
        .await
        .json();
    assert!(
        named["detail"]
            .as_str()
            .unwrap()
            .contains("volumes[0].volume.outline_polygon"),
        "the detail names the place: {named}"
    );
}

#[tokio::test]
async fn a_party_over_its_request_rate_gets_429_with_retry_after() {
    let app = test_app_with(common::limited(1, 2)).await;
    assert_eq!(app.get("/v1/me", "coalition").await.status, StatusCode::OK);
    assert_eq!(app.get("/v1/me", "coalition").await.status, StatusCode::OK);
    let limited = app.get("/v1/me", "coalition").await;
    assert_problem(&limited, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(
        app.get("/v1/me", "russia").await.status,
        StatusCode::OK,
        "limits are per party"
    );
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_endpoint() {
    let app = test_app().await;
    let doc = app.openapi().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["schemas"]["TrackReports"]["oneOf"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "POST /v1/tracks takes an array of reports or one report"
    );
    for path in [
        "/v1/health",
        "/v1/me",
        "/v1/parties",
        "/v1/agreement",
        "/v1/agreement/proposals",
        "/v1/intents/{id}",
        "/v1/conflicts",
        "/v1/events",
        "/v1/audit/export",
        "/v1/audit/key",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is missing");
    }
    let metrics = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    if cfg!(target_os = "linux") {
        // The process's own figures, which `bench strategic --url` reads.
        let cpu = metrics
            .text
            .lines()
            .find_map(|line| line.strip_prefix("process_cpu_seconds_total "))
            .unwrap_or_else(|| panic!("no process_cpu_seconds_total in {}", metrics.text));
        assert!(cpu.trim().parse::<f64>().unwrap() > 0.0, "{cpu}");
    }
}

/// The document says what the service does: parameters sit where they are read (path or
/// query) and only the ones it cannot do without are required; every error answer is a
/// problem document; and every operation that asks for a token answers 401 without one,
/// as documented, while the open ones answer without.
#[tokio::test]
async fn the_openapi_document_matches_what_each_operation_does() {
    let app = test_app().await;
    let doc = app.openapi().await;
    let paths = doc["paths"].as_object().unwrap();
    let mut secured_seen = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let parameter_name = parameter["name"].as_str().unwrap();
                let place = parameter["in"].as_str().unwrap();
                let in_template = path.contains(&format!("{{{parameter_name}}}"));
                assert_eq!(place == "path", in_template, "{name}: {parameter}");
                if place == "query" {
                    let required = parameter["required"].as_bool().unwrap_or(false);
                    let must = matches!(
                        (path.as_str(), parameter_name),
                        ("/v1/intents/{id}", "version") | ("/v1/tracks/history", "id")
                    );
                    assert_eq!(required, must, "{name}: {parameter}");
                }
            }
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap();
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{name} {status}"
                    );
                }
            }
            let secured = operation["security"]
                .as_array()
                .is_some_and(|requirements| !requirements.is_empty());
            for status in ["401", "429", "503"] {
                assert_eq!(
                    responses.contains_key(status),
                    secured,
                    "{name}: {status} documented iff the operation takes a token"
                );
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{name}: no {status}");
                }
            }
            let uri = path.replace("{id}", "x").replace("{version}", "1");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app.call(method, &uri, None, None).await;
            if path == "/v1/tracks/stream" {
                // Not a WebSocket handshake: refused before the token is looked at.
                assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name}");
            } else if secured {
                secured_seen += 1;
                assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
                assert_eq!(
                    answer.headers["content-type"], "application/problem+json",
                    "{name}"
                );
            } else {
                assert_ne!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
            }
        }
    }
    assert!(secured_seen >= 20, "only {secured_seen} secured operations");
    // Every schema the document refers to is in it.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{name} is referred to but not defined"
        );
    }
}

/// One step of a path into a JSON document.
#[derive(Clone)]
enum Step {
    Member(String),
    Element(usize),
}

/// Every path into `value`, the document itself first.
fn json_paths(value: &Value, at: Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let mut next = at.clone();
                next.push(Step::Member(name.clone()));
                json_paths(member, next, out);
            }
        }
        Value::Array(elements) => {
            for (index, element) in elements.iter().enumerate() {
                let mut next = at.clone();
                next.push(Step::Element(index));
                json_paths(element, next, out);
            }
        }
        _ => {}
    }
}

fn json_at<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Member(name) => value.get_mut(name.as_str()),
        Step::Element(index) => value.get_mut(*index),
    })
}

/// Values of every JSON kind at the edges of what the contract's fields take.
fn odd_json_value(rng: &mut impl rand::Rng) -> Value {
    let values = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(9_007_199_254_740_993_u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-1e308),
        json!(5e-324),
        json!(0.5),
        json!(91.0),
        json!(-181.0),
        json!(""),
        json!("é".repeat(300)),
        json!("a\u{0}b"),
        json!("2015-13-45T99:99:99Z"),
        json!("2015-10-20T10:00:00+02:00"),
        json!("2015-10-20"),
        json!("NaN"),
        json!([]),
        json!({}),
        json!([1]),
        json!({"a": 1}),
    ];
    values[rng.random_range(0..values.len())].clone()
}

/// `value` changed in one to three places: a member or element replaced by an odd value,
/// removed, an unknown member added, or an element repeated many times.
fn mutated(mut value: Value, rng: &mut impl rand::Rng) -> Value {
    for _ in 0..rng.random_range(1..=3) {
        let mut paths = Vec::new();
        json_paths(&value, Vec::new(), &mut paths);
        let path = paths[rng.random_range(0..paths.len())].clone();
        let Some((last, parent_path)) = path.split_last() else {
            value = odd_json_value(rng);
            continue;
        };
        let Some(parent) = json_at(&mut value, parent_path) else {
            continue;
        };
        match (rng.random_range(0..4), parent, last) {
            (0, Value::Object(members), Step::Member(name)) => {
                members.remove(name);
            }
            (0, Value::Array(elements), Step::Element(index)) => {
                elements.remove(*index);
            }
            (1, Value::Object(members), _) => {
                members.insert("unexpected".into(), odd_json_value(rng));
            }
            (2, Value::Array(elements), Step::Element(index)) => {
                let copies = [1, 3, 100, 2_000][rng.random_range(0..4)];
                let element = elements[*index].clone();
                elements.extend(std::iter::repeat_n(element, copies));
            }
            (_, parent, last) => {
                if let Some(place) = json_at(parent, std::slice::from_ref(last)) {
                    *place = odd_json_value(rng);
                }
            }
        }
    }
    value
}

/// Seeded random damage to the body of every write endpoint (odd values of every kind,
/// members missing or unknown, arrays repeated past their limits, text cut short or not
/// UTF-8): each answer is a success or a 4xx problem naming what is wrong, never a 5xx,
/// and what was stored before is still there, its conflict still open for both sides. A
/// failure names its seed and case, from which it replays.
#[tokio::test]
async fn randomly_damaged_write_bodies_are_answered_4xx_problems_and_lose_nothing() {
    use rand::{Rng, SeedableRng};
    let seed: u64 = std::env::var("DECONFLICT_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(20_261_206);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let app = test_app_with(common::limited(1_000_000, 1_000_000)).await;
    let kept = app
        .put_intent("coalition", "kept", intent(35.2, 38.3))
        .await;
    assert_eq!(kept.status, StatusCode::CREATED, "{}", kept.text);
    let theirs = app.put_intent("russia", "r-1", intent(35.25, 38.3)).await;
    let conflict = theirs.json()["conflicts"][0]["id"]
        .as_str()
        .expect("the two intents conflict")
        .to_owned();
    let message = app.get("/v1/hotline/messages", "coalition").await.json()[0]["id"]
        .as_str()
        .expect("the conflict opened a hotline thread")
        .to_owned();
    let updated = app
        .put_intent("coalition", "updated", intent(10.0, 10.0))
        .await;
    assert_eq!(updated.status, StatusCode::CREATED, "{}", updated.text);
    let track = json!([{"time": "2015-10-20T10:00:00Z", "id": "F16-1", "lat": 35.0,
        "lon": 38.5, "alt_m": 8000.0, "vn_mps": 0.0, "ve_mps": 250.0, "vu_mps": 0.0}]);
    let writes: Vec<(Method, String, Value)> = vec![
        (Method::PUT, "/v1/intents/new".into(), intent(35.2, 38.3)),
        (
            Method::PUT,
            "/v1/intents/updated".into(),
            json!({"volumes": intent(11.0, 11.0)["volumes"], "version": 1, "state": "activated"}),
        ),
        (
            Method::POST,
            "/v1/hotline/messages".into(),
            json!({"to": "russia", "text": "Please confirm.", "about": {"conflict": conflict},
                "answer_within_s": 300}),
        ),
        (Method::POST, "/v1/tracks".into(), track),
        (
            Method::POST,
            "/v1/agreement/proposals".into(),
            terms_with(9260.0, "minimal"),
        ),
        (
            Method::POST,
            format!("/v1/conflicts/{conflict}/ack"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/v1/hotline/messages/{message}/ack"),
            json!({}),
        ),
    ];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for case in 0..400 {
        let (method, uri, body) = &writes[rng.random_range(0..writes.len())];
        let mut text = mutated(body.clone(), &mut rng).to_string().into_bytes();
        if rng.random_bool(0.1) {
            text.truncate(rng.random_range(0..=text.len()));
        }
        if rng.random_bool(0.03) {
            text.splice(0..0, [0xff, 0xfe]);
        }
        // A new intent each time, so that undamaged creations succeed.
        let uri = match uri.as_str() {
            "/v1/intents/new" => format!("/v1/intents/new-{case}"),
            _ => uri.clone(),
        };
        let request = Request::builder()
            .method(method.clone())
            .uri(uri.as_str())
            .header("authorization", format!("Bearer {}", token("coalition")))
            .header("content-type", "application/json")
            .body(Body::from(text.clone()))
            .unwrap();
        let answer = app.raw(request).await;
        *statuses.entry(answer.status.as_u16()).or_default() += 1;
        let replay = || {
            format!(
                "seed {seed}, case {case}: {method} {uri} with {}",
                String::from_utf8_lossy(&text[..text.len().min(300)])
            )
        };
        assert!(
            !answer.status.is_server_error(),
            "{}: {} {}",
            replay(),
            answer.status,
            answer.text
        );
        if answer.status.is_client_error() {
            assert_eq!(
                answer.content_type(),
                "application/problem+json",
                "{}: {}",
                replay(),
                answer.text
            );
            let problem = answer.json();
            assert!(
                problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{}: {problem}",
                replay()
            );
        }
    }
    // The damage is varied enough to reach past parsing, and some bodies stay valid.
    for status in [200, 201, 400, 409, 422] {
        assert!(statuses.contains_key(&status), "seed {seed}: {statuses:?}");
    }
    let kept = app.get("/v1/intents/kept", "coalition").await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    assert_eq!(kept.json()["version"], 1);
    for party in ["coalition", "russia"] {
        let conflicts = app.get("/v1/conflicts", party).await.json();
        assert!(
            conflicts["conflicts"]
                .as_array()
                .is_some_and(|all| all.iter().any(|c| c["id"] == json!(conflict))),
            "{party}: {conflicts}"
        );
    }
}
