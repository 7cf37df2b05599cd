# python.so runs no Python itself: it links no libpython. Its scripts run in
# portmux-python (plugins/python/worker/), a program installed next to it —
# the only part of PortMux that links libpython. Debian's libpython3
# through pkg-config (python3-config on PATH may be another Python's, e.g.
# pyenv's); -isystem: Python's headers are not held to our warning flags.
python_CFLAGS := -DPMX_PY_DEFAULT_SCRIPT='"$(SYSCONFDIR)/portmux/script.py"'
python_LIBS := -lpthread

PY_WORKER = $(BUILD)/plugins/portmux-python
PY_WORKER_SRC = $(wildcard plugins/python/worker/*.c) plugins/python/wire.c \
	plugins/python/logtext.c
PY_WORKER_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags python3-embed 2>/dev/null)) \
	-DPMX_PY_HOME='"$(shell pkg-config --variable=prefix python3-embed 2>/dev/null)"'
PY_WORKER_LIBS := $(shell pkg-config --libs python3-embed 2>/dev/null) -lpthread -lm
PLUGIN_PROGRAMS += $(PY_WORKER)

$(PY_WORKER): $(PY_WORKER_SRC) $(wildcard plugins/python/worker/*.h) \
		plugins/python/wire.h plugins/python/logtext.h include/portmux/detector.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  PROGRAM $@")
	$(Q)$(CC) $(STD) $(WARN) -Iinclude $(CFLAGS) $(PY_WORKER_CFLAGS) \
		$(LDFLAGS) $(PY_WORKER_SRC) $(PY_WORKER_LIBS) -o $@
