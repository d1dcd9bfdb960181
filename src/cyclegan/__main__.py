try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while cyclegan.cli loads, before `main` takes it over: one line, not a traceback
    import sys

    print("interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
