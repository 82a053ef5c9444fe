#!/usr/bin/env python3
"""Fails when a source file includes a header from a layer above its own.

The layers, bottom up (ARCHITECTURE.md): platform, config, collectors, runtime and discovery
(side by side), exposition, web, app; the simulator sits beside them, on the collectors, and
only the executables' entry files and the tests may include it; systemd/ and windows-service/ are the edge, on App's
interface. Every source file of the tree must belong to a layer, so a new folder is placed
on purpose.

Usage: check_layers.py [ROOT]   (default: the repository this script is in)
"""
import os
import re
import sys

# Each layer and the layers it may include from (itself included).
BELOW = {
    "platform": {"platform"},
    "config": {"platform", "config"},
    "collectors": {"platform", "config", "collectors"},
    "simulator": {"platform", "config", "collectors", "simulator"},
    "runtime": {"platform", "config", "collectors", "runtime"},
    "discovery": {"platform", "config", "collectors", "discovery"},
    "exposition": {"platform", "config", "collectors", "runtime", "discovery", "exposition"},
    "web": {"platform", "config", "collectors", "runtime", "discovery", "exposition", "web"},
    "app": {"platform", "config", "collectors", "runtime", "discovery", "exposition", "web",
            "app"},
    "edge": {"platform", "config", "collectors", "runtime", "discovery", "exposition", "web",
             "app", "edge"},
}
ALL = set(BELOW) | {"entry"}

# Files that put a whole executable together: they may include any layer.
ENTRY = {
    "daemon/main.cpp",
    "daemon/demo_estate.cpp",
    "simulator/sim_main.cpp",
}

SOURCE = re.compile(r"\.(c|cc|cpp|h|hpp)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path):
    """The layer of a repository-relative path, or None when it is outside every layer."""
    if path in ENTRY or path.startswith("windows-service/mingw/"):
        return "entry"
    if path.startswith("tests/"):
        return "entry"
    for prefix, layer in (
        ("platform/", "platform"),
        ("config/", "config"),
        ("collectors/", "collectors"),
        ("simulator/", "simulator"),
        ("daemon/runtime/", "runtime"),
        ("daemon/discovery/", "discovery"),
        ("daemon/exposition/", "exposition"),
        ("daemon/web/", "web"),
        ("daemon/", "app"),
        ("systemd/", "edge"),
        ("windows-service/", "edge"),
    ):
        if path.startswith(prefix):
            return layer
    return None


def check(root):
    problems = []
    for folder, dirs, files in os.walk(root):
        # Build trees, hidden folders and fuzz corpora hold no sources of the tree.
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build")) and d != "corpus")
        for name in sorted(files):
            if not SOURCE.search(name):
                continue
            path = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            layer = layer_of(path)
            if layer is None:
                problems.append(f"{path}: in no layer (add its folder to {__file__})")
                continue
            allowed = ALL if layer == "entry" else BELOW[layer]
            with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
                text = f.read()
            for m in INCLUDE.finditer(text):
                target = m.group(1)
                line = text.count("\n", 0, m.start()) + 1
                target_layer = layer_of(target)
                if target_layer is None:
                    continue  # a file of the same folder or a generated header
                if target_layer == "entry" and layer != "entry":
                    problems.append(f"{path}:{line}: includes {target}, an executable's "
                                    "entry file or a test")
                elif target_layer not in allowed:
                    problems.append(f"{path}:{line}: layer {layer} includes {target} of "
                                    f"layer {target_layer}, above it")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) against the layers (ARCHITECTURE.md)")
        return 1
    print("layers hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
