"""The ``crnnaudit`` command: it calls the public API and prints; it computes nothing itself.

    main.py    main(): one command, every failure one line and exit status 2
    admin.py   accounts, erasure, housekeeping, and how a command signs in (``--as``)

Importing this package and building its parser loads no TensorFlow: each command imports
what it needs when it runs.
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
