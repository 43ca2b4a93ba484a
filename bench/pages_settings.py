"""Settings of bench/pages.py's server: sidms's own, plus the bench-only plain page."""

from sidms.settings import *  # noqa: F403

ROOT_URLCONF = "pages_urls"
