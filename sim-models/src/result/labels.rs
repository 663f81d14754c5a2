//! Typed values a result carries as text: why a run stopped and what kind of fault a window
//! held. Each serialises as the words it always has (`horizon`, `event_budget: ...`,
//! `slowdown x100`), so saved results, snapshots and scripts read the same; code matches on
//! the kind instead of comparing strings.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What ended a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// It reached its horizon: the normal end.
    Horizon,
    /// Nothing was left to happen.
    Drained,
    /// `limits.max_events`.
    EventBudget,
    /// `limits.max_events_without_progress`: virtual time stood still or crawled.
    NoProgress,
    /// `limits.max_in_flight`.
    InFlightLimit,
    /// Another guard of the model.
    Guard,
}

impl StopKind {
    /// Its name, the first word of the text.
    pub fn name(self) -> &'static str {
        match self {
            StopKind::Horizon => "horizon",
            StopKind::Drained => "drained",
            StopKind::EventBudget => "event_budget",
            StopKind::NoProgress => "no_progress",
            StopKind::InFlightLimit => "in_flight_limit",
            StopKind::Guard => "guard",
        }
    }

    const ALL: [StopKind; 6] = [
        StopKind::Horizon,
        StopKind::Drained,
        StopKind::EventBudget,
        StopKind::NoProgress,
        StopKind::InFlightLimit,
        StopKind::Guard,
    ];
}

/// Why a run ended, with the guard's explanation (empty for a normal end). As text:
/// `horizon`, `drained`, or `KIND: DETAIL` (`event_budget: 100000 events at t=1.234s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    pub kind: StopKind,
    pub detail: String,
}

impl Stopped {
    pub fn new(kind: StopKind, detail: impl Into<String>) -> Self {
        Stopped {
            kind,
            detail: detail.into(),
        }
    }

    /// A guard's message (`in_flight_limit: ...`, or any other text) read back.
    pub fn parse(text: &str) -> Self {
        for kind in StopKind::ALL {
            if text == kind.name() {
                return Stopped::new(kind, "");
            }
            if let Some(detail) = text
                .strip_prefix(kind.name())
                .and_then(|r| r.strip_prefix(": "))
            {
                return Stopped::new(kind, detail);
            }
        }
        Stopped::new(StopKind::Guard, text)
    }

    /// Whether the run ended normally (horizon or drained), not by a guard.
    pub fn is_normal(&self) -> bool {
        matches!(self.kind, StopKind::Horizon | StopKind::Drained)
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.detail.is_empty()) {
            (kind, true) => f.write_str(kind.name()),
            // A guard's own message is the whole text.
            (StopKind::Guard, false) => f.write_str(&self.detail),
            (kind, false) => write!(f, "{}: {}", kind.name(), self.detail),
        }
    }
}

impl Serialize for Stopped {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Stopped {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Stopped::parse(&String::deserialize(d)?))
    }
}

/// The kind of a scheduled fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultClass {
    Crash,
    Errors,
    Slowdown,
    CapacityLoss,
    Pause,
    Partition,
    Loss,
    Spike,
    /// Every instance (and client) in a zone down.
    ZoneOutage,
    /// A cache emptied.
    Flush,
    /// A token auth's tokens revoked.
    RevokeTokens,
}

impl FaultClass {
    /// The first words of its label.
    pub fn words(self) -> &'static str {
        match self {
            FaultClass::Crash => "crash",
            FaultClass::Errors => "errors",
            FaultClass::Slowdown => "slowdown",
            FaultClass::CapacityLoss => "capacity loss",
            FaultClass::Pause => "pause",
            FaultClass::Partition => "partition",
            FaultClass::Loss => "loss",
            FaultClass::Spike => "traffic spike",
            FaultClass::ZoneOutage => "zone outage",
            FaultClass::Flush => "flush",
            FaultClass::RevokeTokens => "revoke tokens",
        }
    }

    const ALL: [FaultClass; 11] = [
        FaultClass::Crash,
        FaultClass::Errors,
        FaultClass::Slowdown,
        FaultClass::CapacityLoss,
        FaultClass::Pause,
        FaultClass::Partition,
        FaultClass::Loss,
        FaultClass::Spike,
        FaultClass::ZoneOutage,
        FaultClass::Flush,
        FaultClass::RevokeTokens,
    ];
}

/// A fault's kind and its label in words (`slowdown x100`, `crash (Refuse)`), serialised
/// as the label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultLabel {
    pub class: FaultClass,
    pub text: String,
}

impl FaultLabel {
    /// `class` with the words after its name (`x100`, `p=0.5`, `(Refuse)`), if any.
    pub fn new(class: FaultClass, rest: &str) -> Self {
        let text = match rest {
            "" => class.words().to_string(),
            rest => format!("{} {rest}", class.words()),
        };
        FaultLabel { class, text }
    }

    /// A label read back; `None` when it names no known kind.
    pub fn parse(text: &str) -> Option<Self> {
        FaultClass::ALL
            .into_iter()
            // Longest first: `loss` is also the end of `capacity loss`, and a prefix of
            // nothing else, but keep the rule general.
            .filter(|c| {
                text == c.words()
                    || text
                        .strip_prefix(c.words())
                        .is_some_and(|r| r.starts_with(' '))
            })
            .max_by_key(|c| c.words().len())
            .map(|class| FaultLabel {
                class,
                text: text.to_string(),
            })
    }
}

impl fmt::Display for FaultLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for FaultLabel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for FaultLabel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        FaultLabel::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown fault kind `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_read_back_from_their_text() {
        for text in [
            "horizon",
            "drained",
            "event_budget: 100 events at t=1.000s",
            "no_progress: 5 events at t=0.000s without virtual time advancing",
            "in_flight_limit: 11 requests and 11 attempts in flight",
            "stopped after 3 ticks",
        ] {
            let s = Stopped::parse(text);
            assert_eq!(s.to_string(), text);
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<Stopped>(&json).unwrap(), s);
        }
        assert_eq!(Stopped::parse("horizon").kind, StopKind::Horizon);
        assert_eq!(
            Stopped::parse("in_flight_limit: x").kind,
            StopKind::InFlightLimit
        );
        assert_eq!(
            Stopped::parse("stopped after 3 ticks").kind,
            StopKind::Guard
        );
        assert!(Stopped::parse("drained").is_normal());
    }

    #[test]
    fn fault_labels_read_back_to_their_kind() {
        for (class, rest) in [
            (FaultClass::Crash, "(Refuse)"),
            (FaultClass::CapacityLoss, "to 2 workers"),
            (FaultClass::Loss, "p=0.1"),
            (FaultClass::Spike, "x3"),
            (FaultClass::Pause, ""),
        ] {
            let l = FaultLabel::new(class, rest);
            let json = serde_json::to_string(&l).unwrap();
            assert_eq!(serde_json::from_str::<FaultLabel>(&json).unwrap(), l);
        }
        assert!(FaultLabel::parse("meteor strike").is_none());
        assert!(FaultLabel::parse("lossy").is_none());
    }
}
