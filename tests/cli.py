"""Run the ``teardown`` command as a user would: a separate process, its output captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def teardown(
    *args: str, stdin: bytes | None = None, text: bool = False
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *args],
        capture_output=True,
        input=stdin,
        cwd=ROOT,
        text=text,
    )
