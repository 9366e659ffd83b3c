"""Generates the gRPC stubs of the dmesh API from ``proto/dmesh/v1/*.proto``.

The stubs are checked in under ``src/dmesh/_proto`` so that installing the SDK
needs no protobuf compiler. Run this after changing a ``.proto`` file::

    python sdk-python/tools/generate_stubs.py

It needs ``grpcio-tools`` at the version pinned in ``tests/requirements.txt``;
``tests/test_stubs.py`` fails when the checked-in stubs differ from what this
script writes.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import shutil
import sys
import tempfile

SDK = pathlib.Path(__file__).resolve().parents[1]
PROTO_ROOT = SDK.parent / "proto"
PACKAGE_DIR = SDK / "src" / "dmesh" / "_proto"

INIT = '''"""Generated protobuf and gRPC stubs of the dmesh v1 API.

Written by ``sdk-python/tools/generate_stubs.py`` from ``proto/dmesh/v1``; do
not edit by hand.
"""
'''

# `from dmesh.v1 import common_pb2 as x` becomes `from . import common_pb2 as x`,
# so the stubs live inside the `dmesh` package instead of a top-level `dmesh.v1`.
_ABSOLUTE_IMPORT = re.compile(r"^from dmesh\.v1 import ", re.M)


def protos(root: pathlib.Path = PROTO_ROOT) -> list[pathlib.Path]:
    """The API's .proto files under ``root``, in name order."""
    return sorted((root / "dmesh" / "v1").glob("*.proto"))


def generate(out: pathlib.Path, root: pathlib.Path = PROTO_ROOT) -> list[pathlib.Path]:
    """Writes the stubs of the protos under ``root`` into ``out``; returns the files written.

    The files are flat in ``out`` and import each other package-relatively.
    """
    from grpc_tools import protoc

    well_known = pathlib.Path(protoc.__file__).resolve().parent / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        args = [
            "grpc_tools.protoc",
            f"-I{root}",
            f"-I{well_known}",
            f"--python_out={raw}",
            f"--pyi_out={raw}",
            f"--grpc_python_out={raw}",
            *(str(p.relative_to(root)) for p in protos(root)),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed; see its messages above")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for path in sorted((pathlib.Path(raw) / "dmesh" / "v1").iterdir()):
            target = out / path.name
            target.write_text(_ABSOLUTE_IMPORT.sub("from . import ", path.read_text()))
            written.append(target)
    init = out / "__init__.py"
    init.write_text(INIT)
    return [init, *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=PACKAGE_DIR, help="where to write (default: %(default)s)")
    parser.add_argument(
        "--proto-root",
        type=pathlib.Path,
        default=PROTO_ROOT,
        help="the folder holding dmesh/v1/*.proto (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.out.resolve() == PACKAGE_DIR and PACKAGE_DIR.exists():
        shutil.rmtree(PACKAGE_DIR)
    for path in generate(args.out, args.proto_root.resolve()):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
