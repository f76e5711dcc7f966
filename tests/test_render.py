"""Figures an auditor reads: the prediction bars and the timeline's training-data marks."""

import numpy as np
import pandas as pd

from crnnaudit import render
from crnnaudit.model import Timeline


def test_prediction_is_labelled_bars_on_a_zero_to_one_axis_with_anomalies_marked():
    fig = render.probability_figure(["normal", "fight", "fire"], np.array([0.7, 0.2, 0.1]), ["fight", "fire"])
    bar = fig.data[0]
    assert bar.type == "bar" and bar.orientation == "h" and len(fig.data) == 1
    assert list(bar.x) == [0.7, 0.2, 0.1]
    assert list(bar.y) == ["normal", "fight (anomaly)", "fire (anomaly)"]
    assert list(bar.text) == ["0.700", "0.200", "0.100"]
    colours = list(bar.marker.color)
    assert colours[1] == colours[2] != colours[0], "anomaly classes stand apart"
    assert tuple(fig.layout.xaxis.range) == (0, 1) and fig.layout.showlegend is False


def test_timeline_marks_windows_unlike_the_training_data():
    table = pd.DataFrame({"window": [0, 1, 2], "start_s": [0.0, 1.0, 2.0], "end_s": [1.0, 2.0, 3.0],
                          "anomaly_score": [0.1, 0.9, 0.2], "unlike_training": [False, True, True]})
    fig = render.timeline_figure(Timeline(table, "c", "m", 16, 8, 0.5), selected=1)
    marks = [t for t in fig.data if t.name == "unlike the training data"]
    assert len(marks) == 1 and list(marks[0].customdata) == [1, 2]
    plain = render.timeline_figure(Timeline(table.drop(columns="unlike_training"), "c", "m", 16, 8, 0.5))
    assert [t.name for t in plain.data] == ["anomaly score"]
