//! `deconflict bench strategic --url URL`: the same random intents as the in-process
//! benchmark, written to a running server over HTTP by concurrent clients. Each timed
//! write is one `PUT /v1/intents/{id}`: parsed, checked against every other party's
//! intents, committed durably and answered, so the figures are the service's end to end.
//!
//! The benchmark adds eight parties through the admin API (ids `bench-<run>-<k>`, so runs
//! against the same server do not collide; their intents stay in the server), preloads
//! `--intents` intents, then times `--writes` writes: half updates of preloaded intents
//! (each at most once, quoting its version), half new intents.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use deconflict_core::geometry::Volume4D;
use deconflict_wire::volume::Volume4DJson;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::bench_strategic::{percentile_ms, progress_bar, random_intent, Args, PARTIES};

/// A write that failed for a reason other than the server being unreachable.
const ERRORS_SHOWN_MAX: usize = 5;

struct Write {
    party: usize,
    id: u64,
    body: String,
}

fn body(volumes: &[Volume4D], version: Option<i64>) -> String {
    let volumes: Vec<Volume4DJson> = volumes.iter().map(Volume4DJson::from_core).collect();
    let mut body = json!({"volumes": volumes});
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    body.to_string()
}

/// The server's `process_cpu_seconds_total` from its `/metrics`, or `None` when it cannot
/// be read (another server, or a platform without process metrics).
fn server_cpu_seconds(base: &str) -> Option<f64> {
    let text = ureq::get(&format!("{base}/metrics"))
        .timeout(Duration::from_secs(10))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("process_cpu_seconds_total "))
        .and_then(|value| value.trim().parse().ok())
}

/// One acknowledged write: how long its answer took and how many conflicts it reported.
struct Answered {
    latency: Duration,
    conflicts: usize,
}

/// Sends every write of `writes` from `clients` threads; returns each acknowledged one,
/// the failures, and the seconds all of them took.
fn send_all(
    base: &str,
    tokens: &[String],
    run: &str,
    writes: Vec<Write>,
    clients: usize,
    progress: &indicatif::ProgressBar,
) -> (Vec<Answered>, Vec<String>, f64) {
    let queue = Arc::new(Mutex::new(writes.into_iter()));
    let answered = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..clients {
            let (queue, answered, errors) = (queue.clone(), answered.clone(), errors.clone());
            scope.spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(60))
                    .build();
                let mut mine = Vec::new();
                loop {
                    let Some(write) = queue.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                        break;
                    };
                    let url = format!("{base}/v1/intents/{run}-{}", write.id);
                    let sent = Instant::now();
                    let result = agent
                        .put(&url)
                        .set("Authorization", &format!("Bearer {}", tokens[write.party]))
                        .set("Content-Type", "application/json")
                        .send_string(&write.body);
                    let elapsed = sent.elapsed();
                    progress.inc(1);
                    match result {
                        Ok(response) => {
                            let answer: Value = response.into_json().unwrap_or(Value::Null);
                            mine.push(Answered {
                                latency: elapsed,
                                conflicts: answer["conflicts"].as_array().map_or(0, Vec::len),
                            });
                        }
                        Err(error) => {
                            errors
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(error.to_string());
                        }
                    }
                }
                answered
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(mine);
            });
        }
    });
    let elapsed_s = started.elapsed().as_secs_f64();
    let answered = std::mem::take(&mut *answered.lock().unwrap_or_else(|p| p.into_inner()));
    let errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|p| p.into_inner()));
    (answered, errors, elapsed_s)
}

pub fn run(args: &Args, url: &str) -> anyhow::Result<ExitCode> {
    let admin_token = args.admin_token.as_deref().context(
        "--url needs --admin-token (or DECONFLICT_ADMIN_TOKEN): the benchmark adds its parties",
    )?;
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    let base = url.trim_end_matches('/');
    let run = super::bench::run_name();
    let tokens = super::bench::add_parties(base, admin_token, "bench", &run, PARTIES as usize)?;

    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let parties: Vec<usize> = (0..args.intents)
        .map(|_| rng.random_range(0..PARTIES as usize))
        .collect();
    let preload: Vec<Write> = (0..args.intents)
        .map(|id| Write {
            party: parties[id],
            id: id as u64,
            body: body(&random_intent(&mut rng), None),
        })
        .collect();
    let progress = progress_bar(args.intents as u64, args.json);
    progress.set_message("preloading intents over HTTP");
    let (loaded, load_errors, load_s) =
        send_all(base, &tokens, &run, preload, args.clients, &progress);
    progress.finish_and_clear();
    anyhow::ensure!(
        load_errors.is_empty(),
        "{} of {} preload writes failed, first: {}",
        load_errors.len(),
        args.intents,
        load_errors[0]
    );

    let mut updatable: Vec<u64> = (0..args.intents as u64).collect();
    updatable.shuffle(&mut rng);
    let mut updates = updatable.into_iter();
    let writes: Vec<Write> = (0..args.writes)
        .map(|k| match updates.next().filter(|_| k % 2 == 0) {
            Some(id) => Write {
                party: parties[id as usize],
                id,
                body: body(&random_intent(&mut rng), Some(1)),
            },
            None => {
                let id = (args.intents + k) as u64;
                Write {
                    party: rng.random_range(0..PARTIES as usize),
                    id,
                    body: body(&random_intent(&mut rng), None),
                }
            }
        })
        .collect();
    let progress = progress_bar(args.writes as u64, args.json);
    progress.set_message("timing checked writes over HTTP");
    let cpu_before = server_cpu_seconds(base);
    let (answered, errors, timed_s) =
        send_all(base, &tokens, &run, writes, args.clients, &progress);
    let cpu_after = server_cpu_seconds(base);
    progress.finish_and_clear();
    let round = |value: f64, places: i32| (value * 10f64.powi(places)).round() / 10f64.powi(places);
    anyhow::ensure!(
        !answered.is_empty(),
        "every timed write failed, first: {}",
        errors.first().map_or("", String::as_str)
    );
    let conflicts: usize = answered.iter().map(|a| a.conflicts).sum();
    // The tail split by what the write found: a write that opens or refreshes conflicts
    // also computes their disclosed regions, stores them and opens hotline threads.
    let sorted_latencies = |keep: &dyn Fn(&Answered) -> bool| {
        let mut latencies: Vec<Duration> = answered
            .iter()
            .filter(|a| keep(a))
            .map(|a| a.latency)
            .collect();
        latencies.sort_unstable();
        latencies
    };
    let latencies = sorted_latencies(&|_| true);
    let p99_where = |keep: &dyn Fn(&Answered) -> bool| {
        let latencies = sorted_latencies(keep);
        (!latencies.is_empty()).then(|| round(percentile_ms(&latencies, 0.99), 3))
    };
    let report = json!({
        "intents": args.intents,
        "writes_per_s": round(latencies.len() as f64 / timed_s, 1),
        "check_p50_ms": round(percentile_ms(&latencies, 0.50), 3),
        "check_p99_ms": round(percentile_ms(&latencies, 0.99), 3),
        "check_max_ms": round(percentile_ms(&latencies, 1.0), 3),
        // Null when no write fell in that group.
        "check_p99_ms_no_conflict": p99_where(&|a| a.conflicts == 0),
        "check_p99_ms_with_conflicts": p99_where(&|a| a.conflicts > 0),
        "writes": latencies.len(),
        "errors": errors.len(),
        "clients": args.clients,
        "conflicts_per_write": round(conflicts as f64 / latencies.len() as f64, 3),
        "load_writes_per_s": round(loaded.len() as f64 / load_s, 1),
        // Server CPU (user and system, all threads) spent per timed write: what the
        // service costs, less disturbed by a shared machine than writes/s is. Null when
        // the server does not publish process_cpu_seconds_total.
        "server_cpu_ms_per_write": cpu_before.zip(cpu_after).map(|(before, after)| {
            round((after - before) * 1e3 / latencies.len() as f64, 3)
        }),
        "url": base,
    });
    if args.json {
        println!("{report}");
    } else {
        println!(
            "{} intents preloaded over HTTP at {:.0} writes/s; {} checked writes from {} clients: {:.0} writes/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {} errors; server CPU per write {}",
            args.intents,
            report["load_writes_per_s"].as_f64().unwrap_or(0.0),
            latencies.len(),
            args.clients,
            report["writes_per_s"].as_f64().unwrap_or(0.0),
            report["check_p50_ms"].as_f64().unwrap_or(0.0),
            report["check_p99_ms"].as_f64().unwrap_or(0.0),
            report["check_max_ms"].as_f64().unwrap_or(0.0),
            errors.len(),
            report["server_cpu_ms_per_write"]
                .as_f64()
                .map_or("unknown".to_owned(), |ms| format!("{ms:.3} ms")),
        );
    }
    for error in errors.iter().take(ERRORS_SHOWN_MAX) {
        eprintln!("deconflict: a timed write failed: {error}");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
