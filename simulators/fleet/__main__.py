"""``python -m simulators.fleet [config/fleet.yaml] [--vehicles N] [--seed S]``."""

import sys

from simulators.fleet.yaml_registry import main

raise SystemExit(main(sys.argv[1:]))
