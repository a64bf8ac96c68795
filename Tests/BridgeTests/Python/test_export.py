"""The export directory loads with `datasets` and with train_cpo.py's reader, and ĝ from
ghat.json reproduces the ĝ column the export wrote."""

import json
import os
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


if __name__ == "__main__":
    unittest.main()
