# Copyright: (c) 2026, g448 platform team
# Apache License 2.0 (see LICENSE)
"""ansible-doc renders the report filters and the lookup's metadata option (what an operator reads)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name, parts", [
    ("risk_audit", ["Evaluates the risks of section 10", "[FAIL]", "N/A", "RETURN VALUES", "monitoring_alertmanager_targets"]),
    ("service_card", ["unknown: <reason>", "owner", "maturity", "No secret value"]),
    ("coder_env_summary", ["never its password", "glpat-", "by name only"]),
    ("prometheus_metrics", ["textfile-collector", "labels"]),
    ("systemctl_show", ["systemctl show"]),
])
def test_filter_docs_render(ansible_doc, name, parts):
    text = ansible_doc("-t", "filter", "g448.devenv.%s" % name)
    for part in parts:
        assert part in text, part


def test_lookup_doc_describes_the_metadata_mode(ansible_doc):
    text = ansible_doc("-t", "lookup", "g448.devenv.vault")
    for part in ("Return the KV v2 metadata of the path", "needs `read' on `<mount>/metadata/<path>' only",
                 "metadata=true", "updated_time"):
        assert part in text, part
