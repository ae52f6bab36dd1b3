#!/usr/bin/env bash
# Data-parallel tapegrad-train against one process, and its faults. Usage:
#   data_parallel.sh CHECK TRAIN COMPARE DATA WORK MPIEXEC...
# CHECK is one of: matches_one_process, different_model, failing_rank, killed_rank.
set -uo pipefail
check=$1 train=$2 compare=$3 data=$4 work=$5
shift 5
mpiexec=("$@")
rm -rf "$work" && mkdir -p "$work"
common=(--data "$data" --train-limit 4096 --test-limit 2000 --threads 1)

fail() { echo "FAILED: $*" >&2; exit 1; }

# No process may leave a half-written file.
no_partial_files() {
  local partial
  partial=$(find "$work" -name '*.tmp')
  [ -z "$partial" ] || fail "half-written files left behind: $partial"
}

case $check in
matches_one_process)
  # 2 ranks x 64 per step == 1 process x 128: same initial weights, same sample order.
  "$train" "${common[@]}" --epochs 1 --batch-size 128 --out "$work/one" >"$work/one.log" || fail "one process"
  "${mpiexec[@]}" -np 2 "$train" "${common[@]}" --epochs 1 --batch-size 64 --distributed \
    --out "$work/two" >"$work/two.log" || fail "two processes: $(cat "$work/two.log")"
  "$compare" "$work/one/model.npz" "$work/two/model.npz" 1e-5 || fail "parameters differ"
  one=$(sed -n 's/^final test accuracy \([0-9.]*\)%.*/\1/p' "$work/one.log")
  two=$(sed -n 's/^final test accuracy \([0-9.]*\)%.*/\1/p' "$work/two.log")
  echo "final test accuracy: one process $one%, two processes $two%"
  awk -v a="$one" -v b="$two" 'BEGIN { d = a - b; exit !(a != "" && (d < 0 ? -d : d) <= 0.1) }' ||
    fail "accuracies differ by more than 0.1 point"
  grep -q '^communication: ' "$work/two.log" || fail "no communication report"
  ;;
different_model)
  # Another architecture on rank 1: every rank stops at start-up, naming the difference.
  "${mpiexec[@]}" -np 1 "$train" "${common[@]}" --distributed --hidden 64 --out "$work/a" : \
    -np 1 "$train" "${common[@]}" --distributed --hidden 32 --out "$work/a" >"$work/log" 2>&1 &&
    fail "expected the job to fail"
  cat "$work/log"
  for rank in 0 1; do
    grep -q "rank $rank of 2: the model differs between processes" "$work/log" ||
      fail "rank $rank did not report the different model"
  done
  grep -q '^epoch ' "$work/log" && fail "training started"
  no_partial_files
  ;;
failing_rank)
  # Rank 1 throws in its fifth step: the whole job ends, naming the rank and the cause.
  timeout 120 "${mpiexec[@]}" -np 1 "$train" "${common[@]}" --distributed --epochs 3 --out "$work/a" : \
    -np 1 env TAPEGRAD_FAIL_AT_STEP=5 "$train" "${common[@]}" --distributed --epochs 3 \
    --out "$work/a" >"$work/log" 2>&1
  status=$?
  cat "$work/log"
  [ $status -ne 124 ] || fail "the job did not end within 120 s"
  [ $status -ne 0 ] || fail "expected the job to fail"
  grep -q "rank 1 of 2: failing at step 5" "$work/log" || fail "no message naming rank 1 and the cause"
  no_partial_files
  ;;
killed_rank)
  # Rank 1 is killed mid-epoch: mpirun ends the job and names the rank and the signal.
  "${mpiexec[@]}" -np 2 "$train" "${common[@]}" --train-limit 60000 --distributed --epochs 3 \
    --out "$work/a" >"$work/log" 2>&1 &
  job=$!
  victim=
  for _ in $(seq 600); do
    for pid in $(pgrep -f "$train" || true); do
      if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        victim=$pid
      fi
    done
    [ -n "$victim" ] && grep -q '^training: ' "$work/log" && break
    sleep 0.1
  done
  [ -n "$victim" ] || { kill $job; fail "rank 1 never started"; }
  sleep 2
  kill -9 "$victim"
  for _ in $(seq 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
  if kill -0 $job 2>/dev/null; then kill -9 $job; fail "the job did not end within 60 s of the kill"; fi
  wait $job
  status=$?
  cat "$work/log"
  [ $status -ne 0 ] || fail "expected the job to fail"
  grep -Eq "rank 1 .*(signal 9|Killed)" "$work/log" || fail "no message naming rank 1 and the signal"
  no_partial_files
  ;;
*) fail "unknown check $check" ;;
esac
echo "ok: $check"
