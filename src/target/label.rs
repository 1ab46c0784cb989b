//! Short human labels for targets as they are recorded (ledger and journal JSON).

use serde_json::Value;

/// `container web-1 (3f2a9c1d0b7e)`, `process 1234 (nginx)`, `proxy web`, …; other JSON as text.
pub fn label(target: &Value) -> String {
    let text = |k: &str| match target.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let short = |k: &str| text(k).chars().take(12).collect::<String>();
    match target.get("kind").and_then(Value::as_str) {
        Some("container") => format!("container {} ({})", text("name"), short("id")),
        Some("swarm-task") => format!(
            "task {} of service {} (slot {})",
            short("id"),
            text("service"),
            text("slot")
        ),
        Some("swarm-service") => format!("service {}", text("name")),
        Some("proxy") => format!("proxy {}", text("proxy")),
        Some("k8s-pod") => format!(
            "pod {}/{} (node {})",
            text("namespace"),
            text("name"),
            text("node")
        ),
        Some("k8s-deployment" | "k8s-statefulset") => format!(
            "{} {}/{}",
            text("kind").trim_start_matches("k8s-"),
            text("namespace"),
            text("name")
        ),
        Some("k8s-network-policy") => {
            format!("networkpolicy {}/{}", text("namespace"), text("name"))
        }
        Some("k8s-node") => format!("node {}", text("name")),
        Some("surge") => format!("{} at up to {} req/s", text("url"), text("peak_rps")),
        Some("process") | None if target.get("pid").is_some() => {
            format!("process {} ({})", text("pid"), text("name"))
        }
        _ => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_name_the_target() {
        assert_eq!(
            label(&json!({"kind": "container", "id": "0123456789abcdef", "name": "web-1"})),
            "container web-1 (0123456789ab)"
        );
        assert_eq!(
            label(&json!({"pid": 42, "name": "sleep"})),
            "process 42 (sleep)"
        );
        assert_eq!(
            label(&json!({"kind": "k8s-pod", "namespace": "shop", "name": "web-1", "node": "n1"})),
            "pod shop/web-1 (node n1)"
        );
        assert_eq!(label(&json!({"x": 1})), "{\"x\":1}");
    }
}
