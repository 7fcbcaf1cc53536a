"""The course bundle: one zip a student can work from offline (maintainer-facing).

``downloads/labcode-course.zip`` holds the ``labcode`` package, ``pyproject.toml``, the pinned
constraints, a short Chinese README and every chapter's exercise notebook and answers notebook
(executed, with the build's outputs). It is written with fixed
timestamps, so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from docs._build import python_versions

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_PATH = "downloads/labcode-course.zip"
TOP = "labcode-course"
_EPOCH = (2024, 1, 1, 0, 0, 0)

README = f"""# 正则化和激活函数探索：课程包

这个压缩包里有做实验所需的一切：

- `labcode/`：课程的 Python 包（激活函数、网络、实验、检查函数）；
- `notebooks/*-exercises.ipynb`：每章的练习版 Notebook（参考答案换成了待完成的练习）；
- `notebooks/*.ipynb`（不带 `-exercises`）：每章的答案版 Notebook，含网站构建时的运行结果；
- `pyproject.toml`、`requirements/constraints.txt`：依赖。

## 安装（Python {python_versions()}）

没有 GPU 时，可以先装 CPU 版 PyTorch（可选，体积小得多；Linux 上默认装带 CUDA 的版本，环境约 6 GB）：

```bash
python3 -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu
```

然后安装课程包：

```bash
python3 -m pip install -e .
```

想与课程网站的构建完全相同（Python 3.11）：`python3 -m pip install -c requirements/constraints.txt -e .`。

## 开始

```bash
python3 -m pip install jupyterlab
jupyter lab notebooks/
```

从 `activations-exercises.ipynb` 开始。每个练习都写着 `raise NotImplementedError("练习 …")`：
把它换成你的代码，再运行后面的检查单元格。MNIST 无法下载时，`labcode` 会自动改用自带的 5000 张离线子集。
"""


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(f"{TOP}/{name}", date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def bundle_files(root: Path = ROOT) -> list[Path]:
    """Files copied from the repository, in a stable order."""
    package = sorted(p for p in (root / "labcode").rglob("*.py") if "__pycache__" not in p.parts)
    package += sorted(p for p in (root / "labcode" / "_data").iterdir() if p.is_file())
    return [*package, root / "pyproject.toml", root / "requirements" / "constraints.txt"]


def course_bundle(
    student_notebooks: dict[str, str],
    root: Path = ROOT,
    *,
    answers: dict[str, str] | None = None,
) -> bytes:
    """The zip's bytes: labcode, pyproject, constraints, README.md, the exercise notebooks
    (``notebooks/<slug>-exercises.ipynb``) and the answers notebooks (``notebooks/<slug>.ipynb``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in bundle_files(root):
            _add(archive, path.relative_to(root).as_posix(), path.read_bytes())
        _add(archive, "README.md", README.encode("utf-8"))
        for slug in sorted(student_notebooks):
            _add(
                archive,
                f"notebooks/{slug}-exercises.ipynb",
                student_notebooks[slug].encode("utf-8"),
            )
        for slug in sorted(answers or {}):
            _add(archive, f"notebooks/{slug}.ipynb", answers[slug].encode("utf-8"))
    return buffer.getvalue()
