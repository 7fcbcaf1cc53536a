"""The site's build tools (maintainer-facing): ``docs._build.execute``, ``hooks``, ``sitetools``, ...

One import root, the repository: tests (``pythonpath`` in pyproject.toml), nox and benchmarks run
from it and import ``docs._build.<module>``; MkDocs loads ``hooks.py`` by path, and hooks.py puts
the repository on ``sys.path`` before it imports its siblings.
"""
