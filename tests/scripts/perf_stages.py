"""Charges each sample of a `perf record -g --call-graph dwarf` profile of
merit-node processes to one stage of the node's work, and prints a Markdown
table of the shares (docs/benchmarks.md, "Where a validator's CPU goes").

    perf script -i perf.data | python3 tests/scripts/perf_stages.py [US_PER_TX]

A sample belongs to the first stage in STAGES any of whose patterns matches a
frame of its call stack; with US_PER_TX (the node CPU per transaction measured
on the same run), each share is also given in microseconds.
"""
import sys, re, collections
STAGES = [
  ("signature checks", r"verify_requests|verify_txs|verify_checks|verify_signatures|crypto::check|KeyCache"),
  ("storing the block (RocksDB write)", r"commit_block|rocksdb::DBImpl::Write|rocksdb_write"),
  ("execution and state commitment", r"execute_hashed|verify_block_with_verdicts|build_block_with_verdicts|outcome_from_changes|StateCommitment"),
  ("applying to the in-memory ledger", r"Ledger.*::apply|ledger::apply"),
  ("token supply metrics (whole-state scan)", r"set_token_supply|ledger::query.*tokens"),
  ("JSON-RPC / WebSocket", r"jsonrpsee|rpc_batch|merit_node::rpc|soketto|serde_json"),
  ("libp2p networking", r"libp2p|gossipsub|yamux|snow::|noise"),
  ("mempool and admission", r"precheck|admit|mempool|Mempool"),
  ("block notifications / subscriptions", r"CommittedBlock|newBlocks|broadcast"),
  ("consensus messages", r"consensus::|Replica|replica"),
  ("RocksDB background (flush, compaction)", r"rocksdb::(FlushJob|CompactionJob|DBImpl::BackgroundCallFlush|DBImpl::BackgroundCallCompaction)"),
  ("decoding", r"bincode|encoding::decode|from_bytes"),
]
DRIVER = re.compile(r"merit_node::driver::Driver<R>::commit")
counts = collections.Counter(); total = 0
other = collections.Counter()
def flush(comm, frames):
    global total
    if not frames: return
    total += 1
    # frames: innermost first
    for name, pat in STAGES:
        if any(re.search(pat, f) for f in frames):
            counts[name] += 1; return
    if any(DRIVER.search(f) for f in frames):
        counts["driver commit bookkeeping"] += 1; return
    leaf = frames[0]
    if re.search(r"^(mi_|_mi_|malloc|free|__libc_malloc|cfree)", leaf):
        counts["allocation (unattributed)"] += 1; return
    if any(re.search(r"schedule|futex|epoll|__x64_sys|do_syscall", f) for f in frames):
        counts["kernel: scheduling, wake-ups, syscalls"] += 1; return
    if any(re.search(r"exc_page_fault", f) for f in frames):
        counts["page faults (unattributed)"] += 1; return
    if any(re.search(r"tokio::", f) for f in frames):
        counts["tokio runtime"] += 1; other[leaf[:80]] += 1; return
    counts["other"] += 1; other[leaf[:80]] += 1
comm=None; frames=[]
for line in sys.stdin:
    if not line.strip():
        flush(comm, frames); frames=[]; comm=None; continue
    if not line.startswith((" ", "\t")):
        comm = line.split()[0]; frames=[]; continue
    parts = line.strip().split(None, 1)
    if len(parts) == 2:
        sym = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].rsplit(" (", 1)[0])
        frames.append(sym)
flush(comm, frames)
us = float(sys.argv[1]) if len(sys.argv) > 1 else 0
for name, c in counts.most_common():
    print(f"| {name} | {100*c/total:.1f}% | {us*c/total:.1f} |" if us else f"| {name} | {100*c/total:.1f}% |")
print("total samples", total, file=sys.stderr)
for l, c in other.most_common(15): print("  other:", c, l, file=sys.stderr)
