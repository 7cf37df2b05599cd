/* suites.h — every Check suite, one line each: X(name) for a
 * `Suite *make_suite_NAME(void)` defined in check_NAME.c. */
X(yaml)
X(config)
X(route)
X(plugin)
X(probe)
X(http)
X(h2)
X(ssh)
X(tls)
X(openvpn)
X(python)
X(proxyproto)
