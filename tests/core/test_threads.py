"""The suite runs torch on one thread unless a test asks for more (``conftest.py``, issue 29).

On a busy machine a second torch thread that the scheduler parks stalls every op's barrier: one
exercise test took 69 s under load against 0.32 s.  The count is exported before torch loads, so
nbval's kernels and every subprocess run on it too; a value the user set is kept.
"""

import os
import subprocess
import sys

import pytest
import torch

PINNED = os.environ.get("LVMLIB_TEST_THREADS", "").strip().lower() != "default"


def _fresh_process_threads() -> int:
    """What torch picks in a new process with this environment (what nbval's kernels get)."""
    out = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                         capture_output=True, text=True, timeout=300)
    return int(out.stdout)


@pytest.mark.skipif(not PINNED, reason="LVMLIB_TEST_THREADS=default: every library keeps its own default")
def test_tests_and_subprocesses_run_the_sessions_thread_count():
    assert torch.get_num_threads() == _fresh_process_threads()
    if os.environ["OMP_NUM_THREADS"] == "1":  # the default: nobody set a count
        assert torch.get_num_threads() == 1


@pytest.mark.threads(2)
def test_a_test_can_ask_for_more_threads():
    assert torch.get_num_threads() == 2


@pytest.mark.skipif(not PINNED, reason="LVMLIB_TEST_THREADS=default")
def test_and_the_next_test_has_the_sessions_count_again():
    """(After the one above in file order; in any order it checks that no test leaks its count.)"""
    assert torch.get_num_threads() == _fresh_process_threads()
