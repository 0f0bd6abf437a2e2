"""Who may import whom, written down once (MAY_USE), and held to by parsing every module's imports.

A unit is a package of voice/, bot/ or answer_server/, or a module standing alone beside them
(voice/clock.py); bench/ is one unit. An import of code in another unit is allowed only if MAY_USE
lists that unit, or the whole top-level package ("voice"). The arrows run one way: the table has no
cycle, and no module imports one that imports it back. Each package's docstring ends with a
"Uses:" line, held to the table too, so what a reader sees there is what is checked here.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("voice", "bot", "answer_server")
SCANNED = (*PRODUCT, "bench")

#: What every package of voice/ may use: time, what a log line is about, the counters.
VOICE_BASE = {"voice.clock", "voice.log_context", "voice.metrics"}
#: What every listener of bot/ shares.
BOT_SHARED = {"bot.app", "bot.delivery", "bot.directory", "bot.messages", "bot.mrkdwn"}

MAY_USE: dict[str, set[str]] = {
    # voice: the call domain, lowest first. No Flask, no Slack (FORBIDDEN below).
    "voice.__init__": set(),
    "voice.clock": set(),
    "voice.log_context": set(),
    "voice.metrics": set(),
    "voice.speech": set(),
    "voice.intake": {"voice.speech"},
    "voice.store": {"voice.clock"},
    "voice.queue": {"voice.store"} | VOICE_BASE,
    "voice.calls": {"voice.store", "voice.queue"} | VOICE_BASE,
    "voice.workflows": {"voice.store", "voice.queue"} | VOICE_BASE,
    "voice.codes": {"voice.store", "voice.queue", "voice.calls", "voice.speech", "voice.workflows"} | VOICE_BASE,
    "voice.alerts": {"voice.store", "voice.queue", "voice.calls", "voice.speech", "voice.workflows"} | VOICE_BASE,
    "voice.testcall": {"voice.store", "voice.queue", "voice.calls", "voice.speech"} | VOICE_BASE,
    "voice.retention": {"voice.store", "voice.queue", "voice.calls", "voice.alerts"} | VOICE_BASE,
    "voice.routing": {"voice.calls", "voice.hotline", "voice.intake", "voice.schedules", "voice.speech"},
    "voice.settings": {"voice.calls", "voice.routing", "voice.speech"},
    "voice.schedules": {"voice.store", "voice.queue"} | VOICE_BASE,
    "voice.hotline": {"voice.store", "voice.queue", "voice.calls", "voice.alerts", "voice.speech"} | VOICE_BASE,
    "voice.incidents": {"voice.store", "voice.queue", "voice.calls", "voice.alerts", "voice.intake",
                        "voice.routing"} | VOICE_BASE,
    # bot: the Slack side, over voice.
    "bot.__init__": set(),
    "bot.mrkdwn": {"voice"},
    "bot.messages": {"bot.mrkdwn", "voice"},
    "bot.installs": {"voice"},
    "bot.app": {"bot.installs", "bot.messages", "voice"},
    "bot.delivery": {"bot.installs", "bot.messages", "voice"},
    "bot.directory": {"bot.delivery", "voice"},
    # A click on our buttons, guarded one way (an alert's, a hotline call's).
    "bot.clicks": {"bot.app", "bot.delivery", "bot.messages", "voice"},
    "bot.codes": BOT_SHARED | {"voice"},
    "bot.integrations": {"bot.app", "bot.messages", "bot.mrkdwn", "voice"},
    "bot.alerts": BOT_SHARED | {"bot.clicks", "bot.hotline", "bot.integrations", "voice"},
    "bot.home": BOT_SHARED | {"bot.installs", "bot.oncall", "voice"},
    "bot.workflows": BOT_SHARED | {"bot.codes", "bot.alerts", "voice"},
    "bot.oncall": BOT_SHARED | {"bot.installs", "voice"},
    "bot.hotline": BOT_SHARED | {"bot.clicks", "voice"},
    # answer_server: the HTTP host, over bot and voice.
    "answer_server.__init__": {"answer_server.app"},
    "answer_server.http": set(),
    "answer_server.slack_requests": set(),
    "answer_server.logs": {"voice"},
    "answer_server.metrics": {"voice"},
    "answer_server.api": {"voice"},
    "answer_server.calendars": {"voice"},
    "answer_server.plivo": {"answer_server.http", "voice"},
    "answer_server.integrations": {"answer_server.http", "voice"},
    "answer_server.services": {"bot", "voice"},
    "answer_server.app": {"answer_server.api", "answer_server.calendars", "answer_server.http",
                          "answer_server.integrations", "answer_server.metrics", "answer_server.plivo",
                          "answer_server.services", "answer_server.slack_requests", "bot", "voice"},
    "answer_server.server": {"answer_server.http", "answer_server.logs", "answer_server.metrics", "voice"},
    "answer_server.sandbox": {"answer_server.app", "answer_server.plivo", "voice"},
    "answer_server.__main__": {"answer_server.app", "answer_server.http", "answer_server.logs",
                               "answer_server.sandbox", "answer_server.server", "answer_server.services", "voice"},
    # The benchmark drives the whole server, with the tests' signed senders.
    "bench": {"answer_server", "bot", "voice", "tests"},
}

#: Libraries a top-level package must not import: voice knows nothing of the web or of Slack; bot serves no HTTP.
FORBIDDEN = {
    "voice": {"flask", "werkzeug", "gunicorn", "waitress", "slack_bolt", "slack_sdk"},
    "bot": {"flask", "werkzeug", "gunicorn", "waitress"},
}


def unit_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] not in PRODUCT:
        return parts[0]
    return ".".join(parts[:2]) if len(parts) > 1 else f"{parts[0]}.__init__"


def allowed(source: str, target: str) -> bool:
    if source == target:
        return True
    may = MAY_USE.get(source, set())
    return target in may or target.split(".")[0] in may


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:  # Alembic loads these by path
                found[module_name(path)] = path
    return found


MODULES = modules()


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for every absolute import, those inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
    return found


def targets(module: str, names: list[str]) -> list[tuple[str, str]]:
    """The modules of ours an import reaches, each with the name taken from it ("" for the module itself):
    `from voice import metrics` reaches voice.metrics."""
    if module.split(".")[0] not in (*SCANNED, "tests"):
        return []
    if not names:
        return [(module, "")]
    return [(f"{module}.{name}", "") if f"{module}.{name}" in MODULES else (module, name) for name in names]


def edges() -> list[tuple[str, int, str, str]]:
    """(importing module, line, imported module, name taken from it) for every import of our code."""
    return [(module, line, target, name)
            for module, path in MODULES.items()
            for line, imported, names in imports(path)
            for target, name in targets(imported, names)]


EDGES = edges()


def test_every_module_belongs_to_a_unit_of_the_table():
    unknown = sorted({f"{unit_of(module)} ({module})" for module in MODULES if unit_of(module) not in MAY_USE})
    assert not unknown, "place these in MAY_USE, with what they may use: " + ", ".join(unknown)


def test_the_table_names_only_units_that_exist():
    units = {unit_of(module) for module in MODULES}
    named = {unit for may in MAY_USE.values() for unit in may if unit not in (*PRODUCT, "tests")}
    assert not (set(MAY_USE) | named) - units


def test_no_module_imports_a_unit_it_may_not_use():
    wrong = [f"{module}:{line} imports {target} ({unit_of(module)} may not use {unit_of(target)})"
             for module, line, target, _ in EDGES if not allowed(unit_of(module), unit_of(target))]
    assert not wrong, "\n".join(wrong)


def test_imports_are_absolute_so_the_table_sees_them():
    relative = [f"{module}:{node.lineno}" for module, path in MODULES.items()
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative


def test_no_unit_takes_another_units_private_names():
    private = [f"{module}:{line} takes {name} from {target}" for module, line, target, name in EDGES
               if name.startswith("_") and unit_of(module) != unit_of(target)]
    assert not private, "\n".join(private)


def test_the_arrows_run_one_way():
    graph = {unit: {target for target in MAY_USE if target != unit and allowed(unit, target)} for unit in MAY_USE}
    cycle = _cycle(graph)
    assert cycle is None, "MAY_USE has a cycle: " + " -> ".join(cycle)


def test_no_module_imports_one_that_imports_it_back():
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, _, target, _ in EDGES:
        if target in MODULES and target != module:
            graph[module].add(target)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("top", sorted(FORBIDDEN))
def test_libraries_a_package_must_not_use(top):
    used = [f"{module}:{line} imports {imported}" for module, path in MODULES.items() if module.split(".")[0] == top
            for line, imported, _ in imports(path) if imported.split(".")[0] in FORBIDDEN[top]]
    assert not used, "\n".join(used)


PACKAGES = sorted(unit for unit in MAY_USE
                  if unit.split(".")[0] in PRODUCT and (ROOT / unit.replace(".", "/") / "__init__.py").is_file())


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_says_what_it_owns_and_uses_what_the_table_says(package):
    doc = ast.get_docstring(ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())) or ""
    uses = re.search(r"^Uses:(.*?)(?:\n\n|\Z)", doc, re.MULTILINE | re.DOTALL)
    assert doc and uses, f"{package}'s docstring says what it owns, then 'Uses: …' (as MAY_USE says)"
    said = set(re.findall(r"\b(?:voice|bot|answer_server|tests)(?:\.\w+)?\b", uses[1]))
    assert said == MAY_USE[package], f"{package}: its docstring says {sorted(said)}, MAY_USE {sorted(MAY_USE[package])}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph`, as the path around it; None if there is none."""
    done: set[str] = set()
    path: list[str] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for neighbour in sorted(graph.get(node, ())):
            found = visit(neighbour)
            if found:
                return found
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start)
        if found:
            return found
    return None
