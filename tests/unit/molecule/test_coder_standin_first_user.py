# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""The Coder stand-in's POST /api/v2/users/first refuses what real Coder refuses (test fixture,
molecule/shared/coder-standin/coder.py), with Coder's status codes and response shapes.

The stand-in is served from a thread with an in-memory user table in place of PostgreSQL; its
own entropy estimate is compared with the collection's filter, so the role's preflight and the
stand-in hold the same rule.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
_SPEC = importlib.util.spec_from_file_location("coder_standin", REPO / "molecule/shared/coder-standin/coder.py")
standin = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(standin)

GOOD = {"email": "admin@448.global", "username": "admin", "name": "Platform Admin",
        "password": "Adm1n-only-for-tests", "trial": False}


class FakeStore:
    """The statements the first-user route runs, on a list, and one default organization."""

    ORG = ("4d2d6a4e-0000-4000-8000-000000000001", "coder", None, True)

    def __init__(self):
        self.users = []

    def query(self, sql, args=()):
        if sql.startswith("SELECT count(*) FROM standin_users"):
            return [(len(self.users),)]
        if sql.startswith("SELECT id, name, created_at, is_default FROM standin_organizations WHERE is_default"):
            return [self.ORG]
        if sql.startswith("INSERT INTO standin_users"):
            self.users.append(args)
            return None
        raise AssertionError("unexpected query: %s" % sql)


@pytest.fixture()
def api():
    store = FakeStore()
    standin.Handler.store = store
    httpd = standin.Server(("127.0.0.1", 0), standin.Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def post(body):
        req = urllib.request.Request("http://127.0.0.1:%d/api/v2/users/first" % httpd.server_address[1],
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    post.store = store
    yield post
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("changes, message, field, detail", [
    ({"password": "password123"}, "Password not strong enough!", "password", "insecure password"),
    ({"password": "Aa1-" * 16 + "x"}, "Password not strong enough!", "password", "no more than 64 characters"),
    ({"username": "a23456789-123456789-123456789-123"}, "Validation failed.", "username", 'tag "username"'),
    ({"username": "new"}, "Validation failed.", "username", 'tag "username"'),
    ({"username": "ad--min"}, "Validation failed.", "username", 'tag "username"'),
    ({"email": "admin.448.global"}, "Validation failed.", "email", 'tag "email"'),
    ({"email": ""}, "Validation failed.", "email", 'tag "required"'),
])
def test_first_user_refused_like_coder(api, changes, message, field, detail):
    status, body = api(dict(GOOD, **changes))
    assert status == 400
    assert body["message"] == message
    assert [v["field"] for v in body["validations"]] == [field]
    assert detail in body["validations"][0]["detail"]
    assert api.store.users == []


def test_first_user_created_then_conflict(api):
    status, body = api(dict(GOOD, username="a23456789-123456789-123456789-12"))
    assert status == 201
    assert body["organization_id"] == api.store.ORG[0]  # the default organization, as Coder answers
    status, body = api(GOOD)
    assert status == 409
    assert body == {"message": "The initial user has already been created."}


def test_refused_password_is_never_echoed(api):
    status, body = api(dict(GOOD, password="Weak-but-secret"[:4]))
    assert status == 400
    assert "Weak" not in json.dumps(body)


def test_standin_entropy_agrees_with_the_filter():
    """The stand-in's own estimate equals the collection's on known and random passwords."""
    spec = importlib.util.spec_from_file_location("coder_password", REPO / "plugins/plugin_utils/_coder_password.py")
    impl = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(impl)
    rng = random.Random(14)
    alphabet = "aabcdeqwertyzx0123456789AZ!@-_ .#~`\u00fc"
    samples = ["", "aaaa", "12345", "password123", "PasswordSecured123!", "1223456", "89x01", "qwerty123456z",
               "Adm1n-only-for-tests", "a\n\n\nb"]
    for size in [rng.randint(1, 40) for count in range(1000)]:
        samples.append("".join(rng.choice(alphabet) for position in range(size)))
    for password in samples:
        assert standin.entropy(password) == pytest.approx(impl.password_entropy(password), abs=1e-9), password
    assert standin.entropy("password123") == pytest.approx(10 * math.log2(36))
