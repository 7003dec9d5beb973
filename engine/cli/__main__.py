"""`python -m treelight.engine.cli`: the `treelight` command."""

import sys

from treelight.engine.cli.entry import main

sys.exit(main())
