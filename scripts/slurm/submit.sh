#!/usr/bin/env bash
# Submit a sharded attnscope run to Slurm: a job array of N tasks (array.sbatch, one shard each)
# and a merge job that starts when all of them succeeded (merge.sbatch). Prints both job ids.
#   scripts/slurm/submit.sh --model M --input F --shards N --output DIR [--run "RUN OPTIONS"] [SBATCH OPTIONS ...]
# e.g. scripts/slurm/submit.sh --model gpt2 --input corpus.txt --shards 16 --output /scratch/caps \
#        --run "--capture weights --max-length 512" --partition cpu --cpus-per-task 4 --time 2:00:00
# ATTNSCOPE (default: attnscope on PATH) is the program the jobs run; logs go to DIR/logs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
model="" input="" shards="" output="" run_opts=""
sbatch_opts=()
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --input) input=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --run) run_opts=$2; shift 2 ;;
    *) sbatch_opts+=("$1"); shift ;;
  esac
done
die() { echo "submit.sh: $*" >&2; exit 2; }
[ -n "$model" ] || die "--model is required"
[ -f "$input" ] || die "--input: '$input' is not a file"
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || die "--shards: expected a positive number, found '$shards'"
[ -n "$output" ] || die "--output is required"
command -v sbatch > /dev/null || die "sbatch not found: is this a Slurm login node?"
texts=$(grep -c . "$input" || true)
[ "$shards" -le "$texts" ] || die "--shards $shards is more than the $texts texts of $input"
mkdir -p "$output/logs"
input=$(cd "$(dirname "$input")" && pwd)/$(basename "$input")
output=$(cd "$output" && pwd)
# shellcheck disable=SC2086 # run options are words
array=$(sbatch --parsable --array="0-$((shards - 1))" --output="$output/logs/shard-%a.out" "${sbatch_opts[@]}" \
  "$here/array.sbatch" "$model" "$input" "$output" $run_opts)
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$output/logs/merge.out" "${sbatch_opts[@]}" \
  "$here/merge.sbatch" "$output" "$shards")
merge=${merge%%;*}
echo "array job $array ($shards tasks), merge job $merge; results in $output/merged"
