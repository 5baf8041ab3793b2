"""Every Python block of the README and docs/ runs as pasted (in a scratch directory), and the
numbers the docs state where a test can recompute them are true."""

import math
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


# Sizes the docs state beside a table's shape ("# 51 MB", "# 256 GB: ..."): the shape is on the
# comment's line or the command below it, the dtype its --dtype (float32 by default).
SIZE_COMMENT = re.compile(r"#\s*([\d.]+) (MB|GB)\b")
BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}


def _stated_sizes():
    for page in PAGES:
        lines = page.read_text().splitlines()
        for k, line in enumerate(lines):
            stated = SIZE_COMMENT.search(line)
            if not stated:
                continue
            code = line[:stated.start()].strip() or (lines[k + 1] if k + 1 < len(lines) else "")
            shape = re.search(r"--shape (\d+(?:x\d+)+)|\(([\d_]+(?:, *[\d_]+)+)\)", code)
            if shape is None:
                continue
            sizes = [int(n) for n in re.split(r"x|, *", (shape.group(1) or shape.group(2)).replace("_", ""))]
            dtype = re.search(r"--dtype (\w+)|dtype=\"?(\w+)", code)
            dtype = (dtype.group(1) or dtype.group(2)) if dtype else "float32"
            yield page.name, code.strip(), float(stated.group(1)) * {"MB": 1e6, "GB": 1e9}[stated.group(2)], \
                math.prod(sizes) * BYTES[dtype]


STATED_SIZES = list(_stated_sizes())


def test_the_docs_state_table_sizes():
    assert any(page == "tables.md" for page, *_ in STATED_SIZES)


@pytest.mark.parametrize("page,code,stated,actual", STATED_SIZES, ids=[f"{p}:{c[:40]}" for p, c, *_ in STATED_SIZES])
def test_a_stated_table_size_is_the_size_of_the_table(page, code, stated, actual):
    assert abs(stated - actual) <= 0.05 * actual, f"{page}: {code} makes {actual / 1e9:.3g} GB, not {stated / 1e9:.3g}"


def test_the_ops_page_states_what_a_cpu_build_returns_for_its_cuda_version():
    import torch

    import deepinit  # noqa: F401

    ops_page = (ROOT / "docs" / "ops.md").read_text()
    stated = re.search(r"_compiled_cuda_version\(\)` \| .*\((-?\d+): a CPU build\)", ops_page)
    assert stated is not None
    if torch.version.cuda is None:  # this build has no CUDA kernels
        assert torch.ops.deepinit._compiled_cuda_version() == int(stated.group(1))
