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
        - The script runs in worker processes of its own (portmux-python),
          never inside PortMux: the top level runs once at start-up (and on
          reload), then PYTHON.processes workers (default 4) are forked
          from it and answer calls one at a time. Module globals are per
          worker, and a worker may be replaced at any time.
        - An exception is logged with its type, message and the line of
          this script where it happened (once a second per distinct error,
          with a count of the ones left out), and the connection goes to
          the next detector. SystemExit does not stop PortMux.
        - A call that takes longer than `timeout` is answered as None at
          the deadline, whatever it is doing (a loop that catches every
          exception, time.sleep, a socket, a regular expression stuck in
          C): its worker logs where it was stuck, is killed and replaced.
          A crash or os._exit() ends only that worker (logged with the
          line). Other connections are served by other workers meanwhile.
        - Refused, with PermissionError: signalling or tracing any
          process (PortMux included), fork, exec. More memory than
          PYTHON.memory (MiB, default 512) raises MemoryError.
        - A syntax error, an exception while the script loads, or no
          analyse() makes the configuration fail: at start-up, on reload,
          and in `portmux -t`, which names the file and line.

    The standard library is available; portmux.log(msg) writes a line to
    PortMux's log, and so does print() (at most one line a second). Keep
    analyse() quick.
    """
    if buffer.startswith(b"CUSTOM_PROTOCOL"):
        return 9000
    elif buffer.startswith(b"GAME_DATA"):
        return 7777
    else:
        return None
