"""The rendered overlays configure a service the config loader lets start: prod
signs in by the identity provider (no token secret needed), dev runs on its own
secret, neither on the built-in one."""
import re

import pytest

from shared import config
from tests.deploy.test_manifests import SERVICES, of_kind
from tests.support import KEYS


def pod_env(docs, service, token_secret):
    """The environment a service's container gets: its ConfigMap, then its env
    (values from Secrets stand in as given here or as placeholders; the token
    secret is optional, None leaves it out)."""
    deployment = of_kind(docs, "Deployment")[f"praxis-{service}"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (config_ref,) = container["envFrom"]
    env = dict(of_kind(docs, "ConfigMap")[config_ref["configMapRef"]["name"]]["data"])
    config_data = dict(env)
    for variable in container["env"]:
        reference = variable.get("valueFrom", {}).get("configMapKeyRef")
        if reference:
            value = config_data[reference["key"]]
        else:  # a Secret's value stands in; $(NAME) expands as the kubelet does
            value = variable.get("value", f"<from-{variable['name']}>")
            value = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)
        env[variable["name"]] = value
    env.pop("PRAXIS_TOKEN_SECRET")
    # The operator's Secret stands in as a key of the right shape.
    assert env["PRAXIS_KEY_ENCRYPTION_KEYS"] == "<from-PRAXIS_KEY_ENCRYPTION_KEYS>"
    env["PRAXIS_KEY_ENCRYPTION_KEYS"] = KEYS
    if token_secret is not None:
        env["PRAXIS_TOKEN_SECRET"] = token_secret
    return env


@pytest.mark.parametrize("service", SERVICES)
def test_prod_signs_in_by_the_identity_provider(rendered, service):
    settings = config.load(service, pod_env(rendered["prod"], service, None))
    assert settings.environment == "production"
    assert settings.oidc_issuer.startswith("https://") and settings.oidc_audience
    assert config.check(settings) == []
    # Over TLS: amqps to the broker's TLS port, its CA mounted; verify-full to the database.
    assert settings.amqp_uri.startswith("amqps://") and ":5671/" in settings.amqp_uri
    assert settings.amqp_ssl["ca_certs"] == "/etc/praxis/tls/broker/ca.crt"
    assert settings.amqp_ssl["server_hostname"] == "praxis-rabbitmq"
    assert settings.database_url == (f"<from-PRAXIS_DATABASE_SECRET_URI>?sslmode=verify-full"
                                     "&sslrootcert=/etc/praxis/tls/database/ca.crt")
    assert settings.oidc_claims == config.DEFAULT_CLAIMS
    deployment = of_kind(rendered["prod"], "Deployment")[f"praxis-{service}"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (secret,) = [e for e in container["env"] if e["name"] == "PRAXIS_TOKEN_SECRET"]
    assert secret["valueFrom"]["secretKeyRef"]["optional"] is True  # prod creates none
    # The key-encryption keys are required: a pod without them does not start.
    (keys,) = [e for e in container["env"] if e["name"] == "PRAXIS_KEY_ENCRYPTION_KEYS"]
    assert keys["valueFrom"]["secretKeyRef"] == {"name": "praxis-keys",
                                                 "key": "key-encryption-keys"}
    # Scheduling's mail relay login comes from an optional Secret; no relay is set by
    # default, so no reminders are sent until an overlay names one.
    smtp = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
            if e["name"].startswith("PRAXIS_SMTP_")}
    assert smtp == ({f"PRAXIS_SMTP_{key.upper()}": {"name": "praxis-smtp", "key": key,
                                                    "optional": True}
                     for key in ("username", "password")} if service == "scheduling" else {})
    assert settings.smtp is None


def test_dev_secret_is_its_own_and_the_built_in_one_is_refused(rendered):
    (secret,) = [d for d in rendered["dev"] if d["kind"] == "Secret"
                 and d["metadata"]["name"].startswith("praxis-token")]
    import base64

    dev_secret = base64.b64decode(secret["data"]["secret"]).decode()
    assert dev_secret != config.DEV_TOKEN_SECRET
    env = pod_env(rendered["dev"], "intake", dev_secret)
    (warning,) = config.check(config.load("intake", env))  # HS256 outside development
    assert "PRAXIS_OIDC_ISSUER" in warning
    with pytest.raises(config.ConfigError):
        config.check(config.load("intake", {**env, "PRAXIS_TOKEN_SECRET":
                                            config.DEV_TOKEN_SECRET}))
