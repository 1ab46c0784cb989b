//! `Status` objects, as the API server writes them for every refusal (the bodies kubectl and
//! client libraries parse), and the resources' names and groups those messages use.

use serde_json::{Value, json};

/// An answer: HTTP status and JSON body (or plain text, for logs).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) code: u16,
    pub(crate) body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Value),
    Text(String),
}

impl Answer {
    pub(crate) fn ok(v: Value) -> Answer {
        Answer {
            code: 200,
            body: Body::Json(v),
        }
    }

    pub(crate) fn created(v: Value) -> Answer {
        Answer {
            code: 201,
            body: Body::Json(v),
        }
    }

    pub(crate) fn text(s: String) -> Answer {
        Answer {
            code: 200,
            body: Body::Text(s),
        }
    }
}

/// The API group a resource lives in (`""`: core).
pub(crate) fn group_of(resource: &str) -> &'static str {
    match resource {
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" => "apps",
        "networkpolicies" => "networking.k8s.io",
        "poddisruptionbudgets" => "policy",
        "horizontalpodautoscalers" => "autoscaling",
        _ => "",
    }
}

/// The kind and apiVersion of a resource's objects (lists are `<Kind>List`).
pub(crate) fn kind_of(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "pods" => ("Pod", "v1"),
        "nodes" => ("Node", "v1"),
        "deployments" => ("Deployment", "apps/v1"),
        "replicasets" => ("ReplicaSet", "apps/v1"),
        "statefulsets" => ("StatefulSet", "apps/v1"),
        "daemonsets" => ("DaemonSet", "apps/v1"),
        "networkpolicies" => ("NetworkPolicy", "networking.k8s.io/v1"),
        "poddisruptionbudgets" => ("PodDisruptionBudget", "policy/v1"),
        "horizontalpodautoscalers" => ("HorizontalPodAutoscaler", "autoscaling/v2"),
        _ => ("", "v1"),
    }
}

/// `pods`, `deployments.apps`: how messages qualify a resource.
pub(crate) fn qualified(resource: &str) -> String {
    let base = resource.split('/').next().unwrap_or(resource);
    match group_of(base) {
        "" => base.to_string(),
        g => format!("{base}.{g}"),
    }
}

fn failure(code: u16, reason: &str, message: String, details: Value) -> Answer {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if !details.is_null() {
        body["details"] = details;
    }
    Answer {
        code,
        body: Body::Json(body),
    }
}

fn details(resource: &str, name: Option<&str>) -> Value {
    let base = resource.split('/').next().unwrap_or(resource);
    let mut d = json!({"kind": base});
    if let Some(n) = name {
        d["name"] = json!(n);
    }
    if !group_of(base).is_empty() {
        d["group"] = json!(group_of(base));
    }
    d
}

/// 404 NotFound.
pub(crate) fn not_found(resource: &str, name: &str) -> Answer {
    failure(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", qualified(resource)),
        details(resource, Some(name)),
    )
}

/// 404 for a path no resource serves.
pub(crate) fn no_route() -> Answer {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource".into(),
        json!({}),
    )
}

/// 403 Forbidden, as the RBAC authorizer words it.
pub(crate) fn forbidden(
    user: &str,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Answer {
    let subject = match name {
        Some(n) => format!("{} \"{n}\" is forbidden", qualified(resource)),
        None => format!("{} is forbidden", qualified(resource)),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    let group = group_of(resource.split('/').next().unwrap_or(resource));
    failure(
        403,
        "Forbidden",
        format!(
            "{subject}: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}"
        ),
        details(resource, name),
    )
}

/// 409 AlreadyExists.
pub(crate) fn already_exists(resource: &str, name: &str) -> Answer {
    failure(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", qualified(resource)),
        details(resource, Some(name)),
    )
}

/// 409 Conflict: a delete precondition on the uid did not hold.
pub(crate) fn uid_conflict(resource: &str, name: &str, wanted: &str, actual: &str) -> Answer {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {wanted}, UID in object meta: {actual}",
            qualified(resource)
        ),
        details(resource, Some(name)),
    )
}

/// 422 Invalid: one field's value refused.
pub(crate) fn invalid(kind: &str, name: &str, field: &str, value: &Value, why: &str) -> Answer {
    failure(
        422,
        "Invalid",
        format!("{kind} \"{name}\" is invalid: {field}: Invalid value: {value}: {why}"),
        json!({"name": name, "kind": kind,
               "causes": [{"reason": "FieldValueInvalid", "message": format!("Invalid value: {value}: {why}"), "field": field}]}),
    )
}

/// 429: the eviction would violate a PodDisruptionBudget (the body the eviction REST handler
/// writes).
pub(crate) fn disruption_budget(pdb: &str, needs: i64, healthy: i64) -> Answer {
    failure(
        429,
        "TooManyRequests",
        "Cannot evict pod as it would violate the pod's disruption budget.".into(),
        json!({"causes": [{"reason": "DisruptionBudget",
            "message": format!("The disruption budget {pdb} needs {needs} healthy pods and has {healthy} currently")}]}),
    )
}

/// 400 BadRequest.
pub(crate) fn bad_request(message: String) -> Answer {
    failure(400, "BadRequest", message, Value::Null)
}

/// 401 Unauthorized.
pub(crate) fn unauthorized() -> Answer {
    failure(401, "Unauthorized", "Unauthorized".into(), Value::Null)
}

/// 415 for a patch type the fake does not speak.
pub(crate) fn unsupported_media(content_type: &str) -> Answer {
    failure(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"
        ),
        Value::Null,
    )
}

/// The success `Status` of a delete or an eviction.
pub(crate) fn success(code: u16, resource: &str, name: &str) -> Answer {
    Answer {
        code,
        body: Body::Json(json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details(resource, Some(name)),
            "code": code,
        })),
    }
}
