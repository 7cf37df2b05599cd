#!/usr/bin/python3
"""The README's checked blocks, for tests/integration/t_readme.sh.

    readme_blocks.py README.md OUTDIR

A fenced block whose previous line is an HTML comment

    <!-- t_readme: KIND -->

is checked by t_readme.sh according to KIND (run, nft, promtool-config,
promtool-rules). Writes into OUTDIR:

    blocks      one line per block: "N KIND LINE HEADING" (LINE: the
                README line of its opening fence; HEADING: the nearest
                heading above it)
    N.KIND      the block's text
    N.cmds      for "run" blocks: one command per line, as
                "LINE<TAB>EXPECT<TAB>COMMAND" — continuation lines joined,
                the trailing comment removed; EXPECT is the port of the
                backend the comment names ("# -> 127.0.0.1:3000"), or "-"
    config.yaml the first yaml block under "## Configuration"

Exits 1 when a marker is not followed by a fenced block.
"""
import os
import re
import sys

MARK = re.compile(r"^<!--\s*t_readme:\s*([a-z-]+)\s*-->\s*$")
EXPECT = re.compile(r"->\s*127\.0\.0\.1:(\d+)")


def split_comment(line):
    """(code, comment) of a shell line: '#' starts a comment at the line's
    start or after a blank, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def commands(text, first_line):
    """[(line, expect, command)] of a run block."""
    out = []
    pending, start = "", None
    for n, raw in enumerate(text.split("\n"), first_line):
        code, comment = split_comment(raw)
        if start is None:
            start = n
        if code.endswith("\\"):
            pending += code[:-1] + " "
            continue
        code = (pending + code).strip()
        pending = ""
        if code:
            m = EXPECT.search(comment)
            out.append((start, m.group(1) if m else "-",
                        re.sub(r"\s+", " ", code)))
        start = None
    return out


def main():
    readme, outdir = sys.argv[1], sys.argv[2]
    lines = open(readme, encoding="utf-8").read().split("\n")
    os.makedirs(outdir, exist_ok=True)
    heading, kind, mark_line = "", None, None
    in_fence, body, fence_line, count = False, [], 0, 0
    config_done, in_config = False, False
    index = []
    for n, line in enumerate(lines, 1):
        if in_fence:
            if line.startswith("```"):
                in_fence = False
                text = "\n".join(body)
                if kind:
                    count += 1
                    with open(os.path.join(outdir, "%d.%s" % (count, kind)),
                              "w") as f:
                        f.write(text + "\n")
                    if kind == "run":
                        with open(os.path.join(outdir, "%d.cmds" % count),
                                  "w") as f:
                            for c in commands(text, fence_line + 1):
                                f.write("%d\t%s\t%s\n" % c)
                    index.append("%d %s %d %s" % (count, kind, fence_line,
                                                  heading))
                elif config_yaml and not config_done:
                    with open(os.path.join(outdir, "config.yaml"), "w") as f:
                        f.write(text + "\n")
                    config_done = True
                kind = None
            else:
                body.append(line)
            continue
        if line.startswith("```"):
            if mark_line is not None and mark_line != n - 1:
                sys.exit("README line %d: marker not right above a "
                         "fenced block" % mark_line)
            in_fence, body, fence_line = True, [], n
            config_yaml = in_config and line.strip() == "```yaml"
            mark_line = None
            continue
        if mark_line is not None:
            sys.exit("README line %d: marker not right above a fenced "
                     "block" % mark_line)
        m = MARK.match(line)
        if m:
            kind, mark_line = m.group(1), n
        elif line.startswith("#"):
            heading = line
            if line.startswith("## "):
                in_config = line == "## Configuration"
    with open(os.path.join(outdir, "blocks"), "w") as f:
        f.write("".join(i + "\n" for i in index))


if __name__ == "__main__":
    main()
