"""``python -m simulators [-c config.yaml]``: run the simulated station network."""

import sys

from ioc.cli import main

raise SystemExit(main(["simulate", *sys.argv[1:]]))
