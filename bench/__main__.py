"""Run every benchmark module in bench/ (or those named on the command line)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    names = argv or sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.ispkg and not m.name.startswith("_")
    )
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            module.main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            print(f"bench.{name} FAILED: {exc!r}", flush=True)
            failed.append(name)
        print(f"--- bench.{name}: {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
