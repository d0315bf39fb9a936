//! `merit-bench indexer`: how far behind the chain the indexer runs. A
//! fresh release devnet, a throwaway PostgreSQL, a release `merit-indexer`
//! on the first node; then a steady load as fast as the chain commits, and
//! one at half of what it committed. For each: the chain's rate, each
//! block's lag from its block time to its row's commit, and how long the
//! indexer took to reach the chain's tip once the load stopped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::load::{Bench, LoadSpec, Mix, Report, describe};
use super::suite::{DEFAULT_NODE_LOG, SuiteOptions, start_devnet};
use crate::cluster::Rpc;
use crate::postgres::Postgres;

/// The database the benchmark indexes into.
const DB: &str = "merit";

#[derive(Debug, Clone)]
pub struct IndexerOptions {
    pub devnet: SuiteOptions,
    pub indexer_bin: PathBuf,
    pub duration: Duration,
}

/// One load and what the indexer did under it.
#[derive(Debug, Clone, Serialize)]
pub struct IndexerRun {
    pub load: Report,
    /// Blocks the chain committed during the run, all indexed.
    pub blocks: u64,
    /// Postings written for them.
    pub postings: u64,
    /// Block time to the commit of its row, in milliseconds.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    /// From the end of the load to the indexer's cursor reaching the tip
    /// the chain had then.
    pub catch_up_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IndexerResult {
    pub at_saturation: IndexerRun,
    pub at_half: IndexerRun,
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn run(o: &IndexerOptions) -> Result<IndexerResult, String> {
    if !o.indexer_bin.exists() {
        return Err(format!(
            "{} is missing; build it with `cargo build --release -p merit-indexer`",
            o.indexer_bin.display()
        ));
    }
    let (_devnet, nodes) = start_devnet(&o.devnet)?;
    let pg = Postgres::start()?;
    pg.create_db(DB)?;
    let log = o.devnet.dir.join("indexer.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let _indexer = Process(
        Command::new(&o.indexer_bin)
            .args(["--rpc", &format!("http://{}", nodes[0])])
            .args(["--postgres", &pg.url(DB)])
            .arg("--genesis")
            .arg(o.devnet.dir.join("chain").join("genesis.json"))
            .args(["--poll-ms", "20", "--log", "warn"])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", o.indexer_bin.display()))?,
    );
    let say = |s: String| {
        if !o.devnet.quiet {
            eprintln!("{s}");
        }
    };
    say(format!(
        "devnet, PostgreSQL and indexer up; funding {} accounts",
        o.devnet.accounts
    ));
    let bench = tokio::task::block_in_place(|| {
        Bench::prepare(nodes.clone(), o.devnet.accounts, o.devnet.mix)
    })?;
    let rpc = Rpc::new(nodes[0]);
    let spec = |rate: Option<u64>| LoadSpec {
        rate,
        duration: o.duration,
        mix: o.devnet.mix,
        ..LoadSpec::default()
    };

    say(format!(
        "{} s as fast as the chain commits",
        o.duration.as_secs()
    ));
    let at_saturation = measured(&bench, &spec(None), &rpc, &pg, &say).await?;
    let half = ((at_saturation.load.committed_tps / 2.0).round() as u64).max(1);
    say(format!(
        "{} s at half of that, {half} tx/s",
        o.duration.as_secs()
    ));
    let at_half = measured(&bench, &spec(Some(half)), &rpc, &pg, &say).await?;
    Ok(IndexerResult {
        at_saturation,
        at_half,
    })
}

async fn measured(
    bench: &Bench,
    spec: &LoadSpec,
    rpc: &Rpc,
    pg: &Postgres,
    say: &impl Fn(String),
) -> Result<IndexerRun, String> {
    let from = rpc.height().ok_or("the node does not answer")? + 1;
    let load = bench.run(spec).await?;
    say(describe(&load));
    let ended = Instant::now();
    let tip = rpc.height().ok_or("the node does not answer")?;
    let deadline = ended + Duration::from_secs(600);
    loop {
        let cursor: u64 = pg
            .psql(DB, "SELECT height FROM indexer_cursor")?
            .trim()
            .parse()
            .map_err(|e| format!("the cursor: {e}"))?;
        if cursor >= tip {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the indexer stayed at {cursor}, the chain is at {tip}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let catch_up_ms = ended.elapsed().as_secs_f64() * 1e3;
    let row = pg.psql(
        DB,
        &format!(
            "SELECT count(*),
                    (SELECT count(*) FROM postings WHERE height BETWEEN {from} AND {tip}),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY lag),
                    max(lag)
             FROM (SELECT extract(epoch FROM indexed_at - time) * 1000 AS lag
                   FROM blocks WHERE height BETWEEN {from} AND {tip}) l"
        ),
    )?;
    let f: Vec<f64> = row
        .trim()
        .split('|')
        .map(|v| v.parse().unwrap_or(f64::NAN))
        .collect();
    let get = |i: usize| f.get(i).copied().unwrap_or(f64::NAN);
    let run = IndexerRun {
        load,
        blocks: get(0) as u64,
        postings: get(1) as u64,
        lag_p50_ms: get(2),
        lag_p99_ms: get(3),
        lag_max_ms: get(4),
        catch_up_ms,
    };
    say(format!(
        "indexer: {} blocks, {} postings; lag p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; at the tip {:.0} ms after the load",
        run.blocks, run.postings, run.lag_p50_ms, run.lag_p99_ms, run.lag_max_ms, run.catch_up_ms
    ));
    Ok(run)
}

/// The two runs as a Markdown table.
pub fn table(r: &IndexerResult) -> String {
    let mut out = String::from(
        "| load | chain committed tx/s | blocks | postings | indexer lag p50 | p99 | max | at the tip after the load |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (name, run) in [("saturation", &r.at_saturation), ("half", &r.at_half)] {
        out.push_str(&format!(
            "| {name} | {:.0} | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |\n",
            run.load.committed_tps,
            run.blocks,
            run.postings,
            run.lag_p50_ms,
            run.lag_p99_ms,
            run.lag_max_ms,
            run.catch_up_ms
        ));
    }
    out
}

/// The devnet options of an indexer run.
pub fn devnet_options(
    dir: PathBuf,
    node_bin: PathBuf,
    accounts: usize,
    mix: Mix,
    quiet: bool,
) -> SuiteOptions {
    SuiteOptions {
        validators: 4,
        steady: Duration::from_secs(60),
        warmup: Duration::ZERO,
        sweep_step: Duration::from_secs(10),
        sweep_start: 2_000,
        sweep_factor: 1.25,
        sweep_max: 1_000_000,
        accounts,
        mix,
        dir,
        node_bin,
        node_log: DEFAULT_NODE_LOG.to_string(),
        quiet,
    }
}
