"""The hostile-input table of the README: every case of ``tests/hostile/cases.py`` made at full
size and run in a fresh process through the entry point the app and the command line use,
with its verdict, seconds and peak memory (that process and the model sandbox it starts).

Run: python benchmarks/bench_hostile.py   (about 3 minutes on 2 cores)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, commit, machine

sys.path.insert(0, str(ROOT))
from tests.hostile.cases import CASES  # noqa: E402

CHILD = """
import re, resource, sys
sys.path.insert(0, {root!r})
from tests.hostile.cases import open_any
from crnnaudit.errors import CrnnauditError
try:
    open_any({kind!r}, __import__('pathlib').Path({path!r}))
    verdict = 'read'
except CrnnauditError as e:
    verdict = 'refused: ' + type(e).__name__
except Exception as e:
    verdict = 'FOREIGN ' + type(e).__name__
hwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])
print('RESULT', verdict, '|', max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) >> 10)
"""


def main():
    rows = []
    with tempfile.TemporaryDirectory(prefix="crnnaudit-hostile-") as tmp:
        for i, case in enumerate(CASES):
            folder = Path(tmp) / f"{i:02d}"
            folder.mkdir()
            path = case.make(folder)
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), kind=case.kind, path=str(path))],
                                 capture_output=True, text=True, cwd=ROOT,
                                 env={"CRNNAUDIT_HOME": str(Path(tmp) / "home"), "PATH": "/usr/bin:/bin",
                                      "TF_CPP_MIN_LOG_LEVEL": "3"})
            seconds = time.perf_counter() - t0
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), "RESULT no verdict | 0")
            verdict, peak = line[7:].rsplit("|", 1)
            ok = verdict.strip().startswith(case.verdict)
            rows.append((case, path.stat().st_size, verdict.strip(), seconds, int(peak), ok))
            print(f"{case.name}: {verdict.strip()} in {seconds:.1f} s, {int(peak)} MB", file=sys.stderr)
    print(f"machine: {machine()}; commit {commit()}")
    print("| input | kind | file size | verdict | seconds | peak memory (MB) |")
    print("|---|---|---|---|---|---|")
    for case, size, verdict, seconds, peak, ok in rows:
        flag = "" if ok else " (**expected " + case.verdict + "**)"
        print(f"| {case.name} | {case.kind} | {size / 1e6:.2f} MB | {verdict}{flag} | {seconds:.1f} | {peak} |")


if __name__ == "__main__":
    main()
