# python.so embeds CPython: the only part of PortMux that links libpython.
# Debian's libpython3 through pkg-config (python3-config on PATH may be
# another Python's, e.g. pyenv's). -isystem: Python's headers are not held
# to our warning flags. -z nodelete: the interpreter threads run this
# plugin's code until the process ends, so it must never be unmapped.
python_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags python3-embed 2>/dev/null)) \
	-DPMX_PY_HOME='"$(shell pkg-config --variable=prefix python3-embed 2>/dev/null)"' \
	-DPMX_PY_DEFAULT_SCRIPT='"$(SYSCONFDIR)/portmux/script.py"'
python_LIBS := $(shell pkg-config --libs python3-embed 2>/dev/null) -ldl -lpthread -lm \
	-Wl,-z,nodelete
