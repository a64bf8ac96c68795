#!/usr/bin/env bash
# Soak test of the dashboard (not part of `swift test`: it takes minutes).
#
# Runs `cpo-tui bench --soak`: the real dashboard (frame loop, views, LabSession) driven by
# scripted keys, training SEEDS seeds x EPOCHS epochs one after the other in ONE process; in a
# detached tmux pane when tmux is installed (so the frames go through ncurses), else headless
# with an in-memory screen. Meanwhile it samples the process every second: resident memory
# (VmRSS from /proc/PID/status) and open file descriptors (entries of /proc/PID/fd), into
# samples.csv. At the end it summarizes both and says whether they stayed flat after the
# warm-up (the first seed: its preparation, 20 epochs, first save, report and screen export).
#
# Verdict "flat" when, after the warm-up (the first seed), comparing the end of the last seed
# with the end of the first (quiet moments: the seed's session has ended, no file is open):
#   - malloc in use (bytes handed out and not freed, from glibc's malloc_info) grew by less
#     than HEAP_LIMIT_MB (default 1): a leak of allocations shows here;
#   - resident memory once malloc has given its free pages back (malloc_trim, done by the soak
#     at each seed's end) grew by less than RSS_LIMIT_MB (default 8);
#   - the highest resident memory of the later seeds (1 s samples) is less than PEAK_LIMIT_MB
#     (default 16) above the first seed's: what glibc's arenas keep for reuse may grow a little,
#     then levels off;
#   - open files: the same number at the end of every seed, and in the 1 s samples of the later
#     seeds never more than 2 above the most seen during the first (a save in progress holds
#     its temporary file and its directory open for a moment).
# The slopes of the 1 s samples after the warm-up are printed too (MB/min, fds/min); a run
# alternates preparation (low) and training (high), so they say little on their own.
# A small leak (tens of KB a session) stays under these limits in 5 seeds; to look for one,
# run many short sessions (--seeds 20 --epochs 2) and read the malloc-in-use line.
#
# The default run (5 x 20) takes 3-5 minutes on 2 cores.
#
# Usage: scripts/soak.sh [--seeds N] [--epochs N] [--run "FLAGS"] [--out DIR] [--binary PATH] [--no-tmux]
#   --run     the experiment, as flags of `cpo-tui run` (default: bench --soak's, see its --help)
#   --out     where samples.csv, summary.txt and the run go (default: a new directory in /tmp)
#   --binary  the cpo-tui to test (default: .build/release/cpo-tui, built if missing)
# Exit status: 0 flat, 1 not flat, 2 the run failed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEEDS=5
EPOCHS=20
RUN_FLAGS=""
OUT=""
BIN=""
USE_TMUX=auto
HEAP_LIMIT_MB=${HEAP_LIMIT_MB:-1}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-8}
PEAK_LIMIT_MB=${PEAK_LIMIT_MB:-16}

while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) SEEDS=$2; shift 2 ;;
    --epochs) EPOCHS=$2; shift 2 ;;
    --run) RUN_FLAGS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --binary) BIN=$2; shift 2 ;;
    --no-tmux) USE_TMUX=no; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$BIN" ]; then
  BIN="$ROOT/.build/release/cpo-tui"
  if [ ! -x "$BIN" ]; then
    echo "soak.sh: building the release binary (a few minutes) ..." >&2
    (cd "$ROOT" && swift build -c release --product cpo-tui >&2)
  fi
fi
[ -x "$BIN" ] || { echo "soak.sh: no executable at $BIN" >&2; exit 2; }
[ -d /proc/self/fd ] || { echo "soak.sh: needs /proc (Linux)" >&2; exit 2; }
OUT=${OUT:-${TMPDIR:-/tmp}/cpo-tui-soak-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK="$OUT/work"
rm -rf "$WORK"

CMD=("$BIN" bench --soak --soak-seeds "$SEEDS" --soak-epochs "$EPOCHS" --soak-dir "$WORK")
[ -n "$RUN_FLAGS" ] && CMD+=("--soak-run=$RUN_FLAGS")

if [ "$USE_TMUX" = auto ] && command -v tmux >/dev/null 2>&1; then USE_TMUX=yes; else [ "$USE_TMUX" = auto ] && USE_TMUX=no; fi

SOCKET="cpo-tui-soak-$$"
cleanup() { [ "$USE_TMUX" = yes ] && tmux -L "$SOCKET" kill-server >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'echo "soak.sh: interrupted" >&2; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; exit 2' INT TERM

rm -f "$OUT/pid"
if [ "$USE_TMUX" = yes ]; then
  # The pane's shell writes its pid and becomes cpo-tui (exec), so the pid is cpo-tui's. The
  # pane stays after it exits, for its exit status and last screen.
  printf 'set -g remain-on-exit on\n' > "$OUT/tmux.conf"
  inner=$(printf '%q ' "${CMD[@]}")
  tmux -L "$SOCKET" -f "$OUT/tmux.conf" new-session -d -s soak -x 120 -y 40 \
    "cd $(printf '%q' "$ROOT") && echo \$\$ > $(printf '%q' "$OUT/pid") && exec $inner 2> $(printf '%q' "$OUT/stderr.txt")"
  for _ in $(seq 1 100); do [ -s "$OUT/pid" ] && break; sleep 0.1; done
  PID=$(cat "$OUT/pid")
  MODE="tmux 120x40, ncurses"
else
  (cd "$ROOT" && exec "${CMD[@]}" > "$OUT/stdout.txt" 2> "$OUT/stderr.txt") &
  PID=$!
  MODE="headless, in-memory screen"
fi
echo "soak.sh: cpo-tui pid $PID ($MODE): $SEEDS seeds x $EPOCHS epochs; sampling into $OUT/samples.csv" >&2

echo "time,rss_kb,open_files,threads" > "$OUT/samples.csv"
while [ -r "/proc/$PID/status" ]; do
  state=$(awk '/^State:/{print $2}' "/proc/$PID/status" 2>/dev/null || true)
  [ "$state" = Z ] && break
  rss=$(awk '/^VmRSS:/{print $2}' "/proc/$PID/status" 2>/dev/null || true)
  thr=$(awk '/^Threads:/{print $2}' "/proc/$PID/status" 2>/dev/null || true)
  fds=$( (ls "/proc/$PID/fd" 2>/dev/null || true) | wc -l)
  [ -n "$rss" ] && echo "$(date +%s.%N),$rss,$fds,$thr" >> "$OUT/samples.csv"
  sleep 1
done

STATUS=""
if [ "$USE_TMUX" = yes ]; then
  STATUS=$(tmux -L "$SOCKET" display-message -p -t soak '#{pane_dead_status}' 2>/dev/null || true)
  tmux -L "$SOCKET" capture-pane -p -t soak > "$OUT/last-screen.txt" 2>/dev/null || true
else
  wait "$PID" && STATUS=0 || STATUS=$?
fi

EVENTS="$WORK/events.csv"
if [ ! -s "$EVENTS" ] || ! grep -q ',end,' "$EVENTS"; then
  echo "soak.sh: the soak did not finish (exit status ${STATUS:-unknown}); see $OUT/stderr.txt and $WORK/soak.log" >&2
  exit 2
fi

# The summary: the warm-up ends with the first seed (its seed-end event).
VERDICT=0
awk -F, -v heapLimit="$HEAP_LIMIT_MB" -v rssLimit="$RSS_LIMIT_MB" -v peakLimit="$PEAK_LIMIT_MB" -v epochs="$EPOCHS" -v mode="$MODE" '
  FNR == 1 { next }
  FILENAME ~ /events.csv$/ {
    if ($2 == "start") t0 = $1
    if ($2 == "seed-start") { s++; startT[s] = $1 }
    if ($2 == "seed-end") { n++; endT[n] = $1; endRSS[n] = $4; endFD[n] = $5; endUse[n] = $6; endHeld[n] = $7 }
    if ($2 == "seed-trimmed") { trimRSS[n] = $4 }
    if ($2 == "end") tEnd = $1
    next
  }
  {
    k++; t[k] = $1; rss[k] = $2; fd[k] = $3; thr[k] = $4
  }
  END {
    warm = endT[1]
    for (i = 1; i <= k; i++) {
      if (rss[i] > peak) peak = rss[i]
      seed = 0; for (j = 1; j <= s; j++) if (t[i] >= startT[j]) seed = j
      if (seed && rss[i] > seedPeak[seed]) seedPeak[seed] = rss[i]
      if (t[i] <= warm) { if (rss[i] > warmPeak) warmPeak = rss[i]; if (fd[i] > warmFdMax) warmFdMax = fd[i]; if (thr[i] > warmThrMax) warmThrMax = thr[i]; continue }
      m++
      if (rss[i] > afterPeak) afterPeak = rss[i]
      if (fd[i] > afterFdMax) afterFdMax = fd[i]
      if (thr[i] > afterThrMax) afterThrMax = thr[i]
      x = (t[i] - warm) / 60; y = rss[i] / 1024; f = fd[i]
      sx += x; sy += y; sxx += x * x; sxy += x * y; sf += f; sxf += x * f
    }
    if (m > 1 && (m * sxx - sx * sx) > 0) {
      slope = (m * sxy - sx * sy) / (m * sxx - sx * sx)
      fslope = (m * sxf - sx * sf) / (m * sxx - sx * sx)
    }
    heapGrowth = (endUse[n] - endUse[1]) / 1024
    rssGrowth = (trimRSS[n] - trimRSS[1]) / 1024
    peakGrowth = (afterPeak - warmPeak) / 1024
    fdsEqual = 1
    for (i = 2; i <= n; i++) if (endFD[i] != endFD[1]) fdsEqual = 0
    heapFlat = heapGrowth < heapLimit
    rssFlat = (rssGrowth < rssLimit && peakGrowth < peakLimit)
    fdFlat = (fdsEqual && afterFdMax <= warmFdMax + 2)
    printf "soak: %d seeds x %d epochs in one process (%s), %.1f min, %d samples (1 s); warm-up: the first seed, %.1f min\n", n, epochs, mode, (tEnd - t0) / 60, k, (warm - t0) / 60
    printf "RSS (MB, 1 s samples): start %.1f, peak %.1f during the warm-up, %.1f after it, final %.1f; slope after the warm-up %+.2f MB/min\n", rss[1] / 1024, warmPeak / 1024, afterPeak / 1024, rss[k] / 1024, slope
    printf "RSS peak of each seed (MB):"; for (i = 1; i <= s; i++) printf " %.1f", seedPeak[i] / 1024; printf "\n"
    printf "end of each seed (MB): RSS"; for (i = 1; i <= n; i++) printf " %.1f", endRSS[i] / 1024
    printf "; RSS after malloc_trim"; for (i = 1; i <= n; i++) printf " %.1f", trimRSS[i] / 1024
    printf "; malloc in use"; for (i = 1; i <= n; i++) printf " %.2f", endUse[i] / 1024
    printf "; malloc holds"; for (i = 1; i <= n; i++) printf " %.1f", endHeld[i] / 1024; printf "\n"
    printf "after the warm-up: malloc in use %+.2f MB (limit %s), RSS after trim %+.1f MB (limit %s), RSS peak %+.1f MB (limit %s)\n", heapGrowth, heapLimit, rssGrowth, rssLimit, peakGrowth, peakLimit
    printf "open files: max %d during the warm-up, %d after; at the end of each seed:", warmFdMax, afterFdMax; for (i = 1; i <= n; i++) printf " %d", endFD[i]; printf "; slope %+.2f fds/min\n", fslope
    printf "threads: max %d during the warm-up, %d after\n", warmThrMax, afterThrMax
    printf "verdict: heap %s, RSS %s, open files %s: %s\n", heapFlat ? "flat" : "GROWS", rssFlat ? "flat" : "GROWS", fdFlat ? "flat" : "GROW", (heapFlat && rssFlat && fdFlat) ? "PASS" : "FAIL"
    exit !(heapFlat && rssFlat && fdFlat)
  }
' "$EVENTS" "$OUT/samples.csv" > "$OUT/summary.txt" || VERDICT=1
cat "$OUT/summary.txt"
echo "soak.sh: files in $OUT (samples.csv, summary.txt, work/)" >&2
exit "$VERDICT"
