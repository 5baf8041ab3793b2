"""Every Python block of the README and docs/ runs as pasted (in a scratch directory)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCKS = [(page, block) for page in PAGES for block in re.findall(r"^ *```python\n(.*?)^ *```", page.read_text(),
                                                                     re.S | re.M)]


@pytest.mark.parametrize("page,block", BLOCKS, ids=[f"{p.name}:{i}" for i, (p, _) in enumerate(BLOCKS)])
def test_block_runs_as_pasted(page, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lines = block.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    exec(compile("\n".join(line[indent:] for line in lines), f"{page.name}", "exec"), {})
