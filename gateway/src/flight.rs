//! Arrow Flight on the gateway's port: `DoGet` redeems the tickets that
//! `QueryService.Execute` issues and streams the result, and Flight SQL
//! commands, tickets and actions go to [`crate::flightsql`].
//!
//! `GetFlightInfo` also accepts a command descriptor holding JSON,
//! `{"connector": "demo", "sql": "SELECT ..."}`, so a plain Flight client
//! (such as `pyarrow.flight`) can run a query with no dmesh-specific stubs.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest,
    HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
};
use arrow::ipc::writer::IpcWriteOptions;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use serde::Deserialize;
use tonic::{Request, Response, Status, Streaming};

use crate::engine::QueryEngine;
use crate::error::GatewayError;

/// No FlightData message is larger than this unless one value alone is.
pub const MAX_FLIGHT_DATA_BYTES: usize = 2 << 20;

pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The Flight service.
#[derive(Debug, Clone)]
pub struct FlightApi {
    state: Arc<crate::service::AppState>,
}

impl FlightApi {
    /// A Flight service over the gateway's engine.
    pub fn new(state: Arc<crate::service::AppState>) -> Self {
        Self { state }
    }

    pub(crate) fn state(&self) -> &crate::service::AppState {
        &self.state
    }

    pub(crate) fn engine(&self) -> &QueryEngine {
        &self.state.engine
    }
}

/// The JSON command `GetFlightInfo` accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryCommand {
    connector: String,
    sql: String,
    #[serde(default)]
    max_rows: Option<u64>,
}

/// Streams a redeemed ticket's result as Flight data. When a limit cut the
/// result, the last message's app_metadata says so:
/// `{"truncated":true,"limit":"max_rows","value":N}`.
pub async fn stream_ticket(
    engine: &QueryEngine,
    ticket: &[u8],
    deadline: Option<std::time::Duration>,
    principal: Option<&str>,
) -> Result<BoxStream<FlightData>, Status> {
    let stream = engine.redeem_as(principal, ticket, deadline).await?;
    let schema = stream.schema();
    let truncation = stream.truncation_handle();
    let batches = stream.map_err(|e| FlightError::Tonic(Box::new(Status::from(GatewayError::from(e)))));
    let encoded = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .with_max_flight_data_size(MAX_FLIGHT_DATA_BYTES)
        .build(batches)
        .map_err(|e| match e {
            FlightError::Tonic(status) => *status,
            other => Status::internal(format!("encoding the result failed: {other}")),
        });
    Ok(Box::pin(with_truncation_note(encoded, truncation)))
}

/// Holds back one message so that, when a limit cut the result, the last
/// message can carry the note in its app_metadata (every Flight client
/// surfaces app_metadata on data messages; not all accept metadata-only ones).
fn with_truncation_note(
    encoded: impl Stream<Item = Result<FlightData, Status>> + Send + 'static,
    truncation: Arc<std::sync::Mutex<Option<crate::engine::Truncation>>>,
) -> impl Stream<Item = Result<FlightData, Status>> + Send + 'static {
    let encoded = Box::pin(encoded);
    futures::stream::unfold(Some((encoded, None::<FlightData>)), move |state| {
        let truncation = truncation.clone();
        async move {
            let (mut encoded, mut held) = state?;
            loop {
                match encoded.next().await {
                    Some(Ok(next)) => {
                        if let Some(prev) = held.replace(next) {
                            return Some((Ok(prev), Some((encoded, held))));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), None)),
                    None => {
                        let mut last = held?;
                        if let Some(t) = truncation.lock().ok().and_then(|t| t.clone()) {
                            let note = serde_json::json!({"truncated": true, "limit": t.limit, "value": t.value});
                            last.app_metadata = note.to_string().into_bytes().into();
                        }
                        return Some((Ok(last), None));
                    }
                }
            }
        }
    })
}

fn unimplemented<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "Flight {what} is not offered by this gateway; run queries with QueryService.Execute or GetFlightInfo, then DoGet"
    )))
}

#[tonic::async_trait]
impl FlightService for FlightApi {
    type HandshakeStream = BoxStream<HandshakeResponse>;
    type ListFlightsStream = BoxStream<FlightInfo>;
    type DoGetStream = BoxStream<FlightData>;
    type DoPutStream = BoxStream<PutResult>;
    type DoExchangeStream = BoxStream<FlightData>;
    type DoActionStream = BoxStream<arrow_flight::Result>;
    type ListActionsStream = BoxStream<ActionType>;

    /// The Flight SQL handshake: credentials in (Basic, in the
    /// `authorization` header or the payload), a bearer token back in the
    /// `authorization` response header and in the payload.
    async fn handshake(&self, request: Request<Streaming<HandshakeRequest>>) -> Result<Response<Self::HandshakeStream>, Status> {
        let principal = request.extensions().get::<crate::auth::Principal>().cloned();
        let token_id = request.extensions().get::<crate::auth::TokenId>().cloned();
        let mut incoming = request.into_inner();
        let first = incoming.message().await?.unwrap_or_default();
        let auth = &self.state.auth;
        let token = match (principal, token_id) {
            (Some(p), Some(id)) => auth.session_token(&p.0, &id.0),
            _ if auth.enabled() => return Err(Status::unauthenticated("the handshake needs Basic credentials")),
            _ => crate::flightsql::new_token(),
        };
        let reply = HandshakeResponse {
            protocol_version: first.protocol_version,
            payload: token.clone().into_bytes().into(),
        };
        let stream: Self::HandshakeStream = Box::pin(futures::stream::once(async move { Ok(reply) }));
        let mut response = Response::new(stream);
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("the token is not a header value"))?;
        response.metadata_mut().insert("authorization", value);
        Ok(response)
    }

    async fn list_flights(&self, _: Request<Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        unimplemented("ListFlights")
    }

    async fn get_flight_info(&self, request: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        if let Some(any) = crate::flightsql::is_flight_sql(&request.get_ref().cmd) {
            let metadata = request.metadata().clone();
            let info = self.sql_flight_info(any, request.into_inner(), &metadata).await?;
            return Ok(Response::new(info));
        }
        let metadata = request.metadata().clone();
        let descriptor = request.into_inner();
        let command: QueryCommand = serde_json::from_slice(&descriptor.cmd).map_err(|e| {
            GatewayError::BadRequest(format!(
                "the descriptor's command must be JSON like {{\"connector\": \"demo\", \"sql\": \"SELECT 1\"}}: {e}"
            ))
        })?;
        self.state.allow(&metadata, &command.connector)?;
        let limits = dmesh_connector_api::Limits {
            max_rows: command.max_rows,
            ..Default::default()
        };
        let prepared = self
            .engine()
            .prepare_for(
                &self.state.caller(&metadata),
                &command.connector,
                &command.sql,
                Vec::new(),
                limits,
                false,
            )
            .await?;
        let info = FlightInfo::new()
            .try_with_schema(&prepared.schema)
            .map_err(|e| Status::internal(format!("encoding the schema failed: {e}")))?
            .with_descriptor(descriptor)
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(prepared.ticket)))
            .with_ordered(true);
        Ok(Response::new(info))
    }

    async fn poll_flight_info(&self, _: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        unimplemented("PollFlightInfo")
    }

    async fn get_schema(&self, request: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        let info = self.get_flight_info(request).await?.into_inner();
        let schema = info
            .try_decode_schema()
            .map_err(|e| Status::internal(format!("decoding the schema failed: {e}")))?;
        let result: SchemaResult = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e: arrow::error::ArrowError| Status::internal(format!("encoding the schema failed: {e}")))?;
        Ok(Response::new(result))
    }

    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        if let Some(any) = crate::flightsql::is_flight_sql(&request.get_ref().ticket) {
            let stream = self.sql_do_get(any, request.metadata()).await?;
            return Ok(Response::new(stream));
        }
        let deadline = crate::engine::client_deadline(request.metadata());
        let principal = crate::service::AppState::principal(request.metadata());
        let ticket = request.into_inner();
        let stream = stream_ticket(self.engine(), &ticket.ticket, deadline, principal.as_deref()).await?;
        Ok(Response::new(stream))
    }

    /// Flight SQL parameter binding: a stream of parameter batches for a
    /// `CommandPreparedStatementQuery`, answered with a handle that holds them.
    async fn do_put(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        let mut incoming = request.into_inner();
        let first = incoming
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("DoPut sent no messages"))?;
        let cmd = first.flight_descriptor.as_ref().map(|d| d.cmd.clone()).unwrap_or_default();
        let any = crate::flightsql::is_flight_sql(&cmd)
            .ok_or_else(|| Status::invalid_argument("DoPut takes Flight SQL prepared statement parameters only"))?;
        let command = arrow_flight::sql::Command::try_from(any)
            .map_err(|e| Status::invalid_argument(format!("bad Flight SQL command: {e}")))?;
        let q = match command {
            arrow_flight::sql::Command::CommandPreparedStatementQuery(q) => q,
            arrow_flight::sql::Command::CommandStatementUpdate(_)
            | arrow_flight::sql::Command::CommandPreparedStatementUpdate(_)
            | arrow_flight::sql::Command::CommandStatementIngest(_) => {
                return Err(Status::permission_denied(
                    "updates are refused: no caller may write through Flight SQL until principals with write \
                     access can be configured; run queries instead",
                ));
            }
            other => {
                return Err(Status::unimplemented(format!(
                    "Flight SQL {} over DoPut is not offered",
                    other.type_url()
                )));
            }
        };
        let messages = futures::stream::once(async move { Ok(first) })
            .chain(incoming)
            .map_err(|e: Status| FlightError::Tonic(Box::new(e)));
        let batches: Vec<arrow::record_batch::RecordBatch> =
            arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(messages)
                .try_collect()
                .await
                .map_err(|e| Status::invalid_argument(format!("reading the parameters failed: {e}")))?;
        let result = self.bind_parameters(&q.prepared_statement_handle, batches).await?;
        let put = PutResult {
            app_metadata: result.encode_to_vec().into(),
        };
        Ok(Response::new(Box::pin(futures::stream::once(async move { Ok(put) }))))
    }

    async fn do_exchange(&self, _: Request<Streaming<FlightData>>) -> Result<Response<Self::DoExchangeStream>, Status> {
        unimplemented("DoExchange")
    }

    /// Flight SQL's prepared statement actions.
    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        let metadata = request.metadata().clone();
        let action = request.into_inner();
        let any = || {
            arrow_flight::sql::Any::decode(&*action.body)
                .map_err(|e| Status::invalid_argument(format!("the action body is not a protobuf Any: {e}")))
        };
        let body: Vec<u8> = match action.r#type.as_str() {
            "CreatePreparedStatement" => {
                let any = any()?;
                let req: arrow_flight::sql::ActionCreatePreparedStatementRequest = any
                    .unpack()
                    .map_err(|e| Status::invalid_argument(e.to_string()))?
                    .ok_or_else(|| Status::invalid_argument("expected ActionCreatePreparedStatementRequest"))?;
                let result = self.create_prepared_statement(req, &metadata).await?;
                arrow_flight::sql::Any::pack(&result)
                    .map_err(|e| Status::internal(e.to_string()))?
                    .encode_to_vec()
            }
            // Handles hold everything; closing one frees nothing.
            "ClosePreparedStatement" => Vec::new(),
            "CancelFlightInfo" => {
                let request = arrow_flight::CancelFlightInfoRequest::decode(&*action.body)
                    .map_err(|e| Status::invalid_argument(format!("bad CancelFlightInfoRequest: {e}")))?;
                let mut cancelled = 0;
                for endpoint in request.info.map(|i| i.endpoint).unwrap_or_default() {
                    let Some(ticket) = endpoint.ticket else { continue };
                    let handle = match crate::flightsql::is_flight_sql(&ticket.ticket)
                        .and_then(|any| any.unpack::<arrow_flight::sql::TicketStatementQuery>().ok().flatten())
                    {
                        Some(t) => t.statement_handle.to_vec(),
                        None => ticket.ticket.to_vec(),
                    };
                    cancelled += self.engine().cancel(&handle)?;
                }
                let status = if cancelled > 0 {
                    arrow_flight::CancelStatus::Cancelled
                } else {
                    arrow_flight::CancelStatus::NotCancellable
                };
                arrow_flight::CancelFlightInfoResult::new(status).encode_to_vec()
            }
            other => {
                return Err(Status::unimplemented(format!(
                    "action `{other}` is not offered; CreatePreparedStatement, ClosePreparedStatement and \
                     CancelFlightInfo are"
                )));
            }
        };
        let result = arrow_flight::Result { body: body.into() };
        Ok(Response::new(Box::pin(futures::stream::once(async move { Ok(result) }))))
    }

    async fn list_actions(&self, _: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        let actions = [
            ("CreatePreparedStatement", "Checks a statement; returns a handle and the result's schema."),
            ("ClosePreparedStatement", "Ends a prepared statement."),
            ("CancelFlightInfo", "Cancels the running reads of a FlightInfo's tickets."),
        ]
        .map(|(t, d)| {
            Ok(ActionType {
                r#type: t.to_owned(),
                description: d.to_owned(),
            })
        });
        Ok(Response::new(Box::pin(futures::stream::iter(actions))))
    }
}
