/* A shared object without the entry symbol. */
#include <portmux/detector.h>
PMX_EXPORT int not_a_detector(void);
PMX_EXPORT int not_a_detector(void) { return 42; }
