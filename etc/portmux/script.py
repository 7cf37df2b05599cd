def analyse(buffer):
    """
    Analyze incoming buffer and return appropriate port number

    Args:
        buffer (bytes): Initial packet data

    Returns:
        int: Port number for routing, or None for default handling

    PortMux calls analyse() for every new connection (and every UDP
    datagram) with the bytes the client has sent so far, until a detector
    claims them. Configured in config.yaml:

        PYTHON:
          script: /etc/portmux/script.py   # the default
          timeout: 0.05                    # seconds analyse() may take

    What analyse() may return:
        int 1..65535        route to 127.0.0.1:PORT
        "host:port"         route there; host is a name (resolved by
        "[v6]:port"         PortMux off its event loop), an IPv4
                            address, or an IPv6 address in brackets
        None                not this protocol: the next detector in
                            PORTMUX.detectors gets the connection
        portmux.NEED_MORE   cannot tell yet: call again when more bytes
                            have arrived (`import portmux`); on the last
                            call (buffer full, or the client went quiet)
                            it counts as None
    Anything else (a float, True, a port out of range, "no port")
    is logged and counts as None.

    Errors and time limits:
        - An exception is logged with its type, message and the line of
          this script where it happened (once a second per distinct error,
          with a count of the ones left out), and the connection goes to
          the next detector. SystemExit does not stop PortMux.
        - A call that takes longer than `timeout` is answered as None.
          PortMux interrupts it by raising portmux.Timeout inside it (a
          BaseException: `except Exception` does not catch it); code
          blocked in C (time.sleep, a socket) is only interrupted when it
          returns, and meanwhile other connections are served by other
          threads.
        - A syntax error, an exception while the script loads, or no
          analyse() makes the configuration fail: at start-up, on reload,
          and in `portmux -t`, which names the file and line.

    The script runs once when PortMux starts (and again on reload), in an
    interpreter shared with other `python` detectors but with globals of
    its own. The standard library is available; portmux.log(msg) writes a
    line to PortMux's log. Keep analyse() quick and free of I/O.
    """
    if buffer.startswith(b"CUSTOM_PROTOCOL"):
        return 9000
    elif buffer.startswith(b"GAME_DATA"):
        return 7777
    else:
        return None
