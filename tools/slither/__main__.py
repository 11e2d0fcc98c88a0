"""`python -m tools.slither`: see run.py."""

import sys

from tools.slither.run import main

sys.exit(main())
