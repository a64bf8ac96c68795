"""Shared by the bridge tests: train_cpo.py imported as a module, and the inputs the Swift
suite (PythonBridgeTests.swift) hands over in environment variables."""

import importlib.util
import os
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.environ.get("CPO_TUI_TRAINER") or os.path.join(HERE, "..", "..", "..", "Sources", "Bridge", "Resources",
                                                            "train_cpo.py")


def load_trainer():
    spec = importlib.util.spec_from_file_location("train_cpo", TRAINER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def input_path(name):
    """The path in env `name`, or skip (run from Swift, the suite always sets it)."""
    p = os.environ.get(name)
    if not p:
        raise unittest.SkipTest(f"{name} is not set: run through `swift test --filter PythonBridgeTests`")
    return p


def close(a, b, rel=1e-5, floor=1e-12):
    """Equal to `rel` relative (with an absolute floor for values near 0); NaN equals NaN."""
    a, b = float(a), float(b)
    if a != a or b != b:
        return a != a and b != b
    return abs(a - b) <= rel * max(abs(a), abs(b)) + floor
