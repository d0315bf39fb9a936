//! What the benchmark's node processes use: CPU time and resident memory,
//! read from `/proc`, and bytes on disk.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Clock ticks per second of `/proc/PID/stat`'s CPU times: Linux's
/// `USER_HZ`, which its ABI fixes at 100 whatever the kernel's own tick.
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds (user and system, every thread) a process has used.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SEC)
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// What the node processes used during one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Usage {
    /// CPU seconds of every node together, per second of the run.
    pub node_cores: f64,
    /// CPU seconds of this load generator per second of the run.
    pub loader_cores: f64,
    /// Node CPU per committed transaction, averaged over the nodes: each
    /// node does the whole work of every transaction.
    pub node_cpu_us_per_tx: f64,
    /// The largest resident memory of any node seen during the run.
    pub max_node_rss_mb: f64,
}

/// CPU readings at the start of a run.
#[derive(Debug)]
pub struct CpuMark {
    at: Instant,
    nodes: f64,
    loader: f64,
}

/// Node CPU seconds summed over `pids`.
fn nodes_cpu(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| cpu_secs(p)).sum()
}

impl CpuMark {
    pub fn now(pids: &[u32]) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            nodes: nodes_cpu(pids),
            loader: cpu_secs(std::process::id()).unwrap_or(0.0),
        }
    }

    /// The usage since the mark, for `txs` committed transactions and the
    /// largest RSS seen.
    pub fn usage(&self, pids: &[u32], txs: u64, max_rss: u64) -> Usage {
        let secs = self.at.elapsed().as_secs_f64().max(1e-9);
        let nodes = nodes_cpu(pids) - self.nodes;
        let loader = cpu_secs(std::process::id()).unwrap_or(0.0) - self.loader;
        Usage {
            node_cores: nodes / secs,
            loader_cores: loader / secs,
            node_cpu_us_per_tx: if txs > 0 && !pids.is_empty() {
                nodes * 1e6 / pids.len() as f64 / txs as f64
            } else {
                0.0
            },
            max_node_rss_mb: max_rss as f64 / (1 << 20) as f64,
        }
    }
}

/// Samples the largest RSS of `pids` every `every` until dropped.
#[derive(Debug)]
pub struct RssWatch {
    max: std::sync::Arc<std::sync::atomic::AtomicU64>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(pids: Vec<u32>, every: Duration) -> RssWatch {
        use std::sync::atomic::Ordering;
        let max = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (max, stop) = (max.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for &p in &pids {
                        max.fetch_max(rss_bytes(p).unwrap_or(0), Ordering::Relaxed);
                    }
                    std::thread::sleep(every);
                }
            })
        };
        RssWatch {
            max,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns the largest RSS seen.
    pub fn finish(mut self) -> u64 {
        self.stop_thread();
        self.max.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let me = std::process::id();
        // Burn a little CPU so the reading cannot be zero by accident.
        let mut x = 0u64;
        let end = Instant::now() + Duration::from_millis(50);
        while Instant::now() < end {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert!(x != 7);
        assert!(cpu_secs(me).is_some_and(|s| s > 0.0));
        assert!(rss_bytes(me).is_some_and(|b| b > 1 << 20));
        assert!(cpu_secs(u32::MAX).is_none());
    }

    #[test]
    fn dir_bytes_counts_nested_files() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("a"), [0u8; 100]).expect("write");
        std::fs::create_dir(d.path().join("sub")).expect("mkdir");
        std::fs::write(d.path().join("sub/b"), [0u8; 23]).expect("write");
        assert_eq!(dir_bytes(d.path()), 123);
    }
}
