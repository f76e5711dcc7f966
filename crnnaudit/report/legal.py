"""What a report says about the law it answers to, in plain words, and its schema name."""

SCHEMA = "crnnaudit.report/1"

LEGAL = [
    {"article": "GDPR Art. 15(1)(h)", "topic": "Meaningful information about the logic involved",
     "where": "Model, Output, Explanations, Key frames",
     "plain": "This report says which model looked at the video, what it concluded, how sure it "
              "was, and which moments and image regions drove that conclusion."},
    {"article": "GDPR Art. 22(3)", "topic": "Human intervention and the right to contest",
     "where": "Decision, Contesting this decision",
     "plain": "A person reviewed the model's output and took the decision recorded here. You may "
              "contest it through the channel given below."},
    {"article": "EU AI Act Art. 12", "topic": "Record-keeping (logs)",
     "where": "Integrity, Reproduce",
     "plain": "This review is recorded in a tamper-evident log; the report's fingerprint "
              "(SHA-256) lets anyone check it has not been changed."},
    {"article": "EU AI Act Art. 13", "topic": "Transparency and information to deployers",
     "where": "Model card, Known limitations, How far to trust the explanations",
     "plain": "The model's intended use, training data and known limitations are stated, with "
              "figures on how reliable each explanation is."},
    {"article": "EU AI Act Art. 14", "topic": "Human oversight",
     "where": "Decision",
     "plain": "The reviewer could confirm, override or escalate the model's output, and did so "
              "after seeing the explanations."},
    {"article": "EU AI Act Art. 86", "topic": "Right to an explanation of individual decisions",
     "where": "the whole report",
     "plain": "This document is the explanation of the decision taken about this video."},
]
