//! `deconflict serve`: the HTTP service on the embedded SQLite store (default) or a
//! PostgreSQL database, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use deconflict_server::{Clock, RateLimit, ScaledClock, ServerConfig, SystemClock, Terms};
use deconflict_store::Store;

/// The file of the embedded store inside the data directory.
pub const SQLITE_FILE_NAME: &str = "deconflict.db";

/// Where the store is: shared by `serve` and `party`.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Directory of the embedded SQLite store (the file deconflict.db in it; created if
    /// absent). Default: the working directory.
    #[arg(long, value_name = "DIR", conflicts_with = "database")]
    pub data: Option<PathBuf>,
    /// A PostgreSQL URL (postgres://user@host:port/db) instead of the embedded store.
    #[arg(long, value_name = "URL", env = "DECONFLICT_DATABASE")]
    pub database: Option<String>,
    /// The PostgreSQL schema to use (created if absent), so several deployments can share
    /// one database. Default: the database's default schema.
    #[arg(
        long,
        value_name = "NAME",
        requires = "database",
        env = "DECONFLICT_DATABASE_SCHEMA"
    )]
    pub database_schema: Option<String>,
}

impl StoreArgs {
    /// Opens the store and runs its migrations.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        match (&self.database, &self.database_schema) {
            (Some(url), None) => Ok(Arc::new(
                deconflict_store::open_postgres(url)
                    .await
                    .context("cannot open the PostgreSQL store")?,
            )),
            (Some(url), Some(schema)) => Ok(Arc::new(
                deconflict_store::open_postgres_in_schema(url, schema)
                    .await
                    .context("cannot open the PostgreSQL store")?,
            )),
            (None, _) => {
                let dir = self.data.clone().unwrap_or_else(|| PathBuf::from("."));
                std::fs::create_dir_all(&dir).with_context(|| {
                    format!("cannot create the data directory {}", dir.display())
                })?;
                let path = dir.join(SQLITE_FILE_NAME);
                Ok(Arc::new(
                    deconflict_store::open_sqlite(&path)
                        .await
                        .with_context(|| {
                            format!("cannot open the SQLite store {}", path.display())
                        })?,
                ))
            }
        }
    }
}

/// How live tracks are judged: shared by `serve` and the commands that run the service.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveArgs {
    /// Detection runs over every live aircraft at least this often (ms).
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub cycle_ms: u64,
    /// Detection also runs when reports arrive, but no sooner than this after the
    /// previous run (ms); equal to --cycle-ms runs on the cycle only.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    pub min_gap_ms: u64,
    /// An aircraft leaves the live picture after this long without a report (s).
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub track_expiry_s: f64,
    /// Track history keeps one point per aircraft per this many seconds (0: every report).
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    pub sample_interval_s: f64,
    /// An alert clears after its pair has been predicted clear for this long (s).
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub alert_clear_after_s: f64,
    /// An alert whose level does not change is updated at most this often (s); a level
    /// change is sent at once.
    #[arg(long, default_value_t = deconflict_server::live::DEFAULT_ALERT_UPDATE_INTERVAL_S, value_name = "S")]
    pub alert_update_interval_s: f64,
    /// Append every track report received to this file, in the tracks CSV of `detect`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

impl LiveArgs {
    pub fn config(&self) -> anyhow::Result<deconflict_server::live::LiveConfig> {
        if self.cycle_ms == 0 || self.cycle_ms > 3_600_000 {
            anyhow::bail!(
                "--cycle-ms must be between 1 and 3,600,000, not {}",
                self.cycle_ms
            );
        }
        if self.min_gap_ms > self.cycle_ms {
            anyhow::bail!(
                "--min-gap-ms ({}) must not exceed --cycle-ms ({})",
                self.min_gap_ms,
                self.cycle_ms
            );
        }
        if !(self.track_expiry_s.is_finite()
            && self.track_expiry_s > 0.0
            && self.track_expiry_s <= 86_400.0)
        {
            anyhow::bail!(
                "--track-expiry-s must be above 0 and at most 86,400, not {}",
                self.track_expiry_s
            );
        }
        if !(self.sample_interval_s.is_finite()
            && (0.0..=86_400.0).contains(&self.sample_interval_s))
        {
            anyhow::bail!(
                "--sample-interval-s must be between 0 and 86,400, not {}",
                self.sample_interval_s
            );
        }
        let defaults = deconflict_core::tactical::AlertSettings::default();
        let alerts = deconflict_core::tactical::AlertSettings::new(
            self.alert_clear_after_s,
            defaults.update_time_s(),
            defaults.update_distance_m(),
        )
        .map_err(|error| anyhow::anyhow!("--alert-clear-after-s: {error}"))?
        .with_update_interval_s(self.alert_update_interval_s)
        .map_err(|error| anyhow::anyhow!("--alert-update-interval-s: {error}"))?;
        Ok(deconflict_server::live::LiveConfig {
            cycle: std::time::Duration::from_millis(self.cycle_ms),
            min_gap: std::time::Duration::from_millis(self.min_gap_ms),
            track_expiry_s: self.track_expiry_s,
            sample_interval_s: self.sample_interval_s,
            record: self.record.clone(),
            alerts,
        })
    }
}

/// Run the deconfliction service over HTTP.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The first agreement's terms (a JSON terms document, see /v1/openapi.json), used
    /// when the store holds no agreement yet. Default: the contract's defaults.
    #[arg(long, value_name = "FILE")]
    pub agreement: Option<PathBuf>,
    /// Requests per second each party may send (a token bucket; 429 beyond).
    #[arg(long, default_value_t = RateLimit::default().per_s)]
    pub rate_limit_per_s: u32,
    /// Requests a party may send at once before the rate applies.
    #[arg(long, default_value_t = RateLimit::default().burst)]
    pub rate_limit_burst: u32,
    /// Simulation mode: run the service in scenario time, its clock reading TIME (RFC 3339,
    /// e.g. 2015-11-03T09:00:00Z) at start and running --clock-speed times as fast as real
    /// time. Detection, track expiry, hotline deadlines and every time the service writes
    /// then follow that clock; `deconflict sim --url` and `deconflict replay --url` drive
    /// such a service. Default: the system clock.
    #[arg(long, value_name = "TIME")]
    pub clock_start: Option<String>,
    /// How many times as fast as real time the simulation clock runs (needs
    /// --clock-start).
    #[arg(long, value_name = "X", requires = "clock_start")]
    pub clock_speed: Option<f64>,
    #[command(flatten)]
    pub live: LiveArgs,
    /// Log format on stderr: text or json. The level comes from DECONFLICT_LOG (default
    /// info), e.g. DECONFLICT_LOG=debug.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

fn read_terms(path: &Path) -> anyhow::Result<Terms> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Terms::from_json(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))
}

pub fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DECONFLICT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The clock the service runs on: the system clock, or a scaled simulation clock.
pub fn clock_of(start: Option<&str>, speed: Option<f64>) -> anyhow::Result<Arc<dyn Clock>> {
    let Some(start) = start else {
        return Ok(Arc::new(SystemClock));
    };
    let start_ms = deconflict_server::clock::parse_rfc3339_ms(start)
        .map_err(|error| anyhow::anyhow!("--clock-start: {error}"))?;
    let clock = ScaledClock::new(start_ms, speed.unwrap_or(1.0))
        .map_err(|error| anyhow::anyhow!("--clock-speed: {error}"))?;
    Ok(Arc::new(clock))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(&args.log_format);
    let clock = clock_of(args.clock_start.as_deref(), args.clock_speed)?;
    let initial_terms = match &args.agreement {
        Some(path) => read_terms(path)?,
        None => Terms::default(),
    };
    if args.rate_limit_per_s == 0 || args.rate_limit_burst == 0 {
        anyhow::bail!("--rate-limit-per-s and --rate-limit-burst must be at least 1");
    }
    let config = ServerConfig {
        initial_terms,
        rate_limit: RateLimit {
            per_s: args.rate_limit_per_s,
            burst: args.rate_limit_burst,
        },
        rng_seed: None,
        live: args.live.config()?,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = args.store.open().await?;
        let mut shutdown = Box::pin(shutdown_signal());
        let Some(mut claim) = claim_store(store.as_ref(), &mut shutdown).await? else {
            return Ok(ExitCode::SUCCESS);
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // Tests and scripts read this line to learn the port when they pass port 0.
        eprintln!("deconflict: listening on http://{}", listener.local_addr()?);
        if let Some(start) = &args.clock_start {
            eprintln!(
                "deconflict: simulation clock from {start} at {} × real time",
                args.clock_speed.unwrap_or(1.0)
            );
        }
        let loss = claim.loss();
        let stop = async move {
            tokio::select! {
                () = shutdown => {}
                why = loss => {
                    // Another instance may claim the store from now on: stop at once, as
                    // if killed, rather than finish the writes in flight. Nothing
                    // acknowledged is lost; what was not yet acknowledged is refused by the
                    // closed connection, and its client retries.
                    eprintln!("deconflict: stopped: {why}; another instance may take over the store");
                    std::process::exit(1);
                }
            }
        };
        deconflict_server::serve(listener, store, clock, config, stop)
            .await
            .context("the service failed")?;
        // Released only now that the service has stopped writing.
        drop(claim);
        Ok(ExitCode::SUCCESS)
    })
}

/// How often a standing-by service asks again for the store.
const STANDBY_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Claims the store for this service, standing by while another process's service holds
/// it (see [`deconflict_store::ServiceClaim`]); `None` when `shutdown` came first.
async fn claim_store(
    store: &dyn Store,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> anyhow::Result<Option<deconflict_store::ServiceClaim>> {
    let mut announced = false;
    loop {
        if let Some(claim) = store
            .try_claim_service()
            .await
            .context("cannot claim the store")?
        {
            if announced {
                eprintln!("deconflict: the store is free; taking over");
            }
            return Ok(Some(claim));
        }
        if !announced {
            // Tests and operators read this line: the standby serves nothing until then.
            eprintln!(
                "deconflict: another deconflict service holds this store; standing by until it stops"
            );
            announced = true;
        }
        tokio::select! {
            () = &mut *shutdown => return Ok(None),
            () = tokio::time::sleep(STANDBY_RETRY) => {}
        }
    }
}
