"""Front-end assets and preset problems: package data, read with importlib.resources."""
