# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
name: vault
author:
  - g448 platform team (@g448)
short_description: Read KV v1/v2 secrets from Vault or OpenBao, logging in once per run
version_added: 1.0.0
description:
  - Reads secrets from a KV v1 or KV v2 secrets engine of HashiCorp Vault or OpenBao, through the C(hvac) library.
  - A term C(path:field) returns one field. A term C(path) returns the whole secret as a dict.
    Several terms return a list, one item per term (use C(query) or C(wantlist=true)).
  - KV v1 and KV v2 are read with the same term style. Terms never contain C(/data/); the KV version
    of a mount is detected once through C(sys/internal/ui/mounts/<path>) and cached.
    The O(mount) and O(kv_version) options skip the detection.
  - Values are returned marked unsafe, so a secret containing C({{ }}) is never templated; multi-line
    values such as PEM keys come back byte for byte.
  - "Caching: the login token of O(auth_method=approle) or O(auth_method=jwt) is shared by all forked
    workers of the run (one C(ansible-playbook) process) through a 0600 file in a private 0700 directory
    (see O(token_cache_dir)), keyed by address, namespace, auth method, auth mount, role, a hash of the
    credential and the run's process, and dropped at its expiry. The detected KV mounts (mount path and
    KV version, which are not secret) are shared the same way for 10 minutes, with every auth method.
    Secret values are never written to disk: a path is read at most once per process and kept in memory.
    To read every secret once per run, load them in one early C(run_once) task into C(no_log) facts
    (see the examples)."
  - "Login tokens are bounded to the run. A token is only ever reused by the run that logged in; a record
    whose run has ended is deleted, never reused. Before a token is written to the cache, the lookup starts
    a small watcher process (the controller's Python, in its own session, the token passed on a pipe) that
    waits for the run's process to end, however it ends (normal exit, failure, Ctrl-C, SIGKILL), then
    revokes the token (C(auth/token/revoke-self)) and deletes its record, usually within a second; it also
    revokes on SIGTERM and ends by itself when the token expires. If the watcher cannot start, the token is
    not shared. A token that is not shared (O(token_cache=false), a use-limited or short-lived token, no
    watcher) is revoked at the end of the lookup call that logged in, and the next call logs in again.
    A token given with O(auth_method=token) is the caller's and is never revoked."
  - "Limit: when the watcher is killed together with the run (a CI job whose whole container or cgroup is
    killed), the token lives until its TTL; keep the AppRole's C(token_ttl) short (minutes, not days)."
  - Errors raise AnsibleLookupError naming the address, mount, path, field, KV version and auth method;
    they never contain a secret value or a token.
  - The C(g448_vault_*) variables may themselves be templates, such as an environment lookup in play vars
    (see the last example); the lookup renders them before use.
requirements:
  - hvac >= 2.1 on the controller
options:
  _terms:
    description: One or more C(path) or C(path:field) strings. The path includes the mount, as with C(bao kv get).
    required: true
    type: list
    elements: str
  url:
    description: Address of the server, for example C(https://vault.example.com:8200).
    type: str
    default: http://127.0.0.1:8200
    env:
      - name: BAO_ADDR
      - name: VAULT_ADDR
    vars:
      - name: g448_vault_url
  namespace:
    description: Namespace (Vault Enterprise, OpenBao namespaces). Unset means the root namespace.
    type: str
    env:
      - name: BAO_NAMESPACE
      - name: VAULT_NAMESPACE
    vars:
      - name: g448_vault_namespace
  auth_method:
    description: How to authenticate.
    type: str
    default: token
    choices: [token, approle, jwt]
    env:
      - name: G448_VAULT_AUTH_METHOD
    vars:
      - name: g448_vault_auth_method
  token:
    description:
      - Token for O(auth_method=token). When no source sets it, the file C(~/.vault-token) is read.
      - Surrounding whitespace is stripped; a token with whitespace, control or non-ASCII characters inside is refused.
    type: str
    env:
      - name: BAO_TOKEN
      - name: VAULT_TOKEN
    vars:
      - name: g448_vault_token
  role_id:
    description: AppRole role ID, for O(auth_method=approle).
    type: str
    env:
      - name: G448_VAULT_ROLE_ID
    vars:
      - name: g448_vault_role_id
  secret_id:
    description: AppRole secret ID, for O(auth_method=approle). Takes precedence over O(secret_id_file).
    type: str
    env:
      - name: G448_VAULT_SECRET_ID
    vars:
      - name: g448_vault_secret_id
  secret_id_file:
    description: File holding the AppRole secret ID (surrounding whitespace is stripped).
    type: path
    env:
      - name: G448_VAULT_SECRET_ID_FILE
    vars:
      - name: g448_vault_secret_id_file
  jwt:
    description: JWT for O(auth_method=jwt). Takes precedence over O(jwt_file).
    type: str
    env:
      - name: G448_VAULT_JWT
    vars:
      - name: g448_vault_jwt
  jwt_file:
    description: File holding the JWT, for example a CI job token written to disk.
    type: path
    env:
      - name: G448_VAULT_JWT_FILE
    vars:
      - name: g448_vault_jwt_file
  role:
    description: JWT role to log in as, for O(auth_method=jwt).
    type: str
    env:
      - name: G448_VAULT_ROLE
    vars:
      - name: g448_vault_role
  mount_point:
    description: Mount path of the auth method. Defaults to the auth method's name (C(approle), C(jwt)).
    type: str
    env:
      - name: G448_VAULT_AUTH_MOUNT_POINT
    vars:
      - name: g448_vault_auth_mount_point
  ca_cert:
    description: CA bundle that signed the server certificate.
    type: path
    env:
      - name: BAO_CACERT
      - name: VAULT_CACERT
    vars:
      - name: g448_vault_ca_cert
  validate_certs:
    description: Verify the server certificate. Only turn this off for a throwaway test server.
    type: bool
    default: true
    env:
      - name: G448_VAULT_VALIDATE_CERTS
    vars:
      - name: g448_vault_validate_certs
  timeout:
    description: Seconds to wait for each HTTP request (at least 1).
    type: int
    default: 30
    env:
      - name: G448_VAULT_TIMEOUT
    vars:
      - name: g448_vault_timeout
  retries:
    description:
      - Extra attempts after a connection error, a timeout or an HTTP 429, 500, 502, 503 or 504 answer,
        with exponential backoff (0.5 s, 1 s, 2 s, then 4 s). A 503 includes a sealed server, which an
        auto-unseal restart clears in seconds; it is reported as sealed once the attempts are spent.
      - The login (approle, jwt) is not idempotent, as the server may use up a single-use secret ID. It is
        retried only when its connection never opened (refused, connect timeout, name resolution) and on
        HTTP 429 and 503. After a read timeout, a connection closed after the request, or a 500, 502 or 504
        answer, it fails at once and says that it was not retried.
      - TLS failures and every other answer (permission denied, invalid token, not found) are never retried.
    type: int
    default: 3
    env:
      - name: G448_VAULT_RETRIES
    vars:
      - name: g448_vault_retries
  token_cache:
    description:
      - Share the login token of approle and jwt logins, and the detected KV mounts, across the worker
        processes of the run. V(false) writes nothing to disk; each lookup call then logs in and revokes its
        token before it returns.
    type: bool
    default: true
    env:
      - name: G448_VAULT_TOKEN_CACHE
    vars:
      - name: g448_vault_token_cache
  token_cache_dir:
    description:
      - Private directory for the token and mount cache. It is created with mode 0700; a directory that is a
        symlink, belongs to another user or is open to group or others disables the cache, with a warning.
      - Defaults to C($XDG_RUNTIME_DIR/g448-devenv-vault), else C(<tmp>/g448-devenv-vault-<uid>).
    type: path
    env:
      - name: G448_VAULT_TOKEN_CACHE_DIR
    vars:
      - name: g448_vault_token_cache_dir
  mount:
    description:
      - Mount path of the KV engine holding the terms, for example C(secret) or C(team/kv).
        Terms still carry the full path. Together with O(kv_version) it skips the detection request.
    type: str
  kv_version:
    description:
      - KV version of the mount, C(1) or C(2). Without O(mount), the first path segment is taken as the mount.
      - When a read with a given O(mount) or O(kv_version) finds nothing, the mount is detected once to check
        them; if they do not match the server (KV v1 read of a KV v2 mount, a mount that is not the one holding
        the path), the lookup fails naming the term, even with O(default).
    type: int
    choices: [1, 2]
  version:
    description: Version of the secret to read, from 1 (KV v2 only). Unset reads the latest version.
    type: int
  metadata:
    description:
      - Return the KV v2 metadata of the path (C(created_time), C(updated_time), C(current_version),
        C(versions), ...) instead of its data. With C(path:key), return one metadata key.
      - No secret value is read, so the token needs C(read) on C(<mount>/metadata/<path>) only. Like the data,
        the metadata of a path is read once per process (the two are cached apart). C(playbooks/report.yml)
        uses C(updated_time) as the age of each secret.
    type: bool
    default: false
  default:
    description:
      - Value returned when the path, the version or the field does not exist. Only applies when given
        (even when given as V(null) or V("")); without it an absent secret is an error.
      - Permission, token, mount and connection errors are never replaced, nor is a O(mount) or O(kv_version)
        that does not match the server.
    type: raw
notes:
  - Lookups run on the controller; install C(hvac) there, not on the managed hosts.
  - "Option precedence, lowest first: default, environment, inventory/play variables, lookup keywords."
seealso:
  - name: OpenBao KV secrets engine
    description: The KV v1 and v2 engines this lookup reads.
    link: https://openbao.org/docs/secrets/kv/
"""

EXAMPLES = r"""
- name: Read one field (KV v2 mount 'secret'; the term never contains /data/)
  ansible.builtin.debug:
    msg: "{{ lookup('g448.devenv.vault', 'secret/coder/admin:username') }}"

- name: Read a whole secret as a dict, from a nested mount (team/kv), with AppRole
  ansible.builtin.set_fact:
    __team_db: "{{ lookup('g448.devenv.vault', 'team/kv/db', auth_method='approle',
                   role_id=vault_role_id, secret_id_file='/run/secrets/vault-secret-id') }}"
  no_log: true

- name: Pin a version and fall back to a default when the field is absent
  ansible.builtin.set_fact:
    __previous_key: "{{ lookup('g448.devenv.vault', 'secret/coder/tls:key', version=3, default='') }}"
  no_log: true

- name: Skip mount detection
  ansible.builtin.set_fact:
    __oidc_secret: "{{ lookup('g448.devenv.vault', 'secret/coder/oidc:client_secret', mount='secret', kv_version=2) }}"
  no_log: true

- name: When was the TLS secret last written (KV v2 metadata)
  ansible.builtin.debug:
    msg: "{{ lookup('g448.devenv.vault', 'secret/coder/tls:updated_time', metadata=true) }}"

# The recommended pattern: resolve every secret once per run, in one early run_once task,
# into a no_log fact that every host of the play receives. Later tasks and group_vars only
# read the fact, so the run costs one login, one mount detection and one read per path.
- name: Resolve the deployment's secrets
  hosts: all
  gather_facts: false
  vars:
    g448_vault_auth_method: approle
    g448_vault_role_id: "{{ lookup('ansible.builtin.env', 'VAULT_ROLE_ID') }}"
    g448_vault_secret_id_file: /run/secrets/vault-secret-id
  tasks:
    - name: Ensure every secret of the run is resolved once
      ansible.builtin.set_fact:
        coder_secrets:
          db: "{{ lookup('g448.devenv.vault', 'secret/coder/db') }}"
          admin: "{{ lookup('g448.devenv.vault', 'secret/coder/admin') }}"
          oidc: "{{ lookup('g448.devenv.vault', 'secret/coder/oidc') }}"
          tls: "{{ lookup('g448.devenv.vault', 'secret/coder/tls') }}"
      run_once: true
      no_log: true

    - name: Ensure the app user has its password
      ansible.builtin.debug:
        msg: "password has {{ coder_secrets.db.password | length }} characters"
"""

RETURN = r"""
_raw:
  description:
    - One item per term. A C(path:field) term gives the field's value (a string for the usual
      string fields, unchanged otherwise); a C(path) term gives the secret's data as a dict; with
      O(metadata=true), the KV v2 metadata dict or one of its keys.
    - Every string is marked unsafe, so it is never templated.
  type: list
  elements: raw
"""

import os
import re
import sys

from ansible.errors import AnsibleError, AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.g448.devenv.plugins.plugin_utils import _vault_client as vc

display = Display()

VAR_PREFIX = "g448_vault_"
# Tokens and namespaces travel in HTTP headers: requests would refuse such a value in an
# exception that quotes it, so refuse it first, without quoting it. Tokens are printable ASCII.
_HEADER_UNSAFE = re.compile(r"[^\x21-\x7e]")


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if vc.HVAC_IMPORT_ERROR is not None:
            raise AnsibleLookupError(vc.hvac_missing_message(sys.executable))

        self.set_options(var_options=self._var_options(variables), direct=kwargs)
        default_given = "default" in kwargs
        default = kwargs.get("default")

        settings = session = None
        try:
            settings = self._settings()
            requests_ = [self._term(t) for t in terms]
            session = vc.get_session(settings)
            results = []
            try:
                for term in requests_:
                    try:
                        value = session.read(term)
                    except vc.SecretNotFound:
                        if not default_given:
                            raise
                        display.vvv("g448.devenv.vault: %s is absent, the default applies" % term.raw)
                        value = default
                    results.append(wrap_var(value))
            finally:
                session.end_call()
        except vc.VaultLookupError as exc:
            raise AnsibleLookupError(str(exc)) from None
        except AnsibleError:
            raise
        except Exception as exc:  # noqa: BLE001 - hvac/requests text may quote a credential
            # Never pass an unexpected exception on: its text or its chained causes may hold a
            # token (requests quotes a refused header value) or a response body.
            where = " (address %s, auth method %s)" % (settings.address, settings.auth_method) if settings else ""
            raise AnsibleLookupError(
                "g448.devenv.vault: unexpected %s.%s%s; its text is withheld because it may contain a credential"
                % (type(exc).__module__, type(exc).__name__, where)
            ) from None
        return results

    def _var_options(self, variables):
        """The g448_vault_* variables, rendered.

        Ansible hands a lookup its variables untemplated (2.17 and 2.19 alike), so a
        ``g448_vault_role_id: "{{ lookup('ansible.builtin.env', 'VAULT_ROLE_ID') }}"``
        would otherwise reach the server as that literal text.
        """
        if not variables:
            return variables
        templar = getattr(self, "_templar", None)
        out = {}
        for name in list(variables):
            if isinstance(name, str) and name.startswith(VAR_PREFIX):
                value = variables[name]
                if templar is not None:
                    value = templar.template(value)
                out[name] = value
        return out

    def _opt(self, name):
        return vc.plain(self.get_option(name))

    def _term(self, term):
        version = self._opt("version")
        if version is not None and version < 1:
            raise vc.VaultLookupError("g448.devenv.vault: version must be 1 or more, got %d" % version)
        return vc.parse_term(
            term,
            mount=self._opt("mount"),
            kv_version=self._opt("kv_version"),
            version=self._opt("version"),
            metadata=bool(self._opt("metadata")),
        )

    def _settings(self):
        auth_method = (self._opt("auth_method") or "token").strip().lower()
        if auth_method not in vc.AUTH_METHODS:
            raise vc.VaultLookupError(
                "g448.devenv.vault: unknown auth_method %r (use one of %s)" % (auth_method, ", ".join(vc.AUTH_METHODS))
            )
        url = (self._opt("url") or "").strip()
        if not url.startswith(("http://", "https://")):
            raise vc.VaultLookupError(
                "g448.devenv.vault: url %r is not an http:// or https:// address" % vc.redact_url(url)
            )
        settings = vc.Settings(
            url=url.rstrip("/"),
            auth_method=auth_method,
            namespace=self._opt("namespace") or None,
            role_id=self._opt("role_id"),
            role=self._opt("role"),
            auth_mount_point=self._opt("mount_point"),
            ca_cert=self._opt("ca_cert"),
            validate_certs=bool(self._opt("validate_certs")),
            timeout=int(self._opt("timeout")),
            retries=int(self._opt("retries")),
            token_cache=bool(self._opt("token_cache")),
            token_cache_dir=self._opt("token_cache_dir"),
        )
        if settings.timeout < 1:
            raise vc.VaultLookupError("g448.devenv.vault: timeout must be at least 1 second, got %d" % settings.timeout)
        if settings.retries < 0:
            raise vc.VaultLookupError("g448.devenv.vault: retries must be 0 or more, got %d" % settings.retries)
        if settings.namespace and _HEADER_UNSAFE.search(settings.namespace.strip()):
            raise vc.VaultLookupError(
                "g448.devenv.vault: the namespace contains whitespace, control or non-ASCII characters"
            )
        if settings.namespace:
            settings.namespace = settings.namespace.strip().strip("/") or None
        if auth_method == "token":
            settings.token = self._secret_opt("token")
            if not settings.token:
                settings.token, settings.token_source = self._token_file()
            if settings.token and _HEADER_UNSAFE.search(settings.token):
                raise vc.VaultLookupError(
                    "g448.devenv.vault: the token from %s contains whitespace, control or non-ASCII characters "
                    "inside it (its value is not shown)" % settings.token_source
                )
        elif auth_method == "approle":
            settings.role_id = self._secret_opt("role_id")
            settings.secret_id = self._secret_opt("secret_id") or self._file_option("secret_id_file", "secret_id")
        elif auth_method == "jwt":
            settings.role = self._secret_opt("role")
            settings.jwt = self._secret_opt("jwt") or self._file_option("jwt_file", "jwt")
        return settings

    def _secret_opt(self, name):
        value = self._opt(name)
        if isinstance(value, str):
            value = value.strip()
        return value or None

    def _token_file(self):
        path = os.path.expanduser("~/.vault-token")
        try:
            with open(path, "r", encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError:
            return None, "the token option (keyword, variable or VAULT_TOKEN)"
        return (token or None), "the file ~/.vault-token"

    def _file_option(self, name, what):
        path = self._opt(name)
        if not path:
            return None
        try:
            with open(path, "r", encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise vc.VaultLookupError(
                "g448.devenv.vault: cannot read the %s file %s given in %s (%s)"
                % (what, path, name, exc.strerror or type(exc).__name__)
            ) from None
        if not value:
            raise vc.VaultLookupError("g448.devenv.vault: the %s file %s given in %s is empty" % (what, path, name))
        return value
