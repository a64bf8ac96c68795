"""Two processes (torchrun, gloo on CPU) train CPO a few steps on an export of a shipped world;
one process on the same export optimizes the same objective."""

import csv
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import bridge

T = bridge.load_trainer()
ARGS = ["--tiny", "--method", "CPO", "--ft-lr", "3e-3", "--epochs", "1", "--eval-samples", "4", "--max-length", "48", "--cpu"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(processes, export, out, ft_epochs, timeout=240):
    """torchrun --nproc_per_node N train_cpo.py ..., its whole process group killed on timeout."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), bridge.TRAINER, "--export", export, "--out", out,
                                            "--ft-epochs", str(ft_epochs)] + ARGS
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True, text=True)
    try:
        log, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        log, _ = p.communicate()
        raise AssertionError(f"torchrun did not finish in {timeout} s:\n{log}")
    if p.returncode != 0:
        raise AssertionError(f"torchrun exited {p.returncode}:\n{log}")
    return log


def metrics(out):
    with open(os.path.join(out, "metrics.jsonl"), encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


class TwoProcesses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.export = bridge.input_path("CPO_TUI_EXPORT")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.two = os.environ.get("CPO_TUI_RUN_OUT") or os.path.join(cls.tmp.name, "two")  # the Swift suite reads it after
        # Without FT (whose Adam steps amplify float32 rounding), one and two processes start
        # from the same model: their first step must agree.
        cls.two_no_ft = os.path.join(cls.tmp.name, "two-no-ft")
        cls.one_no_ft = os.path.join(cls.tmp.name, "one-no-ft")
        # ... with every support term on: at the first step the policy is FT, so the KL terms
        # are 0 on any sample and both runs still see the same objective.
        every_term = os.path.join(cls.tmp.name, "export-every-term")
        shutil.copytree(cls.export, every_term)
        with open(os.path.join(every_term, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        config["objective"].update(clip=0.2, kl_to_ft=0.1, entropy_bonus=0.01, kl_target=1.0, kl_samples=4, anchor=1.0)
        with open(os.path.join(every_term, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
        seconds = []
        for n, out, ft, export in ((2, cls.two, 2, cls.export), (2, cls.two_no_ft, 0, every_term),
                                   (1, cls.one_no_ft, 0, every_term)):
            t0 = time.time()
            launch(n, export, out, ft)
            seconds.append(f"{n} process(es), {ft} FT epochs: {time.time() - t0:.1f} s")
        print("\n" + "; ".join(seconds), file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_two_processes_really_ran(self):
        lines = metrics(self.two)
        self.assertEqual(lines[0]["type"], "run")
        self.assertEqual(lines[0]["num_processes"], 2)
        ranks = []
        for r in (0, 1):
            with open(os.path.join(self.two, f"rank-{r}.json"), encoding="utf-8") as f:
                ranks.append(json.load(f))
        self.assertEqual([r["rank"] for r in ranks], [0, 1])
        self.assertTrue(all(r["num_processes"] == 2 for r in ranks))
        self.assertNotEqual(ranks[0]["pid"], ranks[1]["pid"])
        self.assertTrue(all(r["sequences_forwarded"] > 0 and r["generated"] > 0 for r in ranks), ranks)
        self.assertEqual(ranks[0]["steps"], ranks[1]["steps"])
        self.assertFalse(os.path.exists(os.path.join(self.two, "rank-2.json")))

    def test_metrics_and_rows_files(self):
        lines = metrics(self.two)
        kinds = [l["type"] for l in lines]
        self.assertIn("ft_epoch", kinds)
        steps = [l for l in lines if l["type"] == "step"]
        self.assertGreater(len(steps), 0)
        self.assertTrue(all(math.isfinite(s["loss"]) and not s["skipped"] for s in steps))
        epochs = [l for l in lines if l["type"] == "epoch"]
        self.assertEqual([(e["method_name"], e["epoch"]) for e in epochs], [("FT", 0), ("CPO", 0), ("CPO", 1)])
        with open(os.path.join(self.export, "eval.jsonl"), encoding="utf-8") as f:
            n_eval = sum(1 for _ in f)
        with open(os.path.join(self.export, "f0_prompts.jsonl"), encoding="utf-8") as f:
            n_f0 = sum(1 for l in f if json.loads(l)["split"] == "eval")
        for e in epochs:
            with open(os.path.join(self.two, e["rows"]), encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(len(rows), n_eval)
            self.assertEqual(list(rows[0].keys()), ["text", "outcome", "logP_f", "logP_R", "ghat", "weight"])
            w = T.softmax([float(r["logP_f"]) - float(r["logP_R"]) for r in rows])
            for r, wi in zip(rows, w):
                self.assertTrue(bridge.close(float(r["weight"]), wi, rel=1e-12))
            with open(os.path.join(self.two, e["f0"]), encoding="utf-8", newline="") as f:
                f0 = list(csv.DictReader(f))
            self.assertEqual(len(f0), n_f0)
            self.assertEqual(list(f0[0].keys()), ["text", "logP_f0", "logP_f", "ghat", "weight"])
        with open(os.path.join(self.two, "f0_samples.jsonl"), encoding="utf-8") as f:
            samples = [json.loads(l) for l in f]
        with open(os.path.join(self.export, "f0_prompts.jsonl"), encoding="utf-8") as f:
            self.assertEqual([s["id"] for s in samples], [json.loads(l)["id"] for l in f])
        ghat = T.Ghat(os.path.join(self.export, "ghat.json"))
        self.assertTrue(all(bridge.close(s["ghat"], ghat(s["text"]), rel=1e-12) for s in samples))
        for name in ("rows-CPO-seed0.csv", "f0-CPO-seed0.csv", "rows-FT-seed0.csv", "f0-FT-seed0.csv"):
            self.assertTrue(os.path.exists(os.path.join(self.two, name)), name)

    def test_one_process_optimizes_the_same_objective(self):
        """The same P^R (gathered in row order) and the same first step: loss and gradient norm
        of the global batch's objective (DDP's average times N is the sum)."""
        one, two = metrics(self.one_no_ft), metrics(self.two_no_ft)
        self.assertEqual((one[0]["num_processes"], two[0]["num_processes"]), (1, 2))
        rows = []
        for out in (self.one_no_ft, self.two_no_ft):
            with open(os.path.join(out, "evals", "rows-FT-seed0-epoch0.csv"), encoding="utf-8", newline="") as f:
                rows.append(list(csv.DictReader(f)))
        self.assertEqual([r["text"] for r in rows[0]], [r["text"] for r in rows[1]])
        for a, b in zip(*rows):
            self.assertTrue(bridge.close(float(a["logP_R"]), float(b["logP_R"]), rel=1e-5), (a["logP_R"], b["logP_R"]))
        a = next(l for l in one if l["type"] == "step")
        b = next(l for l in two if l["type"] == "step")
        self.assertEqual((a["step"], b["step"]), (1, 1))
        self.assertEqual((a["klOwnSamples"], a["klCoefficient"]), (0.0, 0.1))
        for key in ("loss", "gradNorm", "batchESSFraction", "klOwnSamples"):
            self.assertTrue(bridge.close(a[key], b[key], rel=1e-4), f"{key}: one process {a[key]}, two {b[key]}")


if __name__ == "__main__":
    unittest.main()
