//! Connector kinds: each is chosen by the `type` key of a config and builds
//! instances from it. There is no central list of kinds in this crate: the
//! gateway registers each kind's factory in a [`KindRegistry`].

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::{Connector, Error, Family, Result};

/// What a factory knows about the instance it builds.
#[derive(Clone, Debug, Default)]
pub struct BuildContext {
    /// The instance's name.
    pub name: String,
    /// A directory the instance may keep files in, when the gateway has one.
    pub state_dir: Option<PathBuf>,
}

/// Builds connector instances of one kind.
#[async_trait]
pub trait ConnectorFactory: Send + Sync + std::fmt::Debug {
    /// The value of the config's `type` key, e.g. `files`.
    fn kind(&self) -> &'static str;

    /// One line saying what the kind connects to.
    fn description(&self) -> &'static str;

    /// The families its instances serve.
    fn families(&self) -> &'static [Family];

    /// The JSON Schema of its config (without `type`).
    fn config_schema(&self) -> serde_json::Value;

    /// Validates `config` and builds an instance from it.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// naming the bad or missing field, or what the source said is wrong.
    async fn build(&self, ctx: &BuildContext, config: serde_json::Value) -> Result<Arc<dyn Connector>>;
}

/// A typed connector config: the usual way to define a kind.
///
/// Derive `Deserialize` (with `deny_unknown_fields`) and `JsonSchema`, write a
/// doc comment on every field (it becomes the schema's description), then
/// register `Kind::<YourConfig>::new()`.
///
/// ```
/// use std::sync::Arc;
/// use dmesh_connector_api::*;
///
/// /// Config of the `echo` kind.
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct EchoConfig {
///     /// What to say.
///     greeting: String,
/// }
///
/// #[derive(Debug)]
/// struct Echo;
///
/// #[async_trait::async_trait]
/// impl Connector for Echo {
///     fn kind(&self) -> &str { "echo" }
///     async fn health_check(&self) -> HealthReport { HealthReport::default() }
/// }
///
/// impl ConnectorConfig for EchoConfig {
///     const KIND: &'static str = "echo";
///     const DESCRIPTION: &'static str = "Says hello.";
///     const FAMILIES: &'static [Family] = &[];
///     async fn build(self, _ctx: &BuildContext) -> Result<Arc<dyn Connector>> {
///         Ok(Arc::new(Echo))
///     }
/// }
///
/// let mut kinds = KindRegistry::default();
/// kinds.register(Kind::<EchoConfig>::new());
/// assert!(kinds.get("echo").is_some());
/// ```
pub trait ConnectorConfig: DeserializeOwned + JsonSchema + Send + 'static {
    /// The `type` value that selects this kind.
    const KIND: &'static str;
    /// One line saying what the kind connects to.
    const DESCRIPTION: &'static str;
    /// The families its instances serve.
    const FAMILIES: &'static [Family];

    /// Builds an instance; this is where a connector checks that a path exists
    /// or that a host answers.
    fn build(self, ctx: &BuildContext) -> impl Future<Output = Result<Arc<dyn Connector>>> + Send;
}

/// The [`ConnectorFactory`] of a typed config.
pub struct Kind<C>(PhantomData<fn() -> C>);

impl<C> Kind<C> {
    /// The factory, ready to register.
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

impl<C> Default for Kind<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: ConnectorConfig> std::fmt::Debug for Kind<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({})", C::KIND)
    }
}

#[async_trait]
impl<C: ConnectorConfig> ConnectorFactory for Kind<C> {
    fn kind(&self) -> &'static str {
        C::KIND
    }

    fn description(&self) -> &'static str {
        C::DESCRIPTION
    }

    fn families(&self) -> &'static [Family] {
        C::FAMILIES
    }

    fn config_schema(&self) -> serde_json::Value {
        let mut schema = schemars::schema_for!(C).to_value();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert("title".into(), format!("{} connector config", C::KIND).into());
        }
        schema
    }

    async fn build(&self, ctx: &BuildContext, config: serde_json::Value) -> Result<Arc<dyn Connector>> {
        let typed: C = parse_config(C::KIND, config)?;
        typed.build(ctx).await
    }
}

/// Deserializes a kind's config, turning serde's complaint into an error that
/// names the kind and the field.
///
/// A `type` key, when present, must name `kind` and is removed first.
///
/// # Errors
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).
pub fn parse_config<C: DeserializeOwned>(kind: &str, config: serde_json::Value) -> Result<C> {
    let mut config = match config {
        serde_json::Value::Null => serde_json::Value::Object(Default::default()),
        serde_json::Value::Object(map) => serde_json::Value::Object(map),
        other => {
            return Err(Error::invalid_argument(format!(
                "the config of a `{kind}` connector must be an object of fields, not {other}"
            ))
            .with_reason("INVALID_CONFIG"));
        }
    };
    if let Some(map) = config.as_object_mut() {
        match map.remove("type") {
            Some(serde_json::Value::String(t)) if t == kind => {}
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "config has type {other} but is being built as a `{kind}` connector"
                ))
                .with_reason("INVALID_CONFIG"));
            }
            None => {}
        }
    }
    serde_json::from_value(config).map_err(|e| {
        Error::invalid_argument(format!("invalid config for a `{kind}` connector: {e}")).with_reason("INVALID_CONFIG")
    })
}

/// The connector kinds a gateway can build, by name.
#[derive(Clone, Debug, Default)]
pub struct KindRegistry {
    kinds: BTreeMap<&'static str, Arc<dyn ConnectorFactory>>,
}

impl KindRegistry {
    /// Adds a kind; a later registration of the same name replaces it.
    pub fn register(&mut self, factory: impl ConnectorFactory + 'static) -> &mut Self {
        self.kinds.insert(factory.kind(), Arc::new(factory));
        self
    }

    /// The factory of `kind`.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn ConnectorFactory>> {
        self.kinds.get(kind)
    }

    /// Every kind, in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn ConnectorFactory>> {
        self.kinds.values()
    }

    /// The factory of `kind`, or an error listing the kinds there are.
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an unknown kind.
    pub fn require(&self, kind: &str) -> Result<&Arc<dyn ConnectorFactory>> {
        self.get(kind).ok_or_else(|| {
            let known: Vec<&str> = self.kinds.keys().copied().collect();
            Error::not_found(format!(
                "unknown connector kind `{kind}`; this gateway can build: {}",
                known.join(", ")
            ))
            .with_reason("UNKNOWN_KIND")
        })
    }

    /// Builds an instance of `kind` from `config`.
    ///
    /// # Errors
    /// As [`require`](Self::require) and [`ConnectorFactory::build`].
    pub async fn build(&self, kind: &str, ctx: &BuildContext, config: serde_json::Value) -> Result<Arc<dyn Connector>> {
        self.require(kind)?.build(ctx, config).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, HealthReport};

    /// A test kind with one required and one optional field.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct TestConfig {
        /// Where.
        path: String,
        /// How many.
        #[serde(default)]
        count: u32,
    }

    #[derive(Debug)]
    struct TestConnector {
        path: String,
        count: u32,
    }

    #[async_trait]
    impl Connector for TestConnector {
        fn kind(&self) -> &str {
            "test"
        }
        async fn health_check(&self) -> HealthReport {
            HealthReport {
                checks: vec![crate::HealthCheck {
                    name: "config".into(),
                    ok: true,
                    detail: format!("{}:{}", self.path, self.count),
                    ..Default::default()
                }],
            }
        }
    }

    impl ConnectorConfig for TestConfig {
        const KIND: &'static str = "test";
        const DESCRIPTION: &'static str = "A test kind.";
        const FAMILIES: &'static [Family] = &[Family::Query];
        async fn build(self, _ctx: &BuildContext) -> Result<Arc<dyn Connector>> {
            Ok(Arc::new(TestConnector {
                path: self.path,
                count: self.count,
            }))
        }
    }

    fn registry() -> KindRegistry {
        let mut r = KindRegistry::default();
        r.register(Kind::<TestConfig>::new());
        r
    }

    #[tokio::test]
    async fn builds_from_a_config_with_or_without_type() {
        let r = registry();
        let ctx = BuildContext::default();
        let c = r
            .build("test", &ctx, serde_json::json!({"type": "test", "path": "/x", "count": 3}))
            .await
            .expect("builds");
        assert_eq!(c.kind(), "test");
        assert_eq!(c.health_check().await.checks[0].detail, "/x:3");
        r.build("test", &ctx, serde_json::json!({"path": "/x"})).await.expect("builds without type");
    }

    #[tokio::test]
    async fn unknown_kind_lists_known_kinds() {
        let e = registry()
            .build("nope", &BuildContext::default(), serde_json::json!({}))
            .await
            .expect_err("unknown kind");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("`nope`") && e.message().contains("test"), "{e}");
    }

    #[tokio::test]
    async fn bad_fields_are_named() {
        let r = registry();
        let ctx = BuildContext::default();
        let missing = r.build("test", &ctx, serde_json::json!({})).await.expect_err("missing");
        assert_eq!(missing.kind(), ErrorKind::InvalidArgument);
        assert!(missing.message().contains("missing field `path`"), "{missing}");
        let unknown = r
            .build("test", &ctx, serde_json::json!({"path": "/x", "pth": 1}))
            .await
            .expect_err("unknown");
        assert!(unknown.message().contains("unknown field `pth`"), "{unknown}");
        let mistyped = r
            .build("test", &ctx, serde_json::json!({"path": "/x", "count": "many"}))
            .await
            .expect_err("mistyped");
        assert!(mistyped.message().contains("invalid type"), "{mistyped}");
        let wrong_type = r
            .build("test", &ctx, serde_json::json!({"type": "postgres", "path": "/x"}))
            .await
            .expect_err("wrong type");
        assert!(wrong_type.message().contains("postgres"), "{wrong_type}");
    }

    #[test]
    fn schema_carries_field_docs() {
        let r = registry();
        let schema = r.get("test").expect("registered").config_schema();
        assert_eq!(schema["properties"]["path"]["description"], "Where.");
        assert_eq!(schema["required"], serde_json::json!(["path"]));
        assert_eq!(schema["title"], "test connector config");
    }
}
