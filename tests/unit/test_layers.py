"""The import layers of docs/ARCHITECTURE.md, checked on the source: a package imports only
from its own layer or the layers below it (function-level imports count too), pure rules
(`domain.py`) import neither Flask, Werkzeug nor SQLAlchemy, and services never import Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

# Bottom to top. A top-level module of app/ (clock.py …) or a package (wechat/ …) by name.
LAYERS: list[tuple[str, frozenset[str]]] = [
    ("base", frozenset({"database", "clock", "errors", "extensions", "cache", "validation", "web", "library_load", "health", "spreadsheets", "ids", "outages", "instruments"})),
    ("platform", frozenset({"wechat", "scheduling"})),
    ("identity", frozenset({"accounts", "enterprises"})),
    ("outbox", frozenset({"notifications"})),
    ("features", frozenset({"hazard_reporting", "tips", "oversight"})),
    ("entry", frozenset({"wechat_inbound", "api", "sandbox", "demo", "cli", "models", "notices", "metrics", "__init__"})),
]
LEVEL = {name: level for level, (_, names) in enumerate(LAYERS) for name in names}


def _unit(path: Path, root: Path) -> str:
    """The layer unit a file of app/ belongs to: its top-level package or module name."""
    return path.relative_to(root).with_suffix("").parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "app":
                found += [(node.lineno, f"app.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def layer_violations(root: Path = APP) -> list[str]:
    """Every import of app code from a higher layer, and every unit no layer names."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        unit = _unit(path, root)
        if unit not in LEVEL:
            problems.append(f"{path.relative_to(root.parent)}: '{unit}' is in no layer of test_layers.LAYERS")
            continue
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "app" or len(parts) < 2:
                continue
            target = parts[1]
            if target != unit and LEVEL.get(target, len(LAYERS)) > LEVEL[unit]:
                problems.append(
                    f"{path.relative_to(root.parent)}:{line}: {unit} ({LAYERS[LEVEL[unit]][0]}) imports "
                    f"{module} ({LAYERS[LEVEL.get(target, -1)][0] if target in LEVEL else 'no layer'})"
                )
    return problems


def purity_violations(root: Path = APP) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        banned = {"domain.py": ("flask", "sqlalchemy", "werkzeug"), "service.py": ("flask",)}.get(path.name)
        if not banned:
            continue
        for line, module in _imports(path):
            if module.split(".")[0] in banned:
                problems.append(f"{path.relative_to(root.parent)}:{line}: {path.name} imports {module}")
    return problems


def test_no_package_imports_from_a_higher_layer():
    assert layer_violations() == []


def test_rules_import_no_web_or_database_library_and_services_no_web_library():
    assert purity_violations() == []


@pytest.fixture
def toy_app(tmp_path) -> Path:
    root = tmp_path / "app"
    for package in ("notifications", "hazard_reporting/hazards", "wechat", "wechat_inbound"):
        (root / package).mkdir(parents=True)
    (root / "notifications" / "kinds.py").write_text("from app.hazard_reporting.hazards.domain import X\n")
    (root / "wechat" / "client.py").write_text("def f():\n    from app import wechat_inbound\n")
    (root / "wechat_inbound" / "handlers.py").write_text("from app.wechat.client import f\n")
    (root / "hazard_reporting" / "hazards" / "domain.py").write_text("import sqlalchemy\n")
    (root / "hazard_reporting" / "hazards" / "service.py").write_text("from flask import g\n")
    (root / "bureau").mkdir()
    (root / "bureau" / "stats.py").write_text("")
    return root


def test_the_checks_see_what_they_promise(toy_app):
    layers = layer_violations(toy_app)
    assert any("notifications/kinds.py:1: notifications (outbox) imports app.hazard_reporting" in p for p in layers)
    assert any("wechat/client.py:2: wechat (platform) imports app.wechat_inbound" in p for p in layers)
    assert any("'bureau' is in no layer" in p for p in layers)
    assert not any("wechat_inbound/handlers.py" in p for p in layers)  # downwards is fine
    purity = purity_violations(toy_app)
    assert any("domain.py imports sqlalchemy" in p for p in purity)
    assert any("service.py imports flask" in p for p in purity)
