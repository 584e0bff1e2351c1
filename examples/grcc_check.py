#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile a .grc with grcc, and fail if any of its blocks is unknown.

Usage: grcc_check.py FILE.grc OUTDIR   (GRC_BLOCKS_PATH names extra block dirs)

grcc alone is not enough for a test: a block id it cannot find (say, the
doppler yml is not on GRC_BLOCKS_PATH) becomes a placeholder "dummy" block,
grcc still exits 0 and the generated flowgraph silently lacks that block.
"""
import subprocess
import sys

from gnuradio import gr
from gnuradio.grc.core.platform import Platform


def unknown_blocks(grc_file):
    platform = Platform(name="grcc_check", prefs=gr.prefs(), version=gr.version(),
                        version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()))
    platform.build_library()
    flow_graph = platform.make_flow_graph()
    flow_graph.import_data(platform.parse_flow_graph(grc_file))
    return sorted(b.key for b in flow_graph.blocks if b.is_dummy_block)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    grc_file, out_dir = sys.argv[1:]
    missing = unknown_blocks(grc_file)
    if missing:
        sys.exit(f"{grc_file}: unknown block ids {missing}; put their .block.yml directory on GRC_BLOCKS_PATH")
    # grcc itself prints "Compilation error" and exits non-zero on an invalid flowgraph.
    sys.exit(subprocess.call(["grcc", "-o", out_dir, grc_file]))


if __name__ == "__main__":
    main()
