"""DeePMD-kit's tests with deepinit patched in: DeePMD's layers import the init functions by name,
so the modules that do are imported first, then deepmd.pt.model.network.init and every name
imported from it route to deepinit."""

import importlib
import os

# With CI set, DeePMD-kit's consistency tests refuse to run unless TensorFlow, PyTorch and Paddle are
# all installed (the rule of DeePMD-kit's own CI); here PyTorch is the one backend under test.
os.environ.pop("CI", None)

if os.environ.get("DEEPINIT_PATCH", "1") == "1":
    import deepinit

    importlib.import_module("deepmd.pt.model.model")  # imports every layer module that binds the names
    PATCH = deepinit.patch("deepmd.pt.model.network.init")
