# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Test-only Jinja filters of the Molecule scenarios: find secrets in a text, in every form they take.

NOT part of the collection: molecule/ is never built into it. A scenario loads these filters with
ANSIBLE_FILTER_PLUGINS=${MOLECULE_PROJECT_DIRECTORY}/molecule/shared/filter_plugins (its molecule.yml,
provisioner env); molecule/shared/tasks/assert_no_secret.yml is the task that uses them.

A secret is searched for in each form it takes where the roles put it, or where a run could print it:

  literal          the value itself
  url-encoded      percent-encoded, nothing kept (coder.env.j2: ``urlencode | replace('/', '%2F')``,
                   Python's ``quote(v, safe='')``); also with ``/`` kept (Jinja's plain ``urlencode``)
                   and form-encoded (``quote_plus``), where these differ
  json-escaped     inside a JSON string (a module result at -vvv), where that differs from the literal
  base64           inside the base64 of a longer text (a slurped file) at each of the three byte
                   alignments, without the edge characters that depend on the neighbouring bytes;
                   of the literal and of each form above ("base64 of url-encoded": a slurped coder.env)
A PEM value (``-----BEGIN``) is searched line by line: each body line in every form above (the
armour lines are public). Body lines shorter than ``min_length`` (a short last line) are skipped;
any other value shorter than ``min_length`` is an error, never skipped.

  secret_leaks(text, secrets, min_length=8)  -> ["<name> (<form>)", ...]: what was found, values never shown
  secret_labels(secrets, min_length=8)       -> ["<name>", ...]: every value that is searched for

``secrets`` maps a name (safe to print, e.g. ``coder/db.password``) to a value or a list of values;
``text`` is a string or a list of strings.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from ansible.errors import AnsibleFilterError


def _b64_fragments(value):
    """The base64 characters that encode only `value`'s bytes, at each alignment inside a longer text."""
    data = value.encode("utf-8")
    out = []
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + data).decode("ascii")
        first = -(-8 * lead // 6)  # the first character without a bit of the leading bytes
        last = (8 * (lead + len(data))) // 6  # characters after this one hold bits of what follows
        out.append(encoded[first:last])
    return out


def secret_forms(value):
    """``[(form, text), ...]`` for one secret value, distinct texts only."""
    texts = [("literal", value),
             ("url-encoded", quote(value, safe="")),
             ("url-encoded, / kept", quote(value, safe="/")),
             ("form-encoded", quote_plus(value, safe="")),
             ("json-escaped", json.dumps(value)[1:-1])]
    seen, out = set(), []
    for form, text in texts:
        if text not in seen:
            seen.add(text)
            out.append((form, text))
    # A slurped file holds the secret in the form the file has it in (coder.env: url-encoded).
    for form, text in list(out):
        name = "base64" if form == "literal" else "base64 of %s" % form
        for fragment in _b64_fragments(text):
            if fragment not in seen:
                seen.add(fragment)
                out.append((name, fragment))
    return out


def _values(secrets, min_length):
    """``[(name, value), ...]``: PEM values split into their body lines."""
    if not isinstance(secrets, dict):
        raise AnsibleFilterError("secret_leaks: secrets must map a name to a value, got %s" % type(secrets).__name__)
    out = []
    for name, raw in secrets.items():
        values = raw if isinstance(raw, (list, tuple)) else [raw]
        for index, value in enumerate(values):
            label = name if len(values) == 1 else "%s[%d]" % (name, index)
            if not isinstance(value, str):
                raise AnsibleFilterError("secret_leaks: the value of %s is a %s, not a string"
                                         % (label, type(value).__name__))
            if "-----BEGIN" in value:
                lines = [line.strip() for line in value.splitlines()]
                body = [line for line in lines if line and not line.startswith("-----")]
                out += [("%s line %d" % (label, n), line) for n, line in enumerate(body, 1) if len(line) >= min_length]
            elif len(value) < min_length:
                raise AnsibleFilterError("secret_leaks: the value of %s is shorter than %d characters, too common a "
                                         "string to search for (its value is not shown)" % (label, min_length))
            else:
                out.append((label, value))
    return out


def secret_labels(secrets, min_length=8):
    return [name for name, _ in _values(secrets, min_length)]


def secret_leaks(text, secrets, min_length=8):
    if isinstance(text, (list, tuple)):
        text = "\n".join(str(t) for t in text)
    text = str(text)
    found = []
    for name, value in _values(secrets, min_length):
        for form, encoded in secret_forms(value):
            if encoded in text:
                found.append("%s (%s)" % (name, form))
    return found


class FilterModule:
    """Leak-check filters of the Molecule scenarios (test only)."""

    def filters(self):
        return {"secret_leaks": secret_leaks, "secret_labels": secret_labels}
