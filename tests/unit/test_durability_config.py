"""PRAXIS_QUEUE_TYPE and the broker's TLS settings (shared/config.py)."""
import ssl

import pytest

from shared import config
from shared.consumer import dead_letter_queue, durability, replay_route, retry_queue

QUEUE = "evt-intake--billing"


def test_queue_type_is_classic_unless_quorum_is_asked_for():
    assert config.load("billing", {}).queue_type == "classic"
    settings = config.load("billing", {"PRAXIS_QUEUE_TYPE": "Quorum"})
    assert settings.queue_type == "quorum"
    assert config.nameko_config(settings)["PRAXIS_QUEUE_TYPE"] == "quorum"
    with pytest.raises(config.ConfigError, match="PRAXIS_QUEUE_TYPE"):
        config.load("billing", {"PRAXIS_QUEUE_TYPE": "stream"})


def test_classic_queues_are_declared_as_before_quorum_ones_with_their_type():
    # No x-queue-type for classic: the queues earlier releases declared still match.
    assert durability("classic") == {}
    assert dead_letter_queue(QUEUE, "classic").queue_arguments == {}
    assert replay_route(QUEUE, "quorum").queue_arguments == {
        "x-queue-type": "quorum", "x-single-active-consumer": True}
    arguments = retry_queue(QUEUE, "quorum").queue_arguments
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-dead-letter-strategy"] == "at-least-once"
    assert arguments["x-overflow"] == "reject-publish"  # at-least-once needs it
    assert arguments["x-dead-letter-routing-key"] == QUEUE
    assert "x-dead-letter-strategy" not in retry_queue(QUEUE, "classic").queue_arguments


def test_amqps_verifies_the_broker_by_the_ca_file_or_the_system_cas():
    uri = "amqps://u:p@broker.example.org:5671/"
    settings = config.load("intake", {"PRAXIS_AMQP_URI": uri, "PRAXIS_AMQP_CA_FILE": "/ca.pem"})
    assert settings.amqp_ssl == {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": "/ca.pem",
                                 "server_hostname": "broker.example.org"}
    assert config.nameko_config(settings)["AMQP_SSL"] == settings.amqp_ssl
    system = config.load("intake", {"PRAXIS_AMQP_URI": uri}).amqp_ssl
    assert system == {"context": {"check_hostname": True},
                      "server_hostname": "broker.example.org"}
    client = config.load("intake", {"PRAXIS_AMQP_URI": uri, "PRAXIS_AMQP_CA_FILE": "/ca.pem",
                                    "PRAXIS_AMQP_CERT_FILE": "/c.pem",
                                    "PRAXIS_AMQP_KEY_FILE": "/k.pem"}).amqp_ssl
    assert (client["certfile"], client["keyfile"]) == ("/c.pem", "/k.pem")
    with pytest.raises(config.ConfigError, match="go together"):
        config.load("intake", {"PRAXIS_AMQP_URI": uri, "PRAXIS_AMQP_CERT_FILE": "/c.pem"})


def test_plain_amqp_has_no_tls_and_refuses_tls_files():
    assert config.load("intake", {}).amqp_ssl is None
    assert config.nameko_config(config.load("intake", {}))["AMQP_SSL"] is None
    with pytest.raises(config.ConfigError, match="amqps"):
        config.load("intake", {"PRAXIS_AMQP_CA_FILE": "/ca.pem"})
