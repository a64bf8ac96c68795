"""The export directory loads with `datasets` and with train_cpo.py's reader, and ĝ from
ghat.json reproduces the ĝ column the export wrote."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import bridge

T = bridge.load_trainer()


class ExportLoads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = bridge.input_path("CPO_TUI_EXPORT")

    def lines(self, name):
        with open(os.path.join(self.dir, name), encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.strip()]

    def test_load_dataset_json(self):
        import datasets

        with tempfile.TemporaryDirectory() as cache:
            files = {p: os.path.join(self.dir, p + ".jsonl") for p in ("train", "validation", "eval")}
            ds = datasets.load_dataset("json", data_files=files, cache_dir=cache)
            for part, path in files.items():
                self.assertEqual(ds[part].num_rows, len(self.lines(part + ".jsonl")))
                for col in ("id", "text", "outcome", "split", "fold", "ghat"):
                    self.assertIn(col, ds[part].column_names, part)
                self.assertEqual(set(ds[part]["split"]), {part})
            self.assertTrue(all(f is not None for f in ds["train"]["fold"]))
            prompts = datasets.load_dataset("json", data_files=os.path.join(self.dir, "f0_prompts.jsonl"), cache_dir=cache)
            self.assertEqual(prompts["train"].num_rows, len(self.lines("f0_prompts.jsonl")))

    def test_trainer_reads_it_and_ghat_json_reproduces_the_ghat_column(self):
        ex = T.load_export(self.dir)
        self.assertEqual(len(ex["train"]), len(self.lines("train.jsonl")))
        for r in ex["validation"] + ex["eval"]:  # mean of the fold models, as written
            self.assertTrue(bridge.close(ex["ghat"](r["text"]), r["ghat"], rel=1e-9), r["text"])

    def test_lower_is_better_outcomes_are_oriented(self):
        """Outcomes stay as in the data in the export; the trainer orients them (−y, or 1 − y for
        binary), as OutcomeDataset.oriented does."""
        self.assertEqual(T.orient(3.0, {"kind": "continuous", "lower_is_better": True}), -3.0)
        self.assertEqual(T.orient(1.0, {"kind": "binary", "lower_is_better": True}), 0.0)
        self.assertEqual(T.orient(3.0, {"kind": "continuous", "lower_is_better": False}), 3.0)
        with tempfile.TemporaryDirectory() as d:
            for name in os.listdir(self.dir):
                with open(os.path.join(self.dir, name), "rb") as src, open(os.path.join(d, name), "wb") as dst:
                    dst.write(src.read())
            with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
                config = json.load(f)
            config["outcome"]["lower_is_better"] = True
            with open(os.path.join(d, "config.json"), "w", encoding="utf-8") as f:
                json.dump(config, f)
            ex = T.load_export(d)
            for r in ex["train"] + ex["eval"]:
                self.assertEqual(r["y"], T.orient(r["outcome"], config["outcome"]))

    def test_malformed_export_is_refused_with_the_line(self):
        with tempfile.TemporaryDirectory() as d:
            for name in os.listdir(self.dir):
                with open(os.path.join(self.dir, name), "rb") as src, open(os.path.join(d, name), "wb") as dst:
                    dst.write(src.read())
            with open(os.path.join(d, "eval.jsonl"), "a", encoding="utf-8") as f:
                f.write('{"id": "eval-x", "text": "cut off\n')
            with self.assertRaises(SystemExit) as e:
                T.load_export(d)
            self.assertIn("eval.jsonl:", str(e.exception))
            os.remove(os.path.join(d, "ghat.json"))
            with self.assertRaises(SystemExit) as e:
                T.load_export(d)
            self.assertIn("ghat.json", str(e.exception))


class AnyCausalLM(unittest.TestCase):
    def test_accelerate_launch_with_a_model_path(self):
        """`accelerate launch train_cpo.py --model DIR` (the AutoModelForCausalLM path, one CPU
        process): a saved model directory stands for any name or path a user gives."""
        export = bridge.input_path("CPO_TUI_EXPORT")
        ex = T.load_export(export)
        with tempfile.TemporaryDirectory() as d:
            model, tok = T.tiny_model_and_tokenizer([r["text"] for r in ex["train"]], seed=1, max_length=48)
            model.save_pretrained(os.path.join(d, "model"))
            tok.save_pretrained(os.path.join(d, "model"))
            out = os.path.join(d, "run")
            cmd = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no", bridge.TRAINER, "--export", export,
                   "--model", os.path.join(d, "model"), "--method", "DR-CPO", "--out", out, "--ft-epochs", "1",
                   "--epochs", "1", "--eval-samples", "4", "--max-length", "48"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=dict(os.environ, HF_HUB_OFFLINE="1"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(out, "metrics.jsonl"), encoding="utf-8") as f:
                lines = [json.loads(l) for l in f]
            self.assertEqual((lines[0]["model"], lines[0]["num_processes"]), (os.path.join(d, "model"), 1))
            self.assertEqual([(l["method_name"], l["epoch"]) for l in lines if l["type"] == "epoch"],
                             [("FT", 0), ("DR-CPO", 0), ("DR-CPO", 1)])
            self.assertTrue(os.path.exists(os.path.join(out, "rows-DR-CPO-seed0.csv")))


if __name__ == "__main__":
    unittest.main()
