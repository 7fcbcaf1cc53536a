"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest

#: fixtures that need the real site; under pytest-xdist their tests share one worker (one build)
SITE_FIXTURES = {"site", "site_build", "site_dir", "base_url"}


def pytest_configure(config):
    """Under pytest-xdist (``nox -s tests_all``) the workers share the cores: one thread each, for
    torch and for the notebook kernels of the site build (more threads than cores would make every
    worker many times slower)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(config, items):
    """Tests of the real site run on one worker, which builds it once; every other test file runs
    whole on one worker, so that its module fixtures (a JupyterLab server, a graded class) start
    once."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        uses_site = SITE_FIXTURES & set(getattr(item, "fixturenames", ()))
        group = "site" if uses_site else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))


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
