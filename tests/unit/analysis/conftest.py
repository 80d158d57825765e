"""Make ``analysis`` and this directory's ``factories.py`` importable under --import-mode=importlib.

``factories.py`` is registered as ``analysis_test_factories`` so that it cannot clash with any
other ``factories`` module in the repository (tests/factories.py).
"""
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if "analysis_test_factories" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("analysis_test_factories", HERE / "factories.py")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["analysis_test_factories"] = _module
    _spec.loader.exec_module(_module)
