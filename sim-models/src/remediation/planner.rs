//! simctl's own rule-based planner: an incident's class and target in, a plan out.
//! (Skeleton: the planner lands with the "plans" work.)
