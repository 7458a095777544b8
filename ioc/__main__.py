"""``python -m ioc ...`` is the ``ioc`` command."""

from ioc.cli import main

raise SystemExit(main())
