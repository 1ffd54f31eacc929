//! `deconflict check FILE [--json]`: the offline strategic check of a file of intents.
//!
//! Every pair of intents of different parties is tested through the strategic index (not
//! pairwise), so large files stay fast. Exit 0 with no conflict, 1 with conflicts, 2 (an
//! error) for unusable input, naming the JSON path or the line and column.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use deconflict_core::strategic::{IntentsConflict, StrategicIndex};
use deconflict_wire::check::{parse_check_input, CheckConflictJson, CheckInput, CheckReportJson};

/// Find every strategic conflict between intents of different parties in a file.
///
/// FILE holds {"separation": {"horizontal_m", "vertical_m", "time_s"}, "intents": [{"id",
/// "party", "volumes": [Volume4D…]}]}. Exit status: 0 no conflict, 1 conflicts found,
/// 2 unusable input.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The check file (JSON).
    pub file: PathBuf,
    /// Print one JSON object: {"conflicts": […], "intents": N, "elapsed_ms": T}.
    #[arg(long)]
    pub json: bool,
}

/// One conflicting pair of intents: indexes into the input (the smaller id first) and how
/// they conflict, volume pairs in the same order.
pub struct PairConflict {
    pub first: usize,
    pub second: usize,
    pub conflict: IntentsConflict,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let input = parse_check_input(&text).with_context(|| format!("{}", args.file.display()))?;
    let started = Instant::now();
    let conflicts = find_conflicts(&input);
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    let report = CheckReportJson {
        conflicts: conflicts
            .iter()
            .map(|pair| CheckConflictJson {
                intents: [
                    input.intents[pair.first].id.clone(),
                    input.intents[pair.second].id.clone(),
                ],
                volumes: pair
                    .conflict
                    .volume_pairs
                    .iter()
                    .map(|&(a, b)| [a, b])
                    .collect(),
                horizontal_distance_m: pair.conflict.closest.horizontal_distance_m,
                vertical_gap_m: pair.conflict.closest.vertical_gap_m,
                time_gap_s: pair.conflict.closest.time_gap_s,
            })
            .collect(),
        intents: input.intents.len(),
        elapsed_ms: (elapsed_ms * 1e3).round() / 1e3,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(if report.conflicts.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every conflicting pair of intents of different parties, sorted by (first id, second
/// id) with the smaller id first. Each pair is found from both sides; it is kept from the
/// side of its smaller id.
pub fn find_conflicts(input: &CheckInput) -> Vec<PairConflict> {
    let index: StrategicIndex<&str, usize> =
        StrategicIndex::bulk_load(
            input.intents.iter().enumerate().map(|(position, intent)| {
                (intent.party.as_str(), position, intent.volumes.clone())
            }),
        );
    // Every intent is queried against the shared index; the queries are independent, so
    // they are spread over the machine's cores in contiguous chunks.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = input.intents.len().div_ceil(threads).max(1);
    let index = &index;
    let mut pairs: Vec<PairConflict> = std::thread::scope(|scope| {
        let workers: Vec<_> = input
            .intents
            .chunks(chunk)
            .enumerate()
            .map(|(chunk_index, intents)| {
                scope.spawn(move || {
                    let mut pairs = Vec::new();
                    for (offset, intent) in intents.iter().enumerate() {
                        let position = chunk_index * chunk + offset;
                        let found = index.conflicts(
                            &intent.party.as_str(),
                            &intent.volumes,
                            &input.separation,
                        );
                        for found in found {
                            if intent.id < input.intents[found.intent].id {
                                pairs.push(PairConflict {
                                    first: position,
                                    second: found.intent,
                                    conflict: found.conflict,
                                });
                            }
                        }
                    }
                    pairs
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a check worker does not panic"))
            .collect()
    });
    pairs.sort_by(|a, b| {
        (&input.intents[a.first].id, &input.intents[a.second].id)
            .cmp(&(&input.intents[b.first].id, &input.intents[b.second].id))
    });
    pairs
}

fn print_table(report: &CheckReportJson) {
    let noun = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    println!(
        "{}, {} ({:.1} ms)",
        noun(report.intents, "intent", "intents"),
        noun(
            report.conflicts.len(),
            "conflicting pair",
            "conflicting pairs"
        ),
        report.elapsed_ms
    );
    if report.conflicts.is_empty() {
        return;
    }
    let header = [
        "INTENT",
        "WITH",
        "VOLUMES",
        "HORIZONTAL_M",
        "VERTICAL_M",
        "TIME_S",
    ];
    let rows: Vec<[String; 6]> = report
        .conflicts
        .iter()
        .map(|conflict| {
            [
                conflict.intents[0].clone(),
                conflict.intents[1].clone(),
                conflict
                    .volumes
                    .iter()
                    .map(|[a, b]| format!("{a}:{b}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                format!("{:.1}", conflict.horizontal_distance_m),
                format!("{:.1}", conflict.vertical_gap_m),
                format!("{:.1}", conflict.time_gap_s),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut text = String::new();
        for (column, cell) in cells.iter().enumerate() {
            if column < 3 {
                text.push_str(&format!("{cell:<width$}  ", width = widths[column]));
            } else {
                text.push_str(&format!("{cell:>width$}  ", width = widths[column]));
            }
        }
        println!("{}", text.trim_end());
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]].map(|s| s.as_str()));
    }
    println!("VOLUMES lists conflicting volume index pairs (INTENT:WITH); distances are those of the closest pair.");
}
