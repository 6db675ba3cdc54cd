//! The OEM's rules over signals: who may read or actuate what (roles), and when an actuation is
//! refused whatever the caller's role (interlocks).

use std::fmt;

use crate::glob::PathGlob;

/// A comparison or condition in an overlay that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("'{0}' does not start with a comparison (==, !=, <, <=, >, >=)")]
    NoComparison(String),
    #[error("'{0}' has nothing to compare with")]
    NothingToCompare(String),
    #[error("'{0}' does not start with a signal path")]
    NoSignalPath(String),
}
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    fn parse(token: &str) -> Option<Self> {
        Some(match token {
            "==" => Self::Eq,
            "!=" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

/// `> 20`, `== true`: a test on one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub operator: Operator,
    pub operand: Value,
}

impl Comparison {
    /// Parses `OP LITERAL`. A quoted literal is a string; otherwise it is read like CLI input.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let text = text.trim();
        let split = text.find(|c: char| !matches!(c, '=' | '!' | '<' | '>')).unwrap_or(text.len());
        let (op, literal) = text.split_at(split);
        let operator = Operator::parse(op.trim()).ok_or_else(|| RuleError::NoComparison(text.to_string()))?;
        let literal = literal.trim();
        if literal.is_empty() {
            return Err(RuleError::NothingToCompare(text.to_string()));
        }
        let operand = match literal.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(quoted) => Value::String(quoted.to_string()),
            None => Value::from_text(literal),
        };
        Ok(Self { operator, operand })
    }

    pub fn holds(&self, value: &Value) -> bool {
        use std::cmp::Ordering::*;
        let Some(order) = value.compare(&self.operand) else {
            // Values of unrelated kinds are simply unequal.
            return self.operator == Operator::Ne;
        };
        match self.operator {
            Operator::Eq => order == Equal,
            Operator::Ne => order != Equal,
            Operator::Lt => order == Less,
            Operator::Le => order != Greater,
            Operator::Gt => order == Greater,
            Operator::Ge => order != Less,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.operator.symbol(), self.operand)
    }
}

/// `Vehicle.Speed > 80`: a test on another signal's current value.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub path: String,
    pub comparison: Comparison,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let text = text.trim();
        let split = text.find(|c: char| c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>')).unwrap_or(text.len());
        let (path, rest) = text.split_at(split);
        if path.is_empty() || PathGlob::new(path).map(|g| !g.is_literal()).unwrap_or(true) {
            return Err(RuleError::NoSignalPath(text.to_string()));
        }
        Ok(Self { path: path.to_string(), comparison: Comparison::parse(rest)? })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path, self.comparison)
    }
}

/// Refuses actuation of `paths` with a value matching `refuse` while every `when` condition holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Interlock {
    pub name: String,
    pub paths: Vec<PathGlob>,
    /// Which requested values are guarded; `None` guards every value.
    pub refuse: Option<Comparison>,
    pub when: Vec<Condition>,
    /// Plain words for the driver: "the trunk opens only while the car is stopped".
    pub reason: String,
}

impl Interlock {
    /// Whether this interlock guards a request to set `path` to `value` (before looking at `when`).
    pub fn guards(&self, path: &str, value: &Value) -> bool {
        self.paths.iter().any(|g| g.matches(path)) && self.refuse.as_ref().is_none_or(|c| c.holds(value))
    }
}

/// Who a caller is, as far as the bus can prove it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub uid: Option<u32>,
    /// Well-known names the caller's connection owns.
    pub bus_names: Vec<String>,
    /// The caller runs as the same user as the vehicle-bus service itself.
    pub is_service_user: bool,
    /// The caller acts for another (the assistant for a phone that asked it): it may do only
    /// what both may do.
    pub on_behalf_of: Option<Box<Caller>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub uids: Vec<u32>,
    pub bus_names: Vec<String>,
    pub service_user: bool,
    pub everyone: bool,
    pub read: Vec<PathGlob>,
    pub actuate: Vec<PathGlob>,
}

impl Role {
    pub fn includes(&self, caller: &Caller) -> bool {
        self.everyone
            || (self.service_user && caller.is_service_user)
            || caller.uid.is_some_and(|uid| self.uids.contains(&uid))
            || caller.bus_names.iter().any(|name| self.bus_names.contains(name))
    }
}

/// The roles from the overlay. Nobody may do anything that no role grants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessPolicy {
    pub roles: Vec<Role>,
}

impl AccessPolicy {
    /// The roles a caller holds; empty means it may do nothing. A caller speaking as a name
    /// that roles are granted to holds those roles only, never the union of everything its uid
    /// could claim: services sharing a user (`cabin up`, one process) stay apart.
    pub fn roles_of<'a>(&'a self, caller: &Caller) -> Vec<&'a Role> {
        if caller.bus_names.is_empty() {
            return self.roles.iter().filter(|role| role.includes(caller)).collect();
        }
        self.roles.iter().filter(|role| role.everyone || caller.bus_names.iter().any(|name| role.bus_names.contains(name))).collect()
    }

    /// Whether `caller` may actuate `path`, by its own roles and, when it acts for another, by
    /// that one's too.
    pub fn may_actuate_as(&self, caller: &Caller, path: &str) -> bool {
        Self::may_actuate(&self.roles_of(caller), path)
            && caller.on_behalf_of.as_deref().is_none_or(|other| self.may_actuate_as(other, path))
    }

    pub fn may_read(roles: &[&Role], path: &str) -> bool {
        roles.iter().any(|r| r.read.iter().chain(&r.actuate).any(|g| g.matches(path)))
    }

    pub fn may_actuate(roles: &[&Role], path: &str) -> bool {
        roles.iter().any(|r| r.actuate.iter().any(|g| g.matches(path)))
    }

    /// The bus names any role is granted to, which the service must watch.
    pub fn bus_names(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().flat_map(|r| r.bus_names.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_read_like_the_overlay() {
        let above_20 = Comparison::parse("> 20").unwrap();
        assert!(above_20.holds(&Value::Uint(21)));
        assert!(!above_20.holds(&Value::Uint(20)));
        let is_true = Comparison::parse("==true").unwrap();
        assert!(is_true.holds(&Value::Bool(true)));
        assert!(!is_true.holds(&Value::Bool(false)));
        let not_park = Comparison::parse("!= \"PARK\"").unwrap();
        assert!(not_park.holds(&Value::String("DRIVE".into())));
        assert!(Comparison::parse("about 20").is_err());
        assert!(Comparison::parse(">").is_err());
    }

    #[test]
    fn conditions_name_a_signal() {
        let moving = Condition::parse("Vehicle.Speed != 0").unwrap();
        assert_eq!(moving.path, "Vehicle.Speed");
        assert!(moving.comparison.holds(&Value::Float(0.5)));
        assert!(!moving.comparison.holds(&Value::Float(0.0)));
        assert_eq!(Condition::parse("Vehicle.Speed>80").unwrap().comparison.operator, Operator::Gt);
        assert!(Condition::parse("> 80").is_err());
        assert!(Condition::parse("Vehicle.* > 80").is_err());
    }

    #[test]
    fn roles_come_from_uid_bus_name_or_service_user() {
        let role = |uids: Vec<u32>, names: Vec<&str>, service_user| Role {
            name: "r".into(),
            uids,
            bus_names: names.into_iter().map(String::from).collect(),
            service_user,
            everyone: false,
            read: vec![],
            actuate: vec![],
        };
        let assistant = Caller { uid: Some(1000), bus_names: vec!["org.cabin.Assistant1".into()], ..Caller::default() };
        assert!(role(vec![], vec!["org.cabin.Assistant1"], false).includes(&assistant));
        assert!(role(vec![1000], vec![], false).includes(&assistant));
        assert!(!role(vec![0], vec!["org.cabin.Phone1"], true).includes(&assistant));
        let same_user = Caller { is_service_user: true, ..Caller::default() };
        assert!(role(vec![], vec![], true).includes(&same_user));
    }

    #[test]
    fn a_named_caller_holds_its_names_roles_only_and_acting_for_another_narrows() {
        let glob = |g: &str| PathGlob::new(g).unwrap();
        let role = |name: &str, uids: Vec<u32>, names: Vec<&str>, service_user, actuate: &str| Role {
            name: name.into(),
            uids,
            bus_names: names.into_iter().map(String::from).collect(),
            service_user,
            everyone: false,
            read: vec![],
            actuate: vec![glob(actuate)],
        };
        let policy = AccessPolicy {
            roles: vec![
                role("assistant", vec![], vec!["org.cabin.Assistant1"], false, "Vehicle.Cabin.**"),
                role("phone-link", vec![], vec!["org.cabin.PhoneLink1"], false, "Vehicle.Cabin.HVAC.**"),
                role("diagnostic", vec![0], vec![], true, "Vehicle.**"),
            ],
        };
        let link = Caller { uid: Some(0), bus_names: vec!["org.cabin.PhoneLink1".into()], is_service_user: true, ..Caller::default() };
        let names: Vec<&str> = policy.roles_of(&link).iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["phone-link"], "root and the service's user add nothing to a named caller");
        let lock = "Vehicle.Cabin.Door.Row1.DriverSide.IsLocked";
        assert!(!policy.may_actuate_as(&link, lock));
        let assistant = Caller { uid: Some(0), bus_names: vec!["org.cabin.Assistant1".into()], ..Caller::default() };
        assert!(policy.may_actuate_as(&assistant, lock));
        let for_the_phone = Caller { on_behalf_of: Some(Box::new(link)), ..assistant };
        assert!(!policy.may_actuate_as(&for_the_phone, lock), "acting for the phone link, the assistant has its rights only");
        assert!(policy.may_actuate_as(&for_the_phone, "Vehicle.Cabin.HVAC.Station.Row1.Driver.Temperature"));
        let diagnostics = Caller { uid: Some(0), ..Caller::default() };
        assert!(policy.may_actuate_as(&diagnostics, lock), "an unnamed root caller is local diagnostics");
    }
}
