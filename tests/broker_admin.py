"""Real RabbitMQ vhosts, users and permissions for tests: through the management
API (http://<broker>:15672/api), else through `rabbitmqctl` on this machine
(the same broker operations, for a broker without the management plugin)."""
import os
import shutil
import subprocess
from urllib.parse import quote, urlparse

import requests


class BrokerAdmin:
    def __init__(self, amqp_base_uri):
        parsed = urlparse(amqp_base_uri)
        self.host, self.port = parsed.hostname, parsed.port or 5672
        self.auth = (parsed.username or "guest", parsed.password or "guest")
        self.api = os.environ.get("PRAXIS_TEST_RABBIT_API", f"http://{self.host}:15672/api")
        self.via_api = self._api_answers()
        if not self.via_api and shutil.which("rabbitmqctl") is None:
            raise RuntimeError(f"neither the management API at {self.api} nor rabbitmqctl "
                               "is available to make users and permissions")

    def _api_answers(self):
        try:
            return requests.get(f"{self.api}/overview", auth=self.auth, timeout=3).ok
        except requests.RequestException:
            return False

    def version(self):
        """The broker's RabbitMQ version, e.g. '3.10.8'."""
        if self.via_api:
            response = requests.get(f"{self.api}/overview", auth=self.auth, timeout=10)
            response.raise_for_status()
            return response.json()["rabbitmq_version"]
        result = subprocess.run(["rabbitmqctl", "-q", "version"], check=True,
                                capture_output=True, text=True, timeout=120)
        return result.stdout.strip()

    def uri(self, vhost, user, password):
        return f"amqp://{user}:{password}@{self.host}:{self.port}/{quote(vhost, safe='')}"

    def _call(self, method, path, json=None):
        response = requests.request(method, f"{self.api}{path}", auth=self.auth, json=json,
                                    timeout=10)
        if method != "DELETE":
            response.raise_for_status()

    @staticmethod
    def _ctl(*args, check=True):
        subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True,
                       timeout=120)

    def add_vhost(self, vhost):
        if self.via_api:
            self._call("PUT", f"/vhosts/{quote(vhost, safe='')}")
        else:
            self._ctl("add_vhost", vhost)

    def delete_vhost(self, vhost):
        if self.via_api:
            self._call("DELETE", f"/vhosts/{quote(vhost, safe='')}")
        else:
            self._ctl("delete_vhost", vhost, check=False)

    def add_user(self, user, password):
        if self.via_api:
            self._call("PUT", f"/users/{quote(user, safe='')}",
                       {"password": password, "tags": ""})
        else:
            self._ctl("add_user", user, password)

    def delete_user(self, user):
        if self.via_api:
            self._call("DELETE", f"/users/{quote(user, safe='')}")
        else:
            self._ctl("delete_user", user, check=False)

    def set_permissions(self, vhost, user, configure, write, read):
        if self.via_api:
            self._call("PUT", f"/permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                       {"configure": configure, "write": write, "read": read})
        else:
            self._ctl("set_permissions", "-p", vhost, user, configure, write, read)

    def set_topic_permissions(self, vhost, user, exchange, write, read):
        if self.via_api:
            self._call("PUT",
                       f"/topic-permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
                       {"exchange": exchange, "write": write, "read": read})
        else:
            self._ctl("set_topic_permissions", "-p", vhost, user, exchange, write, read)
