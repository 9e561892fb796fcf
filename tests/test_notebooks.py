"""The example notebooks run headless, start to finish, and show what they promise."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT_S = 300


def _executed(name: str) -> nbformat.NotebookNode:
    """The notebook after running every cell in a fresh kernel, with examples/ as its folder."""
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    # The kernel must be this interpreter, so it imports the vagent under test.
    notebook.cells.append(nbformat.v4.new_code_cell("import sys\nprint('prefix:', sys.prefix)"))
    # jupyter_client launches a kernelspec whose command is plain "python" with sys.executable.
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    return client.execute()


def _printed(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell printed to stdout."""
    return "".join(
        output.get("text", "")
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stdout"
    )


@pytest.mark.slow
def test_quickstart_notebook_runs_a_conversation_end_to_end() -> None:
    notebook = _executed("quickstart.ipynb")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    printed = [_printed(cell) for cell in code]
    everything = "\n".join(printed)

    assert printed[-1].strip() == f"prefix: {sys.prefix}"
    assert "Section 203(k) rehabilitation mortgage / Requirements" in everything
    assert "a credit score of at least 580" in everything
    assert "cancel_case {'case_id': '12345'} -> executed (confirmed)" in everything
    assert "case 12345, your FHA loan application, is now cancelled" in everything
    outbox = re.search(r"SMS outbox: (\d+) message\(s\)\n  to 555-555-1212: (.*)", everything)
    assert outbox is not None, everything
    assert outbox.group(1) == "1"
    assert "case 12345 (FHA loan application) cancelled" in outbox.group(2)
    assert "michelle: resolved after 4 turns" in everything
    assert "alex: resolved after 3 turns" in everything
