"""An hour of 1080p, 25 fps H.264 scored end to end from the command line (issue 34).

Writes a street-camera-like recording of ``--seconds`` (:func:`bench_footage.write_recording`),
remuxes ``--copies`` copies of it into one file (the packets copied, timestamps shifted: no
re-encoding, so an hour takes a minute to make), then runs ``crnnaudit score`` on it with the demo
model (its files copied into the folder) beside a copy of its card whose ``frame_rate`` is
``--rate``, under ``/usr/bin/time -v``:
wall time, peak resident memory, and the progress lines it printed. Defaults: 60 copies of 60 s.

With ``--app``, the same hour is scored by the app instead: ``streamlit run serve.py`` (as ``make
app`` serves it) with the recording as its only sample clip and the model above, one account
signed in from Debian's Chromium; timed from the sign-in until the Review page announces the
recording's top window, with the server's peak memory (the process and its children) and the
progress bar's texts; ``--memory`` sets ``CRNNAUDIT_MEMORY`` for the server (default: the app's own).

Run: python benchmarks/bench_hour.py [--copies 60] [--seconds 60] [--rate 5] [--keep DIR] [--app [--memory released]]
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
    ap.add_argument("--app", action="store_true", help="score it in the app, from a browser, not the command line")
    ap.add_argument("--memory", choices=["pooled", "released"], help="CRNNAUDIT_MEMORY for the app's server")
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
    print(f"machine: {machine()}; commit {commit()}")
    print(f"recording: {frames} frames, 1920x1080, 25 fps H.264 ({frames / 25 / 60:.1f} min, "
          f"{recording.stat().st_size / 1e6:.0f} MB); card frame_rate {args.rate}")
    if args.app:
        in_app(folder, model_path, recording, args.memory)
    else:
        from_command_line(folder, model_path, recording)


def from_command_line(folder: Path, model_path: Path, recording: Path) -> None:
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "crnnaudit", "score", str(model_path), str(recording),
           "--out", str(folder / "timeline.csv")]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    (folder / "score.log").write_text(done.stdout + done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    progress = [line for line in done.stderr.splitlines() if line.startswith("scoring")]
    print(f"exit status {done.returncode}")
    print(f"wall time {wall.group(1) if wall else '?'}; peak resident memory "
          f"{int(peak.group(1)) / 1024:.0f} MB" if peak else "peak ?")
    print("progress lines:", len(progress), "first:", progress[:1], "last:", progress[-1:])
    print("\n".join(done.stdout.strip().splitlines()[-6:]))


def in_app(folder: Path, model_path: Path, recording: Path, memory: str | None = None) -> None:
    """The hour scored by the Review page: the recording is the app's only sample clip, so the
    page scores it as soon as the account signs in."""
    import os
    import threading
    import time

    from tests.app.browser import WATCH_BARS, chromium, new_page, running_app, server_memory_mb, server_pid, sign_in
    from tests.app.test_load import PASSWORD
    samples = folder / "samples"
    samples.mkdir(exist_ok=True)
    if not (samples / recording.name).exists():
        os.link(recording, samples / recording.name)  # the same file, not a second 700 MB
    env = {"CRNNAUDIT_MODEL": str(model_path), "CRNNAUDIT_HOME": str(folder / "home"),
           "CRNNAUDIT_SAMPLES": str(samples), "CRNNAUDIT_CONTROLLER": "Example Transit Ltd",
           "CRNNAUDIT_CONTEST_CONTACT": "dpo@example.org"}
    if memory:
        env["CRNNAUDIT_MEMORY"] = memory
    os.environ.update(env)
    from crnnaudit.evidence.accounts import Accounts
    from crnnaudit.evidence.keys import has_signing_key, init_key
    if not has_signing_key():
        init_key()  # a new installation's key, in the benchmark's own folder
    if not Accounts().count():
        Accounts().add("Night shift", PASSWORD, "admin")
    peak, stop = [0.0], threading.Event()

    def watch(pid: int) -> None:  # VmHWM of a child that ended is lost: sample the running ones too
        while not stop.wait(2.0):
            now, hwm = server_memory_mb(pid)
            peak[0] = max(peak[0], now, hwm)
    with running_app(env, timeout=300) as url, chromium() as browser:
        page = new_page(browser)
        page.add_init_script(f"({WATCH_BARS})()")
        page.set_default_timeout(3_600_000)
        page.goto(url)
        threading.Thread(target=watch, args=(server_pid(url),), daemon=True).start()
        t0 = time.perf_counter()
        sign_in(page, "Night shift", PASSWORD)
        said = page.get_by_text(re.compile(r"Window \d+: frames \d+-\d+")).first
        said.wait_for(timeout=3_600_000)
        wall = time.perf_counter() - t0
        stop.set()
        bars = page.evaluate("window.__bars")
        print(f"the app (CRNNAUDIT_MEMORY={memory or 'as configured'}): sign-in to the top window announced in "
              f"{wall // 60:.0f} min {wall % 60:.0f} s; the server and its children peaked at {peak[0]:.0f} MB "
              "(sampled every 2 s, and their VmHWM)")
        print(f"the page said: {said.inner_text()}")
        print("progress texts:", len(bars), "first:", bars[:2], "last:", bars[-2:])


if __name__ == "__main__":
    main()
