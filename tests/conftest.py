"""Shared pytest fixtures."""

import os
from pathlib import Path

import pytest

#: fixtures that read the real site (built once per test run, shared by the pytest-xdist workers)
SITE_FIXTURES = {"site", "site_build", "site_dir", "base_url"}


def pytest_configure(config):
    """Under pytest-xdist (``nox -s tests_all``) the workers share the cores: one thread each, for
    torch and for the notebook kernels of the site build (more threads than cores would make every
    worker many times slower)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``--dist loadfile``, files in this order): the first file that reads the
    site comes first, so one worker starts the build at once while the other runs the files that
    need no site; the other site files come last, when the build is done."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    site_files = [i.path for i in items if SITE_FIXTURES & set(getattr(i, "fixturenames", ()))]
    if site_files:
        first = site_files[0]
        # stable sort: the file order is kept within each rank
        items.sort(key=lambda i: 0 if i.path == first else 2 if i.path in site_files else 1)


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
    ``None`` when ``LABCODE_SITE_DIR`` names an already built site to check instead. Under
    pytest-xdist the first worker that needs it builds it; the others wait for it and read it.
    """
    if os.environ.get("LABCODE_SITE_DIR"):
        return None
    from docs._build import sitetools

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        result = _build_site(sitetools, tmp_path_factory.mktemp("site-quick-cpu"))
    else:
        from filelock import FileLock

        shared = tmp_path_factory.getbasetemp().parent / "site-quick-cpu"  # all workers' parent
        with FileLock(f"{shared}.lock"):
            record = shared / "build.json"
            if record.is_file():
                result = sitetools.Build.from_json(record.read_text(encoding="utf-8"))
            else:
                result = _build_site(sitetools, shared)
                record.write_text(result.to_json(), encoding="utf-8")
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed ({result.returncode}):\n{result.output[-6000:]}")
    return result


def _build_site(sitetools, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    return sitetools.build(
        folder / "site", profile="quick", device="cpu", cache_dir=folder / "cache"
    )


@pytest.fixture(scope="session")
def site(site_build) -> Path:
    """The built site's directory (``LABCODE_SITE_DIR`` or the session's own build)."""
    if site_build is not None:
        return site_build.site
    path = Path(os.environ["LABCODE_SITE_DIR"]).resolve()
    if not (path / "index.html").is_file():
        pytest.fail(f"LABCODE_SITE_DIR={path} holds no built site (no index.html)")
    return path
