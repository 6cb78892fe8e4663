import time

import pytest

from tests.browser.harness import LabPage

pytestmark = pytest.mark.browser

CELL_A = """import threading, time, contextvars
from IPython.display import display
h1 = display({"text/plain": "A start"}, raw=True, display_id=True)
h2 = display({"text/plain": "B start"}, raw=True, display_id=True)
def later_copied():
    time.sleep(3); h1.update({"text/plain": "A updated"}, raw=True)
    display({"text/plain": "A new display"}, raw=True)
def later_plain():
    time.sleep(3); h2.update({"text/plain": "B updated"}, raw=True)
ctx = contextvars.copy_context()
threading.Thread(target=ctx.run, args=(later_copied,)).start()
threading.Thread(target=later_plain).start()
"""
CELL_B = "import time; time.sleep(5); print('cell B done')"


def test_experiment(lab: LabPage) -> None:
    lab.server.write_notebook("exp.ipynb", [CELL_A, CELL_B])
    lab.open("exp.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.run_cell(1)
    time.sleep(7)
    lab.wait_cell_done(1)
    print("\nCELL 0:", repr(lab.output_area(0).inner_text()))
    print("CELL 1:", repr(lab.output_area(1).inner_text()))
