"""`python -m minigrad_nn`: the `minigrad` command."""

from .cli import main

raise SystemExit(main())
