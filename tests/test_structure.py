"""What the code promises about its own shape: no Spark API that Spark Connect lacks, no
import cycles, and the README's table reference rendered from the table contract."""
import ast
import re

from conftest import REPO
from rfm_spark import tables

LIBRARY = REPO / "rfm_spark"
# Classic-only handles: the JVM, the SparkContext, RDDs, py4j, Delta's Python API (which
# needs Delta Connect's server plugin); Delta is used through SQL instead.
CLASSIC_ONLY_ATTRIBUTES = {"sparkContext", "_jvm", "_jsc", "_jdf", "_jsparkSession", "rdd"}
CLASSIC_ONLY_MODULES = ("py4j", "delta.tables", "delta.pip_utils", "pyspark.SparkContext")


def modules():
    for path in sorted(LIBRARY.rglob("*.py")):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        yield name.removesuffix(".__init__"), ast.parse(path.read_text(), str(path))


def test_the_library_uses_no_api_that_spark_connect_lacks():
    found = []
    for name, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in CLASSIC_ONLY_ATTRIBUTES:
                found.append(f"{name}:{node.lineno} .{node.attr}")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    alias.name for alias in node.names]
                if isinstance(node, ast.ImportFrom):
                    imported += [f"{node.module}.{alias.name}" for alias in node.names]
                found += [f"{name}:{node.lineno} import {module}" for module in imported
                          if module.startswith(CLASSIC_ONLY_MODULES)]
    # The one exception: building a local (classic) session reads SparkConf.
    allowed = {"rfm_spark.session"}
    assert [hit for hit in found if hit.split(":")[0] not in allowed] == []


def _imports(name: str, tree: ast.Module) -> set[str]:
    """rfm_spark modules imported at module level (not inside functions)."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rfm_spark"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("rfm_spark"))
    return found


def test_no_import_cycles():
    trees = dict(modules())
    graph = {name: {other for other in _imports(name, tree) if other in trees and other != name}
             for name, tree in trees.items()}
    # A package's __init__ importing its own modules is how packages re-export.
    graph = {name: {o for o in deps if not name.startswith(o + ".") and not (
        o.startswith(name + "."))} for name, deps in graph.items()}
    done, cycles = set(), []

    def visit(node, path):
        if node in path:
            cycles.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for other in sorted(graph[node]):
            visit(other, path + [node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_the_readme_table_reference_is_the_contract():
    readme = (REPO / "README.md").read_text()
    block = re.search(r"<!-- tables:begin -->\n(.*?)\n<!-- tables:end -->", readme, re.S)
    assert block, "README.md lacks the generated output-table block"
    assert block.group(1) == tables.markdown(), (
        "README.md's output tables differ from rfm_spark/tables.py: "
        "run `.venv/bin/python -m rfm_spark.tables README.md`")
