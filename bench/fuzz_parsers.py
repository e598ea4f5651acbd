"""Run the parser fuzzing (tests/unit/test_fuzz_parsers.py, test_fuzz_data_parsers.py) with many more examples.

    python bench/fuzz_parsers.py [EXAMPLES]    # default 2000 per property; CI runs 40 (RLRT_FUZZ_EXAMPLES)

Same seeded profile as CI (derandomize: reproducible); a failure prints the falsifying input to add as @example.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    examples = sys.argv[1] if len(sys.argv) > 1 else "2000"
    env = {**os.environ, "RLRT_FUZZ_EXAMPLES": examples, "PYTHONPATH": str(ROOT)}
    tests = [str(ROOT / "tests" / "unit" / name) for name in ("test_fuzz_parsers.py", "test_fuzz_data_parsers.py")]
    sys.exit(
        subprocess.call([sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"], env=env, cwd=ROOT)
    )
