"""The demo: ``demo`` (ready it; ``--rebuild`` and ``--evaluate`` run the lab) and ``synth``
(synthetic clips with ground truth)."""

from __future__ import annotations

import json
import time

from .common import Progress


def cmd_demo(args) -> int:
    from .. import ShippedDemoMismatch, demo_is_current, demo_model_path, ensure_demo
    t0 = time.perf_counter()
    bars: dict[str, Progress] = {}

    def progress(what, done, total):
        bars.setdefault(what, Progress(what))(done, total)
    if args.rebuild:
        from .. import build_demo
        path = build_demo(seed=args.seed, force=True, progress=progress)
        print(f"demo model rebuilt from the recipe in {time.perf_counter() - t0:.0f} s: {path}")
    elif demo_is_current():
        path = demo_model_path()
        print(f"demo model already built: {path}")
    else:
        try:
            path = ensure_demo(progress)
        except ShippedDemoMismatch as e:
            print(f"{e}: rebuilding it from the recipe (minutes)")
            from .. import build_demo
            path = build_demo(force=True, progress=progress)
        print(f"demo model ready in {time.perf_counter() - t0:.0f} s: {path}")
    if args.evaluate:
        from .. import evaluate_demo_and_record
        print(json.dumps(evaluate_demo_and_record(progress, real_clip=args.real_clip), indent=2, default=float))
    if args.ship:
        from .. import ship_demo
        print(f"shipped weights, card and statistics written to {ship_demo(path)}")
    return 0


def cmd_synth(args) -> int:
    from .. import synthesize
    for p in synthesize(args.out, args.count, args.seed, frames=args.frames):
        print(p)
    return 0


def add_commands(sub) -> None:
    """demo, synth."""
    s = sub.add_parser("demo", help="make the demo VGG19 + GRU model ready (from the shipped weights, in "
                                    "seconds); --rebuild trains it from the recipe; --evaluate measures it")
    s.add_argument("--rebuild", "--force", action="store_true", help="train it again from the recipe (minutes)")
    s.add_argument("--evaluate", action="store_true", help="measure its figures through the app's path and "
                                                           "write them into its card")
    s.add_argument("--real-clip", help="real footage whose windows should all read as unlike the training data")
    s.add_argument("--ship", action="store_true", help="(maintainers) copy the weights into the package")
    s.add_argument("--seed", type=int, default=0, help="the recipe's seed (default 0, the shipped demo's)")
    s.set_defaults(fn=cmd_demo)
    s = sub.add_parser("synth", help="write synthetic clips with ground truth (<clip>.truth.json beside each)")
    s.add_argument("--out", required=True, help="the folder to write the clips into")
    s.add_argument("--count", type=int, default=4, help="how many clips, the classes in turn (default 4)")
    s.add_argument("--seed", type=int, default=0, help="the random seed (the same seed, the same clips)")
    s.add_argument("--frames", type=int, default=48, help="frames per clip (default 48, at 12 fps)")
    s.set_defaults(fn=cmd_synth)
