//! Who is calling, from what the bus daemon vouches for: the sender's uid and the well-known names
//! it owns. Answers are cached per connection and forgotten whenever bus-name ownership changes.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use cabin_vehicle_config::Caller;
use futures_util::StreamExt;
use zbus::fdo::DBusProxy;
use zbus::message::Header;
use zbus::names::{BusName, UniqueName};

use crate::errors::BusError;

#[derive(Debug)]
pub struct CallerResolver {
    dbus: DBusProxy<'static>,
    /// The well-known names roles are granted to.
    role_names: Vec<String>,
    service_uid: Option<u32>,
    cache: Mutex<HashMap<String, Caller>>,
}

impl CallerResolver {
    pub async fn new(connection: &zbus::Connection, role_names: Vec<String>) -> zbus::Result<Arc<Self>> {
        let dbus = DBusProxy::new(connection).await?;
        let service_uid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        let resolver = Arc::new(Self { dbus: dbus.clone(), role_names, service_uid, cache: Mutex::new(HashMap::new()) });
        let mut owner_changes = dbus.receive_name_owner_changed().await?;
        let weak = Arc::downgrade(&resolver);
        tokio::spawn(async move {
            while owner_changes.next().await.is_some() {
                let Some(resolver) = weak.upgrade() else { return };
                resolver.cache.lock().expect("caller cache poisoned").clear();
            }
        });
        Ok(resolver)
    }

    pub async fn resolve(&self, header: &Header<'_>) -> Result<Caller, BusError> {
        let sender = header.sender().ok_or_else(|| BusError::NotPermitted("the call has no sender".into()))?;
        self.resolve_name(sender.as_str()).await
    }

    /// Who the connection with unique name `sender` (":1.42") is.
    pub async fn resolve_name(&self, sender: &str) -> Result<Caller, BusError> {
        let sender = UniqueName::try_from(sender)
            .map_err(|_| BusError::InvalidArgument(format!("'{sender}' is not a unique bus name (like :1.42)")))?;
        if let Some(known) = self.cache.lock().expect("caller cache poisoned").get(sender.as_str()) {
            return Ok(known.clone());
        }
        let uid = self.dbus.get_connection_unix_user(BusName::from(sender.to_owned())).await.ok();
        if uid.is_none() {
            // Gone from the bus (or never there): nobody to act for.
            return Err(BusError::NotPermitted(format!("no connection {sender} on the bus")));
        }
        let mut bus_names = Vec::new();
        for name in &self.role_names {
            let Ok(bus_name) = BusName::try_from(name.as_str()) else { continue };
            if let Ok(owner) = self.dbus.get_name_owner(bus_name).await {
                if owner.as_str() == sender.as_str() {
                    bus_names.push(name.clone());
                }
            }
        }
        let caller = Caller { uid, bus_names, is_service_user: uid.is_some() && uid == self.service_uid, on_behalf_of: None };
        self.cache.lock().expect("caller cache poisoned").insert(sender.to_string(), caller.clone());
        Ok(caller)
    }
}
