//! `deconflict bench strategic --url URL`: the same random intents as the in-process
//! benchmark, written to a running server over HTTP by concurrent clients. Each timed
//! write is one `PUT /v1/intents/{id}`: parsed, checked against every other party's
//! intents, committed durably and answered, so the figures are the service's end to end.
//!
//! The benchmark adds eight parties through the admin API (ids `bench-<run>-<k>`, so runs
//! against the same server do not collide; their intents stay in the server), preloads
//! `--intents` intents from `--preload-clients` connections, then times `--writes` writes
//! from `--clients` connections: half updates of preloaded intents (each at most once,
//! quoting its version), half new intents.

use std::cell::RefCell;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use deconflict_core::geometry::Volume4D;
use deconflict_wire::volume::Volume4DJson;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::bench_strategic::{percentile_ms, progress_bar, random_intent, Args, PARTIES};

/// Failed writes printed (all are counted).
const ERRORS_SHOWN_MAX: usize = 5;
/// How long a client waits to connect, or for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

struct Write {
    party: usize,
    id: u64,
    body: Bytes,
}

fn body(volumes: &[Volume4D], version: Option<i64>) -> Bytes {
    let volumes: Vec<Volume4DJson> = volumes.iter().map(Volume4DJson::from_core).collect();
    let mut body = json!({"volumes": volumes});
    if let Some(version) = version {
        body["version"] = json!(version);
    }
    Bytes::from(body.to_string())
}

/// The unlabelled samples of the server's `/metrics` (name to value), or `None` when they
/// cannot be read (another server, say).
fn server_metrics(base: &str) -> Option<HashMap<String, f64>> {
    let text = ureq::get(&format!("{base}/metrics"))
        .timeout(Duration::from_secs(10))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    Some(
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.contains('{'))
            .filter_map(|line| {
                let (name, value) = line.split_once(' ')?;
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect(),
    )
}

/// What the server's metrics say of the timed writes: how much its CPU and its pipeline's
/// two serial stages (the engine deciding, the commit stage writing) were busy while they
/// ran, so that a run shows what bounded it. Each figure is null when the server does not
/// publish what it needs.
struct ServerFigures {
    /// `process_cpu_seconds_total`, in ms per timed write.
    cpu_ms_per_write: Option<f64>,
    /// The server's CPU seconds per second of the run: the cores it kept busy.
    cores: Option<f64>,
    /// The share of the run the engine spent deciding (`deconflict_decide_seconds`).
    decide_busy: Option<f64>,
    /// The share of the run the commit stage spent signing, committing and answering
    /// (`deconflict_commit_sign_seconds`, `deconflict_commit_seconds`,
    /// `deconflict_commit_answer_seconds`). Near 1, the commit stage bounds the
    /// rate: more clients then make larger commits, not more of them.
    commit_busy: Option<f64>,
    /// Writes the engine took per commit (`deconflict_write_queue_seconds_count` over
    /// `deconflict_commit_seconds_count`).
    writes_per_commit: Option<f64>,
}

impl ServerFigures {
    fn between(
        before: Option<&HashMap<String, f64>>,
        after: Option<&HashMap<String, f64>>,
        writes: usize,
        timed_s: f64,
    ) -> ServerFigures {
        // A metric not yet recorded before the run is absent from `before`: zero then.
        let grew = |name: &str| -> Option<f64> {
            let after = after?.get(name)?;
            Some(after - before?.get(name).copied().unwrap_or(0.0))
        };
        let busy = |names: &[&str]| -> Option<f64> {
            let seconds: Option<Vec<f64>> = names.iter().map(|name| grew(name)).collect();
            Some(seconds?.iter().sum::<f64>() / timed_s)
        };
        let cpu_s = grew("process_cpu_seconds_total");
        let commits = grew("deconflict_commit_seconds_count").filter(|&n| n > 0.0);
        ServerFigures {
            cpu_ms_per_write: cpu_s.map(|s| s * 1e3 / writes as f64),
            cores: cpu_s.map(|s| s / timed_s),
            decide_busy: busy(&["deconflict_decide_seconds_sum"]),
            commit_busy: busy(&[
                "deconflict_commit_sign_seconds_sum",
                "deconflict_commit_seconds_sum",
                "deconflict_commit_answer_seconds_sum",
            ]),
            writes_per_commit: grew("deconflict_write_queue_seconds_count")
                .zip(commits)
                .map(|(writes, commits)| writes / commits),
        }
    }
}

/// One acknowledged write: how long its answer took and how many conflicts it reported.
struct Answered {
    latency: Duration,
    conflicts: usize,
}

/// What one client needs to send: the server's address, the parties' tokens and the run.
struct Target<'a> {
    host: String,
    authority: String,
    tokens: &'a [String],
    run: &'a str,
}

impl Target<'_> {
    /// The `PUT` of one write, its body shared rather than copied.
    fn request(&self, write: &Write) -> anyhow::Result<hyper::Request<Full<Bytes>>> {
        Ok(
            hyper::Request::put(format!("/v1/intents/{}-{}", self.run, write.id))
                .header(hyper::header::HOST, &self.authority)
                .header(
                    hyper::header::AUTHORIZATION,
                    format!("Bearer {}", self.tokens[write.party]),
                )
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(write.body.clone()))?,
        )
    }
}

/// The part of an intent's answer the benchmark reads: how many conflicts it reported.
#[derive(serde::Deserialize)]
struct AnswerHead {
    #[serde(default)]
    conflicts: Vec<serde::de::IgnoredAny>,
}

/// Sends every write of `writes` over `clients` keep-alive connections; returns each
/// acknowledged one, the failures, and the seconds all of them took.
///
/// The connections are driven by one thread (a current-thread runtime and hyper's HTTP/1
/// client), not a thread each: the load generator shares the machine's two cores with the
/// server, and a blocked thread per connection spent about 0.1 ms of CPU per request on
/// wake-ups and copies, a fifth of what the server spends on the write itself.
fn send_all(
    base: &str,
    tokens: &[String],
    run: &str,
    writes: Vec<Write>,
    clients: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<(Vec<Answered>, Vec<String>, f64)> {
    let uri: hyper::Uri = base.parse().with_context(|| format!("--url {base}"))?;
    anyhow::ensure!(
        uri.scheme_str() == Some("http"),
        "--url must be an http:// URL, not {base}"
    );
    let authority = uri
        .authority()
        .with_context(|| format!("--url {base} has no host"))?
        .to_string();
    let host = format!(
        "{}:{}",
        uri.host().unwrap_or_default().trim_matches(['[', ']']),
        uri.port_u16().unwrap_or(80)
    );
    let target = Target {
        host,
        authority,
        tokens,
        run,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let queue = RefCell::new(writes.into_iter());
    let started = Instant::now();
    let outcomes = runtime.block_on(async {
        let clients = (0..clients).map(|_| client(&target, &queue, progress));
        futures_util::future::join_all(clients).await
    });
    let elapsed_s = started.elapsed().as_secs_f64();
    let mut answered = Vec::new();
    let mut errors = Vec::new();
    for (mine, failures) in outcomes {
        answered.extend(mine);
        errors.extend(failures);
    }
    Ok((answered, errors, elapsed_s))
}

/// One client: takes writes from the shared queue and sends each on its own connection,
/// opening a new one after a failure.
async fn client(
    target: &Target<'_>,
    queue: &RefCell<std::vec::IntoIter<Write>>,
    progress: &indicatif::ProgressBar,
) -> (Vec<Answered>, Vec<String>) {
    let mut answered = Vec::new();
    let mut errors = Vec::new();
    let mut connection: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> = None;
    loop {
        let Some(write) = queue.borrow_mut().next() else {
            break;
        };
        let sent = Instant::now();
        let result = send_one(target, &mut connection, &write).await;
        let latency = sent.elapsed();
        progress.inc(1);
        match result {
            Ok(conflicts) => answered.push(Answered { latency, conflicts }),
            Err(error) => {
                connection = None;
                errors.push(format!("PUT {}-{}: {error:#}", target.run, write.id));
            }
        }
    }
    (answered, errors)
}

/// Sends one write and reads its answer: the number of conflicts it reported, or why it
/// was not acknowledged.
async fn send_one(
    target: &Target<'_>,
    connection: &mut Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    write: &Write,
) -> anyhow::Result<usize> {
    let sender = match connection {
        Some(sender) if !sender.is_closed() => sender,
        _ => {
            let stream = tokio::time::timeout(
                REQUEST_TIMEOUT,
                tokio::net::TcpStream::connect(&target.host),
            )
            .await
            .context("connecting timed out")??;
            stream.set_nodelay(true)?;
            let (sender, driver) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(driver);
            connection.insert(sender)
        }
    };
    sender.ready().await?;
    let response = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let response = sender.send_request(target.request(write)?).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, body))
    })
    .await
    .context("no answer within the timeout")??;
    let (status, body) = response;
    anyhow::ensure!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    let head: AnswerHead = serde_json::from_slice(&body).context("the answer is not an intent")?;
    Ok(head.conflicts.len())
}

pub fn run(args: &Args, url: &str) -> anyhow::Result<ExitCode> {
    let admin_token = args.admin_token.as_deref().context(
        "--url needs --admin-token (or DECONFLICT_ADMIN_TOKEN): the benchmark adds its parties",
    )?;
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(
        args.preload_clients >= 1,
        "--preload-clients must be at least 1"
    );
    let base = url.trim_end_matches('/');
    let run = super::bench::run_name();
    let tokens = super::bench::add_parties(base, admin_token, "bench", &run, PARTIES as usize)?;

    let days = args.days()?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let parties: Vec<usize> = (0..args.intents)
        .map(|_| rng.random_range(0..PARTIES as usize))
        .collect();
    let preload: Vec<Write> = (0..args.intents)
        .map(|id| Write {
            party: parties[id],
            id: id as u64,
            body: body(&random_intent(&mut rng, days), None),
        })
        .collect();
    let progress = progress_bar(args.intents as u64, args.json);
    progress.set_message("preloading intents over HTTP");
    let (loaded, load_errors, load_s) = send_all(
        base,
        &tokens,
        &run,
        preload,
        args.preload_clients,
        &progress,
    )?;
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
        // Only even writes take an update, so the odd ones leave the next id for later.
        .map(|k| match (k % 2 == 0).then(|| updates.next()).flatten() {
            Some(id) => Write {
                party: parties[id as usize],
                id,
                body: body(&random_intent(&mut rng, days), Some(1)),
            },
            None => {
                let id = (args.intents + k) as u64;
                Write {
                    party: rng.random_range(0..PARTIES as usize),
                    id,
                    body: body(&random_intent(&mut rng, days), None),
                }
            }
        })
        .collect();
    let progress = progress_bar(args.writes as u64, args.json);
    progress.set_message("timing checked writes over HTTP");
    let metrics_before = server_metrics(base);
    let (answered, errors, timed_s) =
        send_all(base, &tokens, &run, writes, args.clients, &progress)?;
    let metrics_after = server_metrics(base);
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
    let server = ServerFigures::between(
        metrics_before.as_ref(),
        metrics_after.as_ref(),
        latencies.len(),
        timed_s,
    );
    let p99_where = |keep: &dyn Fn(&Answered) -> bool| {
        let latencies = sorted_latencies(keep);
        (!latencies.is_empty()).then(|| round(percentile_ms(&latencies, 0.99), 3))
    };
    let report = json!({
        "intents": args.intents,
        "days": days,
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
        "server_cpu_ms_per_write": server.cpu_ms_per_write.map(|ms| round(ms, 3)),
        // What bounded the run (see `ServerFigures`): the cores the server kept busy, and
        // the shares of the run its engine and its commit stage were busy.
        "server_cores": server.cores.map(|cores| round(cores, 2)),
        "decide_busy_share": server.decide_busy.map(|share| round(share, 2)),
        "commit_busy_share": server.commit_busy.map(|share| round(share, 2)),
        "writes_per_commit": server.writes_per_commit.map(|writes| round(writes, 1)),
        "url": base,
    });
    if args.json {
        println!("{report}");
    } else {
        let share = |name: &str| {
            report[name].as_f64().map_or("unknown".to_owned(), |share| {
                format!("{:.0}%", share * 100.0)
            })
        };
        println!(
            "{} intents preloaded over HTTP at {:.0} writes/s; {} checked writes from {} clients: {:.0} writes/s finding {:.2} conflicts each on average, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {} errors; server CPU per write {}, {} cores busy, engine busy {}, commit stage busy {} ({} writes a commit)",
            args.intents,
            report["load_writes_per_s"].as_f64().unwrap_or(0.0),
            latencies.len(),
            args.clients,
            report["writes_per_s"].as_f64().unwrap_or(0.0),
            report["conflicts_per_write"].as_f64().unwrap_or(0.0),
            report["check_p50_ms"].as_f64().unwrap_or(0.0),
            report["check_p99_ms"].as_f64().unwrap_or(0.0),
            report["check_max_ms"].as_f64().unwrap_or(0.0),
            errors.len(),
            report["server_cpu_ms_per_write"]
                .as_f64()
                .map_or("unknown".to_owned(), |ms| format!("{ms:.3} ms")),
            report["server_cores"]
                .as_f64()
                .map_or("unknown".to_owned(), |cores| format!("{cores:.2}")),
            share("decide_busy_share"),
            share("commit_busy_share"),
            report["writes_per_commit"]
                .as_f64()
                .map_or("unknown".to_owned(), |writes| format!("{writes:.1}")),
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
