import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Integration tests need root: mark them, and skip them with the reason when not root."""
    skip = pytest.mark.skip(reason="needs root: creates network namespaces, links and rules (run as root)")
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.root)
            if os.geteuid() != 0:
                item.add_marker(skip)
