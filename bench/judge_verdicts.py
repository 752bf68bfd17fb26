"""The judge's verdict figures: how many attacks of the adversarial suite got a verdict or a speedup they did not
earn (false positives: each is a failed test there), and how the honest kernels were credited against an independent
measurement (tests/adversarial/test_honest_credit.py records them).

    .venv/bin/python bench/judge_verdicts.py [-k EXPR] [--files tests/adversarial/...]

Runs the suite (it needs MNN set up: `make mnn`) and prints one line per file and the totals.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", nargs="*", default=["tests/adversarial"])
    parser.add_argument("-k", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "adv.jsonl"
        env = {**os.environ, "MKB_ADV_REPORT": str(report)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.files] + (["-k", args.k] if args.k else [])
        subprocess.run(cmd, cwd=ROOT, env=env, check=False)
        lines = [json.loads(l) for l in report.read_text().splitlines()] if report.exists() else []
    per_file: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    honest = []
    for line in lines:
        if "test" not in line:
            continue  # test_attacks' own per-attack records
        per_file[line["test"].split("::")[0]][line["outcome"]] += 1
        if "credited" in line:
            honest.append(line)
    failed = sum(c["failed"] for name, c in per_file.items() if "honest" not in name)
    for name, counts in sorted(per_file.items()):
        print(f"{name:55s} passed {counts['passed']:3d}  failed {counts['failed']:3d}  skipped {counts['skipped']:3d}")
    print(f"false positives over the adversarial suite (attack tests that failed): {failed}")
    for h in honest:
        print(f"honest {h.get('kernel', '?'):28s} credited {h['credited']} independent {h.get('independent')} "
              f"({h.get('agreement', '-')})")


if __name__ == "__main__":
    main()
