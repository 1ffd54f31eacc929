//! What the service keeps: when it starts (and every ten minutes after), events and
//! sampled track points older than their retention are pruned, and younger ones kept.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use deconflict_server::limits::{EVENT_RETENTION_S, TRACK_HISTORY_RETENTION_S};
use deconflict_server::{serve, Clock, ServerConfig, SystemClock};
use deconflict_store::{Batch, EventRecord, Mutation, Store, TrackSampleRecord};

fn event(seq: i64, time_ms: i64) -> Mutation {
    Mutation::AppendEvent(EventRecord {
        seq,
        party_id: "coalition".into(),
        kind: "conflict.opened".into(),
        data: json!({"n": seq}).into(),
        time_ms,
    })
}

fn sample(time_ms: i64) -> TrackSampleRecord {
    TrackSampleRecord {
        party_id: "coalition".into(),
        aircraft_id: "F16-1".into(),
        time_ms,
        lat: 35.0,
        lon: 38.0,
        alt_m: 9000.0,
        vn_mps: 200.0,
        ve_mps: 0.0,
        vu_mps: 0.0,
    }
}

#[tokio::test]
async fn a_starting_service_prunes_what_is_past_retention_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        deconflict_store::open_sqlite(&dir.path().join("test.db"))
            .await
            .unwrap(),
    );
    let now_ms = SystemClock.now_ms();
    let day_ms = 86_400_000;
    let event_cutoff_ms = now_ms - EVENT_RETENTION_S as i64 * 1000;
    let track_cutoff_ms = now_ms - TRACK_HISTORY_RETENTION_S as i64 * 1000;
    store
        .apply(Batch {
            mutations: vec![
                event(1, event_cutoff_ms - day_ms),
                event(2, event_cutoff_ms + day_ms),
            ],
        })
        .await
        .unwrap();
    store
        .append_track_samples(&[
            sample(track_cutoff_ms - day_ms),
            sample(track_cutoff_ms + day_ms),
        ])
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        store.clone(),
        Arc::new(SystemClock),
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = store.events_after("coalition", 0, 10).await.unwrap();
        let history = store
            .track_history("coalition", "F16-1", 0, 10)
            .await
            .unwrap();
        if events.len() == 1 && history.len() == 1 {
            assert_eq!(events[0].seq, 2);
            assert_eq!(history, [sample(track_cutoff_ms + day_ms)]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not pruned within 10 s: {} events, {} points",
            events.len(),
            history.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
