"""``python -m tradejet`` runs the CLI."""

import sys

from tradejet.cli import main

sys.exit(main())
