//! Field paths into a structured input, e.g. `services[1].service_time.p99`.
//!
//! Validation reports problems by path; the scenario layer turns a path into a
//! line:column in the user's file. Paths use list indices, not names, so they locate
//! exactly even when two entries share a name.

use std::fmt;

/// One step of a path: a named field or a position in a list, tuple or sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathSeg {
    Field(&'static str),
    Index(usize),
}

/// A path from the root of a document to a value.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<PathSeg>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }
    /// This path extended by a field.
    pub fn field(&self, name: &'static str) -> Self {
        self.with(PathSeg::Field(name))
    }
    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> Self {
        self.with(PathSeg::Index(i))
    }
    /// This path followed by `rest`.
    pub fn join(&self, rest: &FieldPath) -> Self {
        let mut segs = Vec::with_capacity(self.0.len() + rest.0.len());
        segs.extend_from_slice(&self.0);
        segs.extend_from_slice(&rest.0);
        FieldPath(segs)
    }
    /// One allocation of the final length (a clone then a push would allocate twice).
    fn with(&self, seg: PathSeg) -> Self {
        let mut segs = Vec::with_capacity(self.0.len() + 1);
        segs.extend_from_slice(&self.0);
        segs.push(seg);
        FieldPath(segs)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                PathSeg::Field(name) if i == 0 => write!(f, "{name}")?,
                PathSeg::Field(name) => write!(f, ".{name}")?,
                PathSeg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A problem found while validating a value, at a path relative to that value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: FieldPath,
    pub message: String,
}

impl Problem {
    pub fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Problem {
            path,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_field_access() {
        let p = FieldPath::root()
            .field("services")
            .index(1)
            .field("workers");
        assert_eq!(p.to_string(), "services[1].workers");
        assert_eq!(FieldPath::root().index(0).field("w").to_string(), "[0].w");
    }
}
