/*
 * pattern.so — protocols described in the configuration alone: a list of
 * rules, each a byte prefix, bytes at an offset, or a POSIX extended
 * regular expression over the first bytes, each sending what it matches
 * to its own backend (rules.h says how they are written).
 *
 * Rules are tried in order, and like the detectors themselves a rule that
 * cannot tell yet holds the ones after it: the first rule whose bytes are
 * there and match wins; a rule whose bytes differ (prefix, hex: as soon as
 * one byte differs) or whose regex did not match on its `need` bytes lets
 * the next one decide. A regex is run once its `need` bytes have arrived,
 * always over exactly those bytes, so how the client's bytes were split
 * into reads never changes the answer; with `final` (the probe deadline,
 * the client's EOF or a full probe buffer) every rule decides on what
 * there is.
 *
 * Verdicts: MATCH (key = the rule's name, backend = its backend),
 * NEED_MORE while a rule waits for bytes, NO_MATCH when every rule said
 * no. No rules (no PATTERN section): never a match.
 */
#include <portmux/detector.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	struct rules *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (rules_parse(host, section, r, err, errlen) < 0) {
		rules_free(r);
		free(r);
		return -1;
	}
	*instance = r; /* read-only from here: probe() may run at once */
	return 0;
}

static void
destroy(void *instance)
{
	if (instance == NULL)
		return;
	rules_free(instance);
	free(instance);
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	const struct rules *all = instance;
	int final = in->final || (in->capacity > 0 && in->len >= in->capacity);

	if (in->transport != PMX_TRANSPORT_TCP)
		return PMX_NO_MATCH;
	for (size_t i = 0; i < all->n; i++) {
		const struct rule *r = &all->v[i];

		switch (rule_check(all, r, in->data, in->len, final)) {
		case RULE_NO:
			continue;
		case RULE_WAIT:
			return PMX_NEED_MORE;
		case RULE_YES:
			pmx_result_set(out->key, r->name, strlen(r->name));
			pmx_result_set(out->backend, r->backend,
				       strlen(r->backend));
			return PMX_MATCH;
		}
	}
	return PMX_NO_MATCH;
}

static const struct pmx_detector pattern_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "pattern",
	.version = "1.0",
	.description = "protocols described in YAML: byte prefixes, bytes at "
		       "an offset, POSIX regular expressions",
	.section = "PATTERN",
	.flags = PMX_DF_TCP,
	.create = create,
	.probe = probe,
	.destroy = destroy,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &pattern_detector;
}
