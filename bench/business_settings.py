"""Settings of bench/business.py's server: sidms's own, plus the MD5 hasher among those *accepted*.

bench/pipeline.py's set-up hashes the demo accounts with MD5 (PBKDF2's deliberate slowness would only
lengthen the set-up), so the server must be able to check that one hash when clerk_hc signs in, once,
before the clock starts. New passwords are still hashed with the first (default) hasher."""

from django.conf import global_settings

from sidms.settings import *  # noqa: F403

PASSWORD_HASHERS = [*global_settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.MD5PasswordHasher"]
