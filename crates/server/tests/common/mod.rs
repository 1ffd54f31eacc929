//! A service on a fresh SQLite store with five known parties, driven through
//! `tower::ServiceExt::oneshot` on `app(state)`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use deconflict_server::auth::token_sha256;
use deconflict_server::{app, start, AppState, Clock, RateLimit, ServerConfig};
use deconflict_store::{PartyRecord, Role, Store};

/// A clock the test moves by hand.
pub struct TestClock(pub AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.fetch_add(1, Ordering::SeqCst)
    }
}

impl TestClock {
    /// What the clock reads now, without moving it.
    pub fn peek_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

pub const PARTIES: [(&str, Role); 5] = [
    ("coalition", Role::Party),
    ("russia", Role::Party),
    ("turkey", Role::Party),
    ("wg", Role::Observer),
    ("root", Role::Admin),
];

pub fn token(party: &str) -> String {
    format!("test-token-of-{party}")
}

pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    /// The service's clock; tests move it with [`TestClock::advance_ms`].
    pub clock: Arc<TestClock>,
    /// The service's state: its `shutdown` stops the background tasks.
    pub state: AppState,
    writer: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub async fn test_app() -> TestApp {
    test_app_with(ServerConfig {
        rng_seed: Some(42),
        ..ServerConfig::default()
    })
    .await
}

pub async fn test_app_with(config: ServerConfig) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        deconflict_store::open_sqlite(&dir.path().join("test.db"))
            .await
            .unwrap(),
    );
    for (id, role) in PARTIES {
        store
            .insert_party(&PartyRecord {
                id: id.into(),
                name: format!("{id} duty officer"),
                role,
                token_sha256: token_sha256(&token(id)),
                created_ms: 0,
            })
            .await
            .unwrap();
    }
    let clock = Arc::new(TestClock(AtomicI64::new(1_445_335_200_000)));
    let (state, engine) = start(store.clone(), clock.clone(), config).await.unwrap();
    let writer = tokio::spawn(engine.run());
    TestApp {
        router: app(state.clone()),
        store,
        clock,
        state,
        writer,
        _dir: dir,
    }
}

pub fn limited(per_s: u32, burst: u32) -> ServerConfig {
    ServerConfig {
        rate_limit: RateLimit { per_s, burst },
        rng_seed: Some(7),
        ..ServerConfig::default()
    }
}

impl TestApp {
    /// The SQLite file behind [`TestApp::store`].
    pub fn store_path(&self) -> std::path::PathBuf {
        self._dir.path().join("test.db")
    }

    /// Stops this service as a shutdown would (background tasks end, then the writer once
    /// every handle is gone) and starts a new one on the same store and clock.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            router,
            store,
            clock,
            state,
            writer,
            _dir,
        } = self;
        state.shutdown.cancel();
        drop(router);
        drop(state);
        tokio::time::timeout(std::time::Duration::from_secs(10), writer)
            .await
            .expect("the writer stops within 10 s of shutdown")
            .unwrap();
        let config = ServerConfig {
            rng_seed: Some(43),
            ..ServerConfig::default()
        };
        let (state, engine) = start(store.clone(), clock.clone(), config).await.unwrap();
        let writer = tokio::spawn(engine.run());
        TestApp {
            router: app(state.clone()),
            store,
            clock,
            state,
            writer,
            _dir,
        }
    }

    pub async fn raw(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        party: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(party) = party {
            builder = builder.header("authorization", format!("Bearer {}", token(party)));
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        self.raw(request.unwrap()).await
    }

    /// The served OpenAPI document.
    pub async fn openapi(&self) -> Value {
        self.call(Method::GET, "/v1/openapi.json", None, None)
            .await
            .json()
    }

    pub async fn get(&self, uri: &str, party: &str) -> Answer {
        self.call(Method::GET, uri, Some(party), None).await
    }

    pub async fn put_intent(&self, party: &str, id: &str, body: Value) -> Answer {
        self.call(
            Method::PUT,
            &format!("/v1/intents/{id}"),
            Some(party),
            Some(body),
        )
        .await
    }

    pub async fn post(&self, uri: &str, party: &str, body: Option<Value>) -> Answer {
        self.call(Method::POST, uri, Some(party), body).await
    }

    /// Every event stored for the party, as (kind, data).
    pub async fn events(&self, party: &str) -> Vec<(String, Value)> {
        self.store
            .events_after(party, 0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.data.to_value()))
            .collect()
    }
}

/// A Volume4D: a square polygon of `half_deg` around (lat, lng), altitudes in metres,
/// times as minutes after 2015-10-20T10:00:00Z.
pub fn square(lat: f64, lng: f64, half_deg: f64, alt_m: (f64, f64), minutes: (u32, u32)) -> Value {
    json!({
        "volume": {
            "outline_polygon": {"vertices": [
                {"lat": lat - half_deg, "lng": lng - half_deg},
                {"lat": lat - half_deg, "lng": lng + half_deg},
                {"lat": lat + half_deg, "lng": lng + half_deg},
                {"lat": lat + half_deg, "lng": lng - half_deg},
            ]},
            "altitude_lower": {"value": alt_m.0, "reference": "W84", "units": "M"},
            "altitude_upper": {"value": alt_m.1, "reference": "W84", "units": "M"}
        },
        "time_start": {"value": time(minutes.0), "format": "RFC3339"},
        "time_end": {"value": time(minutes.1), "format": "RFC3339"}
    })
}

fn time(minutes: u32) -> String {
    format!(
        "2015-10-20T{:02}:{:02}:00Z",
        10 + minutes / 60,
        minutes % 60
    )
}

/// An intent body of one square volume.
pub fn intent(lat: f64, lng: f64) -> Value {
    json!({"volumes": [square(lat, lng, 0.1, (3000.0, 6000.0), (0, 60))]})
}
