"""`python -m keel.reports`: see keel.reports.cli."""

import sys

from .cli import main

sys.exit(main())
