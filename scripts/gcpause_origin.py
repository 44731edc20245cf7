"""pytest plugin for the wheel checks (-p gcpause_origin): fail the session unless
gcpause, as the tests import it, comes from the folder the wheel was installed into
($GCPAUSE_EXPECT_DIR) and uses the C implementation."""

import os

import pytest


def pytest_configure(config):
    import gcpause

    want = os.path.realpath(os.environ["GCPAUSE_EXPECT_DIR"])
    got = os.path.realpath(os.path.dirname(os.path.dirname(gcpause.__file__)))
    if got != want or gcpause.IMPLEMENTATION != "c":
        raise pytest.UsageError(f"gcpause imported from {gcpause.__file__} "
                                f"({gcpause.IMPLEMENTATION}), expected {want} (c)")
    print(f"gcpause_origin: {gcpause.__file__} implementation={gcpause.IMPLEMENTATION}")
