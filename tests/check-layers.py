#!/usr/bin/env python3
"""src/ in layers: every call from one src/*.c file to a function defined in
another goes down the order written in docs/design.md ("Layers"), so no two
files call each other, directly or round a loop.

Usage: check-layers.py [SRCDIR] [--list]
  --list  also print each file with the files it calls (for notes).
Exit 1, naming the call, when a file calls one in its own layer or above."""
import collections
import fnmatch
import os
import re
import sys

srcdir = next((a for a in sys.argv[1:] if not a.startswith("--")), os.environ.get("top_srcdir", "."))
show = "--list" in sys.argv

# The layers, top first: the fenced block under "## Layers" in design.md;
# the first words of a line that end in ".c" or ".h" are its files.
design = open(os.path.join(srcdir, "docs", "design.md"), encoding="utf-8").read()
block = re.search(r"^## Layers\n.*?^```\n(.*?)^```", design, re.S | re.M)
if block is None:
    sys.exit("check-layers: no fenced block under '## Layers' in docs/design.md")
layers = []
for line in block.group(1).splitlines():
    names = []
    for word in line.split():
        if not word.endswith((".c", ".h")):
            break
        names.append(word)
    if names:
        layers.append(names)

src = os.path.join(srcdir, "src")
files = sorted(f for f in os.listdir(src) if f.endswith(".c"))
rank = {}
bad = 0
for depth, names in enumerate(layers):
    for pattern in names:
        for f in fnmatch.filter(files, pattern):
            if f in rank and pattern.endswith(f):
                print(f"check-layers: src/{f} is in two layers")
                bad += 1
            rank.setdefault(f, len(layers) - depth)  # higher is above

# Function definitions, in the GNU style the project writes: the name at
# the start of a line, the return type on the line before.
def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\\n])*"', '""', text)

texts = {f: strip(open(os.path.join(src, f), encoding="utf-8").read()) for f in files}
defined = {}
for f, text in texts.items():
    lines = text.split("\n")
    for i, line in enumerate(lines[1:], 1):
        m = re.match(r"([a-z_]\w*) \(", line)
        if m and not re.search(r"\bstatic\b", lines[i - 1]):
            defined[m.group(1)] = f

calls = collections.defaultdict(lambda: collections.defaultdict(set))
for f, text in texts.items():
    for name in set(re.findall(r"\b([a-z_]\w*)\s*\(", text)):
        g = defined.get(name)
        if g is not None and g != f:
            calls[f][g].add(name)

for f in files:
    if f not in rank:
        print(f"check-layers: src/{f} is in no layer of docs/design.md")
        bad += 1
for f in files:
    for g, names in sorted(calls[f].items()):
        if f in rank and g in rank and rank[g] >= rank[f]:
            where = "its own layer" if rank[g] == rank[f] else "a layer above"
            print(f"check-layers: src/{f} calls {', '.join(sorted(names))} of src/{g}, in {where}")
            bad += 1
if show:
    for f in sorted(files, key=lambda f: -rank.get(f, 0)):
        print(f"{f}: {' '.join(sorted(calls[f])) or '(nothing)'}")
print(f"check-layers: {len(files)} files in {len(layers)} layers, {sum(len(c) for c in calls.values())} arrows, {bad} wrong")
sys.exit(1 if bad else 0)
