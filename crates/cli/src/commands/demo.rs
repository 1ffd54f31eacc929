//! `deconflict demo`: the seed scenario, live, in one command.
//!
//! Starts the service in this process on the embedded store in a fresh data directory,
//! on a scaled clock that starts at the scenario's start (so the whole service lives in
//! scenario time), adds the parties, the working group (an observer) and an admin with
//! tokens, puts the scenario's agreement in force, prints a console URL per party, then
//! plays the scenario through the API as each party (`deconflict_sim::drive`) while an
//! observer's event stream feeds a live tally. Runs until Ctrl-C or `--duration`.
//!
//! The demo's span starts [`ENCOUNTER_LEAD_S`] before the scenario's first fixed-time
//! sortie (in `syria-2015`, the communications test of 3 Nov 2015), so that a tactical
//! encounter and strategic conflicts come in the first minutes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, IsTerminal as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use deconflict_server::auth::{new_random_token, token_sha256};
use deconflict_server::terms::{Contact, Frequency};
use deconflict_server::{ScaledClock, ServerConfig, Terms, CLOCK_SPEED_MAX};
use deconflict_sim::drive::{
    plan_scenario, rfc3339_ms, DriveCounters, DriveReport, Driver, Pace, ScenarioPlanOptions,
};
use deconflict_sim::scenario::{AreaShape, Role as ScenarioRole, Schedule};
use deconflict_sim::{builtin, generate, GenerateOptions, Scenario};
use deconflict_store::{PartyRecord, Role};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::serve::{init_logging, LiveArgs, SQLITE_FILE_NAME};

/// The scenario the demo plays.
const DEMO_SCENARIO: &str = "syria-2015";
/// The demo's span starts this long (scenario time) before the first fixed-time sortie is
/// on station, so the encounter comes in the first minutes.
pub const ENCOUNTER_LEAD_S: i64 = 300;
/// Scenario time generated when the demo runs until Ctrl-C.
const SPAN_S_UNTIL_STOPPED: u64 = 6 * 3600;
/// Scenario time generated beyond `--duration` × speed, so traffic never runs out early.
const SPAN_MARGIN_S: u64 = 600;
/// The most scenario time one demo generates (the generator's own limit).
const SPAN_S_MAX: u64 = 7 * 24 * 3600;
/// The id of the admin party the demo adds.
const ADMIN_ID: &str = "admin";
/// A plain tally line this often when standard error is not a terminal.
const PLAIN_TALLY_INTERVAL: Duration = Duration::from_secs(10);
/// Pause before reconnecting the observer's event stream after it drops.
const EVENTS_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// Run the seed scenario live through the service, with a console per party.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The data directory of the embedded store (must not hold a store yet). Default: a
    /// new directory under the system's temporary directory, printed at start.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// How many times as fast as real time the scenario runs.
    #[arg(long, default_value_t = 10.0, value_name = "X")]
    pub speed: f64,
    /// Stop after this many seconds of real time (default: run until Ctrl-C).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// The seed of the scenario's random choices.
    #[arg(long, default_value_t = 2015)]
    pub seed: u64,
    #[command(flatten)]
    pub live: LiveArgs,
}

/// A party the demo adds, with its token.
struct DemoParty {
    id: String,
    name: String,
    role: Role,
    token: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= CLOCK_SPEED_MAX) {
        bail!(
            "--speed {} must be above 0 and at most {CLOCK_SPEED_MAX}",
            args.speed
        );
    }
    if let Some(duration) = args.duration {
        if !(duration.is_finite() && duration > 0.0) {
            bail!("--duration {duration} must be a positive number of seconds");
        }
    }
    args.live.config()?;
    // The service logs warnings only, so the tally stays readable; DECONFLICT_LOG overrides.
    if std::env::var_os("DECONFLICT_LOG").is_none() {
        std::env::set_var("DECONFLICT_LOG", "warn");
    }
    init_logging("text");

    let mut scenario = Scenario::from_toml(builtin(DEMO_SCENARIO).context("the seed scenario")?)
        .context("the seed scenario")?;
    if let Some(encounter_s) = first_fixed_on_station_s(&scenario) {
        // Moving the scenario's own start (not `--start`, which moves fixed times too)
        // brings the encounter to the first minutes.
        scenario.start_unix_s = encounter_s - ENCOUNTER_LEAD_S;
    }
    let span_s = match args.duration {
        Some(duration) => ((duration * args.speed).ceil() as u64 + SPAN_MARGIN_S).min(SPAN_S_MAX),
        None => SPAN_S_UNTIL_STOPPED,
    };
    let generated = generate(
        &scenario,
        &GenerateOptions {
            duration_s: Some(span_s),
            ..GenerateOptions::with_seed(args.seed)
        },
        &|_| {},
    )?;

    let data_dir = match &args.data {
        Some(dir) => dir.clone(),
        None => fresh_temp_dir()?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    if data_dir.join(SQLITE_FILE_NAME).exists() {
        bail!(
            "{} already holds a store; the demo needs a fresh data directory",
            data_dir.display()
        );
    }
    let terms = terms_of(&scenario);
    terms
        .validate()
        .map_err(|error| anyhow::anyhow!("the scenario's agreement: {error}"))?;
    let parties = demo_parties(&scenario);

    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let made_temp_dir = args.data.is_none();
    let outcome = runtime.block_on(run_demo(
        args,
        scenario,
        generated,
        data_dir.clone(),
        terms,
        parties,
    ));
    if outcome.is_err() && made_temp_dir {
        // Only an empty directory goes: a store that was made stays to be looked at.
        let _ = std::fs::remove_dir(&data_dir);
    }
    outcome
}

/// The earliest on-station time of the scenario's fixed-time sorties.
fn first_fixed_on_station_s(scenario: &Scenario) -> Option<i64> {
    scenario
        .patterns
        .iter()
        .filter_map(|pattern| match &pattern.schedule {
            Schedule::At(times) => times.iter().min().copied(),
            Schedule::Rate { .. } => None,
        })
        .min()
}

fn fresh_temp_dir() -> anyhow::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let dir = std::env::temp_dir().join(format!("deconflict-demo-{stamp}-{}", std::process::id()));
    std::fs::create_dir(&dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    Ok(dir)
}

/// The agreement's terms from the scenario: its strategic minima, the contract's tactical
/// defaults, its frequencies, its ground line as the parties' contacts, and a region
/// around its bases and areas.
fn terms_of(scenario: &Scenario) -> Terms {
    let agreement = &scenario.agreement;
    let mut terms = Terms::default();
    terms.separation.horizontal_m = agreement.horizontal_m;
    terms.separation.vertical_m = agreement.vertical_m;
    terms.separation.time_s = agreement.time_s;
    terms.frequencies = agreement
        .frequencies
        .iter()
        .filter_map(|name| {
            let mhz: f64 = name.split_whitespace().next()?.parse().ok()?;
            Some(Frequency {
                name: name.clone(),
                mhz,
            })
        })
        .collect();
    let flying: Vec<&str> = scenario
        .parties
        .iter()
        .filter(|party| party.role == ScenarioRole::Party)
        .map(|party| party.id.as_str())
        .collect();
    if let (Some((from, to)), [first, second, ..]) = (&agreement.ground_line, flying.as_slice()) {
        terms.contacts = vec![
            Contact {
                party: first.to_string(),
                name: from.clone(),
                phone: None,
                email: None,
            },
            Contact {
                party: second.to_string(),
                name: to.clone(),
                phone: None,
                email: None,
            },
        ];
    }
    terms.region = region_of(scenario);
    terms
}

/// A box around the scenario's bases and areas, a degree wider on every side.
fn region_of(scenario: &Scenario) -> Option<deconflict_wire::volume::PolygonJson> {
    let mut points: Vec<(f64, f64)> = scenario
        .bases
        .iter()
        .map(|base| (base.position.lat_deg(), base.position.lon_deg()))
        .collect();
    for area in &scenario.areas {
        match &area.shape {
            AreaShape::Circle { center, .. } => points.push((center.lat_deg(), center.lon_deg())),
            AreaShape::Polygon(vertices) => {
                points.extend(vertices.iter().map(|v| (v.lat_deg(), v.lon_deg())))
            }
        }
    }
    let lat_min = points.iter().map(|p| p.0).reduce(f64::min)? - 1.0;
    let lat_max = points.iter().map(|p| p.0).reduce(f64::max)? + 1.0;
    let lon_min = points.iter().map(|p| p.1).reduce(f64::min)? - 1.0;
    let lon_max = points.iter().map(|p| p.1).reduce(f64::max)? + 1.0;
    let vertex = |lat: f64, lng: f64| deconflict_wire::volume::LatLngJson {
        lat: lat.round(),
        lng: lng.round(),
    };
    Some(deconflict_wire::volume::PolygonJson {
        vertices: vec![
            vertex(lat_min, lon_min),
            vertex(lat_min, lon_max),
            vertex(lat_max, lon_max),
            vertex(lat_max, lon_min),
        ],
    })
}

/// The scenario's parties and observers, and an admin, each with a new token.
fn demo_parties(scenario: &Scenario) -> Vec<DemoParty> {
    let mut parties: Vec<DemoParty> = scenario
        .parties
        .iter()
        .map(|party| DemoParty {
            id: party.id.clone(),
            name: party.name.clone(),
            role: match party.role {
                ScenarioRole::Party => Role::Party,
                ScenarioRole::Observer => Role::Observer,
                ScenarioRole::Admin => Role::Admin,
            },
            token: new_random_token(),
        })
        .collect();
    if !parties.iter().any(|party| party.role == Role::Admin) {
        parties.push(DemoParty {
            id: ADMIN_ID.into(),
            name: "Demo administrator".into(),
            role: Role::Admin,
            token: new_random_token(),
        });
    }
    parties
}

async fn run_demo(
    args: Args,
    scenario: Scenario,
    generated: deconflict_sim::Generated,
    data_dir: PathBuf,
    terms: Terms,
    parties: Vec<DemoParty>,
) -> anyhow::Result<ExitCode> {
    // Listening first: a busy port is the likeliest failure, and says so before any store
    // is made.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let path = data_dir.join(SQLITE_FILE_NAME);
    let store: Arc<dyn deconflict_store::Store> = Arc::new(
        deconflict_store::open_sqlite(&path)
            .await
            .with_context(|| format!("cannot open the SQLite store {}", path.display()))?,
    );
    let start_ms = scenario.start_unix_s * 1000;
    for party in &parties {
        store
            .insert_party(&PartyRecord {
                id: party.id.clone(),
                name: party.name.clone(),
                role: party.role,
                token_sha256: token_sha256(&party.token),
                created_ms: start_ms,
            })
            .await
            .with_context(|| format!("cannot add the party {}", party.id))?;
    }
    let address = listener.local_addr()?;
    let base_url = format!("http://{address}");

    print_welcome(
        &args, &scenario, &generated, &data_dir, &base_url, &parties, &terms,
    );

    let clock = ScaledClock::new(start_ms, args.speed)
        .map_err(|error| anyhow::anyhow!("--speed: {error}"))?;
    let pace = Pace {
        reading_ms: clock.start_ms(),
        origin: clock.origin(),
        speed: clock.speed(),
    };
    let config = ServerConfig {
        initial_terms: terms,
        live: args.live.config()?,
        ..ServerConfig::default()
    };
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(deconflict_server::serve(
        listener,
        store,
        Arc::new(clock),
        config,
        async move {
            let _ = server_stopped.await;
        },
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(DriveCounters::default());
    let tally = Arc::new(EventTally::default());

    let driver_thread = {
        let tokens: BTreeMap<String, String> = parties
            .iter()
            .filter(|party| party.role == Role::Party)
            .map(|party| (party.id.clone(), party.token.clone()))
            .collect();
        let actions = plan_scenario(&generated, &ScenarioPlanOptions::default());
        let driver = Driver::new(&base_url, tokens, counters.clone(), stop.clone());
        std::thread::spawn(move || driver.run(&actions, &pace))
    };
    let events_thread = parties
        .iter()
        .find(|party| party.role == Role::Observer)
        .map(|observer| {
            let url = format!("{base_url}/v1/events");
            let token = observer.token.clone();
            let tally = tally.clone();
            let stop = stop.clone();
            std::thread::spawn(move || watch_events(&url, &token, &tally, &stop))
        });
    let display_done = Arc::new(AtomicBool::new(false));
    let display_thread = {
        let counters = counters.clone();
        let tally = tally.clone();
        let done = display_done.clone();
        std::thread::spawn(move || show_tally(&counters, &tally, &done, &pace))
    };

    let started = Instant::now();
    let reason = match args.duration {
        Some(duration) => tokio::select! {
            () = tokio::time::sleep(Duration::from_secs_f64(duration)) => "the duration has passed",
            _ = tokio::signal::ctrl_c() => "interrupted",
        },
        None => {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted"
        }
    };

    stop.store(true, Ordering::Relaxed);
    let report = tokio::task::spawn_blocking(move || driver_thread.join())
        .await
        .ok()
        .and_then(Result::ok);
    display_done.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || display_thread.join()).await;
    let _ = stop_server.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(error).context("the service failed"),
        Err(error) => bail!("the service task failed: {error}"),
    }
    if let Some(events_thread) = events_thread {
        let _ = tokio::task::spawn_blocking(move || events_thread.join()).await;
    }
    println!();
    println!(
        "stopped ({reason}) after {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        tally.line(&counters)
    );
    match report {
        Some(report) => print_report(&report),
        None => println!("the driver ended abnormally"),
    }
    println!("the store stays in {}", data_dir.display());
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
fn print_welcome(
    args: &Args,
    scenario: &Scenario,
    generated: &deconflict_sim::Generated,
    data_dir: &std::path::Path,
    base_url: &str,
    parties: &[DemoParty],
    terms: &Terms,
) {
    println!("deconflict demo: listening on {base_url}");
    println!("data directory: {}", data_dir.display());
    println!();
    println!("{}", scenario.description);
    println!(
        "Scenario time starts at {} and runs {}× real time: {} sorties in {:.0} min of \
         scenario time.",
        rfc3339_ms(scenario.start_unix_s * 1000),
        args.speed,
        generated.flights.len(),
        generated.duration_s as f64 / 60.0
    );
    println!();
    println!("Consoles (open in a browser):");
    for party in parties.iter().filter(|p| p.role != Role::Admin) {
        println!("  {:<14} {base_url}/?token={}", party.id, party.token);
    }
    for party in parties.iter().filter(|p| p.role == Role::Admin) {
        println!(
            "  {:<14} API token (parties, agreement): {}",
            party.id, party.token
        );
    }
    let minutes = |s: i64| s as f64 / 60.0;
    println!();
    println!("What to look at:");
    println!(
        "  - Conflicts: each sortie's plan is filed 30 min (scenario) before take-off; plans of \
         the two sides that come within {} m, {} m and {} s of each other are conflicts. \
         Each side sees only where and when they overlap, never the other's plan.",
        terms.separation.horizontal_m, terms.separation.vertical_m, terms.separation.time_s
    );
    println!(
        "  - Alerts: about {:.0} min of scenario time in (about {:.0} s real), a coalition \
         F-16 and a Russian Su-30SM fly parallel lines 8 km apart, as in the communications \
         test of 3 Nov 2015: a warning on both sides, each seeing the other aircraft only \
         while the alert lasts.",
        minutes(ENCOUNTER_LEAD_S),
        ENCOUNTER_LEAD_S as f64 / args.speed
    );
    println!(
        "  - Hotline: every conflict and every warning opens a thread between the duty \
         officers; unanswered messages escalate after {} s of scenario time.",
        terms.hotline.answer_within_s
    );
    println!(
        "  - The working group's console shows both sides' conflicts and alerts, but no plan."
    );
    println!();
    println!(
        "{}",
        match args.duration {
            Some(duration) => format!("Running for {duration} s (Ctrl-C stops sooner)."),
            None => "Running until Ctrl-C.".to_string(),
        }
    );
}

fn print_report(report: &DriveReport) {
    println!("driven as each party: {report}");
}

/// What the observer's event stream has shown.
#[derive(Debug, Default)]
pub struct EventTally {
    pub conflicts: AtomicU64,
    pub alerts: AtomicU64,
    pub hotline_messages: AtomicU64,
    pub escalations: AtomicU64,
    /// Alerts that reached `warning` and hotline threads, by id.
    ids: Mutex<(BTreeSet<String>, BTreeSet<String>)>,
}

impl EventTally {
    fn record(&self, kind: &str, data: &Value) {
        let id = data.get("id").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "conflict.opened" => {
                self.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            "alert.raised" => {
                self.alerts.fetch_add(1, Ordering::Relaxed);
            }
            "hotline.message" => {
                self.hotline_messages.fetch_add(1, Ordering::Relaxed);
            }
            "hotline.escalated" => {
                self.escalations.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if kind.starts_with("alert.")
            && data.get("level").and_then(Value::as_str) == Some("warning")
        {
            ids.0.insert(id.to_string());
        }
        if kind == "hotline.message" {
            if let Some(thread) = data.get("thread").and_then(Value::as_str) {
                ids.1.insert(thread.to_string());
            }
        }
    }

    /// The tally as one line.
    pub fn line(&self, counters: &DriveCounters) -> String {
        let (warnings, threads) = {
            let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            (ids.0.len(), ids.1.len())
        };
        format!(
            "intents {} filed, {} active | track reports {} | conflicts {} | alerts {} ({} warnings) | hotline {} messages in {} threads, {} escalated | errors {}",
            DriveCounters::get(&counters.intents_filed),
            DriveCounters::get(&counters.intents_activated)
                .saturating_sub(DriveCounters::get(&counters.intents_ended)),
            DriveCounters::get(&counters.states_accepted),
            self.conflicts.load(Ordering::Relaxed),
            self.alerts.load(Ordering::Relaxed),
            warnings,
            self.hotline_messages.load(Ordering::Relaxed),
            threads,
            self.escalations.load(Ordering::Relaxed),
            DriveCounters::get(&counters.errors),
        )
    }
}

/// Reads the observer's Server-Sent Events into the tally until stopped, reconnecting
/// after the last event seen when the stream drops.
fn watch_events(url: &str, token: &str, tally: &EventTally, stop: &AtomicBool) {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .build();
    let mut last_id: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut request = agent
            .get(url)
            .set("Authorization", &format!("Bearer {token}"))
            .set("Accept", "text/event-stream");
        if let Some(id) = &last_id {
            request = request.set("Last-Event-ID", id);
        }
        if let Ok(response) = request.call() {
            let reader = BufReader::new(response.into_reader());
            let (mut kind, mut data) = (String::new(), String::new());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if line.is_empty() {
                    if !kind.is_empty() {
                        if let Ok(value) = serde_json::from_str::<Value>(&data) {
                            tally.record(&kind, &value);
                        }
                    }
                    kind.clear();
                    data.clear();
                } else if let Some(rest) = line.strip_prefix("event:") {
                    kind = rest.trim().to_string();
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data.push_str(rest.trim_start());
                } else if let Some(rest) = line.strip_prefix("id:") {
                    last_id = Some(rest.trim().to_string());
                }
            }
        }
        std::thread::sleep(EVENTS_RECONNECT_DELAY);
    }
}

/// The live tally: a spinner line on a terminal, a plain line every few seconds otherwise.
fn show_tally(counters: &DriveCounters, tally: &EventTally, done: &AtomicBool, pace: &Pace) {
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").expect("the template is valid"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let mut last_line = Instant::now();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(250));
        let message = format!("{} | {}", clock_text(pace.now_ms()), tally.line(counters));
        match &bar {
            Some(bar) => bar.set_message(message),
            None if last_line.elapsed() >= PLAIN_TALLY_INTERVAL => {
                eprintln!("{message}");
                last_line = Instant::now();
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

/// `2015-11-03 09:31:20Z` from Unix milliseconds.
fn clock_text(unix_ms: i64) -> String {
    let text = rfc3339_ms(unix_ms);
    text.get(..19)
        .map(|head| format!("{}Z", head.replace('T', " ")))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_brings_the_seed_scenarios_encounter_to_its_first_minutes() {
        let scenario = Scenario::from_toml(builtin(DEMO_SCENARIO).unwrap()).unwrap();
        let encounter = first_fixed_on_station_s(&scenario).unwrap();
        assert!(encounter > scenario.start_unix_s);
        let terms = terms_of(&scenario);
        terms.validate().unwrap();
        assert_eq!(terms.separation.horizontal_m, 9260.0);
        assert_eq!(terms.frequencies.len(), 2);
        assert_eq!(terms.contacts[0].party, "coalition");
    }

    #[test]
    fn the_clock_text_is_short() {
        assert_eq!(clock_text(1_446_541_200_000), "2015-11-03 09:00:00Z");
    }
}
