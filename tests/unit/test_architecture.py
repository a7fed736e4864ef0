"""The package's shape, checked: no import cycles, imports in one direction between roles, no
function over 60 lines, and every emulator route served by a hook method that a test calls."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import airflow_provider_lakeformation

PACKAGE = Path(airflow_provider_lakeformation.__file__).parent
NAME = PACKAGE.name
TESTS = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 60
#: Paths of the package exempt from the length check (none: the emulator passes it too).
EXCLUDED_FROM_LENGTH_CHECK: tuple[str, ...] = ()
#: Emulator routes that are not LakeFormation API endpoints: its own admin API, its console pages
#: (the hook only builds the URL of one job's page) and the IAM token endpoint (the hook's base layer
#: fetches tokens itself; tests/unit/test_hook.py and test_hook_async.py cover it).
#: The emulator has its own schema (emulator/schema.py): it may not import the client.
EMULATOR_CLIENT_IMPORTS_PENDING = False
EMULATOR_ONLY = ("/_emulator/", "/console/jobs", "/v3/auth/tokens")


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(module: str, tree: ast.AST, is_package: bool) -> set[str]:
    """Package modules imported at run time (anywhere but under ``if TYPE_CHECKING:``)."""
    found: set[str] = set()
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(NAME))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith(NAME):
                found.update(f"{base}.{a.name}\0{base}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = _runtime_imports(module, tree, path.name == "__init__.py")
        edges = set()
        for name in imported:  # "pkg.sub" for `import pkg.sub`; "pkg.attr\0pkg" for `from pkg import attr`
            target, _, base = name.partition("\0")
            edges.add(target if target in modules or not base else base)
        graph[module] = {m for m in edges if m in modules and m != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles among modules, ignoring the implicit ``package -> its __init__`` edge."""
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_imports_go_one_way() -> None:
    """Operators and the sensor do not import each other or the operators' private modules, and no
    module reaches into another role's private (``_x``) module; models and hooks never import the
    task layer; the emulator imports none of the client's models, hooks or auth."""
    task_layer = (f"{NAME}.operators", f"{NAME}.sensors", f"{NAME}.triggers", f"{NAME}.mixins")
    problems = []
    for module, imported in _graph().items():
        for target in imported:
            parent = target.rsplit(".", 1)[0]
            private = target.rsplit(".", 1)[-1].startswith("_") and target != f"{NAME}._compat"
            if private and not module.startswith(parent + ".") and module != parent:
                problems.append(f"{module} imports the private {target}")
            if module.startswith((f"{NAME}.models", f"{NAME}.hooks")) and target.startswith(task_layer):
                problems.append(f"{module} (client layer) imports {target}")
            if module.startswith(f"{NAME}.sensors") and target.startswith(f"{NAME}.operators"):
                problems.append(f"{module} imports {target}")
            if module.startswith((f"{NAME}.operators", f"{NAME}.sensors")) and target.startswith(
                f"{NAME}.triggers"
            ):
                problems.append(f"{module} imports {target} (defer through mixins.defer_wait)")
            client = (f"{NAME}.models", f"{NAME}.hooks", f"{NAME}.auth")
            emulator = module.startswith(f"{NAME}.emulator")
            if emulator and target.startswith(client) and not EMULATOR_CLIENT_IMPORTS_PENDING:
                problems.append(f"{module} imports {target}: the emulator is an independent reading")
    assert problems == []


#: The transport of hooks/: it knows no endpoint and no job model.
TRANSPORT = ("hooks._wire", "hooks._io", "hooks._replies", "hooks._requests_io", "hooks.base")
JOB_KNOWLEDGE = ("models.jobs", "models.status", "models.arguments", "hooks.lakeformation", "hooks._paging")


def _transport_problems(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} imports {target}"
        for module in (f"{NAME}.{m}" for m in TRANSPORT)
        for target in sorted(graph.get(module, ()))
        if target.startswith(tuple(f"{NAME}.{k}" for k in JOB_KNOWLEDGE))
    ]


def test_transport_knows_no_endpoint_and_no_job_model() -> None:
    graph = _graph()
    assert all(f"{NAME}.{m}" in graph for m in TRANSPORT)
    assert _transport_problems(graph) == []
    assert _transport_problems({f"{NAME}.hooks.base": {f"{NAME}.models.jobs"}}) != []


def _long_functions() -> list[str]:
    found = []
    for module, path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(EXCLUDED_FROM_LENGTH_CHECK):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{module}.{node.name}: {length} lines")
    return found


def test_no_function_over_60_lines() -> None:
    assert _long_functions() == []


#: The longest provider module (the emulator aside: an independent program with its own layout).
MAX_MODULE_LINES = 800


def test_no_provider_module_over_800_lines() -> None:
    long_modules = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if "emulator" not in path.relative_to(PACKAGE).parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long_modules == {}


def _route_key(path: str) -> str:
    return path.rstrip("/") or "/"


def _emulator_routes() -> set[tuple[str, str]]:
    from airflow_provider_lakeformation.emulator import create_app

    app = create_app()
    try:
        routes = set()
        for route in app.routes:
            path = getattr(route, "path", None)
            for method in getattr(route, "methods", None) or ():
                if path is not None and method not in ("HEAD", "OPTIONS"):
                    routes.add((method, _route_key(path)))
        return routes
    finally:
        app.close()


def _called_in_tests() -> set[str]:
    """Names of every ``x.name(...)`` call in the test suite."""
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
    return names


def test_every_emulator_route_has_a_hook_method_and_a_test() -> None:
    from airflow_provider_lakeformation.hooks.lakeformation import ENDPOINTS, LakeFormationHook

    routes = _emulator_routes()
    assert ("GET", "/v1/{project_id}/instances/{instance_id}/lf-jobs/{job_id}") in routes  # the reader works
    endpoints = {(method, _route_key(path)): name for (method, path), name in ENDPOINTS.items()}
    called = _called_in_tests()
    problems = []
    for method, path in sorted(routes):
        name = endpoints.get((method, path))
        if name is None:
            if not path.startswith(EMULATOR_ONLY):
                problems.append(f"{method} {path}: no hook method (add it and list it in hooks ENDPOINTS)")
            continue
        if not callable(getattr(LakeFormationHook, name, None)):
            problems.append(f"{method} {path}: ENDPOINTS names {name}, which LakeFormationHook lacks")
        if name not in called:
            problems.append(f"{method} {path}: no test calls {name}()")
    for (method, path), name in sorted(endpoints.items()):
        if (method, path) not in routes:
            problems.append(f"{method} {path} ({name}): the emulator has no such route")
    assert problems == []


def _declaration_problems(hook_module: Any, public_models: set[str]) -> list[str]:
    """Every endpoint declared in ``hook_module``: a hook method serving it (listed in ENDPOINTS), or
    a second view of a declared route; a reply model (``ModelReply``) public in ``models``."""
    from airflow_provider_lakeformation.hooks._replies import ModelReply
    from airflow_provider_lakeformation.hooks._wire import Endpoint

    declared = {n: e for n, e in vars(hook_module).items() if isinstance(e, Endpoint)}
    served = {(e.method, e.route) for e in declared.values() if e.hook_method}
    endpoints = hook_module.ENDPOINTS
    hook = hook_module.LakeFormationHook
    problems = []
    for name, e in sorted(declared.items()):
        if e.hook_method and (endpoints.get((e.method, e.route)) != e.hook_method):
            problems.append(f"{name}: ENDPOINTS does not map {e.method} {e.route} to {e.hook_method}")
        if e.hook_method and not callable(getattr(hook, e.hook_method, None)):
            problems.append(f"{name}: LakeFormationHook has no {e.hook_method}")
        if not e.hook_method and (e.method, e.route) not in served:
            problems.append(f"{name}: no hook method serves {e.method} {e.route}")
        if isinstance(e.parse, ModelReply) and e.parse.model.__name__ not in public_models:
            problems.append(f"{name}: reply model {e.parse.model.__name__} is not public in models")
    return problems


def test_every_declared_endpoint_is_served_and_its_reply_model_public() -> None:
    from airflow_provider_lakeformation import models
    from airflow_provider_lakeformation.hooks import lakeformation

    assert len([v for v in vars(lakeformation).values() if type(v).__name__ == "Endpoint"]) >= 12
    assert _declaration_problems(lakeformation, set(models.__all__)) == []


def test_declaration_check_notices_an_unserved_endpoint_and_a_private_model() -> None:
    import types

    from pydantic import BaseModel

    from airflow_provider_lakeformation.hooks import lakeformation
    from airflow_provider_lakeformation.hooks._replies import ModelReply
    from airflow_provider_lakeformation.hooks._wire import Endpoint

    class JobMetrics(BaseModel):
        pass

    fake = types.SimpleNamespace(
        ENDPOINTS=lakeformation.ENDPOINTS,
        LakeFormationHook=lakeformation.LakeFormationHook,
        GET_JOB_METRICS=Endpoint("GET", "x/{job_id}/metrics", ModelReply(JobMetrics), "get_job_metrics"),
        STRAY_VIEW=Endpoint("GET", "x/{job_id}/stray", ModelReply(JobMetrics)),
    )
    problems = _declaration_problems(fake, set())
    assert len(problems) == 5, problems


@pytest.mark.parametrize("missing", ["create_job", "get_job_log"])
def test_route_check_notices_a_method_no_test_calls(missing: str) -> None:
    assert missing in _called_in_tests()
    assert "surely_not_a_hook_method_name" not in _called_in_tests()


#: The public modules and the names users import from them (docs/operators.md lists the same).
PUBLIC_MODULES = (
    "operators.lakeformation",
    "sensors.lakeformation",
    "triggers.lakeformation",
    "triggers.job_runs",
    "lineage.assets",
    "lineage.naming",
    "links.lakeformation",
    "hooks.lakeformation",
    "exceptions",
    "models",
    "auth",
)
#: Names the hook module re-exports from ``models`` by Airflow convention (its second path).
HOOK_CONVENTION = {
    "JobStatus",
    "TERMINAL_STATUSES",
    "IN_PROGRESS_STATUSES",
    "SUCCESSFUL_STATUSES",
    "FAILED_STATUSES",
}


def _public_names() -> dict[str, list[str]]:
    import importlib

    names = {}
    for module in PUBLIC_MODULES:
        exported = importlib.import_module(f"{NAME}.{module}").__all__
        names[module] = [
            n for n in exported if not (module == "hooks.lakeformation" and n in HOOK_CONVENTION)
        ]
    return names


def test_one_public_path_per_name() -> None:
    seen: dict[str, str] = {}
    for module, names in _public_names().items():
        for name in names:
            assert name not in seen, f"{name} is public in both {seen[name]} and {module}"
            seen[name] = module
    assert set(seen) >= HOOK_CONVENTION
    for package in ("hooks", "operators", "sensors", "triggers", "links"):
        tree = ast.parse((PACKAGE / package / "__init__.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # no re-exports, no lazy __getattr__
            assert not isinstance(node, ast.Import), package
            assert not isinstance(node, ast.ImportFrom) or node.module == "__future__", package
            assert not (isinstance(node, ast.FunctionDef) and node.name == "__getattr__"), package


def test_docs_list_every_public_name_with_its_path() -> None:
    docs = (TESTS.parent / "docs" / "operators.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`"): line.split("|")[2]
        for line in docs.splitlines()
        if line.startswith(f"| `{NAME}.")
    }
    for module, names in _public_names().items():
        row = rows.get(f"{NAME}.{module}")
        assert row is not None, f"docs/operators.md has no row for {module}"
        missing = [n for n in names if f"`{n}`" not in row]
        assert missing == [], f"docs/operators.md: {module} row lacks {missing}"


def _documented(cls: type) -> str:
    import inspect

    return "\n".join(
        inspect.getdoc(klass) or "" for klass in cls.__mro__ if klass.__module__.startswith(NAME)
    )


def test_every_operator_sensor_trigger_parameter_is_documented() -> None:
    import inspect

    from airflow_provider_lakeformation.operators import lakeformation as operators
    from airflow_provider_lakeformation.sensors.lakeformation import LakeFormationJobSensor
    from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger
    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

    classes = [getattr(operators, n) for n in operators.__all__] + [
        LakeFormationJobSensor,
        LakeFormationJobTrigger,
        LakeFormationJobRunTrigger,
    ]
    problems = []
    for cls in classes:
        docs = _documented(cls)
        for klass in cls.__mro__:
            if not klass.__module__.startswith(NAME) or "__init__" not in vars(klass):
                continue
            for param in inspect.signature(klass.__init__).parameters.values():
                if (
                    param.name != "self"
                    and param.kind is not param.VAR_KEYWORD
                    and f":param {param.name}:" not in docs
                ):
                    problems.append(f"{cls.__name__}: no :param {param.name}:")
    assert problems == []


def test_every_public_hook_method_documents_params_return_and_raises() -> None:
    import inspect

    from airflow_provider_lakeformation.hooks.lakeformation import AsyncLakeFormationClient, LakeFormationHook

    problems = []
    for cls in (LakeFormationHook, AsyncLakeFormationClient):
        for name, member in vars(cls).items():
            func = getattr(member, "__func__", member)
            if name.startswith("_") or not callable(func):
                continue
            doc = inspect.getdoc(func) or ""
            signature = inspect.signature(func)
            for param in signature.parameters.values():
                if param.name not in ("self", "cls") and f":param {param.name}:" not in doc:
                    problems.append(f"{cls.__name__}.{name}: no :param {param.name}:")
            returns = signature.return_annotation not in ("None", None, inspect.Signature.empty)
            if returns and ":return:" not in doc:
                problems.append(f"{cls.__name__}.{name}: no :return:")
            if (
                cls is LakeFormationHook
                and name
                not in (
                    "get_ui_field_behaviour",
                    "get_connection_form_widgets",
                    "test_connection",
                    "async_client",
                    "job_console_url",
                )
                and ":raises" not in doc
            ):
                problems.append(f"{cls.__name__}.{name}: no :raises:")
    assert problems == []


#: The only modules that sleep: the poll loops and the hook's retries (the emulator, a server of its
#: own, aside).
SLEEPERS = ("waiter.py", "hooks/_retry.py")


def _sleep_calls(tree: ast.AST) -> list[int]:
    """Lines that name ``asyncio.sleep`` or ``time.sleep`` (called or passed on)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "sleep"
        and isinstance(node.value, ast.Name)
        and node.value.id in ("asyncio", "time")
    ]


def test_only_the_poll_loops_and_the_retries_sleep() -> None:
    found = []
    for _module, path in _modules():
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in SLEEPERS or rel.startswith("emulator/"):
            continue
        found += [f"{rel}:{line}" for line in _sleep_calls(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []
    assert _sleep_calls(ast.parse("import asyncio\nasync def f():\n    await asyncio.sleep(1)\n")) == [3]


def test_both_triggers_extend_the_package_trigger_base() -> None:
    from airflow_provider_lakeformation.triggers.base import LakeFormationBaseTrigger
    from airflow_provider_lakeformation.triggers.job_runs import LakeFormationJobRunTrigger
    from airflow_provider_lakeformation.triggers.lakeformation import LakeFormationJobTrigger

    for trigger in (LakeFormationJobTrigger, LakeFormationJobRunTrigger):
        assert issubclass(trigger, LakeFormationBaseTrigger)
        assert "serialize" not in vars(trigger), trigger
        assert "_hook" not in vars(trigger), trigger
