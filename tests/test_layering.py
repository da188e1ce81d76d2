"""No import circles inside `gan/`, counting imports inside functions too.

A circle hides a layering mistake (the sampler needing the training loop,
say) and breaks as soon as someone moves an import to the top of a file.
Edges are module to module: `from gan import x` names the module gan.x
when there is one (else the package gan itself), `from gan.a import b`
names gan.a.b when it is a module; a package's own submodules importing
their siblings are not edges to the package.
"""
import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "gan")


def _module_name(path: str) -> str:
  rel = os.path.relpath(path, os.path.dirname(ROOT))[:-len(".py")]
  parts = rel.split(os.sep)
  if parts[-1] == "__init__":
    parts = parts[:-1]
  return ".".join(parts)


def _modules() -> dict[str, str]:
  found = {}
  for directory, _, files in os.walk(ROOT):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(directory, name)
        found[_module_name(path)] = path
  return found


def _resolve(name: str, modules) -> str | None:
  """The module `name` refers to, or its closest enclosing module."""
  while name and name not in modules:
    name = name.rpartition(".")[0]
  return name or None


def import_graph() -> dict[str, set[str]]:
  modules = _modules()
  graph = {name: set() for name in modules}
  for name, path in modules.items():
    with open(path) as f:
      tree = ast.parse(f.read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    for node in ast.walk(tree):  # Every import, at any depth.
      targets = []
      if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # Relative: from . import x
          base = ".".join(package.split(".")[:len(package.split(".")) -
                                               node.level + 1] + ([base] if base else []))
        targets = [f"{base}.{alias.name}" for alias in node.names]
      for target in targets:
        if not (target == "gan" or target.startswith("gan.")):
          continue
        resolved = _resolve(target, modules)
        if resolved and resolved != name:
          graph[name].add(resolved)
  return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
  """Strongly connected components with more than one module (Tarjan)."""
  index, low, on_stack, stack, cycles = {}, {}, set(), [], []
  counter = [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on_stack.add(v)
    for w in sorted(graph[v]):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        cycles.append(sorted(component))

  for v in sorted(graph):
    if v not in index:
      visit(v)
  return cycles


def test_the_graph_sees_function_level_imports():
  graph = import_graph()
  # gan.image_sources imports the sampler inside a function only.
  assert "gan.sampling" in graph["gan.image_sources"]
  assert "gan.steps.common" in graph["gan.steps.dcgan"]


def test_the_cycle_finder_finds_a_circle():
  graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
  assert find_cycles(graph) == [["a", "b", "c"]]
  assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_gan():
  cycles = find_cycles(import_graph())
  assert not cycles, "import circles: " + "; ".join(
      " <-> ".join(c) for c in cycles)


def test_the_training_loop_names_no_family():
  with open(os.path.join(ROOT, "train.py")) as f:
    source = f.read().lower()
  for family in ("dcgan", "stylegan"):
    assert family not in source, f"gan/train.py names {family}"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_modules_stay_small_or_say_why(module):
  path = _modules()[module]
  with open(path) as f:
    text = f.read()
  lines = text.count("\n")
  doc = ast.get_docstring(ast.parse(text)) or ""
  assert lines <= 500 or "over 500 lines" in doc.lower(), (
      f"{path} has {lines} lines; split it, or say in its docstring why it "
      f"is over 500 lines")
