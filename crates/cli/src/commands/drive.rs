//! What `sim --url` and `replay --url` share: the options that name a running service and
//! the parties' tokens, the pace taken from the service's clock, a progress display and
//! the drive's report.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use deconflict_sim::drive::{parse_tokens, rfc3339_ms, DriveCounters, Driver, Pace, TimedAction};
use indicatif::{ProgressBar, ProgressStyle};

/// The options naming a running service to drive.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Drive the service at this URL (http://HOST:PORT) instead of writing files.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A party's bearer token, as PARTY=TOKEN (repeat for each party).
    #[arg(long = "token", value_name = "PARTY=TOKEN", requires = "url")]
    pub tokens: Vec<String>,
    /// How many times as fast as real time the service's clock runs (its
    /// --clock-speed; 1 for a service on the system clock).
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "url")]
    pub speed: f64,
}

/// A driver for the service, its tokens checked, and the pace of its clock.
pub struct Connected {
    pub driver: Driver,
    pub pace: Pace,
    pub counters: Arc<DriveCounters>,
}

/// Connects to the service of `args` (which names one): checks every token and reads the
/// service's clock.
pub fn connect(args: &ServiceArgs, url: &str) -> anyhow::Result<Connected> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed {} must be a number above 0", args.speed);
    }
    let tokens = parse_tokens(&args.tokens).map_err(anyhow::Error::msg)?;
    if tokens.is_empty() {
        bail!("--url needs at least one --token PARTY=TOKEN");
    }
    let counters = Arc::new(DriveCounters::default());
    let driver = Driver::new(
        url,
        tokens,
        counters.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    driver.check_tokens()?;
    let reading_ms = driver.service_time_ms()?.with_context(|| {
        format!("{url}/v1/health does not give the service's time; is it a deconflict service?")
    })?;
    let pace = Pace {
        reading_ms,
        origin: Instant::now(),
        speed: args.speed,
    };
    Ok(Connected {
        driver,
        pace,
        counters,
    })
}

/// Refuses a span the service's clock has already passed, and says how long the drive will
/// wait for a span it has not reached.
pub fn check_span(
    pace: &Pace,
    first_ms: i64,
    last_ms: i64,
    what: &str,
    advice: &str,
) -> anyhow::Result<()> {
    let now_ms = pace.now_ms();
    if now_ms > last_ms {
        bail!(
            "the service's clock reads {}, after the end of {what} ({} to {}); {advice}",
            rfc3339_ms(now_ms),
            rfc3339_ms(first_ms),
            rfc3339_ms(last_ms)
        );
    }
    if now_ms < first_ms {
        eprintln!(
            "the service's clock reads {}; waiting {:.0} s (real time) for {what} to begin at {}",
            rfc3339_ms(now_ms),
            pace.real_time_until(first_ms).as_secs_f64(),
            rfc3339_ms(first_ms)
        );
    }
    Ok(())
}

/// Plays the actions with a progress bar on a terminal (or a line every few seconds
/// otherwise), then prints the report. Exit status 0 when the service accepted every
/// request, 1 when it answered any with an error.
pub fn play(connected: &Connected, url: &str, actions: &[TimedAction]) -> ExitCode {
    let done = Arc::new(AtomicBool::new(false));
    let display = {
        let counters = connected.counters.clone();
        let done = done.clone();
        let total = actions.len() as u64;
        std::thread::spawn(move || show_progress(&counters, &done, total))
    };
    let report = connected.driver.run(actions, &connected.pace);
    done.store(true, Ordering::Relaxed);
    let _ = display.join();
    println!("{url}: {report}");
    if report.errors.by_kind.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn show_progress(counters: &DriveCounters, done: &AtomicBool, total: u64) {
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} actions")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar
    });
    let mut last_line = Instant::now();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let message = format!(
            "{} intents {} reports {} errors {}",
            rfc3339_ms(counters.scenario_ms.load(Ordering::Relaxed)),
            DriveCounters::get(&counters.intents_filed),
            DriveCounters::get(&counters.states_sent),
            DriveCounters::get(&counters.errors)
        );
        match &bar {
            Some(bar) => {
                bar.set_position(DriveCounters::get(&counters.actions_done));
                bar.set_message(message);
            }
            None if last_line.elapsed() >= Duration::from_secs(10) => {
                eprintln!(
                    "{message} ({}/{total} actions)",
                    DriveCounters::get(&counters.actions_done)
                );
                last_line = Instant::now();
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
