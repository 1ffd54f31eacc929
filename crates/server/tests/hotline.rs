//! The hotline as parties and observers use it: sending, listing, acknowledging, replying,
//! the threads the service opens for new conflicts, escalation past the deadline, the
//! audit record, and every bad request answered with a 4xx problem.
//!
//! Acknowledging a message one can read but did not receive (its sender, an observer) is
//! 403; a message one cannot read is 404, whatever its id.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use common::{intent, test_app, Answer, TestApp};
use deconflict_audit::AuditPublicKey;

const MESSAGES: &str = "/v1/hotline/messages";

fn assert_problem(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(
        answer
            .content_type()
            .starts_with("application/problem+json"),
        "{}",
        answer.content_type()
    );
    assert_eq!(answer.json()["status"], status.as_u16());
}

async fn send(app: &TestApp, from: &str, body: Value) -> Value {
    let answer = app.post(MESSAGES, from, Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.json()
}

async fn list(app: &TestApp, viewer: &str) -> Vec<Value> {
    let answer = app.get(MESSAGES, viewer).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json().as_array().unwrap().clone()
}

fn ids(messages: &[Value]) -> Vec<&str> {
    messages.iter().map(|m| m["id"].as_str().unwrap()).collect()
}

/// The data of every event of `kind` stored for the party.
async fn events_of(app: &TestApp, party: &str, kind: &str) -> Vec<Value> {
    app.events(party)
        .await
        .into_iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, data)| data)
        .collect()
}

#[tokio::test]
async fn a_message_is_listed_by_both_ends_and_observers_and_by_nobody_else() {
    let app = test_app().await;
    let sent = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Two F-16 climbing to FL300 near Raqqa at 10:40Z.", "answer_within_s": 120}),
    )
    .await;
    assert!(sent["id"].as_str().unwrap().starts_with("msg-"));
    assert!(sent["thread"].as_str().unwrap().starts_with("thr-"));
    assert_eq!(sent["from"], "coalition");
    assert_eq!(sent["to"], "russia");
    assert_eq!(sent["about"], Value::Null);
    assert_eq!(sent["reply_to"], Value::Null);
    assert_eq!(sent["answer_within_s"], 120.0);
    assert_eq!(sent["acked_at"], Value::Null);
    assert_eq!(sent["acked_by"], Value::Null);
    assert_eq!(sent["escalated_at"], Value::Null);
    let sent_at = time::OffsetDateTime::parse(
        sent["sent_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let answer_by = time::OffsetDateTime::parse(
        sent["answer_by"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(answer_by - sent_at, time::Duration::seconds(120));

    let other = send(
        &app,
        "russia",
        json!({"to": "turkey", "text": "Su-24 pair over Latakia."}),
    )
    .await;
    assert_eq!(
        other["answer_within_s"], 300.0,
        "the agreement's default deadline"
    );

    assert_eq!(list(&app, "coalition").await, vec![sent.clone()]);
    assert_eq!(
        ids(&list(&app, "russia").await),
        [&sent["id"], &other["id"]]
    );
    assert_eq!(ids(&list(&app, "turkey").await), [&other["id"]]);
    assert_eq!(ids(&list(&app, "wg").await), [&sent["id"], &other["id"]]);
    let thread = app
        .get(
            &format!("{MESSAGES}?thread={}", sent["thread"].as_str().unwrap()),
            "russia",
        )
        .await;
    assert_eq!(ids(thread.json().as_array().unwrap()), [&sent["id"]]);
    let foreign_thread = app
        .get(
            &format!("{MESSAGES}?thread={}", sent["thread"].as_str().unwrap()),
            "turkey",
        )
        .await;
    assert_eq!(foreign_thread.json(), json!([]));
    assert_problem(&app.get(MESSAGES, "root").await, StatusCode::FORBIDDEN);

    for party in ["coalition", "russia", "wg"] {
        let pushed = events_of(&app, party, "hotline.message").await;
        assert!(
            pushed.contains(&sent),
            "{party} got no hotline.message event: {pushed:?}"
        );
    }
    assert!(
        !events_of(&app, "turkey", "hotline.message")
            .await
            .contains(&sent),
        "a third party hears nothing of the message"
    );
}

#[tokio::test]
async fn only_the_recipient_acknowledges_and_a_second_acknowledgement_changes_nothing() {
    let app = test_app().await;
    let sent = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Confirm you see our tanker track."}),
    )
    .await;
    let ack = format!("{MESSAGES}/{}/ack", sent["id"].as_str().unwrap());
    assert_problem(
        &app.post(&ack, "coalition", None).await,
        StatusCode::FORBIDDEN,
    );
    assert_problem(&app.post(&ack, "wg", None).await, StatusCode::FORBIDDEN);
    for outsider in ["turkey", "root"] {
        let answer = app.post(&ack, outsider, None).await;
        assert_problem(&answer, StatusCode::NOT_FOUND);
        assert!(!answer.text.contains("tanker"));
    }
    assert_problem(
        &app.post(&format!("{MESSAGES}/msg-nothing/ack"), "russia", None)
            .await,
        StatusCode::NOT_FOUND,
    );

    let first = app.post(&ack, "russia", None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let acked = first.json();
    assert_eq!(acked["acked_by"], "russia");
    assert!(acked["acked_at"].is_string());
    assert_eq!(acked["text"], sent["text"]);
    let again = app.post(&ack, "russia", None).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.json(), acked, "answered unchanged");
    assert_eq!(list(&app, "coalition").await, vec![acked.clone()]);
    for party in ["coalition", "russia", "wg"] {
        assert_eq!(
            events_of(&app, party, "hotline.ack").await,
            vec![acked.clone()],
            "one hotline.ack event for {party}"
        );
    }
    assert!(events_of(&app, "turkey", "hotline.ack").await.is_empty());
}

#[tokio::test]
async fn a_reply_joins_the_thread_and_acknowledges_only_when_the_recipient_replies() {
    let app = test_app().await;
    let question = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Request your altitude block over Idlib.", "about": {"alert": "alr-77"}}),
    )
    .await;
    assert_eq!(question["about"], json!({"alert": "alr-77"}));
    let follow_up = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Still waiting.", "reply_to": question["id"]}),
    )
    .await;
    assert_eq!(follow_up["thread"], question["thread"]);
    assert_eq!(
        list(&app, "coalition").await[0]["acked_at"],
        Value::Null,
        "the sender's own follow-up acknowledges nothing"
    );

    let reply = send(
        &app,
        "russia",
        json!({"to": "coalition", "text": "FL240 to FL280 until 11:00Z.", "reply_to": question["id"]}),
    )
    .await;
    assert_eq!(reply["thread"], question["thread"]);
    assert_eq!(reply["reply_to"], question["id"]);
    let thread = app
        .get(
            &format!("{MESSAGES}?thread={}", question["thread"].as_str().unwrap()),
            "coalition",
        )
        .await
        .json();
    let thread = thread.as_array().unwrap();
    assert_eq!(
        ids(thread),
        [&question["id"], &follow_up["id"], &reply["id"]]
    );
    assert_eq!(thread[0]["acked_by"], "russia");
    assert_eq!(
        thread[1]["acked_at"],
        Value::Null,
        "only the message replied to"
    );
    assert_eq!(thread[2]["acked_at"], Value::Null);
    let acks = events_of(&app, "coalition", "hotline.ack").await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["id"], question["id"]);

    let hidden = app
        .post(
            MESSAGES,
            "turkey",
            Some(json!({"to": "russia", "text": "Me too.", "reply_to": question["id"]})),
        )
        .await;
    assert_problem(&hidden, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(hidden.json()["detail"]
        .as_str()
        .unwrap()
        .contains("reply_to"));
}

#[tokio::test]
async fn a_new_strategic_conflict_opens_a_thread_to_both_parties() {
    let app = test_app().await;
    app.put_intent("coalition", "c-strike-1", intent(35.2, 38.3))
        .await;
    let written = app
        .put_intent("russia", "r-secret-7", intent(35.25, 38.35))
        .await
        .json();
    let conflict_id = written["conflicts"][0]["id"].as_str().unwrap().to_owned();

    let mut threads = Vec::new();
    for party in ["coalition", "russia"] {
        let messages = list(&app, party).await;
        assert_eq!(messages.len(), 1, "{party}: {messages:?}");
        let message = &messages[0];
        assert_eq!(message["from"], Value::Null, "from the service itself");
        assert_eq!(message["to"], party);
        assert_eq!(message["about"], json!({"conflict": conflict_id}));
        assert_eq!(message["answer_within_s"], 300.0);
        assert!(message["text"].as_str().unwrap().contains(&conflict_id));
        threads.push(message["thread"].clone());
        assert_eq!(
            events_of(&app, party, "hotline.message").await,
            vec![message.clone()]
        );
    }
    assert_eq!(threads[0], threads[1], "one thread for both parties");
    let observed = list(&app, "wg").await;
    assert_eq!(observed.len(), 2);
    for message in &observed {
        let text = message.to_string();
        assert!(
            !text.contains("r-secret-7") && !text.contains("c-strike-1"),
            "no intent id in an automatic message: {text}"
        );
    }
    assert!(list(&app, "turkey").await.is_empty());

    // A party answers the service by acknowledging its message.
    let own = &list(&app, "russia").await[0];
    let acked = app
        .post(
            &format!("{MESSAGES}/{}/ack", own["id"].as_str().unwrap()),
            "russia",
            None,
        )
        .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text);
    assert_eq!(acked.json()["acked_by"], "russia");

    // The other party answers the service by replying to its message, to its counterpart:
    // the reply joins the thread, acknowledges the service's message, and shows the
    // counterpart nothing of the message the service sent the replier.
    let mine = &list(&app, "coalition").await[0];
    let reply = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Seen. Our package leaves the area by 10:20Z.", "reply_to": mine["id"]}),
    )
    .await;
    assert_eq!(reply["thread"], mine["thread"]);
    let thread_uri = format!("{MESSAGES}?thread={}", mine["thread"].as_str().unwrap());
    let seen_by_coalition = app.get(&thread_uri, "coalition").await.json();
    assert_eq!(seen_by_coalition[0]["acked_by"], "coalition");
    assert_eq!(
        ids(seen_by_coalition.as_array().unwrap()),
        [&mine["id"], &reply["id"]]
    );
    let seen_by_russia = app.get(&thread_uri, "russia").await.json();
    assert_eq!(
        ids(seen_by_russia.as_array().unwrap()),
        [&own["id"], &reply["id"]]
    );

    // Parties may then talk about the conflict; a third party cannot name it.
    let about = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "We will move our window by 30 minutes.", "about": {"conflict": conflict_id}}),
    )
    .await;
    assert_eq!(about["about"]["conflict"], conflict_id.as_str());
    let foreign = app
        .post(
            MESSAGES,
            "turkey",
            Some(json!({"to": "russia", "text": "About that conflict…", "about": {"conflict": conflict_id}})),
        )
        .await;
    assert_problem(&foreign, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(foreign.json()["detail"]
        .as_str()
        .unwrap()
        .contains("about.conflict"));
}

/// Waits (at most ten seconds of real time) until the party has an event of `kind`
/// about the message.
async fn wait_for_event(app: &TestApp, party: &str, kind: &str, message_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = events_of(app, party, kind)
            .await
            .into_iter()
            .find(|data| data["id"] == message_id)
        {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind} event for {message_id} reached {party} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_unanswered_message_escalates_once_its_deadline_passes() {
    let app = test_app().await;
    let unanswered = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Unidentified pair heading south at FL200.", "answer_within_s": 60}),
    )
    .await;
    let answered = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Please confirm.", "answer_within_s": 60}),
    )
    .await;
    let later = send(
        &app,
        "coalition",
        json!({"to": "wg", "text": "For the record.", "answer_within_s": 3600}),
    )
    .await;
    app.post(
        &format!("{MESSAGES}/{}/ack", answered["id"].as_str().unwrap()),
        "russia",
        None,
    )
    .await;

    app.clock.advance_ms(61_000);
    let id = unanswered["id"].as_str().unwrap();
    let escalated = wait_for_event(&app, "coalition", "hotline.escalated", id).await;
    assert!(escalated["escalated_at"].is_string());
    assert_eq!(escalated["acked_at"], Value::Null);
    assert_eq!(
        wait_for_event(&app, "russia", "hotline.escalated", id).await,
        escalated
    );
    assert_eq!(
        wait_for_event(&app, "wg", "hotline.escalated", id).await,
        escalated
    );
    let stored = list(&app, "coalition").await;
    let stored_escalated = stored.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(stored_escalated, &escalated);

    // Let the ticker run again: nothing escalates twice, nor the answered message, nor
    // the one whose deadline is still ahead.
    let answered_id = answered["id"].as_str().unwrap();
    let later_id = later["id"].as_str().unwrap();
    let probe = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Probe.", "answer_within_s": 1}),
    )
    .await;
    app.clock.advance_ms(2_000);
    wait_for_event(
        &app,
        "coalition",
        "hotline.escalated",
        probe["id"].as_str().unwrap(),
    )
    .await;
    let escalations = events_of(&app, "coalition", "hotline.escalated").await;
    assert_eq!(
        escalations.iter().filter(|e| e["id"] == id).count(),
        1,
        "escalated once"
    );
    assert!(!escalations
        .iter()
        .any(|e| e["id"] == answered_id || e["id"] == later_id));

    // An escalated message can still be acknowledged.
    let acked = app
        .post(&format!("{MESSAGES}/{id}/ack"), "russia", None)
        .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text);
    assert!(acked.json()["escalated_at"].is_string());
    assert_eq!(acked.json()["acked_by"], "russia");
}

/// More messages due at once than one escalation step takes: every one escalates, once,
/// earliest deadline first across the steps.
#[tokio::test]
async fn a_backlog_larger_than_one_escalation_step_escalates_in_full_and_in_deadline_order() {
    let app = test_app().await;
    let count = deconflict_server::limits::HOTLINE_ESCALATIONS_PER_STEP_MAX + 3;
    // Sent concurrently, so that they share group commits; deadlines one second apart,
    // the last message's the earliest.
    let sent = futures_util::future::join_all((0..count).map(|k| {
        send(
            &app,
            "coalition",
            json!({"to": "russia", "text": format!("Backlog {k}."), "answer_within_s": 60 + count - k}),
        )
    }))
    .await;
    let by_deadline: Vec<&str> = sent
        .iter()
        .rev()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    app.clock.advance_ms((61 + count as i64) * 1000);
    wait_for_event(
        &app,
        "coalition",
        "hotline.escalated",
        sent[0]["id"].as_str().unwrap(),
    )
    .await;
    let escalated = events_of(&app, "coalition", "hotline.escalated").await;
    let escalated: Vec<&str> = escalated
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(escalated.len(), count, "each escalated once");
    assert_eq!(escalated, by_deadline);
    let stored = app.get(&format!("{MESSAGES}?limit=1000"), "russia").await;
    let stored = stored.json();
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), count);
    assert!(stored.iter().all(|m| m["escalated_at"].is_string()));
}

#[tokio::test]
async fn deadlines_survive_a_restart() {
    let app = test_app().await;
    let unanswered = send(
        &app,
        "russia",
        json!({"to": "coalition", "text": "Our Su-34s return to Hmeimim at 11:10Z.", "answer_within_s": 30}),
    )
    .await;
    let acked = send(
        &app,
        "russia",
        json!({"to": "coalition", "text": "Noted.", "answer_within_s": 30}),
    )
    .await;
    app.post(
        &format!("{MESSAGES}/{}/ack", acked["id"].as_str().unwrap()),
        "coalition",
        None,
    )
    .await;
    let app = app.restart().await;
    app.clock.advance_ms(31_000);
    let id = unanswered["id"].as_str().unwrap();
    let escalated = wait_for_event(&app, "coalition", "hotline.escalated", id).await;
    assert_eq!(escalated["text"], unanswered["text"]);
    let escalations = events_of(&app, "russia", "hotline.escalated").await;
    assert_eq!(
        escalations,
        vec![escalated],
        "the acknowledged one stays quiet"
    );
}

#[tokio::test]
async fn the_audit_export_of_each_party_holds_its_hotline_entries() {
    let app = test_app().await;
    let sent = send(
        &app,
        "coalition",
        json!({"to": "russia", "text": "Deconfliction call at 10:30Z.", "answer_within_s": 1}),
    )
    .await;
    let id = sent["id"].as_str().unwrap();
    app.clock.advance_ms(2_000);
    wait_for_event(&app, "russia", "hotline.escalated", id).await;
    app.post(&format!("{MESSAGES}/{id}/ack"), "russia", None)
        .await;

    let key = app
        .call(Method::GET, "/v1/audit/key", None, None)
        .await
        .json();
    let public_key = AuditPublicKey::from_base64(key["public_key"].as_str().unwrap()).unwrap();
    for (viewer, sees) in [
        ("coalition", true),
        ("russia", true),
        ("wg", true),
        ("turkey", false),
        ("root", false),
    ] {
        let export = app.get("/v1/audit/export", viewer).await;
        assert_eq!(export.status, StatusCode::OK);
        deconflict_audit::verify(export.text.as_bytes(), &public_key)
            .unwrap_or_else(|error| panic!("{viewer}'s export does not verify: {error}"));
        let kinds: Vec<String> = export
            .text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["body"]["id"] == id)
            .map(|line| line["kind"].as_str().unwrap().to_owned())
            .collect();
        if sees {
            assert_eq!(
                kinds,
                ["hotline.message", "hotline.escalated", "hotline.ack"],
                "{viewer}"
            );
        } else {
            assert!(kinds.is_empty(), "{viewer} reads {kinds:?}");
            assert!(!export.text.contains("Deconfliction call"));
        }
    }
}

#[tokio::test]
async fn every_bad_hotline_request_is_a_4xx_problem_naming_what_is_wrong() {
    let app = test_app().await;
    let long = "x".repeat(2001);
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "coalition",
            json!({"text": "no recipient"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to",
        ),
        (
            "coalition",
            json!({"to": "russia"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "  \n "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": long}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": 7}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "text",
        ),
        (
            "coalition",
            json!({"to": "coalition", "text": "hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to",
        ),
        (
            "coalition",
            json!({"to": "nobody", "text": "hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to",
        ),
        (
            "coalition",
            json!({"to": "root", "text": "hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to",
        ),
        (
            "coalition",
            json!({"to": "a/b", "text": "hi"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "answer_within_s": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "answer_within_s",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "answer_within_s": -5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "answer_within_s",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "answer_within_s": 604801}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "answer_within_s",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "answer_within_s": "soon"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "answer_within_s",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "about": "cf_1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "about",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "about": {}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "about",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "about": {"intent": "c-1"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "about",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "about": {"conflict": "a", "alert": "b"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "about",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "about": {"alert": 5}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "about.alert",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "about": {"conflict": "cf_missing"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "about.conflict",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "reply_to": "msg-missing"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reply_to",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "reply_to": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "reply_to",
        ),
        (
            "coalition",
            json!({"to": "russia", "text": "hi", "priority": "flash"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            "coalition",
            json!(["to", "russia"]),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            "root",
            json!({"to": "russia", "text": "hi"}),
            StatusCode::FORBIDDEN,
            "admin",
        ),
    ];
    for (caller, body, status, named) in cases {
        let answer = app.post(MESSAGES, caller, Some(body.clone())).await;
        assert_problem(&answer, status);
        let detail = answer.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains(named),
            "{body}: the detail {detail:?} does not name {named:?}"
        );
    }

    let not_json = app
        .raw(
            axum::http::Request::post(MESSAGES)
                .header(
                    "authorization",
                    format!("Bearer {}", common::token("coalition")),
                )
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{\"to\": "))
                .unwrap(),
        )
        .await;
    assert_problem(&not_json, StatusCode::BAD_REQUEST);
    let not_typed = app
        .raw(
            axum::http::Request::post(MESSAGES)
                .header(
                    "authorization",
                    format!("Bearer {}", common::token("coalition")),
                )
                .body(axum::body::Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_problem(&not_typed, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let anonymous = app
        .call(
            Method::POST,
            MESSAGES,
            None,
            Some(json!({"to": "russia", "text": "hi"})),
        )
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED);
    assert_problem(
        &app.get(&format!("{MESSAGES}?thread=a%2Fb"), "coalition")
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &app.get(&format!("{MESSAGES}?threads=x"), "coalition").await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &app.post(&format!("{MESSAGES}/a%20b/ack"), "russia", None)
            .await,
        StatusCode::BAD_REQUEST,
    );
    assert_problem(
        &app.call(Method::DELETE, MESSAGES, Some("coalition"), None)
            .await,
        StatusCode::METHOD_NOT_ALLOWED,
    );
    assert!(
        list(&app, "wg").await.is_empty(),
        "no bad request left a message behind"
    );
}

#[tokio::test]
async fn observers_may_write_and_be_written_to() {
    let app = test_app().await;
    let to_observer = send(
        &app,
        "coalition",
        json!({"to": "wg", "text": "Minutes of today's call attached to the record."}),
    )
    .await;
    let acked = app
        .post(
            &format!("{MESSAGES}/{}/ack", to_observer["id"].as_str().unwrap()),
            "wg",
            None,
        )
        .await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text);
    let from_observer = send(
        &app,
        "wg",
        json!({"to": "russia", "text": "Working group meets at 14:00Z."}),
    )
    .await;
    assert_eq!(from_observer["from"], "wg");
    assert_eq!(
        events_of(&app, "wg", "hotline.message").await.len(),
        2,
        "an observer at one end gets each event once"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_hotline() {
    let app = test_app().await;
    let doc = app.openapi().await;
    assert!(doc["paths"][MESSAGES]["post"].is_object());
    assert!(doc["paths"][MESSAGES]["get"].is_object());
    assert!(doc["paths"]["/v1/hotline/messages/{id}/ack"]["post"].is_object());
    let schemas = &doc["components"]["schemas"];
    for field in ["to", "text", "about", "answer_within_s", "reply_to"] {
        assert!(
            schemas["NewHotlineMessage"]["properties"][field].is_object(),
            "NewHotlineMessage.{field} is missing"
        );
    }
    for field in [
        "id",
        "thread",
        "from",
        "answer_by",
        "acked_by",
        "escalated_at",
    ] {
        assert!(
            schemas["HotlineMessageJson"]["properties"][field].is_object(),
            "HotlineMessageJson.{field} is missing"
        );
    }
}

#[tokio::test]
async fn message_and_thread_ids_start_with_their_time_so_later_ones_sort_later() {
    let app = test_app().await;
    let millis = |id: &str, prefix: &str| {
        let hex = id.strip_prefix(prefix).unwrap();
        assert_eq!(hex.len(), 32, "{id}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        i64::from_str_radix(&hex[..12], 16).unwrap()
    };
    let first = send(&app, "coalition", json!({"to": "russia", "text": "one"})).await;
    app.clock.advance_ms(2_000);
    let second = send(&app, "coalition", json!({"to": "russia", "text": "two"})).await;
    for field in ["id", "thread"] {
        let prefix = if field == "id" { "msg-" } else { "thr-" };
        let (a, b) = (
            first[field].as_str().unwrap(),
            second[field].as_str().unwrap(),
        );
        // The test clock also runs on by itself between the two sends.
        let apart_ms = millis(b, prefix) - millis(a, prefix);
        assert!((2_000..60_000).contains(&apart_ms), "{a} {b}");
        assert!(a < b, "{a} {b}");
    }
}
