# The interpreter is isolated from the daemon's environment: no PYTHON*
# variables, no user site-packages, no signal handlers of its own.
import os
import signal
import sys


def analyse(buffer):
    problems = []
    if not sys.flags.isolated or not sys.flags.no_user_site:
        problems.append("not isolated")
    if "/nonexistent/pythonpath" in sys.path:
        problems.append("PYTHONPATH used")
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        problems.append("SIGINT handler installed")
    if not os.path.exists(os.path.join(sys.prefix, "lib",
                                       "python%d.%d" % sys.version_info[:2],
                                       "os.py")):
        problems.append("prefix " + sys.prefix)
    if problems:
        return "; ".join(problems)
    return 6000
