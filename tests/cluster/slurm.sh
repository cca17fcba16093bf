#!/usr/bin/env bash
# The cluster path on a real Slurm (issue #23): a one-node cluster on localhost (munged,
# slurmctld, slurmd from Debian's slurm-wlm and munge, configured from a generated slurm.conf in
# a temporary directory), scripts/slurm/submit.sh over 4 stats-only shards of a corpus with the
# built-in model, one task requeued on purpose while it runs (it must resume from its
# checkpoint), the merge job's summary checked against one single-process run, then every daemon
# this script started is stopped by pid and its files removed.
#   tests/cluster/slurm.sh ATTNSCOPE_CLI WORKDIR [--timings]
# --timings also measures the wall time of 1, 2 and 4 array tasks over a larger corpus (threads
# per task = cores / tasks running at once) and prints a table. Exit 77 (skipped) when not root
# or when the packages cannot be installed.
set -euo pipefail
cli=$(readlink -f "$1")
work=$2
timings=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "the one-node Slurm cluster needs root (munged, slurmd)"
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v munged > /dev/null ||
  ! command -v sbatch > /dev/null; then
  echo "installing slurm-wlm and munge (Debian packages)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge > /dev/null 2>&1 ||
    skip "slurm-wlm and munge could not be installed (apt-get install slurm-wlm munge)"
fi
command -v python3 > /dev/null || skip "python3 is needed to compare the summaries"

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
state=$work/slurm
mkdir -p "$state"/{spool,statesave,logs}
chmod 700 "$state"
pids=()
cleanup() {
  local rc=$?
  # stop what this script started, by pid, then remove its files
  for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$state/munged.pid"; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile")
      kill "$pid" 2> /dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2> /dev/null || true
    fi
  done
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for f in "$state"/logs/*.log "$work"/run*/logs/*.out; do
      [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- munge: a fresh key and socket in the temporary directory
dd if=/dev/urandom of="$state/munge.key" bs=1024 count=1 status=none
chmod 400 "$state/munge.key"
munged --force --key-file="$state/munge.key" --socket="$state/munge.sock" --pid-file="$state/munged.pid" \
  --log-file="$state/logs/munged.log" --seed-file="$state/munged.seed"
for _ in $(seq 50); do [ -S "$state/munge.sock" ] && break; sleep 0.1; done
[ -S "$state/munge.sock" ] || fail "munged did not start (see $state/logs/munged.log)"

# ---- slurm.conf for one node: this host, every core, on free ports
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
cat > "$state/slurm.conf" << EOF
ClusterName=attnscope-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$state/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/statesave
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/logs/slurmctld.log
SlurmdLogFile=$state/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerParameters=defer_batch
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$state/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  sinfo -h -o %T 2> /dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o %T 2> /dev/null | grep -q idle || fail "the node did not come up idle: $(sinfo 2>&1 | tail -2)"
echo "one-node Slurm up: $(sinfo -h -o '%P %D %c %T')"

# ---- a corpus: texts of tests/data's public-domain book, in lines of about 40 words
corpus() { # corpus N FILE: N texts
  python3 - "$1" "$2" "$root" << 'PY'
import glob, os, sys
n, out, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
words = []
for p in sorted(glob.glob(os.path.join(root, "tests", "data", "texts", "*.txt"))):
    words += open(p, encoding="utf-8", errors="replace").read().split()
if len(words) < 1000:
    words = ("the quick brown fox jumps over the lazy dog while liberty and peace follow " * 200).split()
with open(out, "w", encoding="utf-8") as f:
    k = 0
    for i in range(n):
        f.write(" ".join(words[k:k + 40]) + "\n")
        k = (k + 40) % (len(words) - 40)
PY
}

wait_job() { # wait_job JOBID SECONDS: until it has left the queue
  local job=$1 limit=$2 t=0
  while squeue -h -j "$job" 2> /dev/null | grep -q .; do
    sleep 1
    t=$((t + 1))
    [ $t -lt "$limit" ] || fail "job $job still queued after ${limit}s: $(squeue 2>&1 | tail -5)"
  done
}
job_state() { scontrol show job "$1" 2> /dev/null | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }

compare() { # compare A.json B.json: every number within 1e-9 relative, all else identical
  python3 - "$1" "$2" << 'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for j in (a, b):
    j.pop("sources", None); j.pop("capture_fingerprint", None)
worst = [0.0, ""]
def cmp(x, y, p):
    if isinstance(x, dict):
        assert isinstance(y, dict) and set(x) == set(y), f"{p}: keys differ"
        for k in x: cmp(x[k], y[k], f"{p}.{k}")
    elif isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), f"{p}: lengths differ"
        for i, (u, v) in enumerate(zip(x, y)): cmp(u, v, f"{p}[{i}]")
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        r = 0.0 if x == y else abs(x - y) / max(abs(x), abs(y))
        if r > worst[0]: worst[:] = [r, p]
        assert r <= 1e-9, f"{p}: {x} vs {y}"
    else:
        assert x == y, f"{p}: {x!r} vs {y!r}"
cmp(a, b, "")
print(f"merged summary equals the single run: worst relative difference {worst[0]:.3g} ({worst[1] or 'none'})")
PY
}

export ATTNSCOPE=$cli
# checkpoints every half second, so a requeued task has something to resume from
export ATTNSCOPE_CHECKPOINT_SECONDS=0.5

# ---- 4 shards; task 1 requeued while it runs
corpus 6000 "$work/corpus.txt"
"$cli" run --model tiny --input "$work/corpus.txt" --stats-only --output "$work/single" --no-sync 2> /dev/null
out=$work/run4
mkdir -p "$out"
submitted=$("$root/scripts/slurm/submit.sh" --model tiny --input "$work/corpus.txt" --shards 4 --output "$out" \
  --run "--stats-only --no-sync" --cpus-per-task 1)
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\).*/\1/p')
merge=$(echo "$submitted" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')
[ -n "$array" ] && [ -n "$merge" ] || fail "submit.sh did not print the job ids: $submitted"
# wait until task 1 runs and has recorded progress, then requeue it (as a preemption would)
t=0
until [ -f "$out/shard-1/.attnscope-resume.json" ]; do
  sleep 0.1
  t=$((t + 1))
  [ $t -lt 1200 ] || fail "task 1 recorded no progress within 120 s"
  [ -f "$out/shard-1/statistics.safetensors" ] && fail "task 1 finished before it could be requeued (corpus too small)"
done
scontrol requeue "${array}_1"
echo "requeued task ${array}_1 while it ran ($(python3 -c "import json;d=json.load(open('$out/shard-1/.attnscope-resume.json'));print(d['batches_completed'],'of',d['batches_total'],'batches recorded')"))"
# a requeued job becomes eligible only after a delay (minutes): make it eligible now
scontrol release "${array}_1" 2> /dev/null || true
scontrol update JobId="${array}_1" StartTime=now 2> /dev/null || true
wait_job "$array" 600
for i in 0 1 2 3; do
  st=$(job_state "${array}_$i")
  [ "$st" = COMPLETED ] || { scancel "$merge" 2> /dev/null || true; fail "array task $i ended $st"; }
done
wait_job "$merge" 300
[ "$(job_state "$merge")" = COMPLETED ] || fail "merge job $merge ended $(job_state "$merge")"
grep -q "resuming" "$out/logs/shard-1.out" || fail "the requeued task did not resume (log: $(cat "$out/logs/shard-1.out"))"
echo "task 1 resumed: $(grep -m1 resuming "$out/logs/shard-1.out")"
[ -f "$out/merged/attention_data_summary.json" ] || fail "the merge job wrote no summary"
compare "$work/single/attention_data_summary.json" "$out/merged/attention_data_summary.json"
for i in 0 1 2 3; do
  [ -z "$(ls -A "$out/shard-$i" | grep -e '^\.' || true)" ] || fail "shard-$i keeps temporary files: $(ls -A "$out/shard-$i")"
done
size=$(stat -c %s "$out/shard-0/statistics.safetensors")
echo "stats-only shard: $size bytes for $("$cli" info --model tiny | grep -E 'layers|heads' | tr -s ' ' | tr '\n' ' ')"

# ---- wall time of 1, 2 and 4 array tasks (threads per task: the cores shared among running tasks)
if [ "$timings" = --timings ]; then
  corpus 40000 "$work/big.txt"
  unset ATTNSCOPE_CHECKPOINT_SECONDS
  start=$(date +%s.%N)
  "$cli" run --model tiny --input "$work/big.txt" --stats-only --output "$work/single-big" --no-sync 2> /dev/null
  single=$(echo "$(date +%s.%N) - $start" | bc)
  printf '| %-28s | %8s |\n' "run" "wall s" "--" "--"
  printf '| %-28s | %8.1f |\n' "one process, $cpus threads" "$single"
  for n in 1 2 4; do
    per=$((cpus / n)); [ $per -ge 1 ] || per=1
    o=$work/t$n
    mkdir -p "$o"
    start=$(date +%s.%N)
    s=$("$root/scripts/slurm/submit.sh" --model tiny --input "$work/big.txt" --shards $n --output "$o" \
      --run "--stats-only --no-sync" --cpus-per-task $per)
    a=$(echo "$s" | sed -n 's/^array job \([0-9]*\).*/\1/p')
    m=$(echo "$s" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')
    wait_job "$a" 3600
    wait_job "$m" 600
    wall=$(echo "$(date +%s.%N) - $start" | bc)
    compare "$work/single-big/attention_data_summary.json" "$o/merged/attention_data_summary.json" > /dev/null
    printf '| %-28s | %8.1f |\n' "$n array tasks x $per threads" "$wall"
  done
fi
echo "PASSED: 4 shards on a real Slurm merged to the single run, the requeued task resumed"
