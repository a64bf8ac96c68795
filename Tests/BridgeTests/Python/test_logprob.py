"""Sequence log-probabilities on the tiny model: shift by one, padding masked, BOS not
predicted, EOS predicted; and the surrogate's coefficients are the objective's gradient."""

import math
import unittest

import torch

import bridge

T = bridge.load_trainer()
TEXTS = ["the river was clean again", "volunteers came at dawn", "a short one", "x",
         "Ten bags of plastic, two tyres and a bicycle came out of the water."] * 4


class SequenceLogProb(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model, tok = T.tiny_model_and_tokenizer(TEXTS, seed=3, max_length=40)
        cls.model.eval()
        cls.codec = T.Codec(tok, 40)
        cls.seqs = [cls.codec.encode(t) for t in TEXTS[:5]]

    def manual(self, seq):
        """Σ_{t≥1} log softmax(logits[t−1])[seq[t]] on the sequence alone (no padding)."""
        with torch.no_grad():
            logits = self.model(input_ids=torch.tensor([seq])).logits[0].double()
        logq = torch.log_softmax(logits, dim=-1)
        return sum(logq[t - 1, seq[t]].item() for t in range(1, len(seq)))

    def test_encoding_adds_bos_and_eos_and_cuts(self):
        s = self.codec.encode("the river")
        self.assertEqual(s[0], self.codec.bos)
        self.assertEqual(s[-1], self.codec.eos)
        self.assertEqual(len(self.codec.encode("word " * 200)), 40)
        self.assertEqual(self.codec.decode(s), "the river")
        self.assertEqual(self.codec.prompt(""), [self.codec.bos])  # f0 from scratch
        self.assertEqual(self.codec.prompt("the river"), s[:-1])  # a prefix: no EOS

    def test_batched_equals_manual_sum_and_padding_changes_nothing(self):
        with torch.no_grad():
            t = T.sequence_terms(self.model, self.seqs, self.codec.pad, "cpu")
            other_pad = T.sequence_terms(self.model, self.seqs, self.codec.eos, "cpu")
            alone = [T.sequence_terms(self.model, [s], self.codec.pad, "cpu")["logp"].item() for s in self.seqs]
            wider = T.sequence_terms(self.model, self.seqs + [self.seqs[0] + [self.codec.pad] * 0 + [self.codec.bos] * 9],
                                     self.codec.pad, "cpu")
        self.assertEqual(t["tokens"], [len(s) - 1 for s in self.seqs])
        for i, s in enumerate(self.seqs):
            m = self.manual(s)
            self.assertTrue(bridge.close(t["logp"][i].item(), m, rel=1e-5), f"row {i}: {t['logp'][i].item()} vs {m}")
            self.assertTrue(bridge.close(other_pad["logp"][i].item(), m, rel=1e-5))
            self.assertTrue(bridge.close(alone[i], m, rel=1e-5))
            self.assertTrue(bridge.close(wider["logp"][i].item(), m, rel=1e-5))

    def test_kl_to_itself_is_zero_and_entropy_positive(self):
        with torch.no_grad():
            t = T.sequence_terms(self.model, self.seqs, self.codec.pad, "cpu", reference=self.model, entropy=True)
        for i in range(len(self.seqs)):
            self.assertLess(abs(t["klsum"][i].item()), 1e-4)
            self.assertGreater(t["entropy"][i].item(), 0)

    def test_coefficients_are_the_gradient_of_the_objective(self):
        """Backpropagating Σ coef·logP gives autograd's gradient of the objective itself."""
        g = torch.Generator().manual_seed(0)
        n = 6
        logp = (-30 + 5 * torch.randn(n, generator=g, dtype=torch.float64)).requires_grad_(True)
        logpr = logp.detach() + 0.7 * torch.randn(n, generator=g, dtype=torch.float64)
        y = 2 + torch.randn(n, generator=g, dtype=torch.float64)
        gh = y + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
        slp = (-25 + 4 * torch.randn(n, generator=g, dtype=torch.float64)).requires_grad_(True)
        slp0 = slp.detach() + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
        sg = 2 + torch.randn(n, generator=g, dtype=torch.float64)
        batch = dict(logp=logp.tolist(), logpr=logpr.tolist(), outcomes=y.tolist(), ghat=gh.tolist(),
                     sample_logp=slp.tolist(), sample_logp0=slp0.tolist(), sample_ghat=sg.tolist(), outcome_minimum=0.0)
        for norm in ("hajek", "horvitz-thompson"):
            opt = dict(T.DEFAULT_OBJECTIVE, normalization=norm)
            w = torch.softmax(logp - logpr, 0) if norm == "hajek" else torch.exp(logp - logpr) / n
            ws = torch.softmax(slp - slp0, 0)
            objectives = {"CPO": -(w * y).sum(), "DR-CPO": -((w * (y - gh)).sum() + (ws * sg).sum()),
                          "OO-RLHF": -(ws * sg).sum()}
            for method, loss in objectives.items():
                a, b = torch.autograd.grad(loss, [logp, slp], allow_unused=True, retain_graph=True)
                a = torch.zeros(n, dtype=torch.float64) if a is None else a
                b = torch.zeros(n, dtype=torch.float64) if b is None else b
                out = T.evaluate_objective(method, batch, opt)
                self.assertTrue(bridge.close(out["loss"], loss.item()), method)
                for i in range(n):
                    self.assertTrue(bridge.close(out["grad_logp"][i], a[i].item(), floor=1e-9), f"{method} {norm} row {i}")
                    if method != "CPO":
                        self.assertTrue(bridge.close(out["grad_sample_logp"][i], b[i].item(), floor=1e-9), f"{method} f0 {i}")


if __name__ == "__main__":
    unittest.main()
