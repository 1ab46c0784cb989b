//! The REST paths the fake serves, as the API server lays them out: `/api/v1/...` for the core
//! group, `/apis/GROUP/VERSION/...` for the others, `namespaces/NS/` before namespaced resources,
//! subresources after the name (`scale`, `eviction`, `log`). RBAC is checked first, with the
//! verb the authorizer would see.

use serde_json::{Value, json};

use super::selector::{LabelSelector, field_matches, labels_of, merge_patch};
use super::status::{self, Answer};
use super::store::State;

/// The user the fake's RBAC messages name (the kubeconfig's service account).
pub(crate) const USER: &str = "system:serviceaccount:chaos:monkeywrench";

/// A request, parsed.
#[derive(Debug)]
pub(crate) struct Route {
    namespace: Option<String>,
    resource: String,
    name: Option<String>,
    sub: Option<String>,
}

fn parse(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        rest => (None, rest),
    };
    let (resource, name, sub) = match rest {
        [r] => (r, None, None),
        [r, n] => (r, Some(n.to_string()), None),
        [r, n, s] => (r, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    Some(Route {
        namespace,
        resource: resource.to_string(),
        name,
        sub,
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The RBAC verb of a request.
fn verb(method: &str, route: &Route) -> &'static str {
    match (method, route.name.is_some()) {
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => "unknown",
    }
}

/// Answers one request.
pub(crate) fn handle(
    state: &mut State,
    method: &str,
    path: &str,
    query: &str,
    content_type: &str,
    body: &Value,
) -> Answer {
    if state.refuse_credentials {
        return status::unauthorized();
    }
    let Some(route) = parse(path) else {
        return status::no_route();
    };
    let rbac_resource = match &route.sub {
        Some(s) => format!("{}/{s}", route.resource),
        None => route.resource.clone(),
    };
    let verb = verb(method, &route);
    if state
        .forbidden
        .iter()
        .any(|(v, r)| v == verb && *r == rbac_resource)
    {
        return status::forbidden(
            USER,
            verb,
            &rbac_resource,
            route.namespace.as_deref(),
            route.name.as_deref(),
        );
    }
    let ns = route.namespace.clone().unwrap_or_default();
    let resource = route.resource.as_str();
    match (method, route.name.as_deref(), route.sub.as_deref()) {
        ("GET", None, None) => list(state, resource, route.namespace.as_deref(), query),
        ("GET", Some(name), None) => match state.get(resource, &ns, name) {
            Some(o) => Answer::ok(o.clone()),
            None => status::not_found(resource, name),
        },
        ("POST", None, None) => create(state, resource, &ns, body),
        ("DELETE", Some(name), None) => delete(state, resource, &ns, name, query, body),
        ("PATCH", Some(name), None) => patch(state, resource, &ns, name, content_type, body),
        ("GET", Some(name), Some("scale")) => match state.get(resource, &ns, name) {
            Some(o) => Answer::ok(scale_of(o)),
            None => status::not_found(resource, name),
        },
        ("PATCH" | "PUT", Some(name), Some("scale")) => {
            if method == "PATCH" && !is_merge(content_type) {
                return status::unsupported_media(content_type);
            }
            rescale(state, resource, &ns, name, method == "PUT", body)
        }
        ("POST", Some(name), Some("eviction")) if resource == "pods" => {
            evict(state, &ns, name, body)
        }
        ("GET", Some(name), Some("log")) if resource == "pods" => logs(state, &ns, name, query),
        _ => status::no_route(),
    }
}

fn is_merge(content_type: &str) -> bool {
    content_type.starts_with("application/merge-patch+json")
        || content_type.starts_with("application/strategic-merge-patch+json")
}

fn list(state: &State, resource: &str, namespace: Option<&str>, query: &str) -> Answer {
    let labels = match query_param(query, "labelSelector").map(|s| LabelSelector::parse(&s)) {
        None => LabelSelector::default(),
        Some(Ok(s)) => s,
        Some(Err(e)) => return status::bad_request(e),
    };
    let fields = query_param(query, "fieldSelector").unwrap_or_default();
    let mut items = Vec::new();
    for o in state.list(resource, namespace) {
        if !labels.matches(&labels_of(&o)) {
            continue;
        }
        match field_matches(&fields, &o) {
            Ok(true) => items.push(o),
            Ok(false) => {}
            Err(e) => return status::bad_request(e),
        }
    }
    let (kind, api_version) = status::kind_of(resource);
    Answer::ok(json!({
        "kind": format!("{kind}List"),
        "apiVersion": api_version,
        "metadata": {"resourceVersion": state.version()},
        "items": items,
    }))
}

/// A DNS-1123 subdomain, as object names must be.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn create(state: &mut State, resource: &str, ns: &str, body: &Value) -> Answer {
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let kind = body["kind"].as_str().unwrap_or(resource).to_string();
    if !valid_name(&name) {
        return status::invalid(
            &kind,
            &name,
            "metadata.name",
            &json!(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
        );
    }
    if state.get(resource, ns, &name).is_some() {
        return status::already_exists(resource, &name);
    }
    let created = state.insert(resource, ns, body.clone());
    state.reconcile();
    Answer::created(created)
}

fn delete(
    state: &mut State,
    resource: &str,
    ns: &str,
    name: &str,
    query: &str,
    body: &Value,
) -> Answer {
    let Some(object) = state.get(resource, ns, name).cloned() else {
        return status::not_found(resource, name);
    };
    if let Some(wanted) = body["preconditions"]["uid"].as_str() {
        let actual = object["metadata"]["uid"].as_str().unwrap_or_default();
        if wanted != actual {
            return status::uid_conflict(resource, name, wanted, actual);
        }
    }
    if resource == "pods" {
        let grace = body["gracePeriodSeconds"]
            .as_u64()
            .or_else(|| query_param(query, "gracePeriodSeconds").and_then(|g| g.parse().ok()))
            .or_else(|| object["spec"]["terminationGracePeriodSeconds"].as_u64())
            .unwrap_or(30);
        return match state.delete_pod(ns, name, grace) {
            Some(pod) => Answer::ok(pod),
            None => status::not_found(resource, name),
        };
    }
    state.remove(resource, ns, name);
    state.reconcile();
    status::success(200, resource, name)
}

fn patch(
    state: &mut State,
    resource: &str,
    ns: &str,
    name: &str,
    content_type: &str,
    body: &Value,
) -> Answer {
    if !is_merge(content_type) {
        return status::unsupported_media(content_type);
    }
    let Some(mut object) = state.get(resource, ns, name).cloned() else {
        return status::not_found(resource, name);
    };
    merge_patch(&mut object, body);
    if let Some(r) = object["spec"]["replicas"].as_i64()
        && r < 0
    {
        let kind = object["kind"].as_str().unwrap_or(resource).to_string();
        return status::invalid(
            &kind,
            name,
            "spec.replicas",
            &json!(r),
            "must be greater than or equal to 0",
        );
    }
    let updated = state.update(resource, ns, object);
    state.reconcile();
    Answer::ok(state.get(resource, ns, name).cloned().unwrap_or(updated))
}

/// The `autoscaling/v1` Scale of a Deployment or StatefulSet.
fn scale_of(o: &Value) -> Value {
    let selector = o["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"],
            "uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"],
            "creationTimestamp": o["metadata"]["creationTimestamp"]},
        "spec": {"replicas": o["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": o["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

fn rescale(
    state: &mut State,
    resource: &str,
    ns: &str,
    name: &str,
    replace: bool,
    body: &Value,
) -> Answer {
    let Some(mut object) = state.get(resource, ns, name).cloned() else {
        return status::not_found(resource, name);
    };
    let mut scale = scale_of(&object);
    if replace {
        let current = scale["metadata"]["resourceVersion"].clone();
        let sent = &body["metadata"]["resourceVersion"];
        if !sent.is_null() && *sent != current {
            return Answer {
                code: 409,
                ..status::already_exists(resource, name)
            };
        }
        scale["spec"] = body["spec"].clone();
    } else {
        merge_patch(&mut scale, body);
    }
    let replicas = &scale["spec"]["replicas"];
    match replicas.as_i64() {
        Some(r) if r >= 0 => object["spec"]["replicas"] = json!(r),
        _ => {
            return status::invalid(
                "Scale",
                name,
                "spec.replicas",
                replicas,
                "must be greater than or equal to 0",
            );
        }
    }
    state.update(resource, ns, object);
    state.reconcile();
    let now = state.get(resource, ns, name).cloned().unwrap_or_default();
    Answer::ok(scale_of(&now))
}

fn evict(state: &mut State, ns: &str, name: &str, body: &Value) -> Answer {
    let Some(pod) = state.get("pods", ns, name).cloned() else {
        return status::not_found("pods", name);
    };
    if let Some(wanted) = body["deleteOptions"]["preconditions"]["uid"].as_str() {
        let actual = pod["metadata"]["uid"].as_str().unwrap_or_default();
        if wanted != actual {
            return status::uid_conflict("pods", name, wanted, actual);
        }
    }
    if let Some((pdb, needs, healthy)) = state.budget_refusing(&pod) {
        return status::disruption_budget(&pdb, needs, healthy);
    }
    let grace = body["deleteOptions"]["gracePeriodSeconds"]
        .as_u64()
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
        .unwrap_or(30);
    state.delete_pod(ns, name, grace);
    status::success(201, "pods", name)
}

fn logs(state: &State, ns: &str, name: &str, query: &str) -> Answer {
    let Some(pod) = state.get("pods", ns, name) else {
        return status::not_found("pods", name);
    };
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match (query_param(query, "container"), containers.as_slice()) {
        (Some(c), _) if containers.contains(&c) => c,
        (Some(c), _) => {
            return status::bad_request(format!("container {c} is not valid for pod {name}"));
        }
        (None, [only]) => only.clone(),
        (None, _) => {
            return status::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            ));
        }
    };
    let text = state
        .logs
        .get(&(ns.to_string(), name.to_string()))
        .and_then(|by| by.get(&container))
        .cloned()
        .unwrap_or_default();
    let tail = query_param(query, "tailLines").and_then(|t| t.parse::<usize>().ok());
    let lines: Vec<&str> = text.lines().collect();
    let from = tail.map_or(0, |t| lines.len().saturating_sub(t));
    let mut out = lines[from..].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Answer::text(out)
}
