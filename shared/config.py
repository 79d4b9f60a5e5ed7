"""The one config loader: environment variables, with local defaults.

| variable | default |
|---|---|
| PRAXIS_AMQP_URI | amqp://guest:guest@127.0.0.1:5672/ |
| PRAXIS_<SERVICE>_DATABASE_URL | sqlite:///<PRAXIS_DATA_DIR>/<service>.db |
| PRAXIS_DATA_DIR | ./var |
| PRAXIS_<SERVICE>_PORT | intake 8001, scheduling 8002, notes 8003, billing 8004 |
| PRAXIS_HOST | 127.0.0.1 (0.0.0.0 in a container) |
| PRAXIS_TOKEN_SECRET | a development secret (set a real one anywhere else) |
| PRAXIS_MAX_ATTEMPTS | 5 deliveries of an event before it is dead-lettered |
| PRAXIS_RETRY_DELAY_MS | 1000 between deliveries |
| PRAXIS_MAX_WORKERS | 10 concurrent workers (also the consumer prefetch) |
"""
import os
from dataclasses import dataclass

SERVICES = ("intake", "scheduling", "notes", "billing")
DEFAULT_PORTS = {"intake": 8001, "scheduling": 8002, "notes": 8003, "billing": 8004}
DEV_TOKEN_SECRET = "praxis-development-secret-not-for-production"


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

    @property
    def base_url(self):
        return f"http://{'127.0.0.1' if self.host == '0.0.0.0' else self.host}:{self.port}"


def load(service, env=None):
    env = os.environ if env is None else env
    prefix = f"PRAXIS_{service.upper()}_"
    if service not in SERVICES and prefix + "PORT" not in env:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    data_dir = env.get("PRAXIS_DATA_DIR", "var")
    return Settings(
        service=service,
        host=env.get("PRAXIS_HOST", "127.0.0.1"),
        port=int(env.get(prefix + "PORT") or DEFAULT_PORTS[service]),
        database_url=env.get(prefix + "DATABASE_URL",
                             f"sqlite:///{os.path.abspath(data_dir)}/{service}.db"),
        amqp_uri=env.get("PRAXIS_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
        token_secret=env.get("PRAXIS_TOKEN_SECRET", DEV_TOKEN_SECRET),
        max_attempts=int(env.get("PRAXIS_MAX_ATTEMPTS", 5)),
        retry_delay_ms=int(env.get("PRAXIS_RETRY_DELAY_MS", 1000)),
        max_workers=int(env.get("PRAXIS_MAX_WORKERS", 10)),
    )


def nameko_config(settings):
    """The nameko config dict for a service's container."""
    return {
        "AMQP_URI": settings.amqp_uri,
        "WEB_SERVER_ADDRESS": f"{settings.host}:{settings.port}",
        "max_workers": settings.max_workers,
        "SERIALIZERS": {"cloudevents": {
            "encoder": "json.dumps", "decoder": "json.loads",
            "content_type": "application/cloudevents+json", "content_encoding": "utf-8"}},
        "ACCEPT": ["json", "cloudevents"],
        "PRAXIS_DATABASE_URL": settings.database_url,
        "PRAXIS_TOKEN_SECRET": settings.token_secret,
        "PRAXIS_MAX_ATTEMPTS": settings.max_attempts,
        "PRAXIS_RETRY_DELAY_MS": settings.retry_delay_ms,
    }
