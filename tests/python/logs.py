import portmux

portmux.log("loaded\nwith a newline")


def analyse(buffer):
    portmux.log(buffer.decode("ascii", "replace"))
    return None
