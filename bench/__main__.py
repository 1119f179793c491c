"""`python -m bench <name> [args]` runs ``bench/<name>.py``'s ``main(args)``."""

import importlib
import sys

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    raise SystemExit("usage: python -m bench <name> [args]   (e.g. sweep_lag, audit_stats)")
module = importlib.import_module(f"bench.{sys.argv[1]}")
raise SystemExit(module.main(sys.argv[2:]))
