"""The build as a user's machine meets it: a CUDA_HOME that is not a CUDA toolkit makes a CPU
build and says so in one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.version.cuda is None, reason="needs a CUDA build of torch (a CPU build never tries CUDA)")
def test_a_cuda_home_without_the_runtime_library_makes_a_cpu_build_and_says_why(tmp_path):
    fake = tmp_path / "cuda"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "nvcc").write_text("#!/bin/sh\nexit 1\n")  # a wrapper, as on PATH in some images
    (fake / "bin" / "nvcc").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPINIT_")}
    result = subprocess.run([sys.executable, "setup.py", "--name"], cwd=ROOT, env={**env, "CUDA_HOME": str(fake)},
                            capture_output=True, text=True)
    lines = [line for line in result.stderr.splitlines() if line.startswith("deepinit:")]
    assert result.returncode == 0 and len(lines) == 1
    assert "CPU kernels only" in lines[0] and str(fake) in lines[0] and "libcudart" in lines[0]


def _import_from_parent(checkout, *flags):
    """`import deepinit` run from the directory that holds `checkout` (a directory named deepinit)."""
    code = "import deepinit; print(deepinit.__file__); print(deepinit.calculate_gain('relu'))"
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=checkout.parent, capture_output=True, text=True)


def test_a_checkout_named_deepinit_hands_the_import_on_to_the_installed_package(tmp_path):
    checkout = tmp_path / "deepinit"
    checkout.symlink_to(ROOT, target_is_directory=True)
    result = _import_from_parent(checkout)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.splitlines()[0]).resolve() != (ROOT / "__init__.py").resolve()
    assert result.stdout.splitlines()[1] == str(2 ** 0.5)


def test_a_checkout_named_deepinit_without_a_usable_package_says_so_in_one_line(tmp_path):
    checkout = tmp_path / "deepinit"
    (checkout / "deepinit").mkdir(parents=True)
    (checkout / "__init__.py").write_text((ROOT / "__init__.py").read_text())
    (checkout / "deepinit" / "__init__.py").write_text("raise ImportError('the package could not load')\n")
    result = _import_from_parent(checkout, "-S")  # no site-packages: no installed deepinit to hand on to
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith(f"ImportError: 'import deepinit' found {checkout}, a checkout of deepinit's source")
    assert "the package could not load" in last


def _source_tree(tmp_path):
    """A copy of the package's Python files, without its compiled extension: a clone not built."""
    tree = tmp_path / "clone"
    (tree / "deepinit").mkdir(parents=True)
    for source in (ROOT / "deepinit").rglob("*.py"):
        target = tree / "deepinit" / source.relative_to(ROOT / "deepinit")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    return tree


def test_an_unbuilt_source_tree_in_the_current_directory_hands_the_import_on(tmp_path):
    """`import deepinit` run in a clone, next to an installed deepinit, uses the installed one."""
    import torch

    import deepinit

    code = "import torch, deepinit; print(deepinit.normal_(torch.empty(5, dtype=torch.float64), seed=1).tolist())"
    result = subprocess.run([sys.executable, "-c", code], cwd=_source_tree(tmp_path), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(deepinit.normal_(torch.empty(5, dtype=torch.float64), seed=1).tolist())


def test_an_unbuilt_source_tree_without_an_installed_package_says_so_in_one_line(tmp_path, monkeypatch):
    from deepinit._source_tree import installed_package

    tree = tmp_path / "clone"
    (tree / "lonely_pkg").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tree))
    with pytest.raises(ImportError) as info:
        installed_package("lonely_pkg", str(tree / "lonely_pkg"), ImportError("cannot import name '_C'"))
    message = str(info.value)
    assert "\n" not in message and info.value.__cause__ is None and info.value.__suppress_context__
    assert f"found {tree}, deepinit's source tree, which is not built" in message
    assert "pip install --no-build-isolation -e ." in message and "run Python from another directory" in message
    assert "partially initialized" not in message


def test_an_unbuilt_source_tree_hands_on_to_a_package_elsewhere_on_the_path(tmp_path, monkeypatch):
    from deepinit._source_tree import installed_package

    tree, site = tmp_path / "clone", tmp_path / "site"
    for directory in (tree / "other_pkg", site / "other_pkg"):
        directory.mkdir(parents=True)
    (site / "other_pkg" / "__init__.py").write_text("WHERE = 'installed'\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tree))  # the tree first, as the current directory is
    try:
        module = installed_package("other_pkg", str(tree / "other_pkg"), ImportError("no _C"))
        assert module.WHERE == "installed"
    finally:
        sys.modules.pop("other_pkg", None)


def test_a_build_without_torch_says_in_one_line_to_add_no_build_isolation():
    """pip's isolated build environment holds no torch: setup.py says what to do in one line."""
    code = "import sys; sys.modules['torch'] = None; sys.argv = ['setup.py', '--name']; exec(open('setup.py').read())"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0, result.stderr
    assert "--no-build-isolation" in result.stderr and "Traceback" not in result.stderr
