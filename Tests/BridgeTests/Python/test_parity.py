"""Parity with Swift: losses and per-sequence coefficients of every method and option set
(CausalPO/Objectives.swift, MethodRun's step), and ĝ's featurizer and predictions."""

import json
import math
import unittest

import bridge

T = bridge.load_trainer()


def options(o):
    unknown = set(o) - set(T.DEFAULT_OBJECTIVE)
    assert not unknown, f"Swift wrote objective options train_cpo.py does not know: {unknown}"
    opt = dict(T.DEFAULT_OBJECTIVE)
    opt.update(o)
    return opt


class Close(unittest.TestCase):
    def assertCloseList(self, got, want, what):
        self.assertEqual(len(got), len(want), f"{what}: length")
        for i, (a, b) in enumerate(zip(got, want)):
            self.assertTrue(bridge.close(a, b), f"{what}[{i}]: python {a!r}, swift {b!r}")

    def assertClose(self, got, want, what):
        self.assertTrue(bridge.close(got, want), f"{what}: python {got!r}, swift {want!r}")


class ObjectiveParity(Close):
    @classmethod
    def setUpClass(cls):
        with open(bridge.input_path("CPO_TUI_PARITY"), encoding="utf-8") as f:
            cls.cases = json.load(f)

    def test_objectives_every_method_and_option_set(self):
        methods = set()
        for c in self.cases["objectives"]:
            with self.subTest(c["name"]):
                out = T.evaluate_objective(c["method"], c["batch"], options(c["options"]))
                e = c["expected"]
                self.assertClose(out["loss"], e["loss"], c["name"] + " loss")
                for key in ("grad_logp", "grad_sample_logp", "weights", "sample_weights"):
                    self.assertCloseList(out[key], e[key], f"{c['name']} {key}")
                self.assertClose(out["clipped_share"], e["clipped_share"], c["name"] + " clipped share")
                methods.add(c["method"])
        self.assertEqual(methods, {"FT", "OO-RLHF", "CPO", "DR-CPO", "filtered-SFT", "RWR", "DPO"})
        self.assertGreaterEqual(len(self.cases["objectives"]), 100)

    def test_training_step_coefficients(self):
        for c in self.cases["steps"]:
            with self.subTest(c["name"]):
                opt = options(c["options"])
                opt["_outcome_sd"], opt["_outcome_minimum"] = c["outcome_sd"], c["outcome_minimum"]
                rows = dict(logp=c["rows_logp"], logpr=c["rows_logpr"], outcomes=c["rows_outcomes"], ghat=c["rows_ghat"],
                            tokens=c["rows_tokens"], klsum=c["rows_klsum"], entropy=c["rows_entropy"])
                samples = dict(logp=c["samples_logp"], logp0=c["samples_logp0"], ghat=c["samples_ghat"],
                               tokens=c["samples_tokens"], klsum=c["samples_klsum"], entropy=c["samples_entropy"])
                got = T.step_coefficients(c["method"], opt, rows, samples, own_kl=c.get("own_kl"), kl_beta=c.get("kl_beta"))
                self.assertClose(got["loss"], c["loss"], c["name"] + " loss")
                self.assertCloseList(got["rows_logp"] + got["samples_logp"], c["coef_logp"], c["name"] + " dLoss/dlogP")
                self.assertCloseList(got["rows_kl"] + got["samples_kl"], c["coef_kl"], c["name"] + " dLoss/dKL")
                self.assertCloseList(got["rows_entropy"] + got["samples_entropy"], c["coef_entropy"], c["name"] + " dLoss/dH")
                self.assertCloseList(got["own_logp"], c["own_coef_logp"], c["name"] + " own samples dLoss/dlogP")
                self.assertCloseList(got["own_kl"], c["own_coef_kl"], c["name"] + " own samples dLoss/dKL")
        self.assertGreaterEqual(len(self.cases["steps"]), 60)

    def test_anchor_sampled_kl_token_terms_controller(self):
        for c in self.cases["anchors"]:
            loss, grad = T.anchor_term(c["logp"], c["tokens"], c["weight"])
            self.assertClose(loss, c["loss"], "anchor loss")
            self.assertCloseList(grad, c["grad"], "anchor grad")
        for c in self.cases["sampled_kl"]:
            loss, gkl, glp = T.sampled_kl(c["kl_sums"], c["beta"])
            self.assertClose(loss, c["loss"], "sampled KL loss")
            self.assertCloseList(gkl, c["grad_kl"], "sampled KL pathwise")
            self.assertCloseList(glp, c["grad_logp"], "sampled KL score function")
        for c in self.cases["token_terms"]:
            kl, ent = T.token_term_coefficients(c["tokens"], options(dict(kl_to_ft=c["kl_to_ft"], entropy_bonus=c["entropy_bonus"])))
            self.assertCloseList(kl, c["kl"], "token KL")
            self.assertCloseList(ent, c["entropy"], "token entropy")
        for c in self.cases["controllers"]:
            ctl = T.AdaptiveKLController(c["target"], c["horizon"], c["initial"])
            got = []
            for kl in c["kls"]:
                ctl.update(float(kl) if kl is not None else math.nan)
                got.append(ctl.coefficient)
            self.assertCloseList(got, c["coefficients"], "adaptive KL β")


class GhatParity(Close):
    @classmethod
    def setUpClass(cls):
        d = bridge.input_path("CPO_TUI_GHAT_PARITY")
        with open(f"{d}/texts.json", encoding="utf-8") as f:
            cls.tables = json.load(f)
        cls.ridge = T.Ghat(f"{d}/ridge.json")
        cls.logistic = T.Ghat(f"{d}/logistic.json")

    def test_word_characters_match_swift(self):
        swift = set()
        for lo, hi in self.tables["word_ranges"]:
            swift.update(range(lo, hi + 1))
        import unicodedata
        wrong = [v for v in range(0x110000)
                 if not 0xD800 <= v <= 0xDFFF and unicodedata.category(chr(v)) != "Cn"
                 and T.is_word_char(chr(v)) != (v in swift)]
        spans = []
        for v in wrong:
            if spans and spans[-1][1] == v - 1:
                spans[-1][1] = v
            else:
                spans.append([v, v])
        self.assertEqual([f"{a:04X}-{b:04X} {unicodedata.category(chr(a))} swift says word: {a in swift}" for a, b in spans], [], f"{len(wrong)} scalars classified unlike Swift (Python's Unicode "
                                        f"{unicodedata.unidata_version})")

    def test_lower_casing_matches_swift(self):
        import unicodedata
        wrong = [k for k, v in self.tables["lowercase"].items()
                 if unicodedata.category(chr(int(k))) != "Cn" and chr(int(k)).lower() != v]
        self.assertEqual(wrong[:20], [], f"{len(wrong)} scalars lower-case unlike Swift")

    def test_features_and_predictions(self):
        fz = self.ridge.fz
        for t in self.tables["texts"]:
            with self.subTest(t["text"]):
                self.assertEqual([w.decode("utf-8") for w in T.words(t["text"])], t["words"])
                x = T.features(t["text"], **fz)
                self.assertEqual(list(x.keys()), t["indices"])
                self.assertCloseList(list(x.values()), t["values"], "feature values")
                self.assertClose(self.ridge(t["text"]), t["ridge"], "ridge ĝ")
                self.assertClose(self.logistic(t["text"]), t["logistic"], "logistic ĝ")


if __name__ == "__main__":
    unittest.main()
