def analyse(buffer):
    """
    Analyze incoming buffer and return appropriate port number

    Args:
        buffer (bytes): Initial packet data

    Returns:
        int: Port number for routing, or None for default handling
    """
    if buffer.startswith(b"CUSTOM_PROTOCOL"):
        return 9000
    elif buffer.startswith(b"GAME_DATA"):
        return 7777
    else:
        return None
