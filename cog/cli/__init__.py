"""The command line: thin commands that call the pipeline and print with rich."""
