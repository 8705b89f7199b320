# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""Unit tests of the g448.devenv.coder_password_entropy filter (plugins/filter/coder_password_entropy.py).

The known values come from go-password-validator v0.3.0, the library behind Coder's password
policy: its README ("aaaa has length 2", "12345 has length 2", ...), its tests of the base, the
length, the sequence and repeat reductions and Validate, and Coder's own userpassword tests
(coderd/userpassword/userpassword_test.go). An expected entropy is written as length * log2(base)
with the length and base those sources give.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def entropy(filters):
    """The filter's function, loaded by FQCN (the ``filters`` fixture sets up the collection loader)."""
    from ansible.plugins.loader import filter_loader

    plugin = filter_loader.get("g448.devenv.coder_password_entropy")
    assert plugin is not None
    return plugin.j2_function if hasattr(plugin, "j2_function") else plugin


@pytest.fixture(scope="module")
def impl(filters):
    import importlib

    return importlib.import_module("ansible_collections.g448.devenv.plugins.plugin_utils._coder_password")


# (password, length after reductions, base)
KNOWN = [
    # README, "Same Character" and "Common Sequences"
    ("aaaa", 2, 26),
    ("111222", 4, 10),
    ("12345", 2, 10),
    ("765432", 2, 10),
    ("abc", 2, 26),
    ("qwerty", 2, 26),
    # length tests
    ("11112222", 4, 10),
    ("aa123456", 4, 36),
    ("876543", 2, 10),
    ("qwerty123456z", 5, 36),
    # Validate tests (a sequence of three counts two: "123" is "12")
    ("mypass", 6, 26),
    ("MYPASS", 6, 26),
    ("mypassword", 10, 26),
    ("aGoo0dMi#oFChaR2", 16, 26 + 26 + 10 + 22),
    ("123", 2, 10),
    # Coder's userpassword tests
    ("pass", 4, 26),
    ("password", 8, 26),
    ("PasswordSecured123!", 18, 26 + 26 + 10 + 5),
    ("a" * 65, 2, 26),
    # issue 14: the weak admin password of the bad-input case
    ("password123", 10, 36),
    # the test fixtures' admin password: 20 characters, no run, no sequence
    ("Adm1n-only-for-tests", 20, 26 + 26 + 10 + 5),
]


@pytest.mark.parametrize("password, length, base", KNOWN, ids=[k[0][:24] for k in KNOWN])
def test_known_entropy(entropy, password, length, base):
    assert entropy(password) == pytest.approx(length * math.log2(base), abs=1e-9)


# go-password-validator's Validate tests (password, minimum, passes) and Coder's (minimum 52).
VERDICTS = [
    ("mypass", 50, False),
    ("MYPASS", 50, False),
    ("mypassword", 4, True),
    ("aGoo0dMi#oFChaR2", 80, True),
    ("123", 60, False),
    ("pass", 52, False),
    ("password", 52, False),
    ("PasswordSecured123!", 52, True),
    ("password123", 52, False),
    ("Adm1n-only-for-tests", 52, True),
]


@pytest.mark.parametrize("password, minimum, passes", VERDICTS)
def test_validate_verdicts(entropy, password, minimum, passes):
    assert (entropy(password) >= minimum) is passes


@pytest.mark.parametrize("password, base", [
    ("abcd", 26), ("abcdA", 52), ("A", 26), ("^_", 22 + 5), ("^", 22), ("!", 5), ("123", 10),
    # a character outside the sets adds one
    ("123\u00fc", 11), ("`", 1),
])
def test_base(impl, password, base):
    assert impl.entropy_base(password) == base


@pytest.mark.parametrize("password, sequence, reduced", [
    ("12345678", "0123456789", "12"),
    ("abcqwertyabc", "qwertyuiop", "abcqwabc"),
    ("", "", ""),
    ("", "12345", ""),
    # Quirks of upstream's scan, kept because they change what Coder accepts:
    # a mismatch resets the count without restarting the sequence,
    ("12456", "0123456789", "1245"),
    # the character after a walk's matches is skipped (the second "2" never starts a run),
    ("1223456", "0123456789", "12234"),
    # and the count survives into the next walk ("0" and "1" count as the 3rd and 4th).
    ("89x01", "0123456789", "89x"),
])
def test_sequence_reduction(impl, password, sequence, reduced):
    assert impl.cap_sequence(password, sequence) == reduced


@pytest.mark.parametrize("password, reduced", [
    ("aaaa", "aa"), ("bbbbbbbaaaaaaaaa", "bbaa"), ("ab", "ab"), ("", ""),
])
def test_repeat_reduction(impl, password, reduced):
    assert impl.cap_repeats(password) == reduced


def test_sequences_are_case_sensitive_as_in_the_code(entropy):
    # The README calls the sequences case-insensitive; the v0.3.0 code compares runes as they are.
    assert entropy("ABCDEF") == pytest.approx(6 * math.log2(26))
    assert entropy("abcdef") == pytest.approx(2 * math.log2(26))


def test_length_counts_utf8_bytes(entropy):
    # Go's len() of the reduced string: "\u00fc" is two bytes.
    assert entropy("\u00fc\u00e9x9") == pytest.approx((2 + 2 + 1 + 1) * math.log2(26 + 10 + 2))


def test_empty_password_has_no_entropy(entropy):
    assert entropy("") == 0.0


def test_non_string_is_refused_without_its_value(entropy):
    with pytest.raises(AnsibleFilterError) as err:
        entropy(12345678901234)
    assert "int" in str(err.value)
    assert "12345678901234" not in str(err.value)


def test_fixture_admin_passwords_pass_coders_policy(entropy):
    """Every literal coder_admin_password in the scenarios, inventories and tools passes the rule."""
    found = {}
    pattern = re.compile(r"""coder_admin_password:\s*["']?([^"'\s{][^"'\n]*)["']?\s*$""", re.M)
    for top in ("molecule", "inventories", "tools"):
        for path in sorted((REPO / top).rglob("*.yml")):
            for value in pattern.findall(path.read_text(encoding="utf-8")):
                found.setdefault(value, []).append(str(path.relative_to(REPO)))
    assert found, "no fixture password found"
    weak = {value: paths for value, paths in found.items() if entropy(value) < 52 or len(value.encode("utf-8")) > 64}
    assert not weak, "admin passwords Coder would refuse: %s" % sorted(p for paths in weak.values() for p in paths)


def test_doc_renders(ansible_doc):
    text = ansible_doc("-t", "filter", "g448.devenv.coder_password_entropy")
    for part in ("go-password-validator", "52 bits", "64 bytes", "RETURN VALUES"):
        assert part in text, part
