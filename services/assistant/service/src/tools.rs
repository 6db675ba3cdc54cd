//! The dialog's tools over D-Bus: the vehicle bus for signals, the vision service for "is my
//! hat in the car?", and whatever OEM service a task calls (the head unit for navigation,
//! media and phone).

use std::sync::Arc;

use cabin_dialog::{MemoryAction, MethodCall, Recollection, Sighting, ToolError, Tools, SURE_SIGHTING};
use cabin_memory::Memory;
use cabin_principal::{Principal, Scope};
use cabin_router::{CloudSighting, LookError, Router, SeatPhoto};
use cabin_vehicle_bus_client::{ClientError, Refusal, SignalInfo, VehicleBusClient};
use cabin_vehicle_config::Value;
use cabin_vision_client::{VisionError, VisionProxy};

#[derive(Debug, Clone)]
pub struct BusTools {
    vehicle: VehicleBusClient,
    memory: Option<Arc<Memory>>,
    /// For what the camera cannot tell on the car: the cloud's vision-language model.
    router: Option<Arc<Router>>,
    principal: Principal,
    /// The unique bus name of the connection that carried the principal's request (the phone
    /// link for a phone): the vehicle bus lets us act only as far as that connection may.
    on_behalf_of: Option<String>,
}

impl BusTools {
    pub fn new(vehicle: VehicleBusClient) -> BusTools {
        BusTools { vehicle, memory: None, router: None, principal: Principal::Driver, on_behalf_of: None }
    }

    /// These tools, acting for `principal`, whose request came through the connection
    /// `on_behalf_of`: its memory profile, its scopes, and on the vehicle bus that connection's
    /// rights.
    pub fn acting_for(&self, principal: Principal, on_behalf_of: Option<String>) -> BusTools {
        let memory = self.memory.as_ref().map(|driver| Arc::new(driver.for_profile(&principal.memory_profile(driver.profile()))));
        BusTools { vehicle: self.vehicle.clone(), memory, router: self.router.clone(), principal, on_behalf_of }
    }

    /// The memory of the principal these tools act for.
    pub fn memory_of_principal(&self) -> Option<&Arc<Memory>> {
        self.memory.as_ref()
    }

    /// The driver's memory, for memory tasks and the names they gave places and people.
    pub fn with_memory(mut self, memory: Option<Arc<Memory>>) -> BusTools {
        self.memory = memory;
        self
    }

    /// The router whose cloud model looks at seat photos when the car's models cannot tell.
    pub fn with_router(mut self, router: Arc<Router>) -> BusTools {
        self.router = Some(router);
        self
    }

    pub fn connection(&self) -> &zbus::Connection {
        self.vehicle.connection()
    }

    /// Whether a vehicle bus answers on this connection's bus.
    pub async fn vehicle_bus_running(&self) -> bool {
        !matches!(self.vehicle.list("Vehicle.Speed").await, Err(ClientError::NotRunning))
    }
}

/// The vehicle bus's refusal, in the dialog's terms. Its messages end with the reason people
/// should hear ("... refused by interlock 'x': the trunk opens only while the car is stopped").
fn vehicle_error(error: ClientError) -> ToolError {
    let message = error.to_string();
    let reason = message.rsplit_once(": ").map(|(_, reason)| reason.to_string()).unwrap_or(message.clone());
    match error {
        ClientError::Refused { refusal: Refusal::InterlockActive, .. } => {
            let interlock = message.split_once("interlock '").and_then(|(_, rest)| rest.split_once('\'')).map(|(name, _)| name.to_string());
            ToolError::Interlock { reason, interlock }
        }
        ClientError::Refused { refusal: Refusal::OutOfRange, .. } => ToolError::OutOfRange { reason },
        // "not permitted to actuate X (caller's roles: assistant)" has no reason after a colon.
        ClientError::Refused { refusal: Refusal::NotPermitted, .. } => ToolError::NotPermitted { reason: message },
        ClientError::Refused { refusal: Refusal::BackendUnavailable | Refusal::NoValue, .. } => {
            ToolError::Unavailable { what: "the car".into(), reason: message }
        }
        ClientError::NotRunning | ClientError::Connect { .. } => ToolError::Unavailable { what: "the vehicle bus".into(), reason: message },
        _ => ToolError::Failed(message),
    }
}

/// A D-Bus method error in the dialog's terms: a missing service is "not available".
fn call_error(what: &str, error: zbus::Error) -> ToolError {
    match &error {
        zbus::Error::MethodError(name, _, _)
            if matches!(
                name.as_str(),
                "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner"
                    | "org.freedesktop.DBus.Error.NoReply"
            ) =>
        {
            ToolError::Unavailable { what: what.into(), reason: error.to_string() }
        }
        _ => ToolError::Failed(format!("{what}: {error}")),
    }
}

impl Tools for BusTools {
    async fn memory(&self, action: MemoryAction, text: &str) -> Result<Recollection, ToolError> {
        let memory =
            self.memory.as_ref().ok_or_else(|| ToolError::Unavailable { what: "my memory".into(), reason: "not opened".into() })?;
        crate::remembering::act(memory, action, text)
    }

    async fn remembered(&self, name: &str) -> Option<String> {
        self.memory.as_ref()?.lookup(name).inspect_err(|error| tracing::warn!(%error, "memory lookup failed")).ok().flatten()
    }

    async fn preference(&self, unit: &str) -> Option<f64> {
        let facts = self.memory.as_ref()?.facts().inspect_err(|error| tracing::warn!(%error, "memory lookup failed")).ok()?;
        facts.iter().rev().find_map(|fact| preferred_number(&fact.text, unit))
    }

    fn principal(&self) -> &Principal {
        &self.principal
    }

    async fn set(&self, path: &str, value: &Value) -> Result<Value, ToolError> {
        match &self.on_behalf_of {
            Some(principal) => self.vehicle.set_for(path, value, principal).await,
            None => self.vehicle.set(path, value).await,
        }
        .map_err(vehicle_error)
    }

    async fn may_actuate(&self, path: &str) -> Option<bool> {
        // The vehicle bus says what this connection may do, and acting for a phone, what the
        // phone link may do too.
        let described = match &self.on_behalf_of {
            Some(principal) => self.vehicle.describe_for(path, principal).await,
            None => self.vehicle.describe(path).await,
        };
        match described {
            Ok(described) => described.first().map(|info| info.actuatable),
            Err(error) => {
                tracing::warn!(%error, path, "cannot tell whether the action is allowed");
                // Acting for a phone, what cannot be checked is not done.
                self.on_behalf_of.is_some().then_some(false)
            }
        }
    }

    /// An actuator still on its way answers with where it is going: after "set it to 22", "a bit
    /// warmer" means 23 even while the cabin is still at 21.
    async fn get(&self, path: &str) -> Result<Value, ToolError> {
        let info = self.vehicle.describe(path).await.map_err(vehicle_error)?.into_iter().next();
        match info {
            Some(SignalInfo { target: Some(target), .. }) => Ok(target),
            Some(SignalInfo { value: Some(value), .. }) => Ok(value),
            _ => self.vehicle.get(path).await.map(|reading| reading.value).map_err(vehicle_error),
        }
    }

    async fn call(&self, call: &MethodCall, args: &[String]) -> Result<(), ToolError> {
        let connection = self.vehicle.connection();
        let (service, path, interface, method) =
            (call.service.as_str(), call.path.as_str(), Some(call.interface.as_str()), call.method.as_str());
        // D-Bus bodies are typed tuples; tasks pass up to three strings (checked at load).
        let result = match args {
            [] => connection.call_method(Some(service), path, interface, method, &()).await,
            [a] => connection.call_method(Some(service), path, interface, method, &(a,)).await,
            [a, b] => connection.call_method(Some(service), path, interface, method, &(a, b)).await,
            [a, b, c, ..] => connection.call_method(Some(service), path, interface, method, &(a, b, c)).await,
        };
        result.map(|_| ()).map_err(|e| call_error(&format!("the {}", friendly_service(service)), e))
    }

    async fn find_object(&self, object: &str, region: Option<&str>) -> Result<Sighting, ToolError> {
        if !self.principal.may(Scope::Camera) {
            return Err(ToolError::NotPermitted { reason: "the owner has not allowed this caller to use the camera".into() });
        }
        if object.trim().is_empty() {
            return self.describe_cabin(region).await;
        }
        let vision = self.vision().await?;
        // What the car's models said: sure of it, unsure, not seen, or a word they do not know.
        let on_the_car = match vision.find(object, region.unwrap_or("")).await {
            Ok((true, confidence, region, _labels, _frame_time_us)) if confidence >= SURE_SIGHTING => {
                return Ok(Sighting::Seen { object: object.into(), region, confidence });
            }
            Ok((true, confidence, region, ..)) => Some(Sighting::Seen { object: object.into(), region, confidence }),
            Ok((false, ..)) => Some(Sighting::NotSeen { object: object.into(), why_not_cloud: None }),
            Err(VisionError::UnknownObject(_)) => None,
            Err(error) => return camera_trouble(error, region),
        };
        // What the car cannot tell, the cloud may: only seat photos, only when the owner allows.
        match self.ask_the_cloud(&vision, object, region).await {
            Ok(CloudSighting::Seen { seat }) => Ok(Sighting::SeenByCloud { object: object.into(), region: seat }),
            Ok(CloudSighting::NotSeen) => Ok(Sighting::NotSeenByCloud { object: object.into() }),
            Err(why_not_cloud) => {
                let why_not_cloud = why_not_cloud.map(|why| why.for_the_driver());
                Ok(match on_the_car {
                    Some(Sighting::NotSeen { object, .. }) => Sighting::NotSeen { object, why_not_cloud },
                    Some(unsure) => unsure,
                    None => Sighting::UnknownObject { object: object.into(), why_not_cloud },
                })
            }
        }
    }
}

impl BusTools {
    async fn vision(&self) -> Result<VisionProxy<'_>, ToolError> {
        VisionProxy::new(self.vehicle.connection()).await.map_err(|error| call_error("the camera", error))
    }

    /// The cloud's look at the seat photos (faces blurred by the vision service). `Err(None)`:
    /// there is no cloud to ask, nothing to tell the driver; `Err(Some(why))`: why it was not asked.
    async fn ask_the_cloud(
        &self,
        vision: &VisionProxy<'_>,
        object: &str,
        region: Option<&str>,
    ) -> Result<CloudSighting, Option<LookError>> {
        let router = self.router.as_ref().ok_or(None)?;
        match router.cloud_may_look() {
            Err(LookError::NoCloud) => return Err(None),
            Err(why) => return Err(Some(why)),
            Ok(()) => {}
        }
        let photos = match vision.seat_crops(region.unwrap_or("")).await {
            Ok(crops) => crops.into_iter().map(|(seat, jpeg)| SeatPhoto { seat, jpeg }).collect::<Vec<_>>(),
            Err(VisionError::NotAllowed(why)) => return Err(Some(LookError::NotAllowed(why))),
            Err(error) => return Err(Some(LookError::Failed(format!("no seat photos: {error}")))),
        };
        let answer = router.look(object, &photos).await;
        tracing::info!(object, photos = photos.len(), ?answer, "asked the cloud's vision model");
        answer.map_err(|error| match error {
            LookError::NoCloud => None,
            error => Some(error),
        })
    }

    /// "What's on the back seat?", "did I leave anything in the car?": what the camera sees, in
    /// a sentence. The caller's camera scope was checked by `find_object`.
    async fn describe_cabin(&self, region: Option<&str>) -> Result<Sighting, ToolError> {
        let seen = match self.vision().await?.describe(region.unwrap_or("")).await {
            Ok(seen) => seen,
            Err(error) => return camera_trouble(error, region),
        };
        let seen = seen.into_iter().map(|(label, region, _confidence)| (label, region)).collect();
        Ok(Sighting::Cabin { region: region.map(String::from), seen })
    }
}

/// A vision call that failed: a seat the camera cannot see is an answer; a camera that is not
/// there, or anything else, is an error the dialog says in words.
fn camera_trouble(error: VisionError, region: Option<&str>) -> Result<Sighting, ToolError> {
    match error {
        VisionError::UnknownRegion(_) => Ok(Sighting::OutOfView { region: region.unwrap_or_default().into() }),
        VisionError::CameraUnavailable(reason) => Err(ToolError::Unavailable { what: "the camera".into(), reason }),
        VisionError::ZBus(error) => Err(call_error("the camera", error)),
        other => Err(ToolError::Failed(format!("the camera: {}", zbus::DBusError::description(&other).unwrap_or("failed")))),
    }
}

/// 21 from "i like 21 degrees" or "i prefer it at twenty one degrees" for `degrees`; None when
/// the fact says no liking, or no number before the unit.
fn preferred_number(fact: &str, unit: &str) -> Option<f64> {
    if cabin_nlu::Language::of(fact) == cabin_nlu::Language::Chinese {
        return preferred_number_in_chinese(fact, unit);
    }
    let text = cabin_nlu::digits_for_words(&fact.to_lowercase());
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.iter().any(|w| matches!(*w, "like" | "prefer" | "love" | "want")) {
        return None;
    }
    let singular = unit.trim_end_matches('s');
    words
        .windows(2)
        .find(|pair| pair[1].trim_end_matches(['.', ',']).trim_end_matches('s') == singular)
        .and_then(|pair| pair[0].parse().ok())
}

/// 22 from "我喜欢二十二度" for `degrees`.
fn preferred_number_in_chinese(fact: &str, unit: &str) -> Option<f64> {
    let unit = match unit {
        "degrees" | "degree" => "度",
        "percent" => "%",
        _ => return None,
    };
    let text = cabin_nlu::normalise(fact);
    if !["喜欢", "习惯", "偏好", "爱"].iter().any(|w| text.contains(w)) {
        return None;
    }
    let (before, _) = text.split_once(unit)?;
    let digits: String =
        before.chars().rev().take_while(|c| c.is_ascii_digit() || *c == '.').collect::<Vec<_>>().into_iter().rev().collect();
    digits.parse().ok()
}

/// "org.cabin.HeadUnit1" -> "head unit".
fn friendly_service(service: &str) -> String {
    let last = service.rsplit('.').next().unwrap_or(service).trim_end_matches(char::is_numeric);
    let mut words = String::new();
    for (i, c) in last.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_liking_gives_its_number_for_its_unit_only() {
        assert_eq!(preferred_number("i like 21 degrees", "degrees"), Some(21.0));
        assert_eq!(preferred_number("i prefer it at twenty two degrees.", "degrees"), Some(22.0));
        assert_eq!(preferred_number("i like 21.5 degree", "degrees"), Some(21.5));
        assert_eq!(preferred_number("my home is 21 market street", "degrees"), None);
        assert_eq!(preferred_number("i like 40 percent", "degrees"), None);
        assert_eq!(preferred_number("it was 30 degrees in rome", "degrees"), None, "no liking");
        assert_eq!(preferred_number("我喜欢二十二度", "degrees"), Some(22.0));
        assert_eq!(preferred_number("罗马当时三十度", "degrees"), None, "no liking");
    }

    #[test]
    fn services_are_named_for_people() {
        assert_eq!(friendly_service("org.cabin.HeadUnit1"), "head unit");
    }

    #[test]
    fn interlock_refusals_keep_only_the_reason() {
        let error = ClientError::Refused {
            refusal: Refusal::InterlockActive,
            message: "Vehicle.Body.Trunk.Rear.IsOpen refused by interlock 'openings-only-when-stopped': the trunk opens only while the car is stopped".into(),
        };
        assert_eq!(vehicle_error(error).spoken("open the trunk"), "I can't open the trunk: the trunk opens only while the car is stopped.");
    }

    #[test]
    fn a_refused_permission_keeps_its_whole_message() {
        // Cut at the last colon, it read "assistant)".
        let message = "not permitted to actuate Vehicle.Body.Trunk.Rear.IsOpen (caller's roles: assistant)";
        let error = ClientError::Refused { refusal: Refusal::NotPermitted, message: message.into() };
        assert!(matches!(vehicle_error(error), ToolError::NotPermitted { reason } if reason.ends_with(message)));
    }
}
