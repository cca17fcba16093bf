"""Shared set-up of the Python package's tests: the package from build/python (PYTHONPATH set by
CTest), the CLI beside it, and the built-in model."""
import os
import subprocess

import pytest

SOURCE = os.environ.get("ATTNSCOPE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
CLI = os.environ.get("ATTNSCOPE_CLI", os.path.join(SOURCE, "build", "attnscope"))

TEXTS = [
    "The State of the Union is strong, and the people of this nation have built it with their own hands.",
    "liberty treaty harbor railroad tariff revenue frontier liberty treaty harbor railroad tariff revenue frontier",
    "Peace, prosperity and liberty: these are the ends of government.",
]


@pytest.fixture
def cli():
    def run(*args, cwd=None):
        return subprocess.run([CLI, *args], check=True, capture_output=True, text=True, cwd=cwd)
    return run
