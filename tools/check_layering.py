#!/usr/bin/env python3
"""Rejects includes that break the one-way module layering of ARCHITECTURE.md section 3.

A module may include itself and modules of lower layers; siblings in the same layer may not
include each other, nothing includes a higher layer, and no module includes another module's
`internal/` headers. Tests (`*_test.cc`, `testing/`) may include any module below them and
their own module's testing helpers. Exits 1 with one line per violation.
"""
import os
import re
import sys

# Layers from bottom to top; modules in one tuple are siblings.
LAYERS = [
    ("common",),
    ("proto",),
    ("index", "storage"),
    ("query", "config"),
    ("split",),
    ("metastore", "cluster"),
    ("search", "indexing"),
    ("control_plane", "janitor"),
    ("server",),
    ("cli",),
]
LAYER_OF = {module: rank for rank, group in enumerate(LAYERS) for module in group}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def main() -> int:
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    violations = []
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            if not filename.endswith((".h", ".cc")):
                continue
            path = os.path.join(dirpath, filename)
            relative = os.path.relpath(path, root)
            module = relative.split(os.sep)[0]
            if module not in LAYER_OF:
                violations.append(f"{relative}: module `{module}` is not in the layering table")
                continue
            with open(path, encoding="utf-8", errors="replace") as source:
                text = source.read()
            for included in INCLUDE.findall(text):
                target = included.split("/")[0]
                if target not in LAYER_OF:
                    continue  # third-party header
                if "/internal/" in included and target != module:
                    violations.append(f"{relative}: includes another module's internal header {included}")
                    continue
                if target == module:
                    continue
                if LAYER_OF[target] >= LAYER_OF[module]:
                    kind = "sibling" if LAYER_OF[target] == LAYER_OF[module] else "upward"
                    violations.append(f"{relative}: {kind} include of {included}")
    for violation in sorted(violations):
        print(violation)
    if violations:
        print(f"check_layering: {len(violations)} violation(s)")
        return 1
    print("check_layering: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
