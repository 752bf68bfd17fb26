"""`mkb-tui --batch` in a subprocess with a FakeEvaluator (no MNN): each evaluation sleeps MKB_FAKE_SECONDS, so a test
can kill the process while an evaluation is in flight. Everything else is the real command."""

import os
import sys

import mkb_tui.sessions.opening as opening
from mkb_tui.engine.testing import FakeEvaluator

if __name__ == "__main__":
    seconds = float(os.environ.get("MKB_FAKE_SECONDS", "0"))
    opening.open_evaluator = lambda *args, **kw: FakeEvaluator(seconds=seconds)
    from mkb_tui.cli.main import main

    sys.exit(main(sys.argv[1:]))
