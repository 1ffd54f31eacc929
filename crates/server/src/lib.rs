//! The HTTP service: authentication, the agreement, intents, conflicts, tracks, alerts, the
//! hotline, events, the audit export and the console.
//!
//! [`start`] loads the state from a [`Store`] and returns the [`AppState`] handlers share
//! and the [`Engine`] (the single writer, see [`engine`]) to spawn; [`app`] builds the
//! router over that state; [`serve`] does both, listens, and shuts down gracefully
//! (in-flight writes are committed and answered, event streams end).
//!
//! Architecture invariant: request and response types live here and convert to core and
//! store types explicitly; the store never sees HTTP and the core never sees JSON.

pub mod api;
pub mod auth;
pub mod clock;
pub mod console;
pub mod disclosure;
pub mod engine;
pub mod error;
pub mod events;
pub mod hotline;
pub mod limits;
pub mod live;
pub mod live_api;
pub mod openapi;
pub mod terms;

use std::future::Future;
use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

use deconflict_audit::AuditSigner;
use deconflict_store::Store;

pub use clock::{Clock, ScaledClock, ScaledClockError, SystemClock, CLOCK_SPEED_MAX};
pub use engine::{Engine, EngineError, EngineHandle, NewAudit, NewEvent, WeakEngineHandle};
pub use error::ApiError;
pub use limits::RateLimit;
pub use terms::Terms;

/// How the service is set up (besides its store and clock).
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// The terms in force when the store holds no agreement yet.
    pub initial_terms: Terms,
    pub rate_limit: RateLimit,
    /// Seeds conflict ids, references and tokens; `None` draws from the operating system.
    pub rng_seed: Option<u64>,
    /// Live tracks and tactical detection.
    pub live: live::LiveConfig,
}

/// What every handler shares.
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub engine: EngineHandle,
    pub published: Arc<engine::Published>,
    pub clock: Arc<dyn Clock>,
    pub parties: auth::PartyCache,
    pub rate_limiter: limits::RateLimiter,
    /// Store reads for tokens not seen before, per client address.
    pub unknown_token_limiter: limits::RateLimiter,
    pub signer: AuditSigner,
    /// Cancelled at shutdown so long-lived responses (event streams) end.
    pub shutdown: CancellationToken,
    pub metrics: PrometheusHandle,
    pub rng: Mutex<StdRng>,
    /// Live tracks and the active alerts.
    pub live: Arc<live::Live>,
}

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] deconflict_store::StoreError),
    #[error("the stored server key is unusable: {0}")]
    Key(String),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// The process's own figures (`process_cpu_seconds_total`, resident memory, threads, open
/// files), read afresh at every scrape: CPU seconds per request is the measure of the
/// service's efficiency that a shared, noisy machine disturbs least (`bench strategic`
/// reports it per write).
pub(crate) fn process_metrics() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(|| {
        let collector = metrics_process::Collector::default();
        collector.describe();
        collector
    })
}

/// The Prometheus recorder is process-wide; every state in the process shares it.
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "a metrics recorder was already installed; /metrics shows only this one's"
                );
            }
            handle
        })
        .clone()
}

/// The server's signing key: the seed stored in the store, or a new one stored now.
pub async fn server_signer(store: &dyn Store, rng: &mut StdRng) -> Result<AuditSigner, StartError> {
    let fresh: [u8; 32] = rand::Rng::random(rng);
    let stored = store.server_key_seed_or_insert(&hex::encode(fresh)).await?;
    let bytes = hex::decode(&stored).map_err(|error| StartError::Key(error.to_string()))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| StartError::Key("the seed is not 32 bytes".into()))?;
    Ok(AuditSigner::from_seed(seed))
}

/// Loads the state from `store` and returns the handlers' state and the writer to spawn
/// (`tokio::spawn(engine.run())`). The background tasks (live detection, the hotline's
/// escalation ticker) start here and stop when `state.shutdown` is cancelled or the writer
/// is gone.
pub async fn start(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
) -> Result<(AppState, Engine), StartError> {
    let mut rng = match config.rng_seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    };
    let signer = server_signer(store.as_ref(), &mut rng).await?;
    let engine_seed = config.rng_seed.map(|seed| seed.wrapping_add(1));
    let (handle, published, engine) = Engine::start(
        store.clone(),
        clock.clone(),
        signer.clone(),
        config.initial_terms.clone(),
        engine_seed,
    )
    .await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(escalate_hotline(
        handle.downgrade(),
        clock.clone(),
        shutdown.clone(),
    ));
    let state = AppState(Arc::new(Shared {
        store,
        engine: handle,
        published,
        clock,
        parties: auth::PartyCache::default(),
        rate_limiter: limits::RateLimiter::new(config.rate_limit),
        unknown_token_limiter: limits::RateLimiter::new(limits::UNKNOWN_TOKENS),
        signer,
        shutdown,
        metrics: metrics_handle(),
        rng: Mutex::new(rng),
        live: Arc::new(live::Live::new(config.live.clone())?),
    }));
    let detection_seed = config.rng_seed.map(|seed| seed.wrapping_add(2));
    tokio::spawn(live::run_detection(state.clone(), detection_seed));
    Ok((state, engine))
}

/// The router over a started state.
pub fn app(state: AppState) -> Router {
    api::router(state)
}

/// How often old events and track points are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// Runs the service on `listener` until `shutdown` completes, then stops accepting,
/// ends event streams, lets in-flight requests finish and the writer commit them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (state, engine) = start(store, clock, config).await?;
    let writer = tokio::spawn(engine.run());
    let pruner = tokio::spawn(prune_past_retention(state.clone()));
    let token = state.shutdown.clone();
    let router = app(state.clone());
    tracing::info!(address = %listener.local_addr()?, backend = state.store.backend(), "listening");
    drop(state);
    let stop = token.clone();
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        tokio::select! {
            () = shutdown => {},
            () = stop.cancelled() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
        stop.cancel();
    })
    .await?;
    token.cancel();
    pruner.abort();
    let _ = pruner.await;
    if let Err(error) = writer.await {
        tracing::error!(%error, "the writer task failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How often (in real time) overdue hotline messages are escalated.
const HOTLINE_ESCALATION_INTERVAL: Duration = Duration::from_secs(1);

/// Asks the writer every [`HOTLINE_ESCALATION_INTERVAL`] to escalate the hotline messages
/// due at the injected clock's now. Holds only a weak handle between ticks, so it never
/// keeps the writer alive; stops at shutdown or when the writer is gone.
async fn escalate_hotline(
    engine: WeakEngineHandle,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(HOTLINE_ESCALATION_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {},
            () = shutdown.cancelled() => return,
        }
        let Some(handle) = engine.upgrade() else {
            return;
        };
        let now_ms = clock.now_ms();
        let mut escalated = 0;
        // A full step may leave more due: the next step is asked for at once, as a command
        // of its own, so that writes queued meanwhile are decided between the steps.
        let outcome = loop {
            let answer = tokio::select! {
                answer = handle.call(|reply| engine::Command::EscalateDue { now_ms, reply }) => answer,
                () = shutdown.cancelled() => return,
            };
            match answer {
                Ok(step) => {
                    escalated += step;
                    if step < limits::HOTLINE_ESCALATIONS_PER_STEP_MAX {
                        break Ok(());
                    }
                }
                Err(error) => break Err(error),
            }
        };
        drop(handle);
        if escalated > 0 {
            tracing::info!(escalated, "escalated unanswered hotline messages");
        }
        match outcome {
            Ok(()) => {}
            Err(ApiError::Unavailable) if engine.upgrade().is_none() => return,
            Err(error) => tracing::warn!(%error, "escalating hotline messages failed; retrying"),
        }
    }
}

/// Prunes the events and the sampled track points past their retention, at start and
/// every [`PRUNE_INTERVAL`].
async fn prune_past_retention(state: AppState) {
    let mut ticker = tokio::time::interval(PRUNE_INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {},
            () = state.shutdown.cancelled() => return,
        }
        let now_ms = state.clock.now_ms();
        let before_ms = now_ms - (limits::EVENT_RETENTION_S as i64) * 1000;
        match state.store.prune_events(before_ms).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned events past retention"),
            Err(error) => tracing::warn!(%error, "pruning events failed"),
        }
        let before_ms = now_ms - (limits::TRACK_HISTORY_RETENTION_S as i64) * 1000;
        match state.store.prune_track_samples(before_ms).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned track history past retention"),
            Err(error) => tracing::warn!(%error, "pruning track history failed"),
        }
    }
}
