//! What leaves simctl for other tools, where it needs no binary: the call graph's Mermaid
//! diagram in report.md.

use crate::support::load;

/// The ladder's first and last steps' call graphs: every service, client and call edge with its policy.
#[test]
fn topology_of_the_ladder_as_mermaid() {
    for file in ["v0.1.ron", "v1.0.ron"] {
        let text = std::fs::read_to_string(crate::support::scenario_path(file)).unwrap();
        let s = load(file, &text);
        insta::assert_snapshot!(format!("topology-{file}"), reports::topology_mermaid(&s));
    }
}
