//! A commit that fails: the store refuses one intent's row (a trigger added behind the
//! service's back), so its whole batch, and any batch decided on top of it, must be
//! answered 503 with nothing of them stored, while every write answered 2xx is stored,
//! the audit chain still verifies, and the service goes on taking writes.

mod common;

use std::str::FromStr;

use axum::http::{Method, StatusCode};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use common::{intent, test_app};
use deconflict_audit::AuditPublicKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_refuses_its_batch_and_those_decided_on_it_and_loses_nothing_acknowledged()
{
    let app = test_app().await;
    let first = app.put_intent("coalition", "c-0", intent(35.2, 38.3)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);

    let options =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", app.store_path().display()))
            .unwrap();
    let mut side = options.connect().await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse_doomed BEFORE INSERT ON intents WHEN NEW.id = 'doomed' \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&mut side)
    .await
    .unwrap();

    // A storm of writes from two parties, some near each other (conflicts, hotline
    // threads), with the doomed one in the middle.
    let app = std::sync::Arc::new(app);
    let mut writers = Vec::new();
    for n in 0..60 {
        let app = app.clone();
        writers.push(tokio::spawn(async move {
            let (party, id) = match n {
                30 => ("russia", "doomed".to_owned()),
                n if n % 2 == 0 => ("coalition", format!("c-1{n:02}")),
                n => ("russia", format!("r-1{n:02}")),
            };
            let lat = 35.0 + (n % 7) as f64 * 0.05;
            let answer = app.put_intent(party, &id, intent(lat, 38.3)).await;
            (party, id, answer.status, answer.text)
        }));
    }
    let mut refused = 0;
    for writer in writers {
        let (party, id, status, text) = writer.await.unwrap();
        let stored = app.get(&format!("/v1/intents/{id}"), party).await;
        match status {
            StatusCode::CREATED => {
                assert_eq!(
                    stored.status,
                    StatusCode::OK,
                    "{id} acknowledged but not stored"
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                assert_eq!(
                    stored.status,
                    StatusCode::NOT_FOUND,
                    "{id} refused but stored"
                );
            }
            other => panic!("{id}: unexpected {other}: {text}"),
        }
        if id == "doomed" {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
        }
    }
    assert!(refused >= 1);

    // The engine reloaded what is durable: a refused id can be created afresh, the
    // first intent updates from its stored version, and the chain still verifies.
    sqlx::query("DROP TRIGGER refuse_doomed")
        .execute(&mut side)
        .await
        .unwrap();
    side.close().await.unwrap();
    let again = app.put_intent("russia", "doomed", intent(35.2, 38.3)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.json()["version"], 1);
    let mut update = intent(35.25, 38.3);
    update["version"] = 1.into();
    let updated = app.put_intent("coalition", "c-0", update).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.json()["version"], 2);

    let key = app
        .call(Method::GET, "/v1/audit/key", None, None)
        .await
        .json();
    let public_key = AuditPublicKey::from_base64(key["public_key"].as_str().unwrap()).unwrap();
    for viewer in ["coalition", "russia", "wg"] {
        let export = app.get("/v1/audit/export", viewer).await;
        deconflict_audit::verify(export.text.as_bytes(), &public_key)
            .unwrap_or_else(|error| panic!("{viewer}'s export does not verify: {error}"));
    }
}
