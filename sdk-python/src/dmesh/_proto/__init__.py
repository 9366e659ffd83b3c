"""Generated protobuf and gRPC stubs of the dmesh v1 API.

Written by ``sdk-python/tools/generate_stubs.py`` from ``proto/dmesh/v1``; do
not edit by hand.
"""
