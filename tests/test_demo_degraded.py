"""The demo's image-quality drill (issue 21's bars), measured through the app's path on unseen
clips: blurred, dark, noisy and coarsely compressed variants and their clean twins. Apart from
``test_demo_model.py`` so that the suite's two workers run the two evaluations side by side."""

import json

import pytest

from crnnaudit import load_model
from crnnaudit.lab.evaluation import degraded_figures
from crnnaudit.lab.recipe import demo_model_path
from test_demo_model import CLEAN_FLAGGED, DEGRADED_FLAGGED


@pytest.mark.long  # 80 clips through VGG19: make test-long (CI runs it)
@pytest.mark.first
def test_degraded_footage_that_misleads_the_demo_is_caught(full_demo, monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_HOME", str(full_demo))
    degraded = degraded_figures(load_model(demo_model_path()), 16)
    print(json.dumps(degraded, indent=1, default=float))
    assert set(degraded) == {"clean", "blur", "dark", "noise", "low_bitrate"}
    assert all(d["clips"] == 16 for d in degraded.values())
    assert degraded["clean"]["flagged_windows"] <= CLEAN_FLAGGED
    for kind, d in degraded.items():  # where degraded footage misleads the model, it is caught
        if kind != "clean" and d["accuracy"] < 0.8:
            assert d["flagged_windows"] >= DEGRADED_FLAGGED, (kind, d)
