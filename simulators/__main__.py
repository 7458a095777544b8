"""``python -m simulators [-c config.yaml]``: run the simulated station network."""

from ioc.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["simulate", *__import__("sys").argv[1:]]))
