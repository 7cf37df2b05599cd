/*
 * fuzz_proxyproto.c — libFuzzer harness for the PROXY protocol parser (what
 * a trusted balancer sends first): any bytes give DONE, NEED_MORE or
 * INVALID; DONE never claims more bytes than there are; a prefix of a
 * complete header never says INVALID.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage c, l;
	size_t used = 0, used2;
	uint8_t *copy = malloc(size ? size : 1);
	enum proxy_parse r;

	memcpy(copy, data, size);
	r = proxy_header_parse(copy, size, &used, &c, &l);
	if (r == PROXY_DONE) {
		if (used == 0 || used > size)
			abort();
		for (size_t k = 1; k < used; k++)
			if (proxy_header_parse(copy, k, &used2, &c, &l) ==
			    PROXY_INVALID)
				abort();
	}
	free(copy);
	return 0;
}
