"""Checks that sled 0.34.7's nine longest files, split into child modules here, still hold
the release's lines and nothing else but the split's own (PATCHED.md, "Split files"):

    python3 vendor/sled/check_split.py sled-0.34.7.crate

(the crate from https://static.crates.io/crates/sled/sled-0.34.7.crate). For each split file
it compares the release's lines with those of the file and its children, as multisets of
stripped lines, after undoing the visibility changes; what is left over must be the split's
own lines: module headers, `use super::*;`, `mod` lines, and the header and closing brace of
each impl block cut in two."""

import collections, glob, os, re, sys, tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
# Each split file and the directory of its children.
SPLIT = {
    "config.rs": "config",
    "node.rs": "node",
    "serialization.rs": "serialization",
    "transaction.rs": "transaction",
    "tree.rs": "tree",
    "pagecache/iobuf.rs": "pagecache/iobuf",
    "pagecache/logger.rs": "pagecache/logger",
    "pagecache/segment.rs": "pagecache/segment",
    "pagecache/mod.rs": None,
}
# How many impl blocks of each file were cut in two: each adds one header and one brace.
CUTS = {"node.rs": 1, "pagecache/mod.rs": 3, "pagecache/segment.rs": 1, "tree.rs": 5}
# pagecache/mod.rs's children sit beside it, with the modules it had already.
PAGECACHE_CHILDREN = ["lifecycle", "link_replace", "cas", "paging"]


def normal(line):
    """A line as it compares: stripped, with the split's path and visibility changes undone
    (`pub(super)` on a moved private method is undone below, where it is known)."""
    line = line.strip()
    line = re.sub(r"^pub\(in crate::pagecache\) ", "pub(super) ", line)
    return line.replace("super::super::", "super::")


def lines_of(text):
    return [normal(line) for line in text.split("\n") if line.strip()]


def split_own(line):
    return line.startswith("//!") or line == "use super::*;" or re.fullmatch(r"mod \w+;", line)


def main(crate):
    with tarfile.open(crate) as archive:
        released = {name: archive.extractfile(f"sled-0.34.7/src/{name}").read().decode()
                    for name in SPLIT}
    sound = True
    for name, children in SPLIT.items():
        paths = [os.path.join(HERE, "src", name)]
        if children:
            paths += sorted(glob.glob(os.path.join(HERE, "src", children, "*.rs")))
        else:
            paths += [os.path.join(HERE, "src/pagecache", f"{c}.rs") for c in PAGECACHE_CHILDREN]
        now = collections.Counter()
        for path in paths:
            now.update(lines_of(open(path).read()))
        before = collections.Counter(lines_of(released[name]))
        # A private method made `pub(super)` compares as the release's line.
        for line in list(now):
            if line.startswith("pub(super) "):
                plain = line[len("pub(super) "):]
                moved = min(now[line], max(0, before[plain] - now[plain]))
                now[line] -= moved
                now[plain] += moved
        missing = list((before - now).elements())
        if "mod qc {" in missing:
            # The inline test module became a file: `mod qc;`, and its brace went with it.
            missing.remove("mod qc {")
            missing.remove("}")
        added = now - before
        cuts = CUTS.get(name, 0)
        unexpected = [line for line in added.elements()
                      if not split_own(line) and line != "}" and not re.fullmatch(r"impl \w+ \{", line)]
        braces = added["}"]
        headers = sum(n for line, n in added.items() if re.fullmatch(r"impl \w+ \{", line))
        if (braces, headers) != (cuts, cuts):
            unexpected.append(f"{braces} braces and {headers} impl headers added, not {cuts}")
        if missing or unexpected:
            sound = False
            print(f"{name}: missing {missing[:5]}, not the release's {unexpected[:5]}")
        else:
            print(f"{name}: all {sum(before.values())} of the release's lines, and the split's own")
    sys.exit(0 if sound else 1)


if __name__ == "__main__":
    main(sys.argv[1])
