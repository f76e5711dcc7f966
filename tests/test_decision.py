"""The decision rule lives in one function; every table and report takes it from there."""

import numpy as np
import pandas as pd

from crnnaudit.decision import ANOMALY, NO_RELIABLE_READING, NORMAL, decide


def test_a_score_at_the_threshold_is_an_anomaly_and_below_it_normal():
    assert decide(0.5, 0.5) == ANOMALY == "anomaly"
    assert decide(0.4999, 0.5) == NORMAL == "normal"
    assert decide(1.0, 0.99) == ANOMALY and decide(0.0, 0.0) == ANOMALY


def test_an_unreliable_window_gets_no_verdict_whatever_its_score():
    got = decide(np.array([0.9, 0.1, 0.9, 0.1]), 0.5, reliable=np.array([True, True, False, False]))
    assert got.tolist() == [ANOMALY, NORMAL, NO_RELIABLE_READING, NO_RELIABLE_READING]
    assert decide(0.99, 0.5, reliable=False) == "no reliable reading"


def test_the_timeline_takes_its_decisions_from_the_rule(sample_clips):
    import architectures as arch
    from crnnaudit import AuditedModel, ModelCard, open_clip
    net = arch.td_cnn_gru_softmax(s=32)
    clip = open_clip(sample_clips[0])
    scores = AuditedModel(net, ModelCard(classes=["normal", "fight", "fire"], stride=2)).score(clip).table["anomaly_score"]
    threshold = float(np.median(scores))  # so that both verdicts occur
    t = AuditedModel(net, ModelCard(classes=["normal", "fight", "fire"], stride=2, threshold=threshold)).score(clip).table
    expected = ["anomaly" if s >= threshold else "normal" for s in t["anomaly_score"]]
    assert t["decision"].tolist() == expected and {"anomaly", "normal"} <= set(expected)
    assert isinstance(t, pd.DataFrame)
