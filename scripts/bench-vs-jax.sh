#!/usr/bin/env bash
# cpo-tui's core against the JAX reference model (scripts/jax_tiny.py), measured in the same run
# on the same machine: ROUNDS rounds (default 3), each `cpo-tui bench --json` then the JAX script,
# alternating so that both see the same machine; prints the medians and the ratios as the README's
# table rows, with the date and the CPU.
#
#   python3 -m venv .venv-jax && .venv-jax/bin/pip install jax   # once (CPU wheels from PyPI)
#   swift build -c release --product cpo-tui
#   scripts/bench-vs-jax.sh                                       # about 3 minutes
#   BENCH_ARGS="--default-run" scripts/bench-vs-jax.sh            # also the default comparison
#
# PYTHON names an interpreter with jax (default .venv-jax/bin/python); CPO_TUI the binary.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${CPO_TUI:-.build/release/cpo-tui}
PY=${PYTHON:-.venv-jax/bin/python}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$(mktemp -d)}
[ -x "$BIN" ] || { echo "no $BIN: run 'swift build -c release --product cpo-tui' first" >&2; exit 1; }
"$PY" -c 'import jax' 2>/dev/null || { echo "$PY cannot import jax: see the recipe at the top of $0" >&2; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS: cpo-tui bench ..." >&2
    # shellcheck disable=SC2086
    "$BIN" bench --json ${BENCH_ARGS:-} > "$OUT/swift-$r.json"
    echo "round $r/$ROUNDS: JAX ..." >&2
    "$PY" scripts/jax_tiny.py > "$OUT/jax-$r.json"
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys, datetime, platform
out, rounds = sys.argv[1], int(sys.argv[2])
load = lambda kind: [json.load(open(f"{out}/{kind}-{r}.json")) for r in range(1, rounds + 1)]
sw, jx = load("swift"), load("jax")
med = lambda rows, k: statistics.median(r[k] for r in rows if k in r)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"date {datetime.date.today()}, CPU {cpu}, {sw[0].get('threads')} threads, kernels {sw[0].get('kernels')}, "
      f"jax {jx[0]['jax']}, medians of {rounds} rounds (raw JSON in {out})")
print("| measure | cpo-tui | JAX | ratio |")
print("|---|---|---|---|")
for name, sk, jk in [("training tokens/s", "train_tokens_per_s", "train_tokens_per_s"),
                     ("sampling tokens/s", "sample_tokens_per_s", "sample_tokens_per_s")]:
    s, j = med(sw, sk), med(jx, jk)
    print(f"| {name} | {s:,.0f} | {j:,.0f} | {s / j:.1f}x |")
for k, label in [("default_run_seconds", "default comparison, wall s"), ("default_run_peak_rss_mb", "default comparison, peak MB"),
                 ("peak_rss_mb", "core bench, peak MB")]:
    if all(k in r for r in sw):
        print(f"| {label} | {med(sw, k):,.1f} | | |")
PY
