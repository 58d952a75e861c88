"""``python -m youcam_mock serve ...``"""

import sys

from youcam_mock.server import main

sys.exit(main())
