/* logtext.h — see logtext.c. */
#ifndef PMX_PY_LOGTEXT_H
#define PMX_PY_LOGTEXT_H

#include <stddef.h>

/* Copy s (n bytes) into dst (cap bytes) as one printable line: control
 * characters become spaces, and it is cut (at a UTF-8 boundary) to fit. */
void log_clean(char *dst, size_t cap, const char *s, size_t n);

#endif
