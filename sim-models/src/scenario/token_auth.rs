//! The schema of token auth (`token_auths: [TokenAuth(..)]`): a component in front of a
//! service that holds the tokens (short-TTL JWTs) of a population of users and refreshes
//! them from an auth service. The model, the real systems it follows and where it differs
//! are described in `world/components/token_auth.rs`.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use super::CallPolicy;

/// Token auth in front of `upstream`: callers call it like a service (`Call(to: "gw")`);
/// each request belongs to one of `users` users, whose token it refreshes from `auth`
/// when expired (or ahead of expiry), then forwards the request to `upstream`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAuth {
    /// Named like a service (callers refer to it by this name).
    pub name: String,
    /// The service each authenticated request goes on to.
    pub upstream: String,
    /// Its endpoint; the upstream's default endpoint if omitted. Always written, so that
    /// `--set token_auths.NAME.FIELD=..` finds it (as every optional field below).
    #[serde(default)]
    pub upstream_endpoint: Option<String>,
    /// How requests are forwarded to the upstream (timeout, retries, breaker, ...).
    #[serde(default)]
    pub upstream_policy: CallPolicy,
    /// The auth service (an ordinary service of the scenario) that issues tokens.
    pub auth: String,
    /// The endpoint of `auth` that issues a token (a refresh); its default if omitted.
    #[serde(default)]
    pub refresh_endpoint: Option<String>,
    /// How refreshes and introspections call `auth`.
    #[serde(default)]
    pub auth_policy: CallPolicy,
    /// Users whose tokens it holds; each request belongs to one, drawn uniformly.
    pub users: u64,
    /// A token's lifetime (the JWT's `exp` minus its `iat`).
    pub ttl: SimDuration,
    /// Each token's lifetime is `ttl` shortened by a uniform draw of up to this fraction
    /// (issuer-side jitter; 0.1: lifetimes uniform in [0.9 ttl, ttl]). In [0, 1).
    #[serde(default)]
    pub ttl_jitter: f64,
    /// Refresh ahead of expiry, in the background; none: a token is refreshed only when a
    /// request finds it expired (the request waits for the refresh).
    #[serde(default)]
    pub refresh_ahead: Option<RefreshAhead>,
    /// How the upstream validates a token.
    #[serde(default)]
    pub validation: Validation,
    /// When the tokens held at the start were issued.
    #[serde(default)]
    pub initial_tokens: InitialTokens,
}

/// The point of a token's lifetime from which a request refreshes it in the background,
/// drawn uniformly in [`from`, `to`] for each token (both fractions of its lifetime, in
/// [0, 1)): kubelet's projected service-account tokens are `from = to = 0.8`; Vault's
/// lifetime watcher about `from: 0.70, to: 0.73`; the AWS SDK for Go v2's credential
/// cache with an expiry window `W` and jitter fraction `J` is `from = 1 - W / ttl`,
/// `to = 1 - (1 - J) W / ttl`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshAhead {
    pub from: f64,
    pub to: f64,
}

/// How the upstream validates a token.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Validation {
    /// Locally, by the signature against cached signing keys (a JWKS): no call.
    #[default]
    Local,
    /// By an introspection call to the auth service per request (RFC 7662), at its
    /// `endpoint` (the default endpoint if omitted), under `auth_policy`.
    Introspect {
        #[serde(default)]
        endpoint: Option<String>,
    },
}

/// When the tokens held at the start of the run were issued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitialTokens {
    /// All at the start (a deploy, an auth restart that revoked every token): they expire
    /// together one lifetime later.
    #[default]
    Synchronized,
    /// Each as if issued at a uniformly random earlier instant of its lifetime: the steady
    /// state of users who log in at random times.
    Spread,
}
