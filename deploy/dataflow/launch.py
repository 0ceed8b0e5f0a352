"""Dataflow Flex Template entry point: the launcher runs this file with the template's parameters.

The launcher calls ``python launch.py --name=value ...`` (the template's parameters plus
Dataflow's own: runner, project, region, temp/staging locations, sdk_container_image), which
is exactly ``newsbeam run --name=value ...``.
"""

from __future__ import annotations

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
