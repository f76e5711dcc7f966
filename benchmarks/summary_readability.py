"""How easily the summary for the person concerned reads, in each language.

The shipped demo model reviews every window of every sample clip (``sample_videos/``); each
window's report body is built with each decision the window allows (confirm, override,
escalate; reasons where they are required) and each state a report can reach (submitted,
countersigned, returned, rejected), and its fact sheet's summary is written in English, French
and German. Readability is the formula made for each language (textstat: Flesch 1948 for
English, Kandel and Moles 1958 for French, Amstad 1978 for German; higher is easier, 60 and
above reads as plain language in all three). Prints, per language, the summaries measured and
their minimum, median and maximum score, and the word counts.

Run: python benchmarks/summary_readability.py [--windows-per-clip 3]
"""

from __future__ import annotations

import argparse
import statistics

from common import ROOT, commit, machine

STATES = {"submitted": "awaiting countersignature", "countersigned": "final", "returned": "returned",
          "rejected": "rejected"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows-per-clip", type=int, default=3)
    args = ap.parse_args()
    from crnnaudit import ensure_demo, explain, load_model, open_clip
    from crnnaudit.report import build_report
    from crnnaudit.report.facts import fact_sheet
    from crnnaudit.report.messages import LANGUAGES
    from crnnaudit.report.summary import plain_summary
    model = load_model(ensure_demo())
    scores = {lang: [] for lang in LANGUAGES}
    words = {lang: [] for lang in LANGUAGES}
    clips = sorted((ROOT / "sample_videos").glob("*.mp4"))
    for path in clips:
        clip = open_clip(path)
        n = clip.window_count(model.window_length, model.card.stride)
        for k in range(min(n, args.windows_per_clip)):
            window = clip.window(k, model.window_length, model.card.stride, model.frame_size)
            es = explain(model, window, ["gradcam", "frame_occlusion"], cache=False)
            for decision in ("confirm", "override", "escalate"):
                body = build_report(model, clip, window, es, decision=decision, reviewer="ana",
                                    reason="The reviewer's reasons.", faithfulness=False, sanity=False)
                for status in STATES.values():
                    human = dict(body["human"], status=status,
                                 second_reviewer=None if status == STATES["submitted"] else "pat",
                                 comment="Look again." if status in ("returned", "rejected") else None)
                    facts = fact_sheet(dict(body, human=human))
                    for lang in LANGUAGES:
                        s = plain_summary(facts, lang)
                        scores[lang].append(s["readability"]["score"])
                        words[lang].append(s["words"])
    print(f"summary readability · commit {commit()} · {machine()}")
    print(f"{len(clips)} clips, up to {args.windows_per_clip} windows each, 3 decisions x 4 states")
    print("| language | formula | summaries | min | median | max | words (median, max) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    from crnnaudit.report.messages import READABILITY
    for lang in LANGUAGES:
        s = scores[lang]
        print(f"| {lang} | {READABILITY[lang]} | {len(s)} | {min(s):.0f} | {statistics.median(s):.0f} | {max(s):.0f} "
              f"| {statistics.median(words[lang]):.0f}, {max(words[lang])} |")


if __name__ == "__main__":
    main()
