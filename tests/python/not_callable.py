analyse = 42
