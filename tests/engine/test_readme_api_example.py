"""The README's Python API example runs as written (its out folder moved into a temp dir)."""

from __future__ import annotations

import contextlib
import io
import os
import re

from testkit.proc import REPO


def test_the_readme_python_example_runs(demo_stems, tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    code = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("MIXBUILD_CACHE", str(tmp_path / "cache"))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace('"build-louder"', repr(str(tmp_path / "out"))), "README.md", "exec"), {})
    assert re.search(r"\(\d+, [12]\) 48000$", printed.getvalue().strip()), printed.getvalue()
    assert (tmp_path / "out" / "streaming").is_dir() and os.listdir(tmp_path / "out" / "streaming")
