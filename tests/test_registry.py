"""The registry behind data sets, architectures, experiments and feature nets: lookups, lazy imports, duplicates."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import textwrap
import types

import pytest

from gankit.errors import GankitError
from gankit.registry import Registry

PLUGIN = """
import _widget_host

_widget_host.IMPORTS.append(__name__)


@_widget_host.WIDGETS.register("{name}")
def build():
    return "{name}"
"""


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """``plugins(registry, module=widget_name, ...)``: importable modules that register a widget each.

    They reach the registry through the module ``_widget_host``, whose ``IMPORTS`` lists every module
    run. All of them are forgotten after the test.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    host = types.ModuleType("_widget_host")
    host.IMPORTS = []
    monkeypatch.setitem(sys.modules, "_widget_host", host)
    written: list[str] = []

    def write(registry: Registry, **modules: str) -> list[str]:
        host.WIDGETS = registry
        for module, name in modules.items():
            (tmp_path / f"{module}.py").write_text(textwrap.dedent(PLUGIN.format(name=name)))
            written.append(module)
        importlib.invalidate_caches()
        return host.IMPORTS

    yield write
    for module in written:
        sys.modules.pop(module, None)


def test_register_returns_the_object_and_get_finds_it():
    widgets = Registry("widget")

    def spanner():
        return "spanner"

    assert widgets.register("spanner")(spanner) is spanner
    assert widgets.get("spanner") is spanner
    assert "spanner" in widgets and "hammer" not in widgets


def test_make_turns_the_decorated_object_into_the_entry():
    widgets: Registry[tuple[str, object]] = Registry("widget")

    @widgets.register("spanner", make=lambda build: ("a spanner", build))
    def spanner():
        return "spanner"

    assert callable(spanner) and spanner() == "spanner"  # the decorator leaves the function as it was
    assert widgets.get("spanner") == ("a spanner", spanner)


def test_unknown_name_suggests_the_closest_or_lists_all():
    widgets = Registry("widget")
    for name in ("spanner", "drill"):
        widgets.register(name)(lambda: None)
    with pytest.raises(GankitError) as error:
        widgets.get("spaner")
    assert str(error.value) == "unknown widget 'spaner' (did you mean 'spanner'?)"
    with pytest.raises(GankitError, match=r"^unknown widget 'xyz' \(valid: drill, spanner\)$"):
        widgets.get("xyz")


def test_names_are_sorted_unless_ordered():
    sorted_widgets, ordered_widgets = Registry("widget"), Registry("widget", ordered=True)
    for name in ("saw", "drill", "level"):
        sorted_widgets.register(name)(lambda: None)
        ordered_widgets.register(name)(lambda: None)
    assert sorted_widgets.names() == ["drill", "level", "saw"]
    assert ordered_widgets.names() == ["saw", "drill", "level"]


@pytest.mark.parametrize("first_use", [Registry.names, lambda r: r.get("saw"), lambda r: "saw" in r],
                         ids=["names", "get", "contains"])
def test_modules_are_imported_on_first_use_and_only_once(plugins, first_use):
    widgets = Registry("widget", modules=["_widgets_saw", "_widgets_drill"], ordered=True)
    imports = plugins(widgets, _widgets_saw="saw", _widgets_drill="drill")
    assert imports == [] and "_widgets_saw" not in sys.modules

    first_use(widgets)
    assert imports == ["_widgets_saw", "_widgets_drill"]
    assert widgets.names() == ["saw", "drill"]

    # forgotten by sys.modules, so a second import would run them again
    del sys.modules["_widgets_saw"], sys.modules["_widgets_drill"]
    assert widgets.get("drill")() == "drill" and "saw" in widgets and len(widgets.names()) == 2
    assert imports == ["_widgets_saw", "_widgets_drill"]


def test_ordered_names_follow_the_module_list_not_the_import_order(plugins):
    widgets = Registry("widget", modules=["_widgets_saw", "_widgets_drill"], ordered=True)
    imports = plugins(widgets, _widgets_saw="saw", _widgets_drill="drill")
    importlib.import_module("_widgets_drill")  # imported directly, before the registry's first lookup
    widgets.register("level")(lambda: None)  # from no listed module: after the listed ones
    assert widgets.names() == ["saw", "drill", "level"]
    assert imports == ["_widgets_drill", "_widgets_saw"]


def test_a_failed_import_is_raised_again_on_the_next_lookup():
    widgets = Registry("widget", modules=["_gankit_no_such_module"])
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError):
            widgets.names()


def test_a_name_taken_by_another_object_raises_and_keeps_the_first():
    widgets = Registry("widget")

    def spanner():
        return "spanner"

    def impostor():
        return "impostor"

    widgets.register("spanner")(spanner)
    widgets.register("spanner")(spanner)  # the same object again: harmless
    with pytest.raises(ValueError, match=r"widget 'spanner' is already registered by .*\.spanner, cannot register .*\.impostor"):
        widgets.register("spanner")(impostor)
    assert widgets.get("spanner") is spanner


def test_reloading_a_module_replaces_its_entries(plugins):
    widgets = Registry("widget", modules=["_widgets_saw"])
    imports = plugins(widgets, _widgets_saw="saw")
    first = widgets.get("saw")
    importlib.reload(sys.modules["_widgets_saw"])  # runs the decorator again on a new function object
    assert imports == ["_widgets_saw", "_widgets_saw"]
    assert widgets.get("saw") is not first and widgets.get("saw") is sys.modules["_widgets_saw"].build


def test_copy_is_independent():
    widgets = Registry("widget", ordered=True)
    widgets.register("saw")(lambda: None)
    private = widgets.copy()
    private.register("drill")(lambda: None)
    assert widgets.names() == ["saw"] and private.names() == ["saw", "drill"]


def test_importing_gankit_registries_imports_none_of_their_modules():
    # a fresh interpreter: this one has long imported them
    lazy = ["gankit.metrics.inception", "gankit.nets.dcgan", "gankit.nets.infogan", "gankit.nets.sagan",
            "gankit.nets.book", "gankit.nets.biggan", "gankit.data.toy", "gankit.data.mnist", "gankit.data.fashion", "gankit.data.stacked",
            "gankit.data.emoji", "gankit.data.cifar", "gankit.data.celeba",
            "gankit.experiments.js_vs_wasserstein", "gankit.experiments.batchnorm_ablation"]
    code = ("import sys, gankit.metrics.features, gankit.nets, gankit.data, gankit.experiments\n"
            f"print([m for m in {lazy!r} if m in sys.modules])\n"
            "import gankit.nets as nets\n"
            "print(nets.arch_names(), 'gankit.nets.dcgan' in sys.modules, 'gankit.metrics.inception' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    names, dcgan_loaded, inception_loaded = out[1].rsplit(" ", 2)
    names = ast.literal_eval(names)
    assert names == sorted(names) and {"dcgan", "infogan", "mlp", "sagan"} <= set(names)
    assert (dcgan_loaded, inception_loaded) == ("True", "False")
