"""Runs localstripe (a fake Stripe API that sends signed webhooks) bound to 127.0.0.1 only:
its own entry point listens on every interface. Usage: python3 scripts/run_localstripe.py PORT"""

import logging
import sys

from aiohttp import web
from localstripe.server import app

logging.basicConfig(level=logging.WARNING)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
