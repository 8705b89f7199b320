# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
#
# INTERNAL USE ONLY: this module is the private implementation of the
# g448.devenv.coder_password_entropy filter. It is not a public API and may
# change without notice.
"""The password entropy estimate Coder applies to its users' passwords, so preflight can refuse a
weak first-admin password before anything is installed.

Upstream (coder/coder): ``coderd/userpassword`` ``Validate`` calls go-password-validator's
``Validate(password, 52)`` (refused below 52 bits), then refuses more than 64 bytes;
``POST /api/v2/users/first`` (``coderd/users.go``) answers 400 when it fails.

The estimate follows go-password-validator v0.3.0 (the release Coder depends on), written
anew here from its documented behaviour and tests:

* the base is the sum of the sizes of the character sets the password uses: 26 lowercase, 26
  uppercase, 10 digits, 5 "replace" characters ``!@$&*``, 5 separators ``_-., `` (space included),
  22 other specials ``"#%'()+/:;<=>?[\\]^{|}~``; every other distinct character adds 1;
* the length is the password's after two reductions: a run of one character counts at most twice,
  and a run that follows one of the sequences ``0123456789``, ``qwertyuiop``, ``asdfghjkl``,
  ``zxcvbnm`` or the alphabet, forwards or backwards, counts at most twice (case-sensitive, as the
  code is, whatever its README says); the reduced length is counted in UTF-8 bytes, as Go's
  ``len`` does;
* the entropy is ``length * log2(base)`` bits.
"""

from __future__ import annotations

import math

CHARACTER_SETS = (
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "!@$&*",
    "_-., ",
    "\"#%'()+/:;<=>?[\\]^{|}~",
)
SEQUENCES = ("0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz")


def entropy_base(password):
    """The size of the alphabet the password draws from, as go-password-validator counts it."""
    used_sets = set()
    others = set()
    for char in set(password):
        owner = next((charset for charset in CHARACTER_SETS if char in charset), None)
        if owner is None:
            others.add(char)
        else:
            used_sets.add(owner)
    return sum(len(charset) for charset in used_sets) + len(others)


def cap_repeats(password):
    """Keep at most two of each run of one character (``aaaa`` becomes ``aa``)."""
    kept = []
    for char in password:
        if len(kept) >= 2 and kept[-1] == char and kept[-2] == char:
            continue
        kept.append(char)
    return "".join(kept)


def cap_sequence(password, sequence):
    """Drop the third and later characters of each run that walks ``sequence``.

    This is upstream's scan, step for step, because its quirks change the result: for each
    position the sequence is walked from its start; a character that matches the sequence's
    current element advances the password (or, from the third match in a row on, is deleted);
    a mismatch resets the count but not the walk; after each walk the position advances once
    more, so the character after a matched run is never the start of the next one.
    """
    chars = list(password)
    matches = 0
    pos = 0
    while pos < len(chars):
        for element in sequence:
            if pos >= len(chars):
                break
            if chars[pos] != element:
                matches = 0
                continue
            matches += 1
            if matches > 2:
                del chars[pos]
            else:
                pos += 1
        pos += 1
    return "".join(chars)


def entropy_length(password):
    """The password's length once repeats and common sequences are discounted (UTF-8 bytes)."""
    reduced = cap_repeats(password)
    for sequence in SEQUENCES:
        reduced = cap_sequence(reduced, sequence)
    for sequence in SEQUENCES:
        reduced = cap_sequence(reduced, sequence[::-1])
    return len(reduced.encode("utf-8"))


def password_entropy(password):
    """go-password-validator's entropy estimate of ``password``, in bits."""
    base = entropy_base(password)
    if base <= 1:
        return 0.0
    return entropy_length(password) * math.log2(base)
