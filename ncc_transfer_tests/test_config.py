"""Every NCC_* variable is read in one place, ``ncc_transfer/config.py``, at call time.

Built with ``ast`` from the source: a read is ``os.environ.get(X)``, ``os.environ[X]``, ``os.getenv(X)``
or ``X in os.environ`` where ``X`` is a text starting ``NCC_`` or a module-level name bound to one.
(Variables whose NAME the registry gives, such as a vendor's ``token_env``, are read where the route
needs them: their names are not ``NCC_`` constants of the code.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ncc_transfer
from ncc_transfer import config

PACKAGE_DIR = Path(ncc_transfer.__file__).parent


def _constants(tree: ast.Module) -> dict[str, str]:
    names = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            names.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return names


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def ncc_reads(path: Path) -> list[tuple[int, str]]:
    """(line, variable) of each read of an NCC_* variable in the module at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = _constants(tree)

    def name_of(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
        elif isinstance(node, ast.Name):
            value = constants.get(node.id)
        else:
            return None
        return value if value and value.startswith("NCC_") else None

    reads = []
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Call) and node.args:
            function = node.func
            if isinstance(function, ast.Attribute) and (
                    (function.attr in ("get", "setdefault") and _is_environ(function.value))
                    or function.attr == "getenv"):
                key = name_of(node.args[0])
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.ctx, ast.Load):
            key = name_of(node.slice)
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            key = name_of(node.left)
        if key:
            reads.append((node.lineno, key))
    return reads


def test_ncc_variables_are_read_only_in_config():
    outside = {str(path.relative_to(PACKAGE_DIR)): reads for path in sorted(PACKAGE_DIR.rglob("*.py"))
               if path.name != "config.py" or path.parent != PACKAGE_DIR
               for reads in [ncc_reads(path)] if reads}
    assert outside == {}, "read these through ncc_transfer.config (setting, flag, secret or a typed accessor)"


def test_the_scan_finds_a_read(tmp_path):
    """The scan itself: each form of read is found, through a constant too."""
    module = tmp_path / "m.py"
    module.write_text('import os\nKEY = "NCC_X"\na = os.environ.get("NCC_A")\nb = os.environ[KEY]\n'
                      'c = os.getenv("NCC_C", "")\nd = "NCC_D" in os.environ\ne = os.environ.get("HOME")\n')
    assert ncc_reads(module) == [(3, "NCC_A"), (4, "NCC_X"), (5, "NCC_C"), (6, "NCC_D")]


def test_every_ncc_variable_the_code_names_is_in_the_settings_table():
    named = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("NCC_") \
                    and node.value.isupper() and " " not in node.value:
                named.add(node.value)
    assert named - set(config.SETTINGS) == set()


@pytest.mark.parametrize("text, expected", [("1", True), ("TRUE", True), ("yes", True), ("on", True),
                                            ("0", False), ("false", False), ("", False), ("maybe", False)])
def test_flag(monkeypatch, text, expected):
    monkeypatch.setenv("NCC_FULL_REFRESH", text)
    assert config.flag("NCC_FULL_REFRESH") is expected
