"""`python -m ela.cli`: the `ela` command."""

from ela.cli import main

raise SystemExit(main())
