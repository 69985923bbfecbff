"""``python -m web_app``: EV_Web."""

import sys

from web_app.main import main

sys.exit(main())
