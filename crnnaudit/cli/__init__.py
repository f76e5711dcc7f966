"""The ``crnnaudit`` command: it calls the public API and prints; it computes nothing itself.

    main.py       the parser and main(): every failure one line and exit status 2
    common.py     what the groups share: --as, password prompts, progress, MODEL and --window
    inspect.py    info, score, explain, calibrate
    dataset.py    batch, instructions
    reports.py    report write | countersign | verify
    log.py        audit verify | export | retention; compliance
    keys.py       keys init | show | rotate
    accounts.py   user add | disable | list | set-role | unlock
    privacy.py    erase, housekeeping
    demo.py       demo, synth

Importing this package and building its parser loads no TensorFlow: each command imports
what it needs when it runs.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
