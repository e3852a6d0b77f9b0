"""``python -m integration_bridge``."""

import sys

from integration_bridge.cli import main

sys.exit(main())
