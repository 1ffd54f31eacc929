//! `deconflict bench live --url URL --aircraft N`: live traffic streamed to a running
//! server as several parties, in two phases.
//!
//! 1. **Ingest**: for `--burst-s` seconds, `--clients` threads post batches of
//!    `--batch` reports as fast as the server takes them (every aircraft's report time
//!    advancing each round, so reports are accepted, not ignored as repeats). The figure
//!    is reports answered 202 per second.
//! 2. **Real time**: for `--duration-s` seconds every aircraft reports once a second at
//!    its position then (the random traffic of `bench tactical`, split over the parties),
//!    while `--encounters` pairs of aircraft of the first two parties, flying parallel
//!    40 km apart at 25,000 m (above all other traffic, so nothing else alerts on them),
//!    turn towards each other one at a time. The clock starts when the pair's turned states
//!    are ready to send (just before the first of the two turn reports) and stops
//!    when `alert.raised` has arrived on both parties' event streams; p50 and p99 over the
//!    encounters are printed.
//!
//! The benchmark adds its parties through the admin API (`bench-live-<run>-<k>`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::{json, Value};

use deconflict_core::tactical::{AircraftState, PartyIndex};
use deconflict_server::clock::rfc3339_ms;

use super::bench_strategic::{percentile_ms, progress_bar};
use super::bench_tactical::traffic;

/// Stream live traffic to a running server: ingest rate and report-to-alert latency.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// Live aircraft streamed in real time (besides the encounter pairs).
    #[arg(long, default_value_t = 10_000)]
    pub aircraft: usize,
    /// Parties the aircraft are split over (at least 2).
    #[arg(long, default_value_t = 2)]
    pub parties: usize,
    /// An admin's token, to add the benchmark's parties.
    #[arg(long, env = "DECONFLICT_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Seconds of the ingest phase (0 skips it).
    #[arg(long, default_value_t = 5.0)]
    pub burst_s: f64,
    /// Seconds of the real-time phase.
    #[arg(long, default_value_t = 20.0)]
    pub duration_s: f64,
    /// Encounter pairs timed in the real-time phase.
    #[arg(long, default_value_t = 30)]
    pub encounters: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Reports per request.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    /// Aircraft per 10,000 km² of the traffic area (as in `bench tactical`).
    #[arg(long, default_value_t = 20.0)]
    pub density: f64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Metres of longitude per degree at `lat` (spherical; only to place encounter pairs).
fn metres_per_degree_lon(lat: f64) -> f64 {
    111_320.0 * lat.to_radians().cos()
}

const ENCOUNTER_ALT_M: f64 = 25_000.0;
const ENCOUNTER_GAP_M: f64 = 40_000.0;
const ENCOUNTER_SPEED_MPS: f64 = 250.0;

/// One aircraft the benchmark reports: where it was at `epoch` and how it moves.
#[derive(Clone)]
struct Flight {
    party: usize,
    id: String,
    epoch: Instant,
    state: AircraftState,
}

impl Flight {
    fn at(&self, now: Instant) -> AircraftState {
        let dt = now.saturating_duration_since(self.epoch).as_secs_f64();
        self.state.extrapolated(dt).unwrap_or(self.state)
    }
}

fn report_json(out: &mut String, id: &str, time: &str, s: &AircraftState) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{{\"time\":\"{time}\",\"id\":\"{id}\",\"lat\":{:.7},\"lon\":{:.7},\"alt_m\":{:.2},\"vn_mps\":{:.2},\"ve_mps\":{:.2},\"vu_mps\":{:.2}}}",
        s.lat_deg(),
        s.lon_deg(),
        s.alt_m(),
        s.vn_mps(),
        s.ve_mps(),
        s.vu_mps()
    );
}

fn now_rfc3339() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    rfc3339_ms(ms)
}

struct Client {
    base: String,
    tokens: Vec<String>,
    agent: ureq::Agent,
}

impl Client {
    fn post(&self, party: usize, body: String) -> Result<usize, String> {
        let answer = self
            .agent
            .post(&format!("{}/v1/tracks", self.base))
            .set("Authorization", &format!("Bearer {}", self.tokens[party]))
            .set("Content-Type", "application/json")
            .send_string(&body);
        match answer {
            Ok(response) => {
                let value: Value = response.into_json().map_err(|e| e.to_string())?;
                Ok(value["accepted"].as_u64().unwrap_or(0) as usize
                    + value["ignored"].as_u64().unwrap_or(0) as usize)
            }
            Err(ureq::Error::Status(status, response)) => Err(format!(
                "{status}: {}",
                response.into_string().unwrap_or_default()
            )),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Reads one party's event stream, noting when each encounter aircraft's first
/// `alert.raised` arrives.
fn watch_alerts(
    base: String,
    token: String,
    arrivals: Arc<Mutex<HashMap<String, Instant>>>,
    stop: Arc<AtomicBool>,
    ready: Arc<AtomicUsize>,
) {
    let agent = ureq::agent();
    let response = match agent
        .get(&format!("{base}/v1/events"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(response) => response,
        Err(error) => {
            eprintln!("deconflict bench live: cannot read events: {error}");
            ready.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    ready.fetch_add(1, Ordering::SeqCst);
    let mut reader = BufReader::new(response.into_reader());
    let mut kind = String::new();
    let mut line = String::new();
    while !stop.load(Ordering::SeqCst) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => break,
        }
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("event:") {
            kind = rest.trim().to_owned();
        } else if let Some(rest) = line.strip_prefix("data:") {
            if kind == "alert.raised" {
                let arrived = Instant::now();
                if let Ok(data) = serde_json::from_str::<Value>(rest.trim()) {
                    if let Some(own) = data["own"]["id"].as_str() {
                        if own.starts_with("enc-") {
                            arrivals
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .entry(own.to_owned())
                                .or_insert(arrived);
                        }
                    }
                }
            }
        } else if line.is_empty() {
            kind.clear();
        }
    }
}

/// Keeps the first few failures to show.
fn keep_error(errors: &Mutex<Vec<String>>, error: String) {
    let mut errors = errors.lock().unwrap_or_else(|p| p.into_inner());
    if errors.len() < 5 {
        errors.push(error);
    }
}

/// Posts pre-serialised reports (each the text after its `"time"` member) as batches of
/// one party, all stamped with the current time, over the client threads: the ingest
/// phase spends its client time on sending, not on formatting numbers.
fn post_prepared_round(
    clients: &[Client],
    batches: &[(usize, Vec<String>)],
    sent: &AtomicU64,
    errors: &Mutex<Vec<String>>,
) {
    let time = now_rfc3339();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for client in clients {
            let (next, time) = (&next, &time);
            scope.spawn(move || {
                while let Some((party, tails)) = batches.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let mut body = String::with_capacity(tails.len() * 180 + 2);
                    body.push('[');
                    for (index, tail) in tails.iter().enumerate() {
                        if index > 0 {
                            body.push(',');
                        }
                        body.push_str("{\"time\":\"");
                        body.push_str(time);
                        body.push('"');
                        body.push_str(tail);
                    }
                    body.push(']');
                    match client.post(*party, body) {
                        Ok(count) => {
                            sent.fetch_add(count as u64, Ordering::Relaxed);
                        }
                        Err(error) => keep_error(errors, error),
                    }
                }
            });
        }
    });
}

/// Posts every flight's report at `now` in batches over the client threads; returns
/// reports answered and the first errors.
fn post_round(
    clients: &[Client],
    flights: &[Flight],
    batch: usize,
    (now, time): (Instant, &str),
    sent: &AtomicU64,
    errors: &Mutex<Vec<String>>,
) {
    let mut by_party: HashMap<usize, Vec<&Flight>> = HashMap::new();
    for flight in flights {
        by_party.entry(flight.party).or_default().push(flight);
    }
    let jobs: Vec<(usize, Vec<&Flight>)> = by_party
        .into_iter()
        .flat_map(|(party, flights)| {
            flights
                .chunks(batch.max(1))
                .map(|chunk| (party, chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    let queue = Mutex::new(jobs.into_iter());
    std::thread::scope(|scope| {
        for client in clients {
            let (queue, time) = (&queue, &time);
            scope.spawn(move || loop {
                let Some((party, chunk)) = queue.lock().unwrap_or_else(|p| p.into_inner()).next()
                else {
                    break;
                };
                let mut body = String::with_capacity(chunk.len() * 170 + 2);
                body.push('[');
                for (index, flight) in chunk.iter().enumerate() {
                    if index > 0 {
                        body.push(',');
                    }
                    report_json(&mut body, &flight.id, time, &flight.at(now));
                }
                body.push(']');
                match client.post(party, body) {
                    Ok(count) => {
                        sent.fetch_add(count as u64, Ordering::Relaxed);
                    }
                    Err(error) => keep_error(errors, error),
                }
            });
        }
    });
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.parties >= 2, "--parties must be at least 2");
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(
        (1..=5000).contains(&args.batch),
        "--batch must be between 1 and 5000 (a request body is at most 1 MiB)"
    );
    anyhow::ensure!(
        args.duration_s.is_finite() && args.duration_s >= 10.0,
        "--duration-s must be at least 10"
    );
    anyhow::ensure!(
        args.burst_s.is_finite() && args.burst_s >= 0.0,
        "--burst-s must be 0 or more"
    );
    let admin_token = args.admin_token.as_deref().context(
        "bench live needs --admin-token (or DECONFLICT_ADMIN_TOKEN): it adds its parties",
    )?;
    let base = args.url.trim_end_matches('/').to_owned();
    let tokens = super::bench::add_parties(
        &base,
        admin_token,
        "bench-live",
        &super::bench::run_name(),
        args.parties,
    )?;
    let clients: Vec<Client> = (0..args.clients)
        .map(|_| Client {
            base: base.clone(),
            tokens: tokens.clone(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        })
        .collect();

    let epoch = Instant::now();
    let mut flights: Vec<Flight> = traffic(args.aircraft, args.density, args.seed)
        .into_iter()
        .enumerate()
        .map(|(k, state)| Flight {
            party: k % args.parties,
            id: format!("ac-{k}"),
            epoch,
            state,
        })
        .collect();
    let errors = Mutex::new(Vec::new());
    let sent = AtomicU64::new(0);

    // Phase 1: ingest as fast as the server takes it.
    let mut ingest_per_s = None;
    if args.burst_s > 0.0 && !flights.is_empty() {
        let progress = progress_bar(args.burst_s.ceil() as u64, args.json);
        progress.set_message("ingest: posting reports as fast as the server takes them");
        let mut batches: Vec<(usize, Vec<String>)> = Vec::new();
        for party in 0..args.parties {
            let mine: Vec<&Flight> = flights.iter().filter(|f| f.party == party).collect();
            for chunk in mine.chunks(args.batch) {
                let tails = chunk
                    .iter()
                    .map(|flight| {
                        let mut text = String::new();
                        report_json(&mut text, &flight.id, "", &flight.state);
                        // Drop `{"time":""` and keep `,"id":…}`.
                        text.split_off("{\"time\":\"\"".len())
                    })
                    .collect();
                batches.push((party, tails));
            }
        }
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < args.burst_s {
            // Rounds are at least a few milliseconds apart, so each report is newer than
            // the last one of its aircraft and is accepted.
            let round_started = Instant::now();
            post_prepared_round(&clients, &batches, &sent, &errors);
            if round_started.elapsed() < Duration::from_millis(2) {
                std::thread::sleep(Duration::from_millis(2));
            }
            progress.set_position(started.elapsed().as_secs());
        }
        let elapsed = started.elapsed().as_secs_f64();
        progress.finish_and_clear();
        ingest_per_s = Some(sent.swap(0, Ordering::SeqCst) as f64 / elapsed);
    }

    // Phase 2: real time, with encounters.
    let rows = 8usize;
    let encounters: Vec<(Flight, Flight)> = (0..args.encounters)
        .map(|i| {
            let lat = 40.0 + (i % rows) as f64 * 1.5;
            let lon = 2.0 + (i / rows) as f64 * 2.0;
            let make = |party: usize, side: &str, lon: f64| Flight {
                party,
                id: format!("enc-{i}-{side}"),
                epoch,
                state: AircraftState::new(
                    PartyIndex(party as u32),
                    lat,
                    lon,
                    ENCOUNTER_ALT_M,
                    ENCOUNTER_SPEED_MPS,
                    0.0,
                    0.0,
                )
                .expect("a valid encounter state"),
            };
            (
                make(0, "a", lon),
                make(1, "b", lon + ENCOUNTER_GAP_M / metres_per_degree_lon(lat)),
            )
        })
        .collect();
    let encounter_state = Arc::new(Mutex::new(encounters));
    let arrivals: [Arc<Mutex<HashMap<String, Instant>>>; 2] = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicUsize::new(0));
    let watchers: Vec<_> = (0..2)
        .map(|party| {
            let (base, token, arrivals, stop, ready) = (
                base.clone(),
                tokens[party].clone(),
                arrivals[party].clone(),
                stop.clone(),
                ready.clone(),
            );
            std::thread::spawn(move || watch_alerts(base, token, arrivals, stop, ready))
        })
        .collect();
    while ready.load(Ordering::SeqCst) < 2 {
        std::thread::sleep(Duration::from_millis(10));
    }

    let turns_at: Vec<f64> = (0..args.encounters)
        .map(|i| 3.0 + i as f64 * (args.duration_s - 8.0) / args.encounters.max(1) as f64)
        .collect();
    let turned_sent: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; args.encounters]));
    let phase_start = Instant::now();
    let turner = {
        let (encounter_state, turned_sent, stop) =
            (encounter_state.clone(), turned_sent.clone(), stop.clone());
        let client = Client {
            base: base.clone(),
            tokens: tokens.clone(),
            agent: ureq::agent(),
        };
        let turns_at = turns_at.clone();
        std::thread::spawn(move || {
            for (i, at) in turns_at.iter().enumerate() {
                let due = phase_start + Duration::from_secs_f64(*at);
                while Instant::now() < due {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(2).min(due - Instant::now()));
                }
                let now = Instant::now();
                let (a, b) = {
                    let mut pairs = encounter_state.lock().unwrap_or_else(|p| p.into_inner());
                    let (a, b) = &mut pairs[i];
                    for (flight, ve) in [
                        (&mut *a, ENCOUNTER_SPEED_MPS),
                        (&mut *b, -ENCOUNTER_SPEED_MPS),
                    ] {
                        let here = flight.at(now);
                        flight.epoch = now;
                        flight.state = AircraftState::new(
                            here.party(),
                            here.lat_deg(),
                            here.lon_deg(),
                            ENCOUNTER_ALT_M,
                            0.0,
                            ve,
                            0.0,
                        )
                        .expect("a valid turned state");
                    }
                    (a.clone(), b.clone())
                };
                let time = now_rfc3339();
                let mut body = String::from("[");
                report_json(&mut body, &a.id, &time, &a.state);
                body.push(']');
                let _ = client.post(0, body);
                let mut body = String::from("[");
                report_json(&mut body, &b.id, &time, &b.state);
                body.push(']');
                // The turned states became visible to the once-a-second rounds when they
                // were stored above, and a round may send them first: the clock starts
                // then (this counts the first post's time too, so it errs long).
                let sent_at = now;
                if client.post(1, body).is_ok() {
                    turned_sent.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(sent_at);
                }
            }
        })
    };

    let progress = progress_bar(args.duration_s.ceil() as u64, args.json);
    progress.set_message("real time: every aircraft reports once a second");
    let mut rounds = 0u64;
    while phase_start.elapsed().as_secs_f64() < args.duration_s {
        let round_start = phase_start + Duration::from_secs(rounds);
        while Instant::now() < round_start {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The round's time is taken before the encounter states are read: a pair that
        // turns after this never has its old course sent with a newer time than the turn.
        let now = Instant::now();
        let time = now_rfc3339();
        let mut all: Vec<Flight> = flights.clone();
        for (a, b) in encounter_state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            all.push(a.clone());
            all.push(b.clone());
        }
        post_round(&clients, &all, args.batch, (now, &time), &sent, &errors);
        rounds += 1;
        progress.set_position(rounds);
    }
    let realtime_s = phase_start.elapsed().as_secs_f64();
    progress.finish_and_clear();
    // Let the last alerts arrive.
    let settle = Instant::now();
    loop {
        let sent_count = turned_sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|s| s.is_some())
            .count();
        let arrived = (0..args.encounters)
            .filter(|i| {
                arrivals[0]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains_key(&format!("enc-{i}-a"))
                    && arrivals[1]
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains_key(&format!("enc-{i}-b"))
            })
            .count();
        if arrived >= sent_count || settle.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = turner.join();
    // The event readers block on their streams; they end with the process.
    drop(watchers);
    flights.clear();

    let sent_times = turned_sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut missed = 0usize;
    for (i, sent_at) in sent_times.iter().enumerate() {
        let Some(sent_at) = sent_at else { continue };
        let a = arrivals[0]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&format!("enc-{i}-a"))
            .copied();
        let b = arrivals[1]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&format!("enc-{i}-b"))
            .copied();
        match (a, b) {
            (Some(a), Some(b)) => latencies.push(a.max(b).saturating_duration_since(*sent_at)),
            _ => missed += 1,
        }
    }
    latencies.sort_unstable();
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    let round = |value: f64, places: i32| (value * 10f64.powi(places)).round() / 10f64.powi(places);
    let (p50, p99, max) = if latencies.is_empty() {
        (None, None, None)
    } else {
        (
            Some(round(percentile_ms(&latencies, 0.50), 1)),
            Some(round(percentile_ms(&latencies, 0.99), 1)),
            Some(round(percentile_ms(&latencies, 1.0), 1)),
        )
    };
    let report = json!({
        "aircraft": args.aircraft,
        "parties": args.parties,
        "ingest_reports_per_s": ingest_per_s.map(|r| round(r, 0)),
        "realtime_reports_per_s": round(sent.load(Ordering::SeqCst) as f64 / realtime_s, 0),
        "encounters": args.encounters,
        "alerts_timed": latencies.len(),
        "alerts_missed": missed,
        "alert_latency_p50_ms": p50,
        "alert_latency_p99_ms": p99,
        "alert_latency_max_ms": max,
        "errors": errors.len(),
    });
    if args.json {
        println!("{report}");
    } else {
        println!("live aircraft:           {}", args.aircraft);
        if let Some(rate) = ingest_per_s {
            println!("ingest:                  {rate:.0} reports/s");
        }
        println!(
            "real-time reports:       {}/s",
            report["realtime_reports_per_s"]
        );
        println!(
            "report-to-alert (both parties): p50 {} ms, p99 {} ms, max {} ms over {} encounters ({} missed)",
            report["alert_latency_p50_ms"],
            report["alert_latency_p99_ms"],
            report["alert_latency_max_ms"],
            latencies.len(),
            missed
        );
    }
    if let Some(first) = errors.first() {
        eprintln!(
            "deconflict bench live: {} requests failed, first: {first}",
            errors.len()
        );
    }
    Ok(if latencies.is_empty() && args.encounters > 0 {
        eprintln!("deconflict bench live: no encounter alert arrived");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
