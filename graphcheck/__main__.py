from graphcheck.cli import run

run()
