"""An hour of 1080p, 25 fps H.264 scored end to end from the command line (issue 34).

Writes a street-camera-like recording of ``--seconds`` (:func:`bench_footage.write_recording`),
remuxes ``--copies`` copies of it into one file (the packets copied, timestamps shifted: no
re-encoding, so an hour takes a minute to make), then runs ``crnnaudit score`` on it with the demo
model (its files copied into the folder) beside a copy of its card whose ``frame_rate`` is
``--rate``, under ``/usr/bin/time -v``:
wall time, peak resident memory, and the progress lines it printed. Defaults: 60 copies of 60 s.

Run: python benchmarks/bench_hour.py [--copies 60] [--seconds 60] [--rate 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_footage import write_recording
from common import ROOT, commit, machine


def repeat(src: Path, dst: Path, copies: int) -> int:
    """``copies`` copies of ``src``'s video back to back in ``dst``, packets copied; returns the frames."""
    import av
    with av.open(str(src)) as inp:
        s_in = inp.streams.video[0]
        packets = [(p.pts, p.dts, p.duration, p.is_keyframe, bytes(p)) for p in inp.demux(s_in) if p.size]
        with av.open(str(dst), "w") as out:
            s_out = out.add_stream_from_template(s_in)
            span = max(p[0] for p in packets) + (packets[-1][2] or 1) - min(p[0] for p in packets)
            for c in range(copies):
                for pts, dts, duration, key, data in packets:
                    q = av.Packet(data)
                    q.pts, q.dts, q.duration, q.is_keyframe = pts + c * span, dts + c * span, duration, key
                    q.stream, q.time_base = s_out, s_in.time_base
                    out.mux(q)
    return len(packets) * copies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--keep", help="a folder to keep the recording, card, timeline and log in")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import crnnaudit as ca
    folder = Path(args.keep or tempfile.mkdtemp(prefix="crnnaudit-hour-"))
    folder.mkdir(parents=True, exist_ok=True)
    piece, recording = folder / "piece.mp4", folder / "recording.mp4"
    write_recording(piece, args.seconds)
    frames = repeat(piece, recording, args.copies)
    demo = ca.ensure_demo()
    model_path = folder / demo.name  # the demo's files copied here, beside a card of our own
    for f in demo.parent.glob(demo.stem + ".*"):
        if not f.name.endswith(".card.json") and not (folder / f.name).exists():
            shutil.copyfile(f, folder / f.name)
    card = json.loads(demo.with_name(demo.stem + ".card.json").read_text())
    card["frame_rate"] = args.rate
    model_path.with_name(demo.stem + ".card.json").write_text(json.dumps(card))
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "crnnaudit", "score", str(model_path), str(recording),
           "--out", str(folder / "timeline.csv")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    (folder / "score.log").write_text(done.stdout + done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    progress = [line for line in done.stderr.splitlines() if line.startswith("scoring")]
    print(f"machine: {machine()}; commit {commit()}")
    print(f"recording: {frames} frames, 1920x1080, 25 fps H.264 ({frames / 25 / 60:.1f} min, "
          f"{recording.stat().st_size / 1e6:.0f} MB); card frame_rate {args.rate}; exit status {done.returncode}")
    print(f"wall time {wall.group(1) if wall else '?'}; peak resident memory "
          f"{int(peak.group(1)) / 1024:.0f} MB" if peak else "peak ?")
    print("progress lines:", len(progress), "first:", progress[:1], "last:", progress[-1:])
    print("\n".join(done.stdout.strip().splitlines()[-6:]))


if __name__ == "__main__":
    main()
