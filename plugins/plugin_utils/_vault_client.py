# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is a private helper of the g448.devenv.vault
# lookup. It is not a public API and may change without notice.
"""KV reads over hvac for the g448.devenv.vault lookup.

Caches, per controller process (every forked worker has its own copy):

* ``_SESSIONS``: one hvac client (and its HTTP keep-alive session and token)
  per connection settings.
* ``_MOUNTS``: the KV mounts already detected through
  ``sys/internal/ui/mounts/<path>``, per address and namespace. A mount is
  detected once, then every path below it is resolved without a request.
  Mount paths and KV versions are not secret: they are also shared with the
  other workers through the private cache directory (``MOUNT_TTL``), and a
  mount taken from there is detected again if a read below it finds nothing.
* ``_READS``: the data of every path already read, per address, namespace and
  login identity, so a path is read at most once per process however many
  fields come from it. Values stay in memory only.

Across processes only the login token and the mount list are shared, see
``_vault_token_cache``. Secret values never leave process memory.

No message built here ever contains a token, a credential or a secret value:
server error strings are scrubbed of every credential before they are quoted.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field as dc_field
from urllib.parse import quote, urlsplit, urlunsplit

try:
    import hvac
    import hvac.exceptions as hvac_exc
    import requests
    import requests.exceptions as req_exc
    import urllib3.exceptions as u3_exc
except ImportError as exc:  # pragma: no cover - exercised by the integration tests
    HVAC_IMPORT_ERROR = exc
    hvac = hvac_exc = requests = req_exc = u3_exc = None
else:
    HVAC_IMPORT_ERROR = None

from ansible.utils.display import Display

from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_revoker as revoker
from ansible_collections.g448.devenv.plugins.plugin_utils._vault_token_cache import (
    TokenCache,
    credential_fingerprint,
    identity_key,
    run_identity,
)

display = Display()

AUTH_METHODS = ("token", "approle", "jwt")
BACKOFF_BASE = 0.5
BACKOFF_MAX = 4.0

_SESSIONS = {}
_MOUNTS = {}
_DISK_MOUNTS = {}  # per address and namespace: the mounts taken from the disk cache
_READS = {}
_WARNED = set()
# HTTP statuses worth another attempt: the server or a proxy in front of it is
# failing or restarting (503 also covers a sealed server, which an auto-unseal
# restart clears in seconds). 4xx answers, 403 above all, are never retried.
RETRY_STATUSES = (429, 500, 502, 503, 504)
# A login is not idempotent (it may use up a single-use secret id): once its request may
# have reached the server it is retried only on answers that say it was not processed.
LOGIN_RETRY_STATUSES = (429, 503)


def _backoff_sleep(seconds):
    time.sleep(seconds)


def _spawn_watcher(job):
    """Start the token's revoker process (the seam the unit tests replace)."""
    return revoker.spawn(job)


def _new_http_session():
    """The HTTP session under hvac (the seam the unit tests replace)."""
    return requests.Session()


def reset_process_caches():
    """Forget every in-process cache (used by tests)."""
    _SESSIONS.clear()
    _MOUNTS.clear()
    _DISK_MOUNTS.clear()
    _READS.clear()
    _WARNED.clear()


def hvac_missing_message(python):
    return (
        "g448.devenv.vault: the Python library hvac is not installed for the controller's Python (%s): %s. "
        "Install it into that environment with: %s -m pip install 'hvac>=2.1'"
        % (python, HVAC_IMPORT_ERROR, python)
    )


def plain(value):
    """Return a plain ``str``/``int``/``bool``/``float``/``None`` copy.

    Ansible hands options over as its own str subclasses (AnsibleUnicode on
    2.17, tagged strings on 2.19); none of them may reach hvac or requests.
    """
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def redact_url(url):
    """The address as shown in messages: no userinfo, no query."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable address>"
    netloc = parts.hostname or ""
    if parts.port:
        netloc = "%s:%d" % (netloc, parts.port)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class VaultLookupError(Exception):
    """A failure with a message that is safe to show."""


class SecretNotFound(VaultLookupError):
    """The path, version or field is absent: ``default`` may replace it."""


class PermissionDenied(VaultLookupError):
    """The token may not read this path."""


class MountMismatch(VaultLookupError):
    """A forced mount or kv_version does not match the server (never replaced by ``default``)."""


class TokenRejected(VaultLookupError):
    """The server refused the token itself (not just the path)."""


@dataclass
class Settings:
    url: str
    auth_method: str = "token"
    namespace: str | None = None
    # Credentials never show in a repr (tracebacks, debuggers, test reports).
    token: str | None = dc_field(default=None, repr=False)
    token_source: str = "the token option (keyword, variable or VAULT_TOKEN)"
    role_id: str | None = dc_field(default=None, repr=False)
    secret_id: str | None = dc_field(default=None, repr=False)
    jwt: str | None = dc_field(default=None, repr=False)
    role: str | None = None
    auth_mount_point: str | None = None
    ca_cert: str | None = None
    validate_certs: bool = True
    timeout: int = 30
    retries: int = 3
    token_cache: bool = True
    token_cache_dir: str | None = None

    @property
    def address(self):
        return redact_url(self.url)

    @property
    def auth_mount(self):
        return (self.auth_mount_point or self.auth_method).strip("/")

    def credentials(self):
        return [c for c in (self.token, self.secret_id, self.jwt, self.role_id) if c]

    def session_key(self):
        return identity_key(
            self.url, self.namespace, self.auth_method, self.auth_mount, self.role_id, self.role,
            credential_fingerprint(self.token), credential_fingerprint(self.secret_id),
            credential_fingerprint(self.jwt), self.ca_cert, self.validate_certs, self.timeout,
            self.token_cache, self.token_cache_dir,
        )

    def mounts_key(self):
        """Identity of the mount list of one address and namespace, for the disk cache."""
        return identity_key("mounts-v1", self.url, self.namespace or "")

    def login_key(self):
        """Identity of a login, for the cross-process token cache."""
        credential = self.secret_id if self.auth_method == "approle" else self.jwt
        return identity_key(
            "v1", self.url, self.namespace or "", self.auth_method, self.auth_mount,
            self.role_id if self.auth_method == "approle" else self.role,
            credential_fingerprint(credential),
        )


@dataclass
class Term:
    path: str
    field: str | None = None
    mount: str | None = None
    kv_version: int | None = None
    version: int | None = None
    metadata: bool = False
    raw: str = ""
    # Filled in as the lookup progresses, for error messages.
    resolved_mount: str | None = dc_field(default=None)
    resolved_kv: int | None = dc_field(default=None)


def parse_term(raw, mount=None, kv_version=None, version=None, metadata=False):
    """``path`` or ``path:field``; KV v2 paths never contain ``/data/``."""
    text = plain(raw)
    if not isinstance(text, str):
        raise VaultLookupError(
            "g448.devenv.vault: each term must be a string 'path' or 'path:field', got a %s" % type(raw).__name__
        )
    text = text.strip()
    path, sep, field = text.rpartition(":")
    if not sep or "/" in field:
        path, field = text, None
    elif not field:
        raise VaultLookupError("g448.devenv.vault: term %r ends with ':' but names no field" % text)
    path = re.sub(r"/+", "/", path).strip("/")
    if not path:
        raise VaultLookupError("g448.devenv.vault: term %r names no path" % text)
    if mount is not None:
        mount = re.sub(r"/+", "/", mount).strip("/")
        if not mount:
            raise VaultLookupError("g448.devenv.vault: the mount option is empty")
        if path != mount and not path.startswith(mount + "/"):
            raise VaultLookupError(
                "g448.devenv.vault: term path %r is not below the mount %r given in the mount option "
                "(terms always carry the full path, mount included)" % (path, mount + "/")
            )
        if path == mount:
            raise VaultLookupError("g448.devenv.vault: term %r names the mount itself, not a secret below it" % text)
    if kv_version not in (None, 1, 2):
        raise VaultLookupError("g448.devenv.vault: kv_version must be 1 or 2, got %r" % (kv_version,))
    if version is not None and kv_version == 1:
        raise VaultLookupError("g448.devenv.vault: the version option needs KV v2, but kv_version is 1 (path %r)" % path)
    if metadata and kv_version == 1:
        raise VaultLookupError("g448.devenv.vault: metadata needs KV v2, but kv_version is 1 (path %r)" % path)
    return Term(path=path, field=field, mount=mount, kv_version=kv_version, version=version,
                metadata=bool(metadata), raw=text)


def request_may_have_been_sent(exc):
    """False only when the connection to the server never opened, so the request cannot have reached it."""
    if isinstance(exc, req_exc.ConnectTimeout):
        return False
    if isinstance(exc, req_exc.ConnectionError) and not isinstance(exc, (req_exc.ProxyError, req_exc.SSLError)):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        if isinstance(reason, (u3_exc.NewConnectionError, u3_exc.ConnectTimeoutError)):
            return False
    return True


def _short_reason(exc):
    text = str(exc)
    match = re.search(r"certificate verify failed:?[^'\")\]]*", text)
    if match:
        return match.group(0).strip()
    for pattern in (r"Connection refused", r"Name or service not known", r"timed out", r"No route to host",
                    r"Temporary failure in name resolution", r"Connection reset by peer",
                    r"Remote end closed connection"):
        if re.search(pattern, text, re.I):
            return pattern.lower()
    return type(exc).__name__


class VaultSession:
    """One controller process's view of one server with one identity."""

    def __init__(self, settings, sleep=None, session_factory=None, cache=None):
        self.settings = settings
        self.pid = os.getpid()
        self._sleep = sleep
        self._http = (session_factory or _new_http_session)()
        # hvac's exceptions do not carry the HTTP status (a 504 is an UnexpectedError): record it.
        self._last_status = None
        self._http.hooks.setdefault("response", []).append(self._record_status)
        self._verify = settings.ca_cert if (settings.validate_certs and settings.ca_cert) else bool(settings.validate_certs)
        # hvac prefers a truthy session.verify over its own verify argument: set both.
        self._http.verify = self._verify
        self.client = hvac.Client(
            url=settings.url,
            token=None,
            verify=self._verify,
            timeout=settings.timeout,
            namespace=settings.namespace or None,
            session=self._http,
        )
        # hvac falls back to VAULT_TOKEN / ~/.vault-token on its own: never let it guess.
        self.client.token = None
        self._token = None
        self._token_expires_at = None
        self._token_from_cache = False
        self._token_private = False
        self._run = run_identity()
        self._cache = cache
        if cache is None and settings.token_cache:
            # Token auth needs no token cache, but shares the detected mounts through it.
            self._cache = TokenCache(settings.token_cache_dir)
        if self._cache is not None and not self._cache.usable:
            if self._cache.directory not in _WARNED:
                _WARNED.add(self._cache.directory)
                display.warning(
                    "g448.devenv.vault: the cache directory %s is not used because %s; every worker will log in "
                    "and detect mounts on its own" % (self._cache.directory, self._cache.reason)
                )
            self._cache = None
        self._mounts = _MOUNTS.setdefault((settings.url, settings.namespace or ""), {})
        self._disk_mounts = _DISK_MOUNTS.setdefault((settings.url, settings.namespace or ""), set())
        self._reads = _READS.setdefault(settings.session_key(), {})

    def _record_status(self, response, *args, **kwargs):
        self._last_status = response.status_code

    # ------------------------------------------------------------------ errors
    def scrub(self, text):
        text = str(text)
        for secret in self.settings.credentials():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "<redacted>")
        if self._token:
            text = text.replace(self._token, "<redacted>")
        return text

    def _server_errors(self, exc):
        errors = getattr(exc, "errors", None) or []
        if isinstance(errors, str):
            errors = [errors]
        return "; ".join(self.scrub(e) for e in errors if e) or "no error text"

    def context(self, term=None, api_path=None):
        s = self.settings
        parts = ["address %s" % s.address]
        if s.namespace:
            parts.append("namespace %s" % s.namespace)
        if term is not None:
            mount = term.resolved_mount or term.mount
            kv = term.resolved_kv or term.kv_version
            parts.append("mount %s" % ((mount.rstrip("/") + "/") if mount else "not detected"))
            parts.append("path %s" % term.path)
            parts.append("field %s" % (term.field if term.field else "(whole secret)"))
            parts.append("KV version %s" % (kv if kv else "unknown"))
            if term.version is not None:
                parts.append("version %s" % term.version)
        if api_path:
            parts.append("API path %s" % api_path)
        parts.append("auth method %s" % s.auth_method)
        if s.auth_method != "token":
            parts.append("auth mount auth/%s" % s.auth_mount)
        return "(" + ", ".join(parts) + ")"

    def _fail(self, what, term=None, api_path=None, hint=None, cls=VaultLookupError):
        message = "g448.devenv.vault: %s %s" % (what, self.context(term, api_path))
        if hint:
            message += ". " + hint
        return cls(message)

    def _transport(self, exc, term, api_path, attempts):
        if isinstance(exc, req_exc.SSLError):
            return self._fail(
                "TLS verification of the server certificate failed (%s)" % _short_reason(exc), term, api_path,
                "Point ca_cert (VAULT_CACERT) at the CA that signed the server certificate",
            )
        return self._fail(
            "cannot reach the server after %d attempt%s (%s)"
            % (attempts, "" if attempts == 1 else "s", _short_reason(exc)),
            term, api_path, "Check url (VAULT_ADDR), the network path and that the server is running",
        )

    def _unavailable(self, exc, term, api_path, attempts):
        sealed = None
        try:
            status = self._http.get(
                self.settings.url.rstrip("/") + "/v1/sys/seal-status",
                verify=self._verify,
                timeout=self.settings.timeout,
            )
            sealed = status.json().get("sealed")
        except Exception:  # noqa: BLE001 - best effort diagnosis only
            sealed = None
        tries = "after %d attempt%s" % (attempts, "" if attempts == 1 else "s")
        if sealed:
            return self._fail("the server is sealed (%s)" % tries, term, api_path,
                              "Unseal it (bao operator unseal / vault operator unseal) and run again")
        return self._fail("the server answered HTTP 503 %s (%s)" % (tries, self._server_errors(exc)), term, api_path,
                          "It may be sealed, in standby without a reachable active node, or restarting")

    def _call(self, fn, term=None, api_path=None, idempotent=True):
        """Run one HTTP operation, retried with backoff on transport errors and on RETRY_STATUSES.

        TLS failures and every other answer (403, 404, 400, ...) are raised at once. A call that is
        not ``idempotent`` (a login) is retried only while its request cannot have reached the
        server (the connection never opened) and on LOGIN_RETRY_STATUSES.
        """
        retries = max(0, int(self.settings.retries))
        attempt = 0
        while True:
            attempt += 1
            self._last_status = None
            try:
                return fn()
            except req_exc.SSLError as exc:
                raise self._transport(exc, term, api_path, attempt) from None
            except (req_exc.ConnectionError, req_exc.Timeout) as exc:
                if not idempotent and request_may_have_been_sent(exc):
                    raise self._fail(
                        "the login request was sent, but no answer came (%s after %d attempt%s); it is not retried, "
                        "because the server may have processed it and used up a single-use secret ID"
                        % (_short_reason(exc), attempt, "" if attempt == 1 else "s"), term, api_path,
                        "Check the server and the network path, then run again (with a new secret ID if it was "
                        "single-use)",
                    ) from None
                if attempt > retries:
                    raise self._transport(exc, term, api_path, attempt) from None
            except hvac_exc.VaultDown as exc:
                if attempt > retries:
                    raise self._unavailable(exc, term, api_path, attempt) from None
            except hvac_exc.VaultNotInitialized:
                raise self._fail("the server is not initialized", term, api_path) from None
            except (hvac_exc.InternalServerError, hvac_exc.BadGateway, hvac_exc.RateLimitExceeded,
                    hvac_exc.UnexpectedError) as exc:
                if self._last_status not in (RETRY_STATUSES if idempotent else LOGIN_RETRY_STATUSES) and (
                        not idempotent or isinstance(exc, hvac_exc.UnexpectedError)):
                    raise
                if attempt > retries:
                    raise self._fail("the server failed with HTTP %s after %d attempt%s: %s" % (
                        self._last_status or "5xx", attempt, "" if attempt == 1 else "s", self._server_errors(exc)),
                        term, api_path) from None
            (self._sleep or _backoff_sleep)(min(BACKOFF_MAX, BACKOFF_BASE * (2 ** (attempt - 1))))

    # ------------------------------------------------------------------- token
    def token(self):
        if self._token:
            return self._token
        s = self.settings
        if s.auth_method == "token":
            if not s.token:
                raise self._fail(
                    "no token to authenticate with",
                    hint="Set the token option, VAULT_TOKEN or the g448_vault_token variable, or write ~/.vault-token",
                )
            self._set_token(s.token, None, from_cache=False)
            return self._token
        key = self._login_key()
        if self._cache is not None:
            with self._cache.locked(key):
                cached = self._cache.get(key)
                if cached:
                    display.vvv("g448.devenv.vault: reusing the cached %s token for %s (pid %d)"
                                % (s.auth_method, s.address, os.getpid()))
                    self._set_token(cached[0], cached[1], from_cache=True)
                    return self._token
                token, ttl, uses = self._login()
                expires_at = (time.time() + ttl) if ttl else None
                shared = self._cache.shareable(ttl, uses) and self._watch(token, expires_at, key)
                if shared:
                    self._cache.put(key, token, ttl, uses, run=self._run)
        else:
            token, ttl, uses = self._login()
            expires_at = (time.time() + ttl) if ttl else None
            shared = False
        display.vvv("g448.devenv.vault: logged in to %s through auth/%s (token TTL %ss, pid %d)"
                    % (s.address, s.auth_mount, ttl or "no", os.getpid()))
        self._set_token(token, expires_at, from_cache=False)
        self._token_private = not shared
        return self._token

    def end_call(self):
        """At the end of each lookup call: revoke a login token that nothing else will revoke.

        A token in the cache has its watcher (see _vault_revoker). A token this process keeps to
        itself (no cache, a use-limited or short-lived token, no watcher) is revoked here, as Ansible
        may end the worker without notice; a later call logs in again. Values read stay in memory.
        """
        if self._token and self._token_private:
            token = self._token
            self._set_token(None, None, from_cache=False)
            self._token_private = False
            status = revoker.revoke(self.settings.url, token, self.settings.namespace, self._verify,
                                    min(self.settings.timeout, revoker.EXIT_REVOKE_TIMEOUT), self._http)
            display.vvv("g448.devenv.vault: revoked this call's login token (HTTP %s, pid %d)"
                        % (status or "no answer", os.getpid()))

    def _login_key(self):
        """The cache key of this run's login: a run never reuses the token of another run."""
        return identity_key(self.settings.login_key(), *self._run)

    def _watch(self, token, expires_at, key):
        """Start the watcher that revokes a cached token when the run ends (see _vault_revoker)."""
        s = self.settings
        job = {"url": s.url, "token": token, "namespace": s.namespace, "verify": self._verify,
               "timeout": s.timeout, "run": self._run, "expires_at": expires_at,
               "cache_dir": self._cache.directory, "cache_key": key}
        if _spawn_watcher(job):
            display.vvv("g448.devenv.vault: the token is revoked when the run (pid %d) ends" % self._run[0])
            return True
        display.warning("g448.devenv.vault: could not start the process that revokes the login token when the run "
                        "ends; the token is not shared with the other workers and is revoked after each lookup")
        return False

    def _set_token(self, token, expires_at, from_cache):
        self._token = token
        self._token_expires_at = expires_at
        self._token_from_cache = from_cache
        self.client.token = token

    def forget_token(self):
        if self._cache is not None and self.settings.auth_method != "token":
            self._cache.discard(self._login_key())
        self._token = None
        self.client.token = None

    def _login(self):
        s = self.settings
        login_path = "auth/%s/login" % s.auth_mount
        if s.auth_method == "approle":
            if not s.role_id or not s.secret_id:
                raise self._fail("AppRole login needs role_id and secret_id (or secret_id_file)")

            def call():
                return self.client.auth.approle.login(role_id=s.role_id, secret_id=s.secret_id,
                                                      mount_point=s.auth_mount, use_token=False)
            name = "AppRole"
        elif s.auth_method == "jwt":
            if not s.jwt or not s.role:
                raise self._fail("JWT login needs jwt (or jwt_file) and role")

            def call():
                return self.client.auth.jwt.jwt_login(role=s.role, jwt=s.jwt, path=s.auth_mount, use_token=False)
            name = "JWT"
        else:
            raise self._fail("unknown auth method %r (use one of %s)" % (s.auth_method, ", ".join(AUTH_METHODS)))
        try:
            response = self._call(call, api_path=login_path, idempotent=False)
        except hvac_exc.InvalidPath:
            raise self._fail("%s login failed: no auth method is enabled at auth/%s" % (name, s.auth_mount),
                             api_path=login_path, hint="Check mount_point") from None
        except (hvac_exc.InvalidRequest, hvac_exc.Forbidden, hvac_exc.Unauthorized) as exc:
            raise self._fail("%s login refused: %s" % (name, self._server_errors(exc)), api_path=login_path,
                             hint="Check the credentials and the role's bound CIDRs and constraints") from None
        except hvac_exc.VaultError as exc:
            raise self._fail("%s login failed: %s" % (name, self._server_errors(exc)), api_path=login_path) from None
        auth = (response or {}).get("auth") or {}
        token = auth.get("client_token")
        if not token:
            raise self._fail("%s login returned no token" % name, api_path=login_path)
        return token, int(auth.get("lease_duration") or 0), int(auth.get("num_uses") or 0)

    def _token_problem(self, term, api_path):
        """After a 403: is it the token, or the path? Costs one request."""
        try:
            self._call(self.client.auth.token.lookup_self, term, api_path)
        except (hvac_exc.Forbidden, hvac_exc.Unauthorized) as exc:
            detail = self._server_errors(exc)
            if self._token_expires_at is not None and self._token_expires_at <= time.time():
                state = "expired"
            elif "invalid token" in detail.lower():
                state = "invalid"
            elif "expired" in detail.lower():
                state = "expired"
            else:
                state = ("invalid or expired (the server answers both with 'permission denied' and does not say "
                         "which; a valid token without the default policy's auth/token/lookup-self looks the same)")
            where = "from the token cache" if self._token_from_cache else "from %s" % (
                self.settings.token_source if self.settings.auth_method == "token" else "the login")
            return self._fail("the token %s was rejected: it is %s" % (where, state), term, api_path,
                              "Provide a valid token" if self.settings.auth_method == "token"
                              else "Its cache entry was dropped; the next run logs in again", cls=TokenRejected)
        except hvac_exc.VaultError:
            return None
        return None

    def _authorised(self, fn, term, api_path):
        """Call ``fn`` with a token; on a rejected cached login token, log in once more."""
        for retry in (False, True):
            self.token()
            try:
                return self._call(fn, term, api_path)
            except (hvac_exc.Forbidden, hvac_exc.Unauthorized) as exc:
                problem = self._token_problem(term, api_path)
                if problem is None:
                    raise exc
                if self.settings.auth_method != "token" and not retry:
                    self.forget_token()
                    continue
                if self.settings.auth_method != "token":
                    self.forget_token()
                raise problem from None
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ mounts
    def _known_mount(self, path):
        best = None
        for mount in self._mounts:
            if path.startswith(mount) and (best is None or len(mount) > len(best)):
                best = mount
        return best

    def resolve_mount(self, term):
        if term.mount and term.kv_version:
            return term.mount.rstrip("/") + "/", term.kv_version
        probe = (term.mount.rstrip("/") + "/") if term.mount else term.path + "/"
        known = self._known_mount(probe)
        if known is not None:
            return known, term.kv_version or self._mounts[known]
        if term.kv_version and not term.mount:
            # An explicit version without a mount: the first path segment is the mount.
            return term.path.split("/", 1)[0] + "/", term.kv_version
        if self._cache is None:
            return self._detect(term)
        # Another worker may have detected it already. The token comes first: the login
        # has its own lock, and this one is only ever held around the detection request.
        self.token()
        key = self.settings.mounts_key()
        with self._cache.locked(key):
            for mount, kv in self._cache.get_mounts(key).items():
                if mount not in self._mounts:
                    self._mounts[mount] = kv
                    self._disk_mounts.add(mount)
            known = self._known_mount(probe)
            if known is not None:
                return known, term.kv_version or self._mounts[known]
            mount, kv = self._detect(term)
            self._cache.put_mount(key, mount, self._mounts[mount])
            return mount, kv

    def forget_mount(self, mount):
        """Drop a mount taken from the disk cache (it may be stale): the next read detects it again."""
        self._mounts.pop(mount, None)
        self._disk_mounts.discard(mount)
        if self._cache is not None:
            key = self.settings.mounts_key()
            with self._cache.locked(key):
                self._cache.drop_mount(key, mount)

    def _detect(self, term):
        api_path = "sys/internal/ui/mounts/%s" % quote(term.path)

        def detect():
            return self.client.adapter.get("/v1/sys/internal/ui/mounts/%s" % quote(term.path))
        try:
            response = self._authorised(detect, term, api_path)
        except (hvac_exc.Forbidden, hvac_exc.Unauthorized):
            raise self._fail(
                "permission denied while detecting the KV mount: the token has no capability on this path, "
                "or no mount exists there", term, api_path,
                "Grant the token read on the path, or set the mount and kv_version options to skip detection",
            ) from None
        except hvac_exc.InvalidPath:
            raise self._fail("the server cannot tell which mount holds this path (no such mount)", term, api_path,
                             "Check the path, or set the mount and kv_version options") from None
        except hvac_exc.VaultError as exc:
            raise self._fail("KV mount detection failed: %s" % self._server_errors(exc), term, api_path,
                             "Set the mount and kv_version options to skip detection") from None
        data = (response or {}).get("data") or {}
        mount = data.get("path")
        mount_type = data.get("type")
        if not mount or mount_type not in ("kv", "generic"):
            raise self._fail("the path is not in a KV secrets engine (mount %s is of type %s)" % (
                mount or "unknown", mount_type or "unknown"), term, api_path)
        options = data.get("options") or {}
        detected = 2 if str(options.get("version") or "1") == "2" else 1
        mount = mount.strip("/") + "/"
        self._mounts[mount] = detected
        self._disk_mounts.discard(mount)
        display.vvv("g448.devenv.vault: %s is KV v%d, mount %s (pid %d)" % (term.path, detected, mount, os.getpid()))
        return mount, term.kv_version or detected

    # -------------------------------------------------------------------- read
    def read(self, term):
        try:
            data = self._data(term)
        except PermissionDenied:
            # A forced KV version that is wrong asks for a path the policy does not name.
            if term.kv_version is not None or term.mount is not None:
                try:
                    self._check_forced_mount(term)
                except MountMismatch:
                    raise
                except VaultLookupError:
                    pass  # the detection is denied too: the permission error stands
            raise
        except SecretNotFound:
            if term.kv_version is not None or term.mount is not None:
                self._check_forced_mount(term)
            mount = term.resolved_mount
            if mount not in self._disk_mounts:
                raise
            # The mount came from the disk cache: it may have moved or been upgraded since.
            before = (mount, term.resolved_kv)
            self.forget_mount(mount)
            if self.resolve_mount(term) == before:
                raise
            display.vvv("g448.devenv.vault: the cached mount %s was stale, detected it again (pid %d)"
                        % (mount, os.getpid()))
            data = self._data(term)
        if term.field is None:
            return data
        if not isinstance(data, dict) or term.field not in data:
            # Field names are not secret; the values are, so never list anything but dict keys.
            names = (", ".join(sorted(str(k) for k in data)) or "none") if isinstance(data, dict) else "none"
            raise self._fail("field %r does not exist; the fields that exist are: %s" % (term.field, names), term,
                             cls=SecretNotFound)
        return data[term.field]

    def _check_forced_mount(self, term):
        """After 'not found' with a forced mount or kv_version: was the read aimed right?

        A KV v1 read of a KV v2 mount (or the other way round, or below the wrong mount) finds
        nothing, and ``default`` would hide the mistake, so a mismatch is an error. Costs one
        mount detection, on this path only; a failing detection raises its own error.
        """
        used = (term.resolved_mount, term.resolved_kv)
        if used[0] is None:
            return
        mount, _kv = self._detect(term)
        actual = (mount, self._mounts[mount])
        if actual == used:
            return
        forced = []
        if term.mount is not None:
            forced.append("mount %s" % used[0])
        else:
            forced.append("mount %s (the first path segment, taken as the mount because kv_version is set)" % used[0])
        if term.kv_version is not None:
            forced.append("kv_version %d" % term.kv_version)
        term.resolved_mount, term.resolved_kv = actual
        raise self._fail(
            "term %r was read with %s, but the server has it in mount %s, KV v%d; a mount or kv_version option "
            "that does not match the server is an error, even with default" % (
                term.raw, " and ".join(forced), actual[0], actual[1]), term,
            hint="Fix or drop the mount and kv_version options (without them the mount is detected)",
            cls=MountMismatch,
        )

    def _data(self, term):
        """The whole data of the term's path (read at most once per process)."""
        mount, kv = self.resolve_mount(term)
        term.resolved_mount, term.resolved_kv = mount, kv
        if kv != 2 and (term.version is not None or term.metadata):
            raise self._fail("the %s option needs a KV v2 mount" % ("metadata" if term.metadata else "version"), term)
        rel = term.path[len(mount):] if term.path.startswith(mount) else term.path
        if not rel:
            raise self._fail("the term names the mount itself, not a secret below it", term)
        key = (mount, rel, kv, term.version, term.metadata)
        if key not in self._reads:
            self._reads[key] = self._fetch(term, mount.rstrip("/"), rel, kv)
        return self._reads[key]

    def _fetch(self, term, mount, rel, kv):
        kv2 = self.client.secrets.kv.v2
        if kv == 1:
            api_path = "%s/%s" % (mount, rel)

            def fn():
                return self.client.secrets.kv.v1.read_secret(path=rel, mount_point=mount)
        elif term.metadata:
            api_path = "%s/metadata/%s" % (mount, rel)

            def fn():
                return kv2.read_secret_metadata(path=rel, mount_point=mount)
        else:
            api_path = "%s/data/%s" % (mount, rel)
            if term.version is not None:
                api_path += "?version=%d" % term.version

            def fn():
                return kv2.read_secret_version(path=rel, mount_point=mount, version=term.version,
                                               raise_on_deleted_version=True)
        try:
            response = self._authorised(fn, term, api_path)
        except hvac_exc.InvalidPath as exc:
            body = getattr(exc, "json", None) or {}
            meta = (body.get("data") or {}).get("metadata") or {} if isinstance(body, dict) else {}
            if meta.get("destroyed"):
                what = "this version of the secret was destroyed"
            elif meta.get("deletion_time"):
                what = "this version of the secret was deleted"
            elif term.version is not None:
                what = "the secret or this version of it does not exist"
            else:
                what = "the secret does not exist"
            hint = None
            if kv == 2 and (rel.startswith("data/") or rel.startswith("metadata/")):
                hint = "Terms never contain /data/ or /metadata/: write the path as the bao/vault kv CLI does"
            raise self._fail(what, term, api_path, hint, cls=SecretNotFound) from None
        except (hvac_exc.Forbidden, hvac_exc.Unauthorized):
            raise self._fail("permission denied: the token's policies do not allow reading this path", term, api_path,
                             "Grant 'read' on %s to the token's policy" % api_path.split("?")[0],
                             cls=PermissionDenied) from None
        except hvac_exc.VaultError as exc:
            raise self._fail("the read failed: %s" % self._server_errors(exc), term, api_path) from None
        data = (response or {}).get("data")
        if kv == 2 and not term.metadata:
            data = (data or {}).get("data")
        if data is None:
            raise self._fail("the secret has no data (deleted?)", term, api_path, cls=SecretNotFound)
        return data


def get_session(settings, **kwargs):
    """The process-wide session for these settings (created on first use)."""
    key = settings.session_key()
    session = _SESSIONS.get(key)
    # A forked worker never reuses its parent's HTTP connections; it does keep the
    # parent's in-memory reads and mounts, which are per process by design.
    if session is None or session.pid != os.getpid():
        session = VaultSession(settings, **kwargs)
        _SESSIONS[key] = session
    else:
        # Same identity and connection; knobs outside the key (retries) follow this call.
        session.settings.retries = settings.retries
        session.settings.token_source = settings.token_source
    return session
