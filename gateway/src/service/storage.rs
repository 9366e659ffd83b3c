//! `dmesh.v1.StorageService`.

use std::pin::Pin;
use std::sync::Arc;

use dmesh_connector_api as api;
use dmesh_proto::v1 as pb;
use dmesh_proto::v1::storage_service_server::StorageService;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::{AppState, paginate};
use crate::convert;
use crate::error::GatewayError;

/// The storage service.
#[derive(Debug, Clone)]
pub struct StorageApi(pub Arc<AppState>);

fn info(m: api::ObjectMeta) -> pb::ObjectInfo {
    pb::ObjectInfo {
        path: m.path,
        size: m.size,
        last_modified: m.last_modified.map(convert::timestamp),
        etag: m.etag.unwrap_or_default(),
        version: m.version.unwrap_or_default(),
        is_prefix: m.is_prefix,
    }
}

#[tonic::async_trait]
impl StorageService for StorageApi {
    async fn list(&self, request: Request<pb::ListObjectsRequest>) -> Result<Response<pb::ListObjectsResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let objects = instance.storage()?.list(&r.prefix, r.delimited).await.map_err(GatewayError::from)?;
        let (page, next_page_token) = paginate(objects, r.page.as_ref())?;
        Ok(Response::new(pb::ListObjectsResponse {
            objects: page.into_iter().map(info).collect(),
            next_page_token,
        }))
    }

    async fn head(&self, request: Request<pb::HeadObjectRequest>) -> Result<Response<pb::ObjectInfo>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let m = instance.storage()?.head(&r.path).await.map_err(GatewayError::from)?;
        Ok(Response::new(info(m)))
    }

    type ReadStream = Pin<Box<dyn Stream<Item = Result<pb::ReadObjectChunk, Status>> + Send>>;

    async fn read(&self, request: Request<pb::ReadObjectRequest>) -> Result<Response<Self::ReadStream>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        let length = (r.length > 0).then_some(r.length);
        let bytes = instance.storage()?.read(&r.path, r.offset, length).await.map_err(GatewayError::from)?;
        let mut offset = r.offset;
        let stream = bytes.0.map(move |chunk| {
            let chunk = chunk.map_err(|e| Status::from(GatewayError::from(e)))?;
            let out = pb::ReadObjectChunk {
                offset,
                data: chunk.to_vec(),
            };
            offset += chunk.len() as u64;
            Ok(out)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn write(&self, request: Request<Streaming<pb::WriteObjectChunk>>) -> Result<Response<pb::ObjectInfo>, Status> {
        let metadata = request.metadata().clone();
        let mut incoming = request.into_inner();
        let header = match incoming.message().await? {
            Some(pb::WriteObjectChunk {
                part: Some(pb::write_object_chunk::Part::Header(h)),
            }) => h,
            _ => {
                return Err(GatewayError::BadRequest("the first Write message must be a header naming the object".into()).into());
            }
        };
        let instance = self.0.instance_for(&metadata, &header.connector)?;
        self.0.caller(&metadata).require(crate::policy::Right::Write, &header.connector)?;
        let data = incoming.filter_map(|m| async move {
            match m {
                Ok(pb::WriteObjectChunk {
                    part: Some(pb::write_object_chunk::Part::Data(d)),
                }) => Some(Ok(bytes::Bytes::from(d))),
                Ok(_) => Some(Err(api::Error::invalid_argument("only the first Write message may be a header"))),
                Err(s) => Some(Err(api::Error::unavailable(format!("the upload broke off: {}", s.message())))),
            }
        });
        let m = instance
            .storage()?
            .write(&header.path, api::ByteStream(Box::pin(data)), header.if_not_exists)
            .await
            .map_err(GatewayError::from)?;
        Ok(Response::new(info(m)))
    }

    async fn delete(&self, request: Request<pb::DeleteObjectRequest>) -> Result<Response<pb::DeleteObjectResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        self.0.caller(&metadata).require(crate::policy::Right::Write, &r.connector)?;
        instance.storage()?.delete(&r.path).await.map_err(GatewayError::from)?;
        Ok(Response::new(pb::DeleteObjectResponse {}))
    }

    async fn read_table(&self, request: Request<pb::ReadTableRequest>) -> Result<Response<pb::ReadTableResponse>, Status> {
        let metadata = request.metadata().clone();
        let r = request.into_inner();
        let instance = self.0.instance_for(&metadata, &r.connector)?;
        instance.storage()?;
        Err(GatewayError::from(api::Error::unsupported(
            "reading files as tables through the storage API yet; query the file through a `files` connector instead",
        ))
        .into())
    }
}
