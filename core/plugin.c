/* plugin.c — dlopen loader. Every refusal names the file and the reason. */
#include "plugin.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The smallest descriptor this core understands: up to `destroy`. */
#define DESC_MIN_SIZE \
	(offsetof(struct pmx_detector, destroy) + sizeof(void (*)(void *)))

static struct plugin *loaded; /* one configuration build at a time: start-up
				  on the main thread, then reloads */

int
plugin_check(const struct pmx_detector *d, const char *path, const char *name,
	     char *err, size_t errlen)
{
	if (d == NULL) {
		snprintf(err, errlen,
			 "plugin %s: %s() returned no descriptor", path,
			 PMX_ENTRY_SYMBOL);
		return -1;
	}
	if (d->abi_version != PMX_DETECTOR_ABI_VERSION) {
		snprintf(err, errlen,
			 "plugin %s: ABI version %u, expected %u (rebuild it "
			 "against this PortMux's portmux/detector.h)",
			 path, d->abi_version, PMX_DETECTOR_ABI_VERSION);
		return -1;
	}
	if (d->struct_size < DESC_MIN_SIZE) {
		snprintf(err, errlen,
			 "plugin %s: descriptor is %u bytes, at least %zu "
			 "expected",
			 path, d->struct_size, (size_t)DESC_MIN_SIZE);
		return -1;
	}
	if (d->name == NULL || strcmp(d->name, name) != 0) {
		snprintf(err, errlen,
			 "plugin %s: it is named '%s' but its file is "
			 "'%s.so' (the names must be equal)",
			 path, d->name ? d->name : "(null)", name);
		return -1;
	}
	if (d->create == NULL || d->probe == NULL) {
		snprintf(err, errlen, "plugin %s: descriptor has no %s", path,
			 d->create == NULL ? "create()" : "probe()");
		return -1;
	}
	if ((d->flags & (PMX_DF_TCP | PMX_DF_UDP)) == 0) {
		snprintf(err, errlen,
			 "plugin %s: declares neither PMX_DF_TCP nor "
			 "PMX_DF_UDP",
			 path);
		return -1;
	}
	return 0;
}

static int
valid_name(const char *name)
{
	if (*name == '\0')
		return 0;
	for (; *name; name++)
		if (!islower((unsigned char)*name) &&
		    !isdigit((unsigned char)*name) && *name != '_')
			return 0;
	return 1;
}

static char *
upper_dup(const char *s)
{
	char *u = strdup(s);

	for (char *p = u; p && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return u;
}

const struct plugin *
plugin_load(const char *const *dirs, size_t ndirs, const char *name, char *err,
	    size_t errlen)
{
	char path[4096];
	const char *found = NULL;
	struct plugin *p;
	pmx_entry_fn entry;
	void *handle;
	const struct pmx_detector *desc;

	for (p = loaded; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	if (!valid_name(name)) {
		snprintf(err, errlen, "bad detector name '%s'", name);
		return NULL;
	}
	for (size_t i = 0; i < ndirs && found == NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s.so", dirs[i], name);
		if (access(path, F_OK) == 0) {
			found = path;
		} else if (errno != ENOENT) {
			/* Not "missing": most often a directory this user
			 * may not enter (plugins load after root is dropped
			 * for `user`, and /root is closed to others). */
			snprintf(err, errlen,
				 "detector '%s': cannot reach %s: %s (plugins "
				 "are loaded as the `user` PortMux runs as)",
				 name, path, strerror(errno));
			return NULL;
		}
	}
	if (found == NULL) {
		size_t off = (size_t)snprintf(err, errlen,
					      "detector '%s': no %s.so in",
					      name, name);
		for (size_t i = 0; i < ndirs && off < errlen; i++)
			off += (size_t)snprintf(err + off, errlen - off,
						"%s %s", i ? "," : "",
						dirs[i]);
		return NULL;
	}
	/* RTLD_LOCAL: plugins cannot see each other's symbols. A plugin that
	 * needs its own libraries global (python.so) promotes them itself. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		snprintf(err, errlen, "plugin %s: cannot load: %s", path,
			 dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(handle, PMX_ENTRY_SYMBOL);
	if (entry == NULL) {
		snprintf(err, errlen,
			 "plugin %s: missing entry symbol %s (is it a "
			 "PortMux detector?)",
			 path, PMX_ENTRY_SYMBOL);
		dlclose(handle);
		return NULL;
	}
	desc = entry();
	if (plugin_check(desc, path, name, err, errlen) < 0) {
		dlclose(handle);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		dlclose(handle);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->name = strdup(name);
	p->path = strdup(path);
	p->section = desc->section ? strdup(desc->section) : upper_dup(name);
	p->handle = handle;
	p->desc = desc;
	if (p->name == NULL || p->path == NULL || p->section == NULL) {
		free(p->name);
		free(p->path);
		free(p->section);
		free(p);
		dlclose(handle);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->next = loaded;
	loaded = p;
	return p;
}

void
plugin_unload_all(void)
{
	while (loaded != NULL) {
		struct plugin *p = loaded;
		loaded = p->next;
		/* Keep the code mapped under sanitizers so leak reports can
		 * still symbolise plugin frames. */
		if (getenv("PORTMUX_NO_DLCLOSE") == NULL)
			dlclose(p->handle);
		free(p->name);
		free(p->path);
		free(p->section);
		free(p);
	}
}
