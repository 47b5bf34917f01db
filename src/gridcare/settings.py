"""Django settings for GridCare. Everything secret or site-specific comes from the environment."""

import os
from pathlib import Path
from typing import Any

import dj_database_url

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("GRIDCARE_HOME", PACKAGE_DIR.parent.parent)).resolve()
VAR_DIR = Path(os.environ.get("GRIDCARE_VAR", BASE_DIR / "var"))

DEBUG = os.environ.get("GRIDCARE_DEBUG", "1") == "1"
# The development key is only for `make run`; production must set GRIDCARE_SECRET_KEY.
SECRET_KEY = os.environ.get("GRIDCARE_SECRET_KEY") or (
    "dev-insecure-key-change-me" if DEBUG else None  # noqa: S105
)
if not SECRET_KEY:
    raise RuntimeError("GRIDCARE_SECRET_KEY must be set when GRIDCARE_DEBUG=0")
ALLOWED_HOSTS = [
    h for h in os.environ.get("GRIDCARE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

INSTALLED_APPS = [
    "gridcare.core.admin_site.GridCareAdminConfig",  # django.contrib.admin, for the administrator role only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # serves Swagger UI's files locally (no CDN)
    "django_celery_beat",
    "gridcare.core",
    "gridcare.org",
    "gridcare.customers",
    "gridcare.metering",
    "gridcare.billing",
    "gridcare.payments",
    "gridcare.notify",
    "gridcare.portal",
    "gridcare.home",
    "gridcare.jobs",
    "gridcare.outages",
    "gridcare.service",
    "gridcare.hall",
    "gridcare.credit",
]

MIDDLEWARE = [
    "gridcare.core.requestid.RequestIdMiddleware",  # outermost: every response carries X-Request-ID
    "gridcare.core.middleware.SecurityHeadersMiddleware",  # its headers go on every response
    "django.middleware.security.SecurityMiddleware",
    "gridcare.payments.channels.fastpath.ChannelNotifyMiddleware",  # channel-signed notifications: no browser stack
    "gridcare.core.middleware.LeanApiMiddleware",  # LEAN_API_ROUTES: no browser stack (sessions, CSRF, auth, ninja)
    "gridcare.service.api_intake.FaultReportLeanMiddleware",  # anonymous fault reports: no browser stack
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gridcare.core.middleware.ChineseByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "gridcare.core.middleware.NulInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gridcare.org.sessions.SessionDeadlineMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "gridcare.core.middleware.BrandedErrorsMiddleware",
]
# Anonymous JSON routes served by core.middleware.LeanApiMiddleware without the browser stack: (a pattern matched
# against the whole path, its handler). The public 户号 query is the hottest public route (issue 12 §3b).
LEAN_API_ROUTES = [
    (
        r"/api/v1/public/accounts/(?P<account_number>[^/]+)",
        "gridcare.payments.channels.api.public.public_account_lean",
    ),
]
# Branded 403/404/500 pages even with DEBUG on; GRIDCARE_DEBUG_PAGES=1 shows Django's technical pages instead.
DEBUG_PAGES = os.environ.get("GRIDCARE_DEBUG_PAGES", "0") == "1"
CSRF_FAILURE_VIEW = "gridcare.core.views.csrf_failure"

ROOT_URLCONF = "gridcare.urls"
WSGI_APPLICATION = "gridcare.wsgi.application"
AUTH_USER_MODEL = "org.User"
LOGIN_URL = "console:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "gridcare.core.context.gridcare",
            ],
            "builtins": ["gridcare.core.templatetags.money"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gridcare.sqlite3'}",
        conn_max_age=int(os.environ.get("GRIDCARE_DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("GRIDCARE_TEST_SQLITE") or None}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Server-side binding lets psycopg prepare hot statements (the public 户号 query) and skip re-planning; Django
    # turns psycopg's preparing off unless OPTIONS asks for it (prepare_threshold None), which left every lookup
    # planned afresh: ~0.9 ms of PostgreSQL CPU for its five-table join against ~0.07 ms prepared. A statement is
    # prepared after 5 executions on a connection (psycopg's default). Behind a pooler in transaction mode
    # that cannot keep prepared statements (PgBouncer before 1.21), set GRIDCARE_DB_PREPARE_THRESHOLD=off.
    _prepare = os.environ.get("GRIDCARE_DB_PREPARE_THRESHOLD", "5").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=os.environ.get("GRIDCARE_DB_SERVER_SIDE_BINDING", "1") == "1",
        prepare_threshold=None if _prepare in ("", "off", "none") else int(_prepare),
    )
if os.environ.get("GRIDCARE_TEST_DB_NAME") and not DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["GRIDCARE_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["GRIDCARE_REDIS_URL"],
        }
        if os.environ.get("GRIDCARE_REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gridcare"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploaded files (work-order attachments): served only through permission-checked views, never by URL.
MEDIA_ROOT = Path(os.environ.get("GRIDCARE_MEDIA", VAR_DIR / "media"))
STATICFILES_DIRS: list = [PACKAGE_DIR / "static"]
_ECHARTS = BASE_DIR / "node_modules" / "echarts" / "dist"
if _ECHARTS.exists():
    STATICFILES_DIRS.append(("vendor/echarts", _ECHARTS))

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind a TLS-terminating proxy: GRIDCARE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO=https" (the header Django sees
# and the value that means https). Only set it when the proxy always sets or strips that header.
_proxy_ssl = os.environ.get("GRIDCARE_PROXY_SSL_HEADER", "").strip()
if _proxy_ssl:
    _name, _, _value = _proxy_ssl.partition("=")
    if not _name.strip() or not _value.strip():
        raise RuntimeError(
            "GRIDCARE_PROXY_SSL_HEADER must read HEADER=value, e.g. HTTP_X_FORWARDED_PROTO=https"
        )
    SECURE_PROXY_SSL_HEADER = (_name.strip(), _value.strip())
# The payment channels' notifications are never redirected: channels do not follow redirects (issue 13 §7).
SECURE_REDIRECT_EXEMPT = [r"^api/v1/pay/(alipay|wechat)/notify$"]
if not DEBUG:
    SECURE_SSL_REDIRECT = os.environ.get("GRIDCARE_SSL_REDIRECT", "1") == "1"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("GRIDCARE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Security knobs of the foundation issue (values of several types: read each as what it is).
GRIDCARE: dict[str, Any] = {
    "LOGIN_MAX_FAILURES": int(os.environ.get("GRIDCARE_LOGIN_MAX_FAILURES", "5")),
    "LOGIN_LOCK_MINUTES": int(os.environ.get("GRIDCARE_LOGIN_LOCK_MINUTES", "15")),
    # Public 户号 query: requests per client per window.
    "PUBLIC_QUERY_RATE": int(os.environ.get("GRIDCARE_PUBLIC_QUERY_RATE", "20")),
    "PUBLIC_QUERY_WINDOW_SECONDS": int(os.environ.get("GRIDCARE_PUBLIC_QUERY_WINDOW", "60")),
    # Paying by 户号 without logging in (payments.channels.public_pay): at most the amount due plus this margin, a
    # prepaid account at least up to the cap; the pay link stays open this many minutes.
    "PUBLIC_PAY_MARGIN": os.environ.get("GRIDCARE_PUBLIC_PAY_MARGIN", "1000.00"),
    "PUBLIC_PREPAID_CAP": os.environ.get("GRIDCARE_PUBLIC_PREPAID_CAP", "5000.00"),
    # The counter (payments.counter.services): one payment at most the amount due plus this margin (预存上限), against a
    # mistyped amount.
    "COUNTER_MARGIN": os.environ.get("GRIDCARE_COUNTER_MARGIN", "10000.00"),
    "PUBLIC_ORDER_MINUTES": int(os.environ.get("GRIDCARE_PUBLIC_ORDER_MINUTES", "30")),
    "IMPORT_MAX_BYTES": int(os.environ.get("GRIDCARE_IMPORT_MAX_BYTES", str(20 * 1024 * 1024))),
    # Files of jobs (core.jobfiles): an upload waits under var/imports/ for its import job (deleted when the job
    # succeeds; a failed job's file is kept this many days for a retry); an export's file under var/exports/ can
    # be downloaded this many hours. An export of more rows than EXPORT_JOB_ROWS runs as a job.
    "IMPORT_KEEP_DAYS": int(os.environ.get("GRIDCARE_IMPORT_KEEP_DAYS", "7")),
    "EXPORT_KEEP_HOURS": int(os.environ.get("GRIDCARE_EXPORT_KEEP_HOURS", "48")),
    "EXPORT_JOB_ROWS": int(os.environ.get("GRIDCARE_EXPORT_JOB_ROWS", "5000")),
    "BIND_MAX_FAILURES": int(os.environ.get("GRIDCARE_BIND_MAX_FAILURES", "5")),
    # Accounts per chunk of a billing run (one job-engine task each; a run spreads over every worker).
    "BILLING_CHUNK_SIZE": int(os.environ.get("GRIDCARE_BILLING_CHUNK_SIZE", "5000")),
    # Electronic invoices (电子发票) of paid bills: "demo" numbers them here and marks them 演示发票; a real
    # issuing service is a dotted path to a class (see billing/einvoice.py). Seller fields: blank = demo values.
    "EINVOICE": {
        "BACKEND": os.environ.get("GRIDCARE_EINVOICE_BACKEND", "demo"),
        "SELLER_NAME": os.environ.get("GRIDCARE_EINVOICE_SELLER_NAME", ""),
        "SELLER_TAX_ID": os.environ.get("GRIDCARE_EINVOICE_SELLER_TAX_ID", ""),
        "SELLER_ADDRESS": os.environ.get("GRIDCARE_EINVOICE_SELLER_ADDRESS", ""),
        "SELLER_BANK": os.environ.get("GRIDCARE_EINVOICE_SELLER_BANK", ""),
        "ISSUER": os.environ.get("GRIDCARE_EINVOICE_ISSUER", ""),
    },
    # Payment channels (docs/channels.md): keys come from the environment only (PEM text, or a bare base64 body).
    "ALIPAY": {
        "APP_ID": os.environ.get("GRIDCARE_ALIPAY_APP_ID", ""),
        "SELLER_ID": os.environ.get("GRIDCARE_ALIPAY_SELLER_ID", ""),  # the merchant's PID (2088…)
        "PRIVATE_KEY": os.environ.get("GRIDCARE_ALIPAY_PRIVATE_KEY", ""),  # the app's private key (签名)
        "PUBLIC_KEY": os.environ.get("GRIDCARE_ALIPAY_PUBLIC_KEY", ""),  # Alipay's public key (验签)
        "GATEWAY_URL": os.environ.get("GRIDCARE_ALIPAY_GATEWAY_URL", "https://openapi.alipay.com/gateway.do"),
    },
    "WECHAT": {
        "MCHID": os.environ.get("GRIDCARE_WECHAT_MCHID", ""),
        "APPID": os.environ.get("GRIDCARE_WECHAT_APPID", ""),
        "APP_SECRET": os.environ.get("GRIDCARE_WECHAT_APP_SECRET", ""),  # the 公众号's, for JSAPI's openid
        "CERT_SERIAL": os.environ.get("GRIDCARE_WECHAT_CERT_SERIAL", ""),  # merchant API certificate serial
        "PRIVATE_KEY": os.environ.get("GRIDCARE_WECHAT_PRIVATE_KEY", ""),  # its private key (签名)
        # The WeChat Pay public key and its id (PUB_KEY_ID_…), or blank for platform certificates by serial.
        "PLATFORM_PUBLIC_KEY": os.environ.get("GRIDCARE_WECHAT_PLATFORM_PUBLIC_KEY", ""),
        "PLATFORM_SERIAL": os.environ.get("GRIDCARE_WECHAT_PLATFORM_SERIAL", ""),
        "API_V3_KEY": os.environ.get("GRIDCARE_WECHAT_API_V3_KEY", ""),
        "BASE_URL": os.environ.get("GRIDCARE_WECHAT_BASE_URL", "https://api.mch.weixin.qq.com"),
        "OAUTH_URL": os.environ.get("GRIDCARE_WECHAT_OAUTH_URL", "https://open.weixin.qq.com"),
        "SNS_URL": os.environ.get("GRIDCARE_WECHAT_SNS_URL", "https://api.weixin.qq.com"),
    },
    # Online orders with the channels (payments.channels.online).
    "PAY": {
        "NOTIFY_BASE_URL": os.environ.get("GRIDCARE_PAY_NOTIFY_BASE_URL", ""),  # blank: the request's origin
        "ORDER_MINUTES": int(os.environ.get("GRIDCARE_PAY_ORDER_MINUTES", "15")),
        "ORDER_MAX": os.environ.get("GRIDCARE_PAY_ORDER_MAX", "50000.00"),
        "QUERY_AFTER_MINUTES": int(os.environ.get("GRIDCARE_PAY_QUERY_AFTER_MINUTES", "5")),
        "HTTP_TIMEOUT": float(os.environ.get("GRIDCARE_PAY_HTTP_TIMEOUT", "5")),
        "SIMULATOR_URL": os.environ.get("GRIDCARE_CHANNEL_SIMULATOR", ""),
    },
    # The local sandbox gateway (模拟支付网关) behind the portal's online payment; off in production unless
    # asked for. Without keys, an RSA-2048 pair is generated once per process.
    "SANDBOX_PAY": {
        "ENABLED": os.environ.get("GRIDCARE_SANDBOX_PAY", "1" if DEBUG else "0") == "1",
        "PRIVATE_KEY": os.environ.get("GRIDCARE_SANDBOX_PRIVATE_KEY", ""),
        "PUBLIC_KEY": os.environ.get("GRIDCARE_SANDBOX_PUBLIC_KEY", ""),
    },
}
# The local channel simulator (`make run`): both channels point at it, and every key not set in the environment
# comes from var/sandbox/ (gridcare.channelsim.keys). Never in production: the sandbox keys are not secrets.
if GRIDCARE["PAY"]["SIMULATOR_URL"]:
    if not DEBUG:
        raise RuntimeError(
            "GRIDCARE_CHANNEL_SIMULATOR is for development only: unset it when GRIDCARE_DEBUG=0"
        )
    from gridcare.channelsim.keys import settings_overlay

    for _channel, _values in settings_overlay(VAR_DIR / "sandbox", GRIDCARE["PAY"]["SIMULATOR_URL"]).items():
        for _key, _value in _values.items():
            if not os.environ.get(f"GRIDCARE_{_channel}_{_key}"):
                GRIDCARE[_channel][_key] = _value
# Portal registration, SMS codes, the per-户号 bind lock and re-authentication (issue 11, gridcare.portal).
GRIDCARE.update(
    {
        "SMS_CODE_TTL_SECONDS": int(os.environ.get("GRIDCARE_SMS_CODE_TTL", "300")),
        "SMS_CODE_MAX_TRIES": int(os.environ.get("GRIDCARE_SMS_CODE_MAX_TRIES", "5")),
        # Codes sent per hour: to one phone, from one client address, for one 户号 (binds).
        "SMS_CODE_PER_PHONE": int(os.environ.get("GRIDCARE_SMS_CODE_PER_PHONE", "5")),
        "SMS_CODE_PER_IP": int(os.environ.get("GRIDCARE_SMS_CODE_PER_IP", "20")),
        "SMS_CODE_PER_ACCOUNT": int(os.environ.get("GRIDCARE_SMS_CODE_PER_ACCOUNT", "5")),
        # Failed bind proofs per hour from one client address (all users), and the per-户号 lock across users.
        "BIND_PER_IP": int(os.environ.get("GRIDCARE_BIND_PER_IP", "30")),
        "BIND_ACCOUNT_MAX_FAILURES": int(os.environ.get("GRIDCARE_BIND_ACCOUNT_MAX_FAILURES", "10")),
        "BIND_ACCOUNT_LOCK_HOURS": int(os.environ.get("GRIDCARE_BIND_ACCOUNT_LOCK_HOURS", "24")),
        # Portal payments above this amount need a re-authentication within REAUTH_MINUTES.
        "REAUTH_PAY_THRESHOLD": os.environ.get("GRIDCARE_REAUTH_PAY_THRESHOLD", "5000.00"),
        "REAUTH_MINUTES": int(os.environ.get("GRIDCARE_REAUTH_MINUTES", "5")),
    }
)
# Storm-proof fault intake (issue 15 §5, gridcare.service.intake): how long the public form's phone proof lasts,
# and the anonymous fault reports allowed per hour to one phone and from one client address.
GRIDCARE.update(
    {
        "FAULT_PHONE_TOKEN_SECONDS": int(os.environ.get("GRIDCARE_FAULT_PHONE_TOKEN_SECONDS", "7200")),
        "FAULT_REPORTS_PER_PHONE": int(os.environ.get("GRIDCARE_FAULT_REPORTS_PER_PHONE", "5")),
        "FAULT_REPORTS_PER_IP": int(os.environ.get("GRIDCARE_FAULT_REPORTS_PER_IP", "30")),
    }
)
# Concurrency (issue 11 §4): a billing run's execution lease lasts this many seconds past its last renewal (it is
# renewed after every chunk); the lease of an executor that died lapses after it, and the run can be resumed.
GRIDCARE["BILLING_LEASE_SECONDS"] = int(os.environ.get("GRIDCARE_BILLING_LEASE_SECONDS", "600"))
# Notification outbox (gridcare.notify): a backend per channel — file (default), http_sms, wechat, email.
NOTIFY: dict[str, Any] = {
    "BACKENDS": {
        "sms": os.environ.get("GRIDCARE_NOTIFY_SMS_BACKEND", "file"),
        "wechat": os.environ.get("GRIDCARE_NOTIFY_WECHAT_BACKEND", "file"),
        "email": os.environ.get("GRIDCARE_NOTIFY_EMAIL_BACKEND", "file"),
    },
    "FILE_PATH": os.environ.get("GRIDCARE_NOTIFY_FILE", str(VAR_DIR / "notify" / "outbox.jsonl")),
    "SMS_URL": os.environ.get("GRIDCARE_SMS_URL", ""),
    "SMS_SECRET": os.environ.get("GRIDCARE_SMS_SECRET", ""),
    "WECHAT_BASE_URL": os.environ.get("GRIDCARE_WECHAT_MP_BASE_URL", "https://api.weixin.qq.com"),
    "WECHAT_APPID": os.environ.get("GRIDCARE_WECHAT_MP_APPID", ""),
    "WECHAT_SECRET": os.environ.get("GRIDCARE_WECHAT_MP_SECRET", ""),
    "HTTP_TIMEOUT": float(os.environ.get("GRIDCARE_NOTIFY_HTTP_TIMEOUT", "10")),
    "MAX_ATTEMPTS": int(os.environ.get("GRIDCARE_NOTIFY_MAX_ATTEMPTS", "5")),
}
EMAIL_BACKEND = os.environ.get("GRIDCARE_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("GRIDCARE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("GRIDCARE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("GRIDCARE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("GRIDCARE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("GRIDCARE_EMAIL_TLS", "0") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("GRIDCARE_EMAIL_FROM", "GridCare <noreply@gridcare.local>")

DATA_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 25 * 1024 * 1024

NINJA_PAGINATION_PER_PAGE = 50

# Error handling and logging (issue 11 §3, gridcare.core.requestid / core.errors): every log line carries the
# request id; Django's request and security loggers (every 5xx with its traceback, 4xx as warnings, suspicious
# requests) go to the console; reports (technical page, e-mails) star PII-named fields; with DEBUG on an error
# still shows the branded 500 page unless GRIDCARE_DEBUG_PAGES=1.
# The job engine (Celery 5). CELERY_BROKER_URL: redis://… or amqp://… in production; unset, an embedded broker
# that needs no server: kombu's filesystem transport under var/celery/ (make run's web, worker and beat share it).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://"
_CELERY_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_DIR / "queue"),
        "data_folder_out": str(_CELERY_DIR / "queue"),
        "control_folder": str(_CELERY_DIR / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "control"):  # web, worker and beat all find them, whichever starts first
        (_CELERY_DIR / _folder).mkdir(parents=True, exist_ok=True)
else:
    # Redis re-delivers an unacknowledged task after this many seconds (acks_late): longer than any one task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("GRIDCARE_CELERY_VISIBILITY_TIMEOUT", "3600")),
        # Redis: a worker looks for messages of dead workers (past the visibility timeout) about every
        # interval x throttle seconds (kombu's defaults: 10 x 10).
        "unacked_restore_interval": int(os.environ.get("GRIDCARE_CELERY_RESTORE_INTERVAL", "10")),
        "unacked_restore_throttle": int(os.environ.get("GRIDCARE_CELERY_RESTORE_THROTTLE", "10")),
    }
# The queue jobs go to and workers read (one deployment per queue when several share a broker).
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("GRIDCARE_CELERY_QUEUE", "celery")
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("GRIDCARE_CELERY_CONNECT_TIMEOUT", "3"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "Asia/Shanghai"
# django-celery-beat's DatabaseScheduler, which installs the default schedules and catches up missed runs at start.
CELERY_BEAT_SCHEDULER = "gridcare.jobs.beat:Scheduler"
# Jobs (gridcare.jobs): a running job's heartbeat thread stamps its row this often; a running row whose heartbeat
# stopped for JOBS_STALE_MINUTES is re-queued by the cleanup schedule, at most JOBS_MAX_ATTEMPTS runs in all, then
# failed with the reason. Commands wait JOBS_PING_SECONDS for a worker to answer before running in-process.
GRIDCARE.update(
    {
        "JOBS_HEARTBEAT_SECONDS": int(os.environ.get("GRIDCARE_JOBS_HEARTBEAT_SECONDS", "30")),
        "JOBS_STALE_MINUTES": int(os.environ.get("GRIDCARE_JOBS_STALE_MINUTES", "5")),
        "JOBS_MAX_ATTEMPTS": int(os.environ.get("GRIDCARE_JOBS_MAX_ATTEMPTS", "3")),
        "JOBS_PING_SECONDS": float(os.environ.get("GRIDCARE_JOBS_PING_SECONDS", "1.0")),
        "JOBS_KEEP_SCHEDULED_DAYS": int(os.environ.get("GRIDCARE_JOBS_KEEP_SCHEDULED_DAYS", "7")),
    }
)
# Tests run every job in-process (tests/conftest.py turns this on); the real-worker tests turn it off.
CELERY_TASK_ALWAYS_EAGER = os.environ.get("GRIDCARE_JOBS_EAGER", "0") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "gridcare.core.requestid.RequestIdFilter"}},
    "formatters": {
        "gridcare": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "gridcare"},
    },
    "loggers": {
        "gridcare": {"handlers": ["console"], "level": os.environ.get("GRIDCARE_LOG_LEVEL", "INFO")},
        # Replaces Django's default "django" logger (console only under DEBUG, mail_admins): always the console.
        "django": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"level": "WARNING"},
        "django.security": {"level": "WARNING"},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "gridcare.core.errors.PiiSafeExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "gridcare.core.errors.BrandedExceptionReporter"

# Reverse proxies in front of GridCare (addresses or CIDR networks, comma-separated): from them, the client
# address is taken from X-Forwarded-For (gridcare.core.clientip); from anyone else the header is ignored.
TRUSTED_PROXIES = [p.strip() for p in os.environ.get("GRIDCARE_TRUSTED_PROXIES", "").split(",") if p.strip()]

# Production settings (issue 11 §5): response headers on every page and API answer, and the two developer
# surfaces (Django admin, Swagger UI) that production leaves unrouted unless asked for.
# Content-Security-Policy: scripts and styles only from our own static files (no inline code, no style=
# attributes, no CDN); json_script data blocks are not executed, so they need nothing. The Swagger UI
# (/api/v1/docs) runs under the same policy. GRIDCARE_CSP_REPORT_ONLY=1 sends it as
# Content-Security-Policy-Report-Only (try a stricter policy on a live site without breaking pages).
CONTENT_SECURITY_POLICY = os.environ.get("GRIDCARE_CSP") or "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
CONTENT_SECURITY_POLICY_REPORT_ONLY = os.environ.get("GRIDCARE_CSP_REPORT_ONLY", "0") == "1"
SECURE_REFERRER_POLICY = os.environ.get("GRIDCARE_REFERRER_POLICY", "same-origin")
# Browser features no GridCare page uses are switched off for the page and anything it might embed.
PERMISSIONS_POLICY = os.environ.get("GRIDCARE_PERMISSIONS_POLICY") or ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
# /admin/ (administrator role only) and /api/v1/docs + /api/v1/openapi.json: routed when debugging, in
# production only when switched on.
ADMIN_ENABLED = os.environ.get("GRIDCARE_ADMIN_ENABLED", "1" if DEBUG else "0") == "1"
API_DOCS_ENABLED = os.environ.get("GRIDCARE_API_DOCS_ENABLED", "1" if DEBUG else "0") == "1"

# Authentication (issue 11): every password check - console, portal, Django admin, any later door - goes through
# the shared login lockout (gridcare.org.backends); ModelBackend is replaced, not kept beside it. Session lifetime
# (gridcare.org.sessions): staff until the browser closes and at most this many hours after login (absolute, not
# sliding); portal customers this many days after login.
AUTHENTICATION_BACKENDS = ["gridcare.org.backends.LockoutBackend"]
GRIDCARE["STAFF_SESSION_HOURS"] = int(os.environ.get("GRIDCARE_STAFF_SESSION_HOURS", "8"))
GRIDCARE["PORTAL_SESSION_DAYS"] = int(os.environ.get("GRIDCARE_PORTAL_SESSION_DAYS", "30"))

# API fuzzing (scripts/fuzz.py): GRIDCARE_FUZZ_WRITE_PROBE=1 marks error responses of requests that committed a
# write (gridcare.core.fuzzprobe). For the fuzzer's throwaway database only; off by default.
FUZZ_WRITE_PROBE = os.environ.get("GRIDCARE_FUZZ_WRITE_PROBE", "0") == "1"
if FUZZ_WRITE_PROBE:
    MIDDLEWARE = ["gridcare.core.fuzzprobe.FuzzWriteProbeMiddleware", *MIDDLEWARE]

# API bearer tokens (gridcare.core.api.TokenAuth) stop working this many days after they were created; their owner
# lists and revokes them with GET /api/v1/tokens and DELETE /api/v1/tokens/{id}.
GRIDCARE["API_TOKEN_DAYS"] = int(os.environ.get("GRIDCARE_API_TOKEN_DAYS", "90"))
