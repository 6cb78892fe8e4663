"""Execute a notebook in a real kernel, as Jupyter would, and save the result.

    .venv/bin/python scripts/run_notebook.py notebooks/01_quickstart.ipynb        # -> out/
    .venv/bin/python scripts/run_notebook.py --in-place notebooks/*.ipynb         # refresh stored outputs

nbclient applies display updates the way frontends do, so the saved notebook
holds each ``%%agent`` answer as its settled static output (Markdown, HTML and
plain text), readable in JupyterLab, nbviewer, GitHub or nbconvert.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, target: Path) -> bool:
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)  # stale state from an earlier run
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        # Answers settle into static outputs and close their widgets; nbclient
        # would still save every widget's last state into the notebook metadata.
        store_widget_state=False,
    )
    started = time.monotonic()
    ok = True
    try:
        client.execute()
    except CellExecutionError as error:
        ok = False
        print(f"  a cell failed: {str(error).splitlines()[0] if str(error) else error}", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    answers = sum(
        1
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "kagura_magic" in output.get("metadata", {})
    )
    print(
        f"{path.name}: {len(notebook.cells)} cells, {answers} streamed answers, "
        f"{time.monotonic() - started:.1f} s"
    )
    print(f"  written to {target}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "out", help="folder for executed copies")
    parser.add_argument("--in-place", action="store_true", help="overwrite the notebooks themselves")
    args = parser.parse_args()
    ok = True
    for path in args.notebooks:
        target = path if args.in_place else args.out / path.name
        ok = execute(path, target) and ok
    if not args.in_place:
        names = " ".join(str(args.out / path.name) for path in args.notebooks)
        print(f"Open it in JupyterLab:  .venv/bin/jupyter lab {names}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
