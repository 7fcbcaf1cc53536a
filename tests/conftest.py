"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest


@pytest.fixture
def offline(monkeypatch):
    """No network probe or download (local MNIST files or the offline subset), no progress bars.

    Use it for a whole module with ``pytestmark = pytest.mark.usefixtures("offline")``.
    """
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    monkeypatch.setenv("LABCODE_PROGRESS", "0")


@pytest.fixture
def one_thread():
    """One torch thread for tests of small tensors: extra threads only add overhead, and on a shared
    machine they oversubscribe the cores (a check then runs ~30x slower).

    Use it for a whole module with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch  # here, not at the top: the browser job parses this file without torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng_untouched():
    """The code under test leaves torch's global random state exactly as it found it."""
    import torch

    state = torch.get_rng_state()
    yield
    assert torch.equal(torch.get_rng_state(), state)


# --------------------------------------------------------------------------------------------------
# the real site, built once per test session (test_site.py and test_browser.py)
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def site_build(tmp_path_factory):
    """A cold ``mkdocs build --strict`` of the real site (quick profile, CPU, empty notebook cache).

    Cold on purpose: the memory test measures every kernel, and a stale cache can't hide a failure.
    ``None`` when ``LABCODE_SITE_DIR`` names an already built site to check instead.
    """
    if os.environ.get("LABCODE_SITE_DIR"):
        return None
    from docs._build import sitetools

    tmp = tmp_path_factory.mktemp("site-quick-cpu")
    result = sitetools.build(tmp / "site", profile="quick", device="cpu", cache_dir=tmp / "cache")
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed ({result.returncode}):\n{result.output[-6000:]}")
    return result


@pytest.fixture(scope="session")
def site(site_build) -> Path:
    """The built site's directory (``LABCODE_SITE_DIR`` or the session's own build)."""
    if site_build is not None:
        return site_build.site
    path = Path(os.environ["LABCODE_SITE_DIR"]).resolve()
    if not (path / "index.html").is_file():
        pytest.fail(f"LABCODE_SITE_DIR={path} holds no built site (no index.html)")
    return path
