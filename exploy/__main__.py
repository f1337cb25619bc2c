"""``python -m exploy`` runs the ``exploy`` command."""

import sys

from exploy.cli.main import main

sys.exit(main())
