//! The dmesh v1 gRPC API.
//!
//! Messages, clients and servers generated from `proto/dmesh/v1/*.proto`.
//! The same files are the contract for clients in other languages.

/// Version 1 of the API: `dmesh.v1`.
pub mod v1 {
    #![allow(missing_docs, clippy::all, unused_qualifications, missing_debug_implementations)]
    tonic::include_proto!("dmesh.v1");
}

/// The encoded `FileDescriptorSet` of every dmesh proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dmesh_descriptor.bin"));
