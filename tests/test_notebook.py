"""The notebook walkthrough runs top to bottom and still tells the truth.

notebooks/walkthrough.ipynb is executed with nbclient in a kernel running this
interpreter (the project's venv), with the working directory set to notebooks/
as Jupyter would. A cell that raises fails the test; so does a wrong fact in the
printed outputs (who closed, who holds TIME_WAIT, the pile-up's peak and
forecast), or a figure that did not render.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"
KERNEL = "teardown-test-venv"
TIMEOUT = 120  # seconds per cell; the whole notebook runs in well under a minute


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    # A kernelspec of our own that starts this interpreter, so the notebook runs in
    # the environment under test and not in whatever "python3" kernel a user has.
    kernels = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "teardown (test venv)",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(kernels.parent.parent))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    started = time.monotonic()
    try:
        client.execute()
    finally:
        mp.undo()
    return nb, time.monotonic() - started


def _text(nb) -> str:
    """Everything the notebook printed or displayed as plain text."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], "strip outputs before committing the notebook"
            assert cell.execution_count is None


def test_runs_without_errors_in_time(executed):
    nb, seconds = executed
    errors = [
        out for cell in nb.cells for out in cell.get("outputs", []) if out.output_type == "error"
    ]
    assert not errors, errors
    assert seconds < 60, f"the notebook took {seconds:.1f} s"


def test_figures_are_drawn(executed):
    nb, _ = executed
    images = sum(
        1
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    )
    # graceful close, both closers, simultaneous, lost ACK, 2 sequence spaces,
    # assassination, 2 RST figures, pile-up
    assert images >= 10, f"only {images} figures rendered"


@pytest.mark.parametrize(
    "fact",
    [
        "graceful-client-close.pcap: active closer: client",
        "graceful-client-close.pcap: TIME_WAIT holder: client",
        "graceful-server-close.pcap: active closer: server; TIME_WAIT holder: server",
        "end states: client CLOSED, server TIME_WAIT",
        "simultaneous-close.pcap: close: simultaneous; active closer: both; TIME_WAIT holder: both",
        "FINs crossed: True",
        "lost-final-ack.pcap: FIN resent by the server in frame 12; cause: lost_final_ack; "
        "re-ACK frame 13 from TIME_WAIT",
        "lost-fin.pcap: finding fin_retransmission, cause lost_fin, frames [8, 9]",
        "port-reuse-server-time-wait.pcap: TIME_WAIT holder: server",
        "port-reuse-client-time-wait.pcap: TIME_WAIT holder: client",
        "crafted-isn-overlap.pcap: TIME_WAIT holder: server; new SYN 2.000 s into it\n"
        "    ISN increased: False; TSval increased: True; sequence overlap: client",
        "crafted-isn-overlap.pcap: old client snd_nxt 1000003002, new client ISN 1000001000: "
        "2002 below it",
        "time-wait-assassination.pcap: TIME_WAIT holder: client; TIME_WAIT ended by: rst",
        "finding time_wait_assassination (warning), frames [12, 13, 14]",
        "rst-unread-data.pcap: close: abort; RST sender: server",
        "finding rst_unread_data (error), frames [8, 10]",
        "linger-abort.pcap: close: abort; RST sender: client",
        "rst-data-loss.pcap: close: abort; RST sender: client",
        "finding rst_data_loss (error), frames [11]: RST from the client while data was in "
        "flight: 3000 bytes",
        "timewait-pileup.pcap: connections: 2000; rate: 500.0 new connections/s",
        "timewait-pileup.pcap: TIME_WAIT holders: {'client': 2000}",
        "timewait-pileup.pcap: peak TIME_WAIT sockets: 2000 (kernel's highest count: 2000)",
        "finding port_exhaustion_risk (error)",
    ],
)
def test_prints_fact(executed, fact):
    nb, _ = executed
    assert fact in _text(nb)


def test_pileup_forecast_exceeds_the_port_range(executed):
    nb, _ = executed
    text = _text(nb)
    m = re.search(
        r"timewait-pileup\.pcap: forecast: (\d+) TIME_WAIT sockets, ephemeral ports: (\d+), "
        r"exceeds the port range: (\w+)",
        text,
    )
    assert m, "the forecast line is missing"
    forecast, ports, exceeds = int(m[1]), int(m[2]), m[3]
    assert ports == 60999 - 32768 + 1
    assert 29_500 < forecast < 30_500  # 500/s x 60 s
    assert forecast > ports and exceeds == "True"


def test_pileup_agrees_with_the_kernel(executed):
    nb, _ = executed
    m = re.search(r"timewait-pileup\.pcap: largest difference from ss: (\d+) sockets", _text(nb))
    assert m, "the comparison with ss is missing"
    # ss samples take a moment while connections arrive at 500/s: a few sockets either way.
    assert int(m[1]) <= 10
