"""The user's read-back path on a run train_cpo.py wrote: the `cpo-tui` binary's `estimate --json`
equals a recomputation from the same rows and f0 files (numpy, written from the formulas in
CausalPO.docc/ValueEstimation.md, not from the Swift code), and `watch --once` renders the run."""

import csv
import json
import os
import subprocess
import unittest

import numpy as np

import bridge

Z95 = 1.959963984540054


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def hajek(log_ratio, values):
    """Σ w v / Σ w with the delta-method SE: n/(n-1) · Σ w̄² (v - V)²."""
    w = np.exp(log_ratio - log_ratio.max())
    w /= w.sum()
    value = float(w @ values)
    n = len(values)
    return value, float(np.sqrt(n / (n - 1) * np.sum(w * w * (values - value) ** 2)))


def horvitz_thompson(log_ratio, values):
    """(1/n) Σ w v with the plain CLT SE: sd(w v)/√n."""
    t = np.exp(log_ratio) * values
    return float(t.mean()), float(t.std(ddof=1) / np.sqrt(len(t)))


def recompute(rows_path, f0_path):
    rows, f0 = read(rows_path), read(f0_path)
    col = lambda table, key: np.array([float(r[key]) for r in table])
    y, ghat = col(rows, "outcome"), col(rows, "ghat")
    lr = col(rows, "logP_f") - col(rows, "logP_R")
    lr0 = col(f0, "logP_f") - col(f0, "logP_f0")
    out = {
        "v_ipw": horvitz_thompson(lr, y),
        "v_snipw": hajek(lr, y),
        "v_out": hajek(lr0, col(f0, "ghat")),
        "dr_residual": hajek(lr, y - ghat),
    }
    (r, rse), (o, ose) = out["dr_residual"], out["v_out"]
    out["v_dr"] = (r + o, float(np.hypot(rse, ose)))
    w = np.exp(lr - lr.max())
    ess = float(w.sum() ** 2 / (w * w).sum())
    return out, ess


class ReadBack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.run_dir = bridge.input_path("CPO_TUI_RUN_OUT")
        cls.binary = bridge.input_path("CPO_TUI_BINARY")

    def cpo_tui(self, *args):
        p = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, f"cpo-tui {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def test_estimate_equals_a_recomputation_from_the_files(self):
        for method in ("FT", "CPO"):
            rows = os.path.join(self.run_dir, f"rows-{method}-seed0.csv")
            f0 = os.path.join(self.run_dir, f"f0-{method}-seed0.csv")
            printed = json.loads(self.cpo_tui("estimate", "--rows", rows, "--f0", f0, "--json"))
            expected, ess = recompute(rows, f0)
            for key, (value, se) in expected.items():
                got = printed["estimates"][key]
                self.assertTrue(bridge.close(got["value"], value, rel=1e-9), f"{method} {key}: {got['value']} vs {value}")
                self.assertTrue(bridge.close(got["standard_error"], se, rel=1e-9), f"{method} {key} SE: {got} vs {se}")
                lo, hi = got["ci95"]
                self.assertTrue(bridge.close(lo, value - Z95 * se, rel=1e-9) and bridge.close(hi, value + Z95 * se, rel=1e-9))
            self.assertTrue(bridge.close(printed["ess"]["rows"]["ess"], ess, rel=1e-9))
            self.assertEqual(printed["weight_check"]["rows"]["mismatches"], 0)
            self.assertEqual(printed["weight_check"]["f0"]["mismatches"], 0)
            # FT is P̂^R: its weights are all equal, so V_SNIPW is the plain mean outcome.
            if method == "FT":
                y = np.array([float(r["outcome"]) for r in read(rows)])
                self.assertTrue(bridge.close(printed["estimates"]["v_snipw"]["value"], float(y.mean()), rel=1e-9))

    def test_watch_renders_the_run(self):
        frame = self.cpo_tui("watch", self.run_dir, "--once", "--width", "120", "--height", "40")
        self.assertIn("2 processes", frame)
        self.assertIn("read-only", frame)
        table = [l for l in frame.splitlines() if "CPO " in l or "FT " in l]
        self.assertTrue(any("FT" in l and " 0 " in l for l in table), frame)
        self.assertTrue(any("CPO" in l and " 1 " in l for l in table), frame)


if __name__ == "__main__":
    unittest.main()
