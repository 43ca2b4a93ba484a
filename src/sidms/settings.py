"""Django settings for sidms. Every value comes from a SIDMS_* environment variable (see README.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

from sidms.env import env_bool, env_choice, env_float, env_int, env_list, env_secret, env_str

PACKAGE_DIR = Path(__file__).resolve().parent

# Where the embedded database, the key file and the audit checkpoints live by default.
DATA_DIR = Path(env_str("SIDMS_DATA_DIR", "var")).resolve()

DEBUG = env_bool("SIDMS_DEBUG", False)


def _secret_key() -> str:
    configured = env_secret("SIDMS_SECRET_KEY")
    if configured:
        return configured
    stored = DATA_DIR / "secret_key"
    if stored.exists():
        return stored.read_text(encoding="utf-8").strip()
    # No key configured (tests, one-off commands): a per-process key. `sidms demo` and `sidms serve`
    # write DATA_DIR/secret_key first, so the server's workers share one key.
    return secrets.token_urlsafe(64)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("SIDMS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "sidms.core",
    "sidms.parameters",
    "sidms.audit",
    "sidms.changes",
    "sidms.registry",
    "sidms.business",
    "sidms.security",
    "sidms.continuity",
    "sidms.archives",
    "sidms.exchange",
    "sidms.web",
    "sidms.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "sidms.web.middleware.SecurityHeadersMiddleware",
    "sidms.web.middleware.RefuseNulMiddleware",
    "sidms.security.middleware.BufferedReadsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "sidms.web.middleware.ChineseUnlessChosenMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sidms.security.middleware.OTPMiddleware",  # django-otp's, the device read by a compiled query
    "sidms.security.middleware.RequireTwoFactorMiddleware",
    "sidms.security.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "sidms.web.integrity.IntegrityAlertMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # AxesMiddleware must come last: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sidms.urls"
WSGI_APPLICATION = "sidms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sidms.web.context.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
DATABASE_URL = env_str("SIDMS_DATABASE_URL", f"sqlite:///{DATA_DIR / 'sidms.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with writers queued on a file lock rather than SQLite's sleeping busy handler.
    _db["ENGINE"] = "sidms.core.sqlite"
    _db["CONN_MAX_AGE"] = None
    _db["OPTIONS"] = {
        # WAL lets readers go on while one writer commits; IMMEDIATE takes the write lock at BEGIN, so two
        # writers queue on busy_timeout instead of failing half-way with "database is locked".
        # journal_size_limit: after a checkpoint SQLite reuses the log file rather than shrinking it, so one
        # large transaction (the demo's load, an import) left a log of its size (~21 MB) for as long as any
        # connection stayed open. With a limit, the first commit that starts the log afresh after a checkpoint
        # truncates it to 8 MiB (2,048 pages of 4 KiB). That is twice the log SQLite's own checkpoints let
        # grow (1,000 pages) and hundreds of requests between two of a served process's checkpoints (~9 pages
        # a request, core.sqlite.checkpoints), so ordinary use never truncates and regrows the file; only a
        # log a large transaction stretched is cut back.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536; PRAGMA journal_size_limit=8388608;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "registry.Staff"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "sidms.security.backends.StaffBackend",  # ModelBackend, the district read with the account
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "security:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "security:login"

# Lockout after repeated failures (MLPS 2.0 §8.1.4.1b; ASVS 2.2.1).
# The limits are system parameters of the city administrator (lockout.failures, lockout.minutes), read through
# sidms.security.limits.
AXES_FAILURE_LIMIT = "sidms.security.limits.lockout_failures"
AXES_COOLOFF_TIME = "sidms.security.limits.lockout_cooloff"
# Per account, not per address: a whole service hall shares one NAT address, and locking it would stop
# every window at once. Hence axes.W006 is silenced below.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = [
    "axes.W006",
    # SQLite ignores an index's INCLUDE columns; the ledger's history index carries them for PostgreSQL's
    # index-only scans (business.models.LedgerEntry), and on SQLite its keys alone serve the same queries.
    "models.W040",
]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "security/locked.html"
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "威海社保数据管理"
OTP_TOTP_THROTTLE_FACTOR = 1

# A 15-minute idle timeout (ASVS 3.3.2 at level 3): the system parameter session.idle_seconds, read through
# sidms.security.limits; this is its default before the parameters are seeded. Activity pushes the expiry
# forward, but the session is written at most once a minute (sidms.security.middleware.IdleTimeoutMiddleware),
# not on every request: a write per page view queued every reader behind every other on SQLite.
SESSION_COOKIE_AGE = 15 * 60
# Django's database sessions, the session row read by a fixed SELECT rather than a queryset compiled anew on
# every request (sidms.security.sessions).
SESSION_ENGINE = "sidms.security.sessions"
SESSION_SAVE_EVERY_REQUEST = False
SESSION_TOUCH_SECONDS = 60
# However busy a session is, it ends at its lifetime after its second factor (ASVS 3.3.2: re-authentication at
# least every 12 hours): the system parameter session.max_hours (12 h), read through sidms.security.limits.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
# Behind TLS (the production set-up: a TLS-terminating proxy in front of granian), everything that
# `manage.py check --deploy` asks for is switched on together.
HTTPS = env_bool("SIDMS_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = False  # an intranet host has no business in the public preload list
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SILENCED_SYSTEM_CHECKS += ["security.W021"]  # preload, see above
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Language -------------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static files: served by the application itself, nothing from outside (air-gapped intranets) --------
STATIC_URL = "static/"
# No collectstatic step: WhiteNoise serves straight from the installed package's static folders.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- sidms ----------------------------------------------------------------------------------------------
# The district code of the city level: staff there see every district.
SIDMS_CITY_DISTRICT = "371000"
SIDMS_KEY_FILE = Path(env_str("SIDMS_KEY_FILE", str(DATA_DIR / "sidms.keys")))
SIDMS_CRYPTO_SUITE = env_choice("SIDMS_CRYPTO_SUITE", "sm", ("sm", "intl"))
SIDMS_AUDIT_HASH = env_choice("SIDMS_AUDIT_HASH", "sm3", ("sm3", "sha256"))
SIDMS_CHECKPOINT_DIR = Path(env_str("SIDMS_CHECKPOINT_DIR", str(DATA_DIR / "checkpoints")))
# At most this many seconds between a commit that appended audit events and the checkpoint of its head.
SIDMS_CHECKPOINT_INTERVAL = env_float("SIDMS_CHECKPOINT_INTERVAL", 1.0)
# Seconds between a served process's checkpoints of SQLite's write-ahead log (core.sqlite.checkpoints); 0
# leaves them to the commits, as SQLite does by default.
SIDMS_SQLITE_CHECKPOINT_INTERVAL = env_float("SIDMS_SQLITE_CHECKPOINT_INTERVAL", 0.2)
SIDMS_PAGE_SIZE = 50
# Forked workers a large import may use for its per-row computation (sidms.core.workers): 0 = one per core;
# 1 or more caps them (a host shared with other services); -1 = none, everything in the importing process.
SIDMS_WORKERS = env_int("SIDMS_WORKERS", 0)

# Electronic archives (sidms.archives): the encrypted file store and the upload limits.
SIDMS_ARCHIVE_DIR = Path(env_str("SIDMS_ARCHIVE_DIR", str(DATA_DIR / "archives")))
SIDMS_ARCHIVE_MAX_BYTES = env_int("SIDMS_ARCHIVE_MAX_BYTES", 20 * 1024 * 1024)
SIDMS_ARCHIVE_MAX_PIXELS = env_int("SIDMS_ARCHIVE_MAX_PIXELS", 60_000_000)

# The public statement-verification page (/verify/statement/): lookups allowed per client address and in
# all per window, so that nobody can walk the space of verification numbers (sidms.security.limits.hit).
SIDMS_VERIFY_WINDOW_SECONDS = env_int("SIDMS_VERIFY_WINDOW_SECONDS", 60)
SIDMS_VERIFY_PER_ADDRESS = env_int("SIDMS_VERIFY_PER_ADDRESS", 10)
SIDMS_VERIFY_GLOBAL = env_int("SIDMS_VERIFY_GLOBAL", 600)

# External cross-check registries (R7.3): SIDMS_CROSSCHECK_<REGISTRY>_<KEY>, see docs/crosscheck.md.
SIDMS_CROSSCHECK: dict[str, dict[str, str]] = {}
for _registry in ("market_regulation", "public_security", "civil_affairs", "tax"):
    _prefix = f"SIDMS_CROSSCHECK_{_registry.upper()}_"
    _config = {
        key[len(_prefix) :].lower(): value for key, value in os.environ.items() if key.startswith(_prefix)
    }
    if "token_file" in _config:
        _config["token"] = Path(_config.pop("token_file")).read_text(encoding="utf-8").strip()
    SIDMS_CROSSCHECK[_registry] = _config

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # An ID number typed into a URL must not reach the server log (Django logs the path of every 404).
    "filters": {
        "no_id_numbers": {"()": "sidms.core.logging.MaskIdNumbers"},
        "quiet_refusals": {"()": "sidms.core.logging.QuietRefusals"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["no_id_numbers", "quiet_refusals"]}
    },
    "root": {"handlers": ["console"], "level": env_str("SIDMS_LOG_LEVEL", "WARNING")},
}
