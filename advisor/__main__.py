"""``python -m advisor``: the command-line interface."""

from advisor.cli import main

raise SystemExit(main())
