"""``rlrt``'s commands, one module each: its sub-parser (``add_parser(sub)``, which sets ``run`` as the parser's
default) and its ``run(args, argv)`` (the parsed arguments and the command line as given; the exit code).
:mod:`runtime.cli` lists them; a new command is one module here and one name in :data:`runtime.cli.COMMANDS`."""
