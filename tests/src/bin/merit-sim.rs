//! Runs the consensus simulation over many seeds.
//!
//! ```text
//! merit-sim [--scenario NAME|all] [--seeds N] [--start S] [--threads T]
//! merit-sim --scenario NAME --seed S [--verbose]
//! ```
//!
//! The first form runs seeds `S..S+N` of each scenario and reports the seeds
//! run and every failure with its seed. The second replays one seed exactly
//! and prints its report (and with `--verbose`, every event).

use std::process::ExitCode;
use std::time::Instant;

use merit_tests::sim::{self, MUTANTS, SCENARIOS, Scenario, World};

/// The usage text, naming every scenario and mutant there is.
fn usage() -> String {
    let names = |list: &[Scenario]| list.iter().map(|s| s.name).collect::<Vec<_>>().join(" ");
    format!(
        "usage: merit-sim [--scenario NAME|all] [--seeds N] [--start S] [--threads T]
       merit-sim --scenario NAME --seed S [--verbose]
scenarios: {}
mutants (expected to fail): {}",
        names(SCENARIOS),
        names(MUTANTS)
    )
}

#[derive(Debug)]
struct Args {
    scenario: String,
    seeds: u64,
    start: u64,
    seed: Option<u64>,
    threads: usize,
    verbose: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        scenario: "all".into(),
        seeds: 100,
        start: 0,
        seed: None,
        threads: sim::default_threads(),
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--scenario" => args.scenario = value()?,
            "--seeds" => args.seeds = number(value()?)?,
            "--start" => args.start = number(value()?)?,
            "--seed" => args.seed = Some(number(value()?)?),
            "--threads" => args.threads = number(value()?)? as usize,
            "--verbose" => args.verbose = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn scenarios(name: &str) -> Result<Vec<Scenario>, String> {
    if name == "all" {
        return Ok(SCENARIOS.to_vec());
    }
    sim::by_name(name)
        .map(|s| vec![s])
        .ok_or_else(|| format!("unknown scenario `{name}`"))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("merit-sim: {e}");
            }
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    let scenarios = match scenarios(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("merit-sim: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    };

    if let Some(seed) = args.seed {
        let mut failed = false;
        for scenario in &scenarios {
            let mut world = World::new(scenario, seed);
            world.set_verbose(args.verbose);
            match world.run() {
                Ok(report) => println!("{report:#?}"),
                Err(failure) => {
                    println!("FAILED {failure}");
                    failed = true;
                }
            }
        }
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }

    let mut total_failures = 0;
    let mut total_seeds = 0;
    for scenario in &scenarios {
        let started = Instant::now();
        let summary = sim::run_seeds(
            scenario,
            args.start..args.start.saturating_add(args.seeds),
            args.threads,
        );
        total_seeds += summary.seeds_run;
        total_failures += summary.failures.len();
        println!(
            "{:<20} seeds {}..{}: {} run, {} failed, {} blocks finalized, {:.1}s",
            scenario.name,
            args.start,
            args.start.saturating_add(args.seeds),
            summary.seeds_run,
            summary.failures.len(),
            summary.blocks,
            started.elapsed().as_secs_f64()
        );
        for failure in &summary.failures {
            println!("  FAILED {failure}");
        }
    }
    println!("{total_seeds} seeds run, {total_failures} failed");
    if total_failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
