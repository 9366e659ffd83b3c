//! The connector instances the gateway holds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use dmesh_connector_api::{
    BuildContext, CatalogConnector, Connector, ErrorKind, Family, KindRegistry, ProcessingConnector, QueryConnector,
    StorageConnector,
};

use crate::error::{GatewayError, Result};
use crate::state::{ConnectorRecord, StateStore};

/// Where an instance came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The built-in `demo` connector.
    Builtin,
    /// The config file.
    ConfigFile,
    /// Added at run time; kept in the state store.
    Runtime,
}

/// A named connector instance.
#[derive(Debug)]
pub struct Instance {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its config as given, secret references unresolved.
    pub config: serde_json::Value,
    /// Where it came from.
    pub origin: Origin,
    /// When it was added.
    pub created_at: SystemTime,
    /// The built connector, or why it could not be built.
    pub connector: std::result::Result<Arc<dyn Connector>, String>,
}

impl Instance {
    /// The built connector.
    ///
    /// # Errors
    /// [`GatewayError::ConnectorUnavailable`] when it could not be built.
    pub fn connector(&self) -> Result<&Arc<dyn Connector>> {
        self.connector.as_ref().map_err(|reason| GatewayError::ConnectorUnavailable {
            name: self.name.clone(),
            reason: reason.clone(),
        })
    }

    /// The families the instance serves (none while it is unavailable).
    pub fn families(&self) -> Vec<Family> {
        self.connector.as_ref().map(|c| c.families()).unwrap_or_default()
    }

    fn not_served(&self, family: Family) -> GatewayError {
        let serves: Vec<String> = self.families().iter().map(ToString::to_string).collect();
        GatewayError::FamilyNotServed {
            connector: self.name.clone(),
            kind: self.kind.clone(),
            family,
            serves: if serves.is_empty() { "nothing".into() } else { serves.join(", ") },
        }
    }

    /// The Query family.
    ///
    /// # Errors
    /// [`GatewayError::FamilyNotServed`] or [`GatewayError::ConnectorUnavailable`].
    pub fn query(&self) -> Result<&dyn QueryConnector> {
        self.connector()?.as_query().ok_or_else(|| self.not_served(Family::Query))
    }

    /// The Catalog family.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub fn catalog(&self) -> Result<&dyn CatalogConnector> {
        self.connector()?.as_catalog().ok_or_else(|| self.not_served(Family::Catalog))
    }

    /// The Processing family.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub fn processing(&self) -> Result<&dyn ProcessingConnector> {
        self.connector()?
            .as_processing()
            .ok_or_else(|| self.not_served(Family::Processing))
    }

    /// The Storage family.
    ///
    /// # Errors
    /// As [`query`](Self::query).
    pub fn storage(&self) -> Result<&dyn StorageConnector> {
        self.connector()?.as_storage().ok_or_else(|| self.not_served(Family::Storage))
    }
}

/// Checks an instance name: lower-case letters, digits, `_` and `-`,
/// starting with a letter, at most 63 characters.
///
/// # Errors
/// [`GatewayError::InvalidName`].
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok { Ok(()) } else { Err(GatewayError::InvalidName(name.to_owned())) }
}

/// The instances, the kinds they are built from, and the store that keeps
/// the ones added at run time.
#[derive(Debug)]
pub struct Registry {
    kinds: KindRegistry,
    state: StateStore,
    state_dir: PathBuf,
    instances: RwLock<BTreeMap<String, Arc<Instance>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new(kinds: KindRegistry, state: StateStore, state_dir: PathBuf) -> Self {
        Self {
            kinds,
            state,
            state_dir,
            instances: RwLock::new(BTreeMap::new()),
        }
    }

    /// The kinds this gateway can build.
    pub fn kinds(&self) -> &KindRegistry {
        &self.kinds
    }

    /// Builds and holds an instance from the config file or the built-in set.
    ///
    /// A config that is wrong (bad field, unknown kind) is an error. A source
    /// that cannot be reached yet leaves the instance listed but unavailable,
    /// so one bad database does not keep the gateway from starting.
    ///
    /// # Errors
    /// A [`GatewayError`] for a wrong config.
    pub async fn load_static(&self, name: &str, kind: &str, config: serde_json::Value, origin: Origin) -> Result<()> {
        validate_name(name)?;
        let connector = match self.build(name, kind, config.clone()).await {
            Ok(c) => Ok(c),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidArgument) || e.reason() == "UNKNOWN_KIND" => {
                return Err(GatewayError::Connector(e.context(format!("connector `{name}`"))));
            }
            Err(e) => {
                tracing::warn!(connector = name, error = %e, "connector unavailable at start");
                Err(e.to_string())
            }
        };
        self.insert(Instance {
            name: name.to_owned(),
            kind: kind.to_owned(),
            config,
            origin,
            created_at: SystemTime::now(),
            connector,
        });
        Ok(())
    }

    /// Rebuilds the instances kept in the state store. One that fails to
    /// build stays listed as unavailable, with the reason.
    ///
    /// # Errors
    /// [`GatewayError::State`] when the store cannot be read.
    pub async fn load_runtime(&self) -> Result<usize> {
        let records = self.state.connectors().await?;
        let n = records.len();
        for r in records {
            if self.get(&r.name).is_ok() {
                tracing::warn!(connector = %r.name, "a connector added at run time has the name of one in the config file; the config file's wins");
                continue;
            }
            let connector = self.build(&r.name, &r.kind, r.config.clone()).await.map_err(|e| {
                tracing::warn!(connector = %r.name, error = %e, "connector unavailable at start");
                e.to_string()
            });
            self.insert(Instance {
                name: r.name,
                kind: r.kind,
                config: r.config,
                origin: Origin::Runtime,
                created_at: r.created_at,
                connector,
            });
        }
        Ok(n)
    }

    async fn build(
        &self,
        name: &str,
        kind: &str,
        config: serde_json::Value,
    ) -> dmesh_connector_api::Result<Arc<dyn Connector>> {
        let ctx = BuildContext {
            name: name.to_owned(),
            state_dir: Some(self.state_dir.join("connectors").join(name)),
        };
        self.kinds.build(kind, &ctx, config).await
    }

    fn insert(&self, instance: Instance) {
        let mut map = self.instances.write().unwrap_or_else(|p| p.into_inner());
        map.insert(instance.name.clone(), Arc::new(instance));
    }

    /// One instance by name.
    ///
    /// # Errors
    /// [`GatewayError::ConnectorNotFound`] listing the names there are.
    pub fn get(&self, name: &str) -> Result<Arc<Instance>> {
        let map = self.instances.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).cloned().ok_or_else(|| GatewayError::ConnectorNotFound {
            name: name.to_owned(),
            known: if map.is_empty() {
                "there are no connectors yet; add one with `dmesh connector add`".to_owned()
            } else {
                format!("known connectors: {}", map.keys().cloned().collect::<Vec<_>>().join(", "))
            },
        })
    }

    /// Every instance, in name order.
    pub fn list(&self) -> Vec<Arc<Instance>> {
        let map = self.instances.read().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    /// Builds an instance and keeps it in the state store. With
    /// `validate_only`, builds it and throws it away.
    ///
    /// # Errors
    /// [`GatewayError::InvalidName`], [`GatewayError::ConnectorExists`], or the
    /// kind's complaint about the config (naming the field).
    pub async fn add(&self, name: &str, kind: &str, config: serde_json::Value, validate_only: bool) -> Result<Arc<Instance>> {
        validate_name(name)?;
        if self.get(name).is_ok() {
            return Err(GatewayError::ConnectorExists(name.to_owned()));
        }
        let connector = self.build(name, kind, config.clone()).await?;
        let instance = Instance {
            name: name.to_owned(),
            kind: kind.to_owned(),
            config: config.clone(),
            origin: Origin::Runtime,
            created_at: SystemTime::now(),
            connector: Ok(connector),
        };
        if validate_only {
            if let Ok(c) = &instance.connector {
                c.close().await;
            }
            return Ok(Arc::new(instance));
        }
        self.state
            .insert_connector(ConnectorRecord {
                name: name.to_owned(),
                kind: kind.to_owned(),
                config,
                created_at: instance.created_at,
            })
            .await?;
        let instance = Arc::new(instance);
        {
            let mut map = self.instances.write().unwrap_or_else(|p| p.into_inner());
            map.insert(name.to_owned(), instance.clone());
        }
        tracing::info!(connector = name, kind, "connector added");
        Ok(instance)
    }

    /// Rebuilds an unavailable instance from its config; returns the
    /// instance as it now is.
    pub async fn retry_unavailable(&self, name: &str) -> Result<Arc<Instance>> {
        let current = self.get(name)?;
        if current.connector.is_ok() {
            return Ok(current);
        }
        let connector = self.build(&current.name, &current.kind, current.config.clone()).await;
        let rebuilt = Arc::new(Instance {
            name: current.name.clone(),
            kind: current.kind.clone(),
            config: current.config.clone(),
            origin: current.origin,
            created_at: current.created_at,
            connector: connector.map_err(|e| e.to_string()),
        });
        let mut map = self.instances.write().unwrap_or_else(|p| p.into_inner());
        map.insert(name.to_owned(), rebuilt.clone());
        Ok(rebuilt)
    }

    /// Removes an instance added at run time.
    ///
    /// # Errors
    /// [`GatewayError::ConnectorNotFound`], or [`GatewayError::NotRemovable`]
    /// for one from the config file or built in.
    pub async fn remove(&self, name: &str) -> Result<()> {
        let instance = self.get(name)?;
        match instance.origin {
            Origin::Runtime => {}
            Origin::ConfigFile => {
                return Err(GatewayError::NotRemovable {
                    name: name.to_owned(),
                    origin: "is defined in the gateway's config file; remove it there and restart",
                });
            }
            Origin::Builtin => {
                return Err(GatewayError::NotRemovable {
                    name: name.to_owned(),
                    origin: "is built in (served when no config file is given)",
                });
            }
        }
        self.state.remove_connector(name).await?;
        let removed = {
            let mut map = self.instances.write().unwrap_or_else(|p| p.into_inner());
            map.remove(name)
        };
        if let Some(Ok(c)) = removed.as_ref().map(|i| &i.connector) {
            c.close().await;
        }
        tracing::info!(connector = name, "connector removed");
        Ok(())
    }

    /// Closes every instance, for shutdown.
    pub async fn close_all(&self) {
        for instance in self.list() {
            if let Ok(c) = &instance.connector {
                c.close().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["demo", "sales-db", "a_1", "x"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Demo", "1db", "has space", "semi;colon", &"a".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
