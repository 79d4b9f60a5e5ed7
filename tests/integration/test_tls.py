"""amqps:// end to end against a RabbitMQ node of the test's own with only a TLS
listener, its certificate from a CA the test makes: the outbox relay publishes and
a service's reliable consumer receives over TLS (PRAXIS_AMQP_CA_FILE), and a
connection that trusts another CA is refused. Likewise a PostgreSQL of the test's
own that accepts only TLS: a store on a `sslmode=verify-full&sslrootcert=` URL."""
import datetime
import ipaddress
import shutil
import ssl

import pytest
import sqlalchemy.exc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared import config
from shared.events import catalogue
from shared.outbox import OutboxRelay
from shared.store import EventStore
from tests.integration.test_faults import OwnPostgres, OwnRabbit
from tests.integration.test_outbox_relay import append
from tests.integration.test_reliable_consumer import Probe, ProbeApplication, rows
from tests.support import RunningService, free_port, wait_until

pytestmark = pytest.mark.integration


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(folder, name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = folder / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def make_server_cert(folder, ca_key, ca_cert):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    return folder / "server.pem", folder / "server.key"


class TlsRabbit(OwnRabbit):
    """testing-faults.md's own node, listening for AMQP only over TLS."""

    def __init__(self, ca, cert, key):
        super().__init__()
        self.tls_port = free_port()
        (self.dir / "rabbitmq.conf").write_text(
            "listeners.tcp = none\n"
            f"listeners.ssl.default = 127.0.0.1:{self.tls_port}\n"
            f"ssl_options.cacertfile = {ca}\n"
            f"ssl_options.certfile = {cert}\n"
            f"ssl_options.keyfile = {key}\n"
            "ssl_options.verify = verify_none\n"
            "ssl_options.fail_if_no_peer_cert = false\n")
        self.uri = f"amqps://guest:guest@127.0.0.1:{self.tls_port}/"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert, ca = make_ca(folder, "praxis-test-ca")
    _, _, wrong_ca = make_ca(folder, "another-ca")
    cert, key = make_server_cert(folder, ca_key, ca_cert)
    return {"ca": ca, "wrong_ca": wrong_ca, "cert": cert, "key": key}


@pytest.fixture(scope="module")
def tls_rabbit(pki):
    rabbit = TlsRabbit(pki["ca"], pki["cert"], pki["key"])
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.remove()


def test_relay_publishes_and_a_consumer_receives_over_amqps(tls_rabbit, pki, sqlite_url,
                                                            tmp_path):
    ProbeApplication.failures_left, ProbeApplication.attempts = 0, 0
    with RunningService(Probe, sqlite_url, tls_rabbit.uri,
                        PRAXIS_AMQP_CA_FILE=pki["ca"]) as probe:
        assert probe.settings.amqp_ssl["ca_certs"] == str(pki["ca"])
        assert probe.api.get("/readyz", bearer="").json()["broker"] == "ok"
        producer = EventStore(f"sqlite:///{tmp_path}/intake.db", "intake", catalogue)
        producer.create_schema()
        append(producer, 3)
        relay = OutboxRelay(producer, tls_rabbit.uri)
        try:
            relay.declare_exchange()
            assert relay.drain() == 3
            assert producer.outbox_status()[0] == 0
        finally:
            relay.close()
            producer.engine.dispose()
        wait_until(lambda: rows(probe) == 3, message="three events received over amqps")


def test_a_broker_certificate_from_another_ca_is_refused(tls_rabbit, pki):
    config.load("intake", {"PRAXIS_AMQP_URI": tls_rabbit.uri,
                           "PRAXIS_AMQP_CA_FILE": str(pki["wrong_ca"])})
    with config.amqp_connection(tls_rabbit.uri, connect_timeout=5) as connection:
        with pytest.raises(ssl.SSLCertVerificationError):
            connection.connect()
    # The right CA, for contrast: the same call connects.
    config.load("intake", {"PRAXIS_AMQP_URI": tls_rabbit.uri,
                           "PRAXIS_AMQP_CA_FILE": str(pki["ca"])})
    with config.amqp_connection(tls_rabbit.uri, connect_timeout=5) as connection:
        connection.connect()
        assert connection.connected


def test_tls_files_without_amqps_are_refused(pki):
    with pytest.raises(config.ConfigError, match="amqps"):
        config.load("intake", {"PRAXIS_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
                               "PRAXIS_AMQP_CA_FILE": str(pki["ca"])})


class TlsPostgres(OwnPostgres):
    """testing-faults.md's own cluster, accepting connections over TLS only."""

    def __init__(self, cert, key):
        super().__init__()
        data = self.dir / "pg"
        for source, name in ((cert, "server.crt"), (key, "server.key")):
            shutil.copy(source, data / name)
            shutil.chown(data / name, "postgres")
        (data / "server.key").chmod(0o600)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        hba = (data / "pg_hba.conf").read_text()
        (data / "pg_hba.conf").write_text(hba.replace("\nhost ", "\nhostssl "))


@pytest.fixture
def tls_postgres(pki):
    postgres = TlsPostgres(pki["cert"], pki["key"])
    try:
        postgres.start()
        yield postgres
    finally:
        postgres.remove()


def test_a_store_on_a_verify_full_postgresql_url(tls_postgres, pki):
    base = f"postgresql://postgres@localhost:{tls_postgres.port}/postgres"
    store = EventStore(f"{base}?sslmode=verify-full&sslrootcert={pki['ca']}", "intake",
                       catalogue)
    try:
        store.create_schema()
        (event,) = append(store, 1)
        assert [e.id for _, e in store.read_all()] == [event.id]
        with store.read() as conn:
            assert conn.exec_driver_sql("SHOW ssl").scalar() == "on"
    finally:
        store.engine.dispose()
    for refused in (f"{base}?sslmode=verify-full&sslrootcert={pki['wrong_ca']}",
                    f"{base}?sslmode=disable"):
        engine = sqlalchemy.create_engine(refused)
        with pytest.raises(sqlalchemy.exc.OperationalError):
            engine.connect()
        engine.dispose()
