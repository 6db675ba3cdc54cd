//! Who is asking. Every request that can change the car carries a principal: the driver in the
//! cabin (voice, console) or a paired phone with the scopes its owner granted. The assistant acts
//! *for* that principal: a task needing a scope the principal lacks is refused in words before
//! anything reaches the vehicle bus (which checks its own roles on top).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// What a paired phone may do; the owner picks them at `cabin pair`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read vehicle signals and the car's status.
    Read,
    /// Ask the assistant in words (what it then does needs the scopes below).
    Ask,
    /// Climate, seats, lights, media and the head unit.
    Comfort,
    /// Doors, locks, windows and the trunk: what lets someone into the car.
    Access,
    /// What the cabin camera sees.
    Camera,
    /// The driver's memory (remembered facts, past questions); without it a phone has its own.
    Memory,
}

impl Scope {
    pub const ALL: [Scope; 6] = [Scope::Read, Scope::Ask, Scope::Comfort, Scope::Access, Scope::Camera, Scope::Memory];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Ask => "ask",
            Scope::Comfort => "comfort",
            Scope::Access => "access",
            Scope::Camera => "camera",
            Scope::Memory => "memory",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == text)
    }

    /// The scope that actuating a VSS signal needs: `access` for what opens the car (doors,
    /// their locks and windows, the trunk, the hood, the sunroof), `comfort` for the rest.
    pub fn to_actuate(path: &str) -> Scope {
        const OPENINGS: [&str; 4] = ["Vehicle.Cabin.Door.", "Vehicle.Body.Trunk.", "Vehicle.Body.Hood.", "Vehicle.Cabin.Sunroof."];
        if OPENINGS.iter().any(|prefix| path.starts_with(prefix)) {
            Scope::Access
        } else {
            Scope::Comfort
        }
    }
}

pub type Scopes = BTreeSet<Scope>;

/// On whose behalf the assistant acts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Principal {
    /// The driver in the cabin (voice, the console): every scope.
    #[default]
    Driver,
    /// A paired phone, with the scopes its owner granted.
    Phone { id: String, scopes: Scopes },
}

impl Principal {
    pub fn may(&self, scope: Scope) -> bool {
        match self {
            Principal::Driver => true,
            Principal::Phone { scopes, .. } => scopes.contains(&scope),
        }
    }

    /// Whose memory this principal reads and adds to: the driver's own, or for a phone without
    /// the `memory` scope, one of its own.
    pub fn memory_profile(&self, driver_profile: &str) -> String {
        match self {
            Principal::Phone { id, .. } if !self.may(Scope::Memory) => format!("phone-{id}"),
            _ => driver_profile.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings_need_access_and_the_rest_comfort() {
        assert_eq!(Scope::to_actuate("Vehicle.Cabin.Door.Row1.DriverSide.IsLocked"), Scope::Access);
        assert_eq!(Scope::to_actuate("Vehicle.Cabin.Door.Row2.PassengerSide.Window.Position"), Scope::Access);
        assert_eq!(Scope::to_actuate("Vehicle.Body.Trunk.Rear.IsOpen"), Scope::Access);
        assert_eq!(Scope::to_actuate("Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"), Scope::Comfort);
        assert_eq!(Scope::to_actuate("Vehicle.Cabin.Seat.Row1.DriverSide.Heating"), Scope::Comfort);
    }

    #[test]
    fn a_phone_has_its_own_memory_unless_granted_the_drivers() {
        let phone = |scopes: &[Scope]| Principal::Phone { id: "p1".into(), scopes: scopes.iter().copied().collect() };
        assert_eq!(phone(&[Scope::Ask]).memory_profile("ana"), "phone-p1");
        assert_eq!(phone(&[Scope::Ask, Scope::Memory]).memory_profile("ana"), "ana");
        assert_eq!(Principal::Driver.memory_profile("ana"), "ana");
        assert!(!phone(&[Scope::Ask, Scope::Comfort]).may(Scope::Access));
    }
}
