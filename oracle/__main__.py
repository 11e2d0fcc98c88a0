"""`python -m oracle ...` is `keel-relayer ...`."""

import sys

from oracle.cli import main

sys.exit(main())
