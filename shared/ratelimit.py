"""Rate limits (issue 12): token buckets per principal (organisation and user),
per client address, and a harder one for failed authentications per address
(a wrong bearer token or calendar feed secret). A request over a limit is 429
with Retry-After, counted in praxis_rate_limited_total{service,limit}.

Buckets live in the process (one per service replica): a replica's limit, not
the cluster's. The address is the peer's (REMOTE_ADDR): behind a proxy that is
the proxy's, so set the per-address limits for it or to 0 (off).
"""
import math
import time
from collections import OrderedDict

from .errors import TooManyRequests

MAX_KEYS = 100_000  # the least recently seen bucket goes first beyond this


class Buckets:
    """`per_minute` tokens a minute per key, at most `per_minute` saved up; 0 is off."""

    def __init__(self, per_minute, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets = OrderedDict()  # key -> (tokens, when)

    def _level(self, key):
        now = self.clock()
        tokens, when = self._buckets.pop(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - when) * self.rate), now

    def _keep(self, key, tokens, now):
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)

    def wait(self, key):
        """Seconds until `key` has a token (0: it has one now); takes none."""
        if self.rate <= 0:
            return 0.0
        tokens, now = self._level(key)
        self._keep(key, tokens, now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key):
        """Takes a token: 0, or the seconds until one is there (none taken)."""
        if self.rate <= 0:
            return 0.0
        tokens, now = self._level(key)
        if tokens >= 1:
            self._keep(key, tokens - 1, now)
            return 0.0
        self._keep(key, tokens, now)
        return (1 - tokens) / self.rate


class Limiter:
    def __init__(self, per_principal=600, per_address=1200, auth_failures=10, on_limited=None):
        self.principals = Buckets(per_principal)
        self.addresses = Buckets(per_address)
        self.failures = Buckets(auth_failures)
        self.on_limited = on_limited or (lambda limit: None)

    @classmethod
    def from_config(cls, config, on_limited=None):
        def setting(name, default):
            value = config.get(name)
            return default if value in (None, "") else float(value)
        return cls(setting("PRAXIS_RATE_LIMIT_PER_PRINCIPAL", 600),
                   setting("PRAXIS_RATE_LIMIT_PER_ADDRESS", 1200),
                   setting("PRAXIS_RATE_LIMIT_AUTH_FAILURES", 10), on_limited)

    def _refuse(self, limit, seconds, what):
        self.on_limited(limit)
        raise TooManyRequests(f"too many {what}; retry in {math.ceil(seconds)} s",
                              retry_after=seconds)

    def before_authentication(self, address):
        """Before the token is looked at: the address's requests, and its failures
        (once exhausted, no token is even verified until one is back)."""
        seconds = self.failures.wait(address)
        if seconds:
            self._refuse("auth_failures", seconds, "failed authentications from this address")
        seconds = self.addresses.take(address)
        if seconds:
            self._refuse("address", seconds, "requests from this address")

    def after_authentication(self, principal):
        seconds = self.principals.take((principal.organisation_id, principal.user_id))
        if seconds:
            self._refuse("principal", seconds, "requests for this user")

    def failed(self, address):
        self.failures.take(address)
