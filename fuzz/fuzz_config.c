/*
 * fuzz_config.c — libFuzzer harness for the configuration loader: any bytes
 * as a YAML file must give a config or one located error message, never a
 * crash, a leak or undefined behaviour.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "yaml_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "";
	struct yaml_tree *tree = yaml_tree_parse(
	    "fuzz.yaml", (const char *)data, size, err, sizeof(err));
	struct config *cfg;

	if (tree == NULL) {
		if (strncmp(err, "fuzz.yaml:", 10) != 0)
			abort(); /* every error is located */
		return 0;
	}
	cfg = config_parse(tree, 0, err, sizeof(err));
	if (cfg == NULL && strncmp(err, "fuzz.yaml:", 10) != 0)
		abort();
	config_free(cfg);
	return 0;
}
