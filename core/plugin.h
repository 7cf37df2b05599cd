/* plugin.h — load detector plugins with dlopen and check their ABI.
 * Loaded plugins stay loaded until plugin_unload_all() at exit, so no
 * instance can outlive the code it runs on. */
#ifndef PMX_PLUGIN_H
#define PMX_PLUGIN_H

#include <stddef.h>

#include "portmux/detector.h"

struct plugin {
	char *name;    /* file name without .so */
	char *path;    /* where it was loaded from */
	char *section; /* config section (descriptor's, or upper-cased name) */
	void *handle;
	const struct pmx_detector *desc;
	struct plugin *next;
};

/*
 * Find NAME.so in the first of `dirs` that has it, load and check it.
 * Returns the (cached) plugin, or NULL with "plugin PATH: reason" in err.
 */
const struct plugin *plugin_load(const char *const *dirs, size_t ndirs,
				 const char *name, char *err, size_t errlen);

/* Check a descriptor as the loader does (exposed for tests). 0 or -1. */
int plugin_check(const struct pmx_detector *d, const char *path,
		 const char *name, char *err, size_t errlen);

void plugin_unload_all(void);

#endif
