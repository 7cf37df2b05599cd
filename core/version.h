#ifndef PMX_VERSION_H
#define PMX_VERSION_H
#define PORTMUX_VERSION "0.1.0"
#endif
