"""Tests import their helpers one way: ``from tests.<area>.helpers import name`` (see tests/helpers.py).

conftest.py files hold fixtures only: importing one runs it a second time under another
module name, and a bare ``from helpers import`` works only where pytest happened to put its folder
on ``sys.path``.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parent
OTHER_WAYS = re.compile(r"^\s*(from\s+(\S*conftest|\.\S*|helpers|server_helpers)\s+import|import\s+\S*conftest)", re.M)


def test_no_test_imports_helpers_another_way() -> None:
    offenders = {
        str(path.relative_to(TESTS)): match.group(0).strip()
        for path in TESTS.rglob("*.py")
        for match in [OTHER_WAYS.search(path.read_text())]
        if match
    }
    assert offenders == {}


def test_the_pattern_catches_the_other_ways() -> None:
    for line in ("from .conftest import bell", "from tests.conftest import TOKENS", "from server_helpers import Api",
                 "    from helpers import x", "import tests.conftest"):
        assert OTHER_WAYS.search(line), line
    assert not OTHER_WAYS.search("from tests.server.helpers import Api")
