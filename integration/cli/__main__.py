"""`python -m integration.cli`: the `droptrack` command."""

import sys

from integration.cli.main import main

sys.exit(main())
