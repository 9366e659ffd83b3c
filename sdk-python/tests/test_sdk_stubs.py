"""The checked-in gRPC stubs are what tools/generate_stubs.py writes from proto/."""

from __future__ import annotations

import importlib.util
import pathlib

import dmesh

SDK = pathlib.Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("generate_stubs", SDK / "tools" / "generate_stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_stubs_match_the_protos(tmp_path):
    generator = _generator()
    generator.generate(tmp_path)
    checked_in = generator.PACKAGE_DIR
    fresh = {p.name: p.read_text() for p in tmp_path.iterdir()}
    kept = {p.name: p.read_text() for p in checked_in.iterdir() if p.is_file()}
    stale = sorted(name for name in fresh.keys() | kept.keys() if fresh.get(name) != kept.get(name))
    assert not stale, (
        f"the stubs in {checked_in} differ from proto/ in {stale}; "
        "regenerate them with `python sdk-python/tools/generate_stubs.py`"
    )
    assert {p.stem for p in generator.protos()} == {n.removesuffix("_pb2.py") for n in fresh if n.endswith("_pb2.py")}


def test_the_installed_package_carries_its_stubs_and_type_marker():
    package = pathlib.Path(dmesh.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_proto" / "query_pb2.pyi").is_file()
    from dmesh._proto import query_pb2_grpc

    assert hasattr(query_pb2_grpc, "QueryServiceStub")
