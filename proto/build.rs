//! Compiles `dmesh/v1/*.proto` with protox (pure Rust), so building dmesh
//! needs no system `protoc`. The descriptor set is kept for gRPC reflection.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "dmesh/v1/common.proto",
    "dmesh/v1/registry.proto",
    "dmesh/v1/query.proto",
    "dmesh/v1/catalog.proto",
    "dmesh/v1/processing.proto",
    "dmesh/v1/storage.proto",
    "dmesh/v1/access.proto",
    "dmesh/v1/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("dmesh_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .compile_well_known_types(false)
        .compile_fds(fds)?;
    Ok(())
}
