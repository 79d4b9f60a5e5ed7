"""The one config loader: environment variables, with local defaults.

| variable | default |
|---|---|
| PRAXIS_ENV | production; `development` (set by `make run`) allows the built-in token secret |
| PRAXIS_AMQP_URI | amqp://guest:guest@127.0.0.1:5672/ |
| PRAXIS_<SERVICE>_AMQP_URI | PRAXIS_AMQP_URI; the service's own broker user (see shared/broker_identity.py) |
| PRAXIS_AMQP_CA_FILE | with an amqps:// URL: the CA bundle (PEM) the broker's certificate must chain to; unset: the system's CAs. The certificate must name the URL's host |
| PRAXIS_AMQP_CERT_FILE, PRAXIS_AMQP_KEY_FILE | with amqps://: a client certificate and its key, for a broker that verifies its peers |
| PRAXIS_<SERVICE>_DATABASE_URL | sqlite:///<PRAXIS_DATA_DIR>/<service>.db |
| PRAXIS_DATA_DIR | ./var |
| PRAXIS_<SERVICE>_PORT | intake 8001, scheduling 8002, notes 8003, billing 8004 |
| PRAXIS_HOST | 127.0.0.1 (0.0.0.0 in a container) |
| PRAXIS_TOKEN_SECRET | the built-in development secret; signs bearer tokens (HS256) when no issuer is set, so outside development it must then be your own |
| PRAXIS_OIDC_ISSUER | unset: HS256 tokens from PRAXIS_TOKEN_SECRET; set: only this provider's tokens |
| PRAXIS_OIDC_AUDIENCE | required with an issuer: the `aud` Praxis's tokens carry |
| PRAXIS_OIDC_CLAIM_USER | sub |
| PRAXIS_OIDC_CLAIM_ROLE | praxis_role (a string, or a list holding exactly one Praxis role) |
| PRAXIS_OIDC_CLAIM_ORGANISATION | praxis_org |
| PRAXIS_OIDC_CLAIM_CLINICS | praxis_clinics (a list, or space-separated; "*" for all) |
| PRAXIS_OIDC_CLAIM_CLIENT_ID | praxis_client_id (role client only: their client record) |
| PRAXIS_OIDC_JWKS_MIN_REFRESH_SECONDS | 60: an unknown key id refetches the keys at most this often |
| PRAXIS_OIDC_LEEWAY_SECONDS | 30 of clock skew allowed on exp, iat, nbf |
| PRAXIS_MAX_ATTEMPTS | 5 deliveries of an event before it is dead-lettered |
| PRAXIS_RETRY_DELAY_MS | 1000 between deliveries |
| PRAXIS_QUEUE_TYPE | classic; `quorum` (deploy/ sets it) declares the handler, retry and dead-letter queues as replicated quorum queues (RabbitMQ 3.10+) |
| PRAXIS_MAX_WORKERS | 10 concurrent workers (also the RPC prefetch; event queues: 1) |
| PRAXIS_CALENDAR_FEED_DAYS | 90 days a calendar feed (scheduling) lives unless revoked |
| PRAXIS_BREAK_GLASS_MINUTES | 60 minutes a break-glass grant (intake) opens a client's records |
| PRAXIS_MAX_BODY_BYTES | 1048576 (1 MiB): a larger request body is refused with 413 before it is read |
| PRAXIS_RATE_LIMIT_PER_PRINCIPAL | 600 requests a minute per user (organisation and user id) and replica; 0 is off |
| PRAXIS_RATE_LIMIT_PER_ADDRESS | 1200 requests a minute per client address and replica; 0 is off |
| PRAXIS_RATE_LIMIT_AUTH_FAILURES | 10 failed authentications (401) a minute per client address; then 429 until one is back; 0 is off |
| PRAXIS_KEY_ENCRYPTION_KEYS | the built-in development key; `id:base64,...` of 32-byte keys that wrap each client's data keys (shared/encryption.py). The first wraps new keys, all listed unwrap: add a new one first, then `make rotate-keys`. Outside development it must be your own |
| PRAXIS_CLINICAL_RETENTION_YEARS | 7 years a client's clinical record is retained after the discharge ending their last episode of care; an erasure request is refused until then (and while an episode is open). 0: only an open episode holds it |
| PRAXIS_ERASURE_DURING_RETENTION | false; `true`: the organisation's policy erases on request even while the record is retained |
| PRAXIS_IDEMPOTENCY_HOURS | 24 hours an Idempotency-Key's answer is kept for retries (shared/idempotency.py) |
| PRAXIS_SMTP_HOST | unset: no appointment reminders are sent (scheduling); set: the organisation's mail relay |
| PRAXIS_SMTP_PORT | 587 |
| PRAXIS_SMTP_STARTTLS | true: the connection is upgraded with STARTTLS (the relay's certificate verified) before anything is sent; `false` only for a relay on the same host or network |
| PRAXIS_SMTP_USERNAME, PRAXIS_SMTP_PASSWORD | unset: no login; set (from a Secret): AUTH after STARTTLS |
| PRAXIS_SMTP_FROM | the sender address reminders carry; required with PRAXIS_SMTP_HOST |

A claim name is looked up as is, then as a dotted path (`realm_access.roles`).
"""
import os
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

from .auth import ClaimNames
from .encryption import DEV_KEY_ENCRYPTION_KEYS, KeyEncryptionKeys, KeyProblem

SERVICES = ("intake", "scheduling", "notes", "billing")
DEFAULT_PORTS = {"intake": 8001, "scheduling": 8002, "notes": 8003, "billing": 8004}
DEV_TOKEN_SECRET = "praxis-development-secret-not-for-production"
ENVIRONMENTS = ("production", "development")
QUEUE_TYPES = ("classic", "quorum")
DEFAULT_CLAIMS = asdict(ClaimNames())


class ConfigError(Exception):
    """A setting a service must not start with."""


@dataclass(frozen=True)
class Settings:
    service: str
    host: str
    port: int
    database_url: str
    amqp_uri: str
    token_secret: str
    max_attempts: int
    retry_delay_ms: int
    max_workers: int
    environment: str = "production"
    oidc_issuer: str = None
    oidc_audience: str = None
    oidc_claims: dict = field(default_factory=lambda: dict(DEFAULT_CLAIMS))
    oidc_jwks_min_refresh_seconds: float = 60.0
    oidc_leeway_seconds: int = 30
    calendar_feed_days: int = 90
    break_glass_minutes: float = 60.0
    max_body_bytes: int = 1024 * 1024
    rate_limits: tuple = (600, 1200, 10)  # per principal, per address, failed authentications
    idempotency_hours: float = 24.0
    queue_type: str = "classic"
    amqp_ssl: dict = None  # kombu's `ssl` for an amqps:// URL (amqp_ssl())
    key_encryption_keys: str = None  # PRAXIS_KEY_ENCRYPTION_KEYS (key_encryption_keys())
    smtp: dict = None  # the mail relay reminders go through (smtp()); None: none sent
    erasure: object = None  # ErasurePolicy (erasure_policy()): a bad value refuses to start

    @property
    def base_url(self):
        return f"http://{'127.0.0.1' if self.host == '0.0.0.0' else self.host}:{self.port}"


def load(service, env=None):
    env = os.environ if env is None else env
    prefix = f"PRAXIS_{service.upper()}_"
    if service not in SERVICES and prefix + "PORT" not in env:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    data_dir = env.get("PRAXIS_DATA_DIR", "var")
    amqp_uri = (env.get(prefix + "AMQP_URI")
                or env.get("PRAXIS_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    _AMQP_SSL[amqp_uri] = amqp_ssl(amqp_uri, env)
    return Settings(
        service=service,
        host=env.get("PRAXIS_HOST", "127.0.0.1"),
        port=int(env.get(prefix + "PORT") or DEFAULT_PORTS[service]),
        database_url=env.get(prefix + "DATABASE_URL",
                             f"sqlite:///{os.path.abspath(data_dir)}/{service}.db"),
        amqp_uri=(env.get(prefix + "AMQP_URI")
                  or env.get("PRAXIS_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")),
        token_secret=env.get("PRAXIS_TOKEN_SECRET", DEV_TOKEN_SECRET),
        max_attempts=int(env.get("PRAXIS_MAX_ATTEMPTS", 5)),
        retry_delay_ms=int(env.get("PRAXIS_RETRY_DELAY_MS", 1000)),
        max_workers=int(env.get("PRAXIS_MAX_WORKERS", 10)),
        environment=env.get("PRAXIS_ENV") or "production",
        oidc_issuer=env.get("PRAXIS_OIDC_ISSUER") or None,
        oidc_audience=env.get("PRAXIS_OIDC_AUDIENCE") or None,
        oidc_claims={name: env.get(f"PRAXIS_OIDC_CLAIM_{name.upper()}") or default
                     for name, default in DEFAULT_CLAIMS.items()},
        oidc_jwks_min_refresh_seconds=float(env.get("PRAXIS_OIDC_JWKS_MIN_REFRESH_SECONDS", 60)),
        oidc_leeway_seconds=int(env.get("PRAXIS_OIDC_LEEWAY_SECONDS", 30)),
        calendar_feed_days=int(env.get("PRAXIS_CALENDAR_FEED_DAYS", 90)),
        break_glass_minutes=float(env.get("PRAXIS_BREAK_GLASS_MINUTES", 60)),
        max_body_bytes=int(env.get("PRAXIS_MAX_BODY_BYTES", 1024 * 1024)),
        rate_limits=(float(env.get("PRAXIS_RATE_LIMIT_PER_PRINCIPAL", 600)),
                     float(env.get("PRAXIS_RATE_LIMIT_PER_ADDRESS", 1200)),
                     float(env.get("PRAXIS_RATE_LIMIT_AUTH_FAILURES", 10))),
        idempotency_hours=float(env.get("PRAXIS_IDEMPOTENCY_HOURS", 24)),
        queue_type=queue_type(env),
        amqp_ssl=_AMQP_SSL[amqp_uri],
        key_encryption_keys=key_encryption_keys(env),
        smtp=smtp(env),
        erasure=erasure_policy(env),
    )


def smtp(env=None):
    """The mail relay (PRAXIS_SMTP_*) as a dict, or None when no host is set."""
    env = os.environ if env is None else env
    host = (env.get("PRAXIS_SMTP_HOST") or "").strip()
    if not host:
        return None
    starttls = (env.get("PRAXIS_SMTP_STARTTLS") or "true").strip().lower()
    if starttls not in ("true", "false"):
        raise ConfigError(f"PRAXIS_SMTP_STARTTLS is {starttls!r}; true or false")
    sender = (env.get("PRAXIS_SMTP_FROM") or "").strip()
    if not sender:
        raise ConfigError("PRAXIS_SMTP_HOST is set but PRAXIS_SMTP_FROM is not: reminders "
                          "need a sender address")
    username = env.get("PRAXIS_SMTP_USERNAME") or None
    if bool(username) != bool(env.get("PRAXIS_SMTP_PASSWORD")):
        raise ConfigError("PRAXIS_SMTP_USERNAME and PRAXIS_SMTP_PASSWORD go together")
    try:
        port = int(env.get("PRAXIS_SMTP_PORT") or 587)
    except ValueError:
        raise ConfigError("PRAXIS_SMTP_PORT is not a port number")
    return {"host": host, "port": port, "starttls": starttls == "true",
            "username": username, "password": env.get("PRAXIS_SMTP_PASSWORD") or None,
            "sender": sender}


def key_encryption_keys(env=None):
    """PRAXIS_KEY_ENCRYPTION_KEYS, or the built-in development key (refused by check()
    outside development): what every store wraps its clients' data keys with."""
    env = os.environ if env is None else env
    return env.get("PRAXIS_KEY_ENCRYPTION_KEYS") or DEV_KEY_ENCRYPTION_KEYS


# Every broker URL a Settings was loaded for in this process, with its TLS options:
# Praxis's own connections (amqp_connection) use the same as nameko's AMQP_SSL.
_AMQP_SSL = {}


def amqp_connection(amqp_uri, **kwargs):
    """A kombu Connection to `amqp_uri`, over TLS for amqps:// with the options
    load() found for it (else those of this process's environment)."""
    from kombu import Connection

    ssl = _AMQP_SSL[amqp_uri] if amqp_uri in _AMQP_SSL else amqp_ssl(amqp_uri)
    return Connection(amqp_uri, ssl=ssl or False, **kwargs)


def amqp_ssl(amqp_uri, env=None):
    """kombu's (and nameko's AMQP_SSL) `ssl` option for `amqp_uri`: None for amqp://;
    for amqps:// the broker's certificate is verified, always, against
    PRAXIS_AMQP_CA_FILE (else the system's CAs) and must name the URL's host;
    PRAXIS_AMQP_CERT_FILE and PRAXIS_AMQP_KEY_FILE add a client certificate."""
    env = os.environ if env is None else env
    ca, cert, key = (env.get(f"PRAXIS_AMQP_{name}_FILE") or None
                     for name in ("CA", "CERT", "KEY"))
    parsed = urlparse(amqp_uri)
    if parsed.scheme != "amqps":
        if ca or cert or key:
            raise ConfigError("PRAXIS_AMQP_CA_FILE, _CERT_FILE or _KEY_FILE is set but the "
                              f"broker URL is {parsed.scheme}://, not amqps://: the "
                              "connection would not use TLS")
        return None
    if bool(cert) != bool(key):
        raise ConfigError("PRAXIS_AMQP_CERT_FILE and PRAXIS_AMQP_KEY_FILE go together")
    if ca is None and cert is None:
        # The system's CAs (ssl.create_default_context), hostname checked.
        return {"context": {"check_hostname": True}, "server_hostname": parsed.hostname}
    import ssl
    options = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": parsed.hostname,
               "ca_certs": ca or ssl.get_default_verify_paths().cafile}
    if cert:
        options.update(certfile=cert, keyfile=key)
    return options


def gap_wait_seconds(env=None):
    """PRAXIS_GAP_WAIT_SECONDS (default 300): how long a consumed event waits in the
    store for the event before it in its stream, then is dead-lettered "gap"."""
    env = os.environ if env is None else env
    value = float(env.get("PRAXIS_GAP_WAIT_SECONDS") or 300)
    if value <= 0:
        raise ConfigError(f"PRAXIS_GAP_WAIT_SECONDS is {value:g}; it must be positive")
    return value


@dataclass(frozen=True)
class ErasurePolicy:
    retention_years: int = 7
    during_retention: bool = False


def erasure_policy(env=None):
    """PRAXIS_CLINICAL_RETENTION_YEARS and PRAXIS_ERASURE_DURING_RETENTION: when intake
    carries out an erasure request (services/intake/domain/erasure.py)."""
    env = os.environ if env is None else env
    raw = env.get("PRAXIS_CLINICAL_RETENTION_YEARS") or "7"
    try:
        years = int(raw)
    except ValueError:
        years = -1
    if years < 0:
        raise ConfigError(f"PRAXIS_CLINICAL_RETENTION_YEARS is {raw!r}; it must be a whole "
                          "number of years, 0 or more")
    flag = (env.get("PRAXIS_ERASURE_DURING_RETENTION") or "false").strip().lower()
    if flag not in ("true", "false"):
        raise ConfigError(f"PRAXIS_ERASURE_DURING_RETENTION is {flag!r}; true or false")
    return ErasurePolicy(years, flag == "true")


def queue_type(env=None):
    """PRAXIS_QUEUE_TYPE. Classic by default: a broker already holding Praxis's
    queues holds classic ones, and RabbitMQ refuses to redeclare a queue as
    another type (PRECONDITION_FAILED); deploy/ sets quorum for a new cluster."""
    env = os.environ if env is None else env
    value = (env.get("PRAXIS_QUEUE_TYPE") or "classic").strip().lower()
    if value not in QUEUE_TYPES:
        raise ConfigError(f"PRAXIS_QUEUE_TYPE is {value!r}; one of {', '.join(QUEUE_TYPES)}")
    return value


def check(settings):
    """Before a service starts: raises ConfigError for a setting it must refuse,
    returns warnings to log for one it may run with."""
    if settings.environment not in ENVIRONMENTS:
        raise ConfigError(f"PRAXIS_ENV is {settings.environment!r}; one of "
                          f"{', '.join(ENVIRONMENTS)}")
    development = settings.environment == "development"
    warnings = _check_sign_in(settings, development)
    try:
        KeyEncryptionKeys.parse(settings.key_encryption_keys)
    except KeyProblem as exc:
        raise ConfigError(f"PRAXIS_KEY_ENCRYPTION_KEYS: {exc}")
    if settings.key_encryption_keys == DEV_KEY_ENCRYPTION_KEYS and not development:
        raise ConfigError(
            "PRAXIS_KEY_ENCRYPTION_KEYS is unset or the built-in development key, which is "
            "public: whoever has a copy of the database could open every client's "
            "sensitive fields. Set it to `<id>:<32 random bytes, base64>` of your own "
            "(a Secret); on a developer machine only, PRAXIS_ENV=development.")
    return warnings


def _check_sign_in(settings, development):
    issuer = settings.oidc_issuer
    if issuer is None:  # bearer tokens are HS256 with the local secret
        if development:
            return []
        if settings.token_secret == DEV_TOKEN_SECRET:
            raise ConfigError(
                "no PRAXIS_OIDC_ISSUER is set and PRAXIS_TOKEN_SECRET is unset or the "
                "built-in development secret, with which anyone can sign an admin token for "
                "any organisation. Set PRAXIS_OIDC_ISSUER and PRAXIS_OIDC_AUDIENCE to sign in "
                "with your identity provider (or PRAXIS_TOKEN_SECRET to a long random secret "
                "of your own); on a developer machine only, PRAXIS_ENV=development.")
        return ["bearer tokens are HS256, signed with PRAXIS_TOKEN_SECRET: whoever holds it "
                "can sign any token; set PRAXIS_OIDC_ISSUER to sign in with your identity "
                "provider"]
    parsed = urlparse(issuer)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ConfigError(f"PRAXIS_OIDC_ISSUER {issuer!r} must be an https URL (its keys "
                          "decide who signs in)")
    if not settings.oidc_audience:
        raise ConfigError("PRAXIS_OIDC_AUDIENCE is not set: with PRAXIS_OIDC_ISSUER, Praxis "
                          "accepts only tokens meant for it (their aud claim)")
    return []


def nameko_config(settings):
    """The nameko config dict for a service's container."""
    return {
        "AMQP_URI": settings.amqp_uri,
        # nameko's own connections (consumers, dispatchers); Praxis's take it from here.
        "AMQP_SSL": settings.amqp_ssl,
        "WEB_SERVER_ADDRESS": f"{settings.host}:{settings.port}",
        "max_workers": settings.max_workers,
        "SERIALIZERS": {"cloudevents": {
            "encoder": "json.dumps", "decoder": "json.loads",
            "content_type": "application/cloudevents+json", "content_encoding": "utf-8"}},
        "ACCEPT": ["json", "cloudevents"],
        "PRAXIS_DATABASE_URL": settings.database_url,
        "PRAXIS_TOKEN_SECRET": settings.token_secret,
        "PRAXIS_OIDC": settings.oidc_issuer and {
            "issuer": settings.oidc_issuer, "audience": settings.oidc_audience,
            "claims": dict(settings.oidc_claims),
            "jwks_min_refresh_seconds": settings.oidc_jwks_min_refresh_seconds,
            "leeway_seconds": settings.oidc_leeway_seconds},
        "PRAXIS_MAX_ATTEMPTS": settings.max_attempts,
        "PRAXIS_RETRY_DELAY_MS": settings.retry_delay_ms,
        "PRAXIS_CALENDAR_FEED_DAYS": settings.calendar_feed_days,
        "PRAXIS_BREAK_GLASS_MINUTES": settings.break_glass_minutes,
        "PRAXIS_MAX_BODY_BYTES": settings.max_body_bytes,
        "PRAXIS_RATE_LIMIT_PER_PRINCIPAL": settings.rate_limits[0],
        "PRAXIS_RATE_LIMIT_PER_ADDRESS": settings.rate_limits[1],
        "PRAXIS_RATE_LIMIT_AUTH_FAILURES": settings.rate_limits[2],
        "PRAXIS_IDEMPOTENCY_HOURS": settings.idempotency_hours,
        "PRAXIS_QUEUE_TYPE": settings.queue_type,
        "PRAXIS_SMTP": settings.smtp,
    }
