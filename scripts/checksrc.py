#!/usr/bin/python3
"""checksrc.py — house rules for the C sources (curl's checksrc idea):
no unbounded string calls, lines of at most 80 characters, no trailing
whitespace, no tabs after spaces in indentation, no double blank lines, a
newline at the end. Prints FILE:LINE: rule and exits 1 on any finding."""
import glob
import re
import sys

BANNED = re.compile(r"\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|"
                    r"strtok)\s*\(")
files = sorted(glob.glob("core/*.[ch]") + glob.glob("plugins/*/*.[ch]") +
               glob.glob("include/portmux/*.h") + glob.glob("fuzz/*.c") +
               glob.glob("tests/unit/*.[ch]"))
problems = 0


def report(path, n, rule):
    global problems
    problems += 1
    print("%s:%d: %s" % (path, n, rule))


for path in files:
    text = open(path, encoding="utf-8").read()
    if text and not text.endswith("\n"):
        report(path, text.count("\n") + 1, "no newline at the end")
    blank = 0
    for n, line in enumerate(text.split("\n"), 1):
        code = line.split("//")[0]
        if BANNED.search(code) and not code.lstrip().startswith("*"):
            report(path, n, "unbounded call: " + BANNED.search(code).group(1))
        if len(line.expandtabs(8)) > 80 and not path.startswith("tests/"):
            report(path, n, "longer than 80 columns")
        if line != line.rstrip():
            report(path, n, "trailing whitespace")
        if re.match(r"^ +\t", line):
            report(path, n, "a tab after spaces")
        blank = blank + 1 if line == "" else 0
        if blank == 2:
            report(path, n, "two blank lines")
print("checksrc: %d files, %d findings" % (len(files), problems))
sys.exit(1 if problems else 0)
