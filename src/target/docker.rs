//! The Docker engine as a target driver: containers found, inspected and acted on through the
//! engine's API (bollard; `DOCKER_HOST` respected, API version negotiated with the engine).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{EndpointIpamConfig, EndpointSettings};
use bollard::query_parameters as q;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How long connecting and negotiating the API version may take before the engine counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The label that always excludes a container or service from being a target.
pub const SKIP_LABEL: &str = "monkeywrench.skip";

/// A Docker engine call failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// Nothing answers at the engine's address.
    #[error(
        "reach the Docker engine at {host}: {reason} (is the engine running? DOCKER_HOST selects another)"
    )]
    Unreachable {
        /// `DOCKER_HOST` or the default socket.
        host: String,
        reason: String,
    },
    /// The socket exists but this user may not use it.
    #[error(
        "use the Docker engine at {host}: permission denied (run as root or as a member of the docker group)"
    )]
    PermissionDenied {
        /// `DOCKER_HOST` or the default socket.
        host: String,
    },
    /// The container, network or service does not exist (any more).
    #[error("find {0}: no such object on the Docker engine")]
    NotFound(String),
    /// The node is not part of a swarm (or not a manager).
    #[error("use Swarm: this Docker engine is not a swarm manager (run `docker swarm init` first)")]
    SwarmInactive,
    /// Any other answer from the engine.
    #[error("{action}: {message}")]
    Api {
        /// What was attempted.
        action: String,
        /// The engine's message.
        message: String,
        /// HTTP status, when the engine answered.
        status: Option<u16>,
    },
}

impl EngineError {
    /// Whether the engine itself cannot be used (nothing answers, the socket is refused).
    pub fn is_unavailable(&self) -> bool {
        match self {
            EngineError::Unreachable { .. } | EngineError::PermissionDenied { .. } => true,
            EngineError::NotFound(_) | EngineError::SwarmInactive | EngineError::Api { .. } => {
                false
            }
        }
    }
}

/// A container as a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Full id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image reference as the engine shows it.
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// `running`, `paused`, `exited`, …
    pub state: String,
}

impl ContainerInfo {
    /// The JSON recorded in the ledger and the journal.
    pub fn describe(&self) -> Value {
        json!({
            "kind": "container",
            "id": self.id,
            "name": self.name,
            "image": self.image,
            "labels": self.labels,
        })
    }

    /// Whether `monkeywrench.skip=true` opts it out.
    pub fn opted_out(&self) -> bool {
        skip_labelled(&self.labels)
    }
}

/// Whether labels carry `monkeywrench.skip=true` (containers and Swarm services alike).
pub fn skip_labelled(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get(SKIP_LABEL)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Where a container sits on a network, kept so a disconnect can be undone with the same identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attachment {
    pub aliases: Vec<String>,
    /// The IPv4 address it had (re-requested where the network allows a fixed address).
    pub ipv4: Option<String>,
    /// Whether the address was configured (not just assigned by IPAM).
    pub fixed_ip: bool,
}

/// A connection to the engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
}

impl Engine {
    /// Connects (DOCKER_HOST or the default socket) and negotiates the API version.
    pub async fn connect() -> Result<Engine, EngineError> {
        let host = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let docker = Docker::connect_with_defaults().map_err(|e| EngineError::Unreachable {
            host: host.clone(),
            reason: e.to_string(),
        })?;
        let negotiated = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await;
        let docker = match negotiated {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return Err(connect_error(&host, &e)),
            Err(_) => {
                return Err(EngineError::Unreachable {
                    host,
                    reason: format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
                });
            }
        };
        Ok(Engine { docker, host })
    }

    /// The bollard client (for the swarm module).
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The engine's address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Every container (running only unless `all`), sorted by name.
    pub async fn containers(&self, all: bool) -> Result<Vec<ContainerInfo>, EngineError> {
        let options = q::ListContainersOptions {
            all,
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| api_error("list containers", &e))?;
        let mut containers: Vec<ContainerInfo> = list
            .into_iter()
            .map(|c| ContainerInfo {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                image: c.image.unwrap_or_default(),
                labels: c.labels.unwrap_or_default().into_iter().collect(),
                state: c
                    .state
                    .map(|s| s.to_string())
                    .unwrap_or_default()
                    .to_lowercase(),
            })
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(containers)
    }

    /// One container by id or name.
    pub async fn container(&self, id: &str) -> Result<ContainerInfo, EngineError> {
        let c = self
            .docker
            .inspect_container(id, None::<q::InspectContainerOptions>)
            .await
            .map_err(|e| object_error(&format!("container {id}"), "inspect container", &e))?;
        let config = c.config.unwrap_or_default();
        Ok(ContainerInfo {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            state: c
                .state
                .and_then(|s| s.status)
                .map(|s| s.to_string().to_lowercase())
                .unwrap_or_default(),
        })
    }

    /// The container's status and when its current run started (to tell a container that
    /// stayed up from one that was started again).
    pub async fn run_state(&self, id: &str) -> Result<(String, String), EngineError> {
        let c = self
            .docker
            .inspect_container(id, None::<q::InspectContainerOptions>)
            .await
            .map_err(|e| object_error(&format!("container {id}"), "inspect container", &e))?;
        let state = c.state.unwrap_or_default();
        Ok((
            state
                .status
                .map(|s| s.to_string().to_lowercase())
                .unwrap_or_default(),
            state.started_at.unwrap_or_default(),
        ))
    }

    /// How a container is attached to `network` (None when it is not attached).
    pub async fn attachment(
        &self,
        id: &str,
        network: &str,
    ) -> Result<Option<Attachment>, EngineError> {
        let c = self
            .docker
            .inspect_container(id, None::<q::InspectContainerOptions>)
            .await
            .map_err(|e| object_error(&format!("container {id}"), "inspect container", &e))?;
        let networks: HashMap<String, EndpointSettings> = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        // The engine keys endpoints by network name; accept a network id too.
        let endpoint = networks.iter().find(|(name, e)| {
            *name == network
                || e.network_id
                    .as_deref()
                    .is_some_and(|nid| !network.is_empty() && nid.starts_with(network))
        });
        Ok(endpoint.map(|(_, e)| {
            let configured = e.ipam_config.as_ref().and_then(|c| c.ipv4_address.clone());
            Attachment {
                aliases: e.aliases.clone().unwrap_or_default(),
                fixed_ip: configured.as_deref().is_some_and(|s| !s.is_empty()),
                ipv4: configured
                    .filter(|s| !s.is_empty())
                    .or_else(|| e.ip_address.clone().filter(|s| !s.is_empty())),
            }
        }))
    }

    /// The name of a network given by name or id (fails with `NotFound` when there is none).
    pub async fn network(&self, network: &str) -> Result<String, EngineError> {
        let n = self
            .docker
            .inspect_network(network, None::<q::InspectNetworkOptions>)
            .await
            .map_err(|e| object_error(&format!("network {network}"), "inspect network", &e))?;
        Ok(n.name.unwrap_or_else(|| network.to_string()))
    }

    /// Kills the container the way a crash does: the signal goes straight to its main process
    /// (its pid on this host), so the engine sees an unexpected exit and applies the restart
    /// policy. The engine's kill API instead marks the container as stopped by hand, and a
    /// `restart: always` container then stays down. Falls back to the API when the process is
    /// not visible from here (a remote engine, another pid namespace).
    pub async fn crash(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        let c = self
            .docker
            .inspect_container(id, None::<q::InspectContainerOptions>)
            .await
            .map_err(|e| object_error(&format!("container {id}"), "inspect container", &e))?;
        let pid = c.state.and_then(|s| s.pid).unwrap_or(0);
        let local = std::env::var("DOCKER_HOST")
            .ok()
            .is_none_or(|h| h.starts_with("unix://"));
        if pid > 0
            && local
            && let Some(process) = crate::target::process::ProcessIdentity::of(pid as i32)
            && process.signal(signal).is_ok()
        {
            return Ok(());
        }
        self.kill(id, signal).await
    }

    /// Sends a signal to the container's main process through the engine's API.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        let options = q::KillContainerOptions {
            signal: signal.to_string(),
        };
        self.docker
            .kill_container(id, Some(options))
            .await
            .map_err(|e| object_error(&format!("container {id}"), "kill container", &e))
    }

    /// Stops the container (SIGTERM, SIGKILL after `timeout_s`).
    pub async fn stop(&self, id: &str, timeout_s: i32) -> Result<(), EngineError> {
        let options = q::StopContainerOptions {
            t: Some(timeout_s),
            ..Default::default()
        };
        self.docker
            .stop_container(id, Some(options))
            .await
            .map_err(|e| object_error(&format!("container {id}"), "stop container", &e))
    }

    /// Starts a stopped container (already running is fine).
    pub async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(id, None::<q::StartContainerOptions>)
            .await
            .map_err(|e| object_error(&format!("container {id}"), "start container", &e))
    }

    pub async fn restart(&self, id: &str, timeout_s: i32) -> Result<(), EngineError> {
        let options = q::RestartContainerOptions {
            t: Some(timeout_s),
            ..Default::default()
        };
        self.docker
            .restart_container(id, Some(options))
            .await
            .map_err(|e| object_error(&format!("container {id}"), "restart container", &e))
    }

    /// Freezes every process of the container (cgroup freezer).
    pub async fn pause(&self, id: &str) -> Result<(), EngineError> {
        self.docker
            .pause_container(id)
            .await
            .map_err(|e| object_error(&format!("container {id}"), "pause container", &e))
    }

    /// Thaws a paused container; one that is not paused is left as it is.
    pub async fn unpause(&self, id: &str) -> Result<(), EngineError> {
        match self.docker.unpause_container(id).await {
            Ok(()) => Ok(()),
            // Already unpaused (by a halt, the guard, or by hand): undoing twice is harmless. The
            // engine answers this with 409 or, in older versions, 500.
            Err(e) if message_of(&e).contains("is not paused") => Ok(()),
            Err(e) => Err(object_error(
                &format!("container {id}"),
                "unpause container",
                &e,
            )),
        }
    }

    /// Cuts the container off `network`.
    pub async fn disconnect(&self, id: &str, network: &str) -> Result<(), EngineError> {
        let request = bollard::models::NetworkDisconnectRequest {
            container: id.to_string(),
            force: Some(true),
        };
        self.docker
            .disconnect_network(network, request)
            .await
            .map_err(|e| {
                object_error(
                    &format!("network {network} or container {id}"),
                    "disconnect container",
                    &e,
                )
            })
    }

    /// Attaches the container to `network` again, with its former aliases and, where the network
    /// allows it, its former address. Already attached is fine.
    pub async fn reconnect(
        &self,
        id: &str,
        network: &str,
        attachment: &Attachment,
    ) -> Result<(), EngineError> {
        let short_id: String = id.chars().take(12).collect();
        // The engine adds the short id itself; passing it back is refused by some versions.
        let aliases: Vec<String> = attachment
            .aliases
            .iter()
            .filter(|a| **a != short_id)
            .cloned()
            .collect();
        let endpoint = |ip: Option<String>| EndpointSettings {
            aliases: (!aliases.is_empty()).then(|| aliases.clone()),
            ipam_config: ip.map(|ip| EndpointIpamConfig {
                ipv4_address: Some(ip),
                ..Default::default()
            }),
            ..Default::default()
        };
        let connect = |ip: Option<String>| {
            self.docker.connect_network(
                network,
                bollard::models::NetworkConnectRequest {
                    container: id.to_string(),
                    endpoint_config: Some(endpoint(ip)),
                },
            )
        };
        let first = connect(attachment.ipv4.clone()).await;
        let result = match first {
            // Only networks with a configured subnet accept a fixed address: retry without one.
            Err(e) if attachment.ipv4.is_some() && !attachment.fixed_ip && !is_attached(&e) => {
                connect(None).await
            }
            other => other,
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if is_attached(&e) => Ok(()),
            Err(e) => Err(object_error(
                &format!("network {network} or container {id}"),
                "reconnect container",
                &e,
            )),
        }
    }
}

/// Whether a connect failed because the container is already on that network.
fn is_attached(e: &bollard::errors::Error) -> bool {
    let m = message_of(e);
    m.contains("already exists in network") || m.contains("already attached")
}

/// The engine's HTTP status for an answered request.
pub(crate) fn status_of(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn message_of(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Maps an error on a named object: 404 → `NotFound`.
pub(crate) fn object_error(what: &str, action: &str, e: &bollard::errors::Error) -> EngineError {
    match status_of(e) {
        Some(404) => EngineError::NotFound(what.to_string()),
        _ => api_error(action, e),
    }
}

/// Maps any other error.
pub(crate) fn api_error(action: &str, e: &bollard::errors::Error) -> EngineError {
    let status = status_of(e);
    let message = message_of(e);
    if status == Some(503) && message.contains("swarm") {
        return EngineError::SwarmInactive;
    }
    EngineError::Api {
        action: action.to_string(),
        message: message.trim().to_string(),
        status,
    }
}

/// The first connection failed: tell "nothing there" from "not allowed".
fn connect_error(host: &str, e: &bollard::errors::Error) -> EngineError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            return EngineError::PermissionDenied {
                host: host.to_string(),
            };
        }
        source = err.source();
    }
    let text = format!("{e:?}");
    if text.contains("PermissionDenied") || text.contains("permission denied") {
        return EngineError::PermissionDenied {
            host: host.to_string(),
        };
    }
    EngineError::Unreachable {
        host: host.to_string(),
        reason: e.to_string(),
    }
}

/// The id of the container this process runs in, if any (it is never a target).
pub fn own_container_id() -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // Docker bind-mounts /etc/hostname from /var/lib/docker/containers/<id>/hostname.
    text.lines()
        .filter(|l| l.contains("/containers/") && l.contains("/hostname"))
        .find_map(|l| {
            l.split("/containers/")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .filter(|id| id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()))
                .map(str::to_string)
        })
}
