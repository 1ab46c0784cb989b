//! Python functions that Chaos Toolkit files often use, run natively with the same output. This
//! table is the one place native mappings live; everything else runs in the user's interpreter.

use serde_json::{Value, json};

use super::func::BuiltinError;
use super::{Action, Func, Probe};
use crate::fault::FaultFunc;
use crate::fault::proxy::Verb as ProxyVerb;

/// A Python function mapped to a builtin with identical output.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonAlias {
    pub func: Func,
    /// Its arguments, mapped from the Python ones.
    pub arguments: Value,
}

/// The builtin a well-known Python function maps to (Chaos Toolkit files often use these), with
/// its arguments mapped. `configured` tells whether the experiment's configuration has a key (the
/// extensions read their server's address from it). `None` when the function is not mapped or is
/// called with an argument its signature lacks (the interpreter then reports it, as CTK does).
pub fn python_alias(
    module: &str,
    func: &str,
    arguments: &Value,
    configured: &dyn Fn(&str) -> bool,
) -> Option<PythonAlias> {
    // A call that would not bind (an unknown or a missing argument) is left to the interpreter,
    // which reports it as CTK does.
    let binds = |required: &[&str], optional: &[&str]| {
        let given = arguments.as_object();
        given.is_none_or(|m| {
            m.keys()
                .all(|k| required.contains(&k.as_str()) || optional.contains(&k.as_str()))
        }) && required
            .iter()
            .all(|r| given.is_some_and(|m| m.contains_key(*r)))
    };
    let alias = |func: Func, required: &[&str], optional: &[&str], mapped: Value| {
        binds(required, optional).then(|| PythonAlias {
            func,
            arguments: without_nulls(mapped),
        })
    };
    let arg = |name: &str| arguments.get(name).cloned().unwrap_or(Value::Null);
    let toxic = |kind: &str, attributes: Value, required: &[&str], optional: &[&str]| {
        let mut all = vec!["for_proxy", "toxic_name"];
        all.extend_from_slice(required);
        alias(
            Func::Fault(FaultFunc::Proxy(ProxyVerb::Toxic)),
            &all,
            optional,
            json!({
                "proxy": arg("for_proxy"),
                "name": arg("toxic_name"),
                "type": kind,
                "attributes": attributes,
                "api": toxiproxy_api(configured),
            }),
        )
    };
    match (module, func) {
        ("os.path", "exists") => alias(
            Func::Probe(Probe::FileExists),
            &["path"],
            &[],
            json!({"path": arg("path")}),
        ),
        ("os", "rename") => alias(
            Func::Action(Action::FileRename),
            &["src", "dst"],
            &[],
            json!({"src": arg("src"), "dst": arg("dst")}),
        ),
        ("os", "remove" | "unlink") => alias(
            Func::Action(Action::FileRemove),
            &["path"],
            &[],
            json!({"path": arg("path")}),
        ),
        ("chaosprometheus.probes", "query") => alias(
            Func::Probe(Probe::PrometheusQuery),
            &["query"],
            &["when", "timeout", "verify_tls"],
            json!({
                "query": arg("query"),
                "time": arg("when"),
                "timeout_s": arg("timeout"),
                "verify_tls": arg("verify_tls"),
                "base_url": prometheus_base_url(configured),
                "output": "response",
            }),
        ),
        ("chaosprometheus.probes", "query_interval") => alias(
            Func::Probe(Probe::PrometheusRange),
            &["query", "start", "end"],
            &["step", "timeout", "verify_tls"],
            json!({
                "query": arg("query"),
                "start": arg("start"),
                "end": arg("end"),
                "step_s": arg("step"),
                "timeout_s": arg("timeout"),
                "verify_tls": arg("verify_tls"),
                "base_url": prometheus_base_url(configured),
                "output": "response",
            }),
        ),
        ("chaostoxi.toxic.actions", "create_toxic") => alias(
            Func::Fault(FaultFunc::Proxy(ProxyVerb::Toxic)),
            &["for_proxy", "toxic_name", "toxic_type"],
            &["stream", "toxicity", "attributes"],
            json!({
                "proxy": arg("for_proxy"),
                "name": arg("toxic_name"),
                "type": arg("toxic_type"),
                "stream": arg("stream"),
                "toxicity": arg("toxicity"),
                "attributes": arg("attributes"),
                "api": toxiproxy_api(configured),
            }),
        ),
        ("chaostoxi.toxic.actions", "create_latency_toxic") => toxic(
            "latency",
            json!({"latency": arg("latency"), "jitter": arguments.get("jitter").cloned().unwrap_or(json!(0))}),
            &["latency"],
            &["jitter"],
        ),
        ("chaostoxi.toxic.actions", "create_bandwith_degradation_toxic") => {
            toxic("bandwidth", json!({"rate": arg("rate")}), &["rate"], &[])
        }
        ("chaostoxi.toxic.actions", "create_slow_connection_close_toxic") => toxic(
            "slow_close",
            json!({"delay": arg("delay")}),
            &["delay"],
            &[],
        ),
        ("chaostoxi.toxic.actions", "create_timeout_toxic") => toxic(
            "timeout",
            json!({"timeout": arg("timeout")}),
            &["timeout"],
            &[],
        ),
        ("chaostoxi.toxic.actions", "create_slicer_toxic") => toxic(
            "slicer",
            json!({
                "average_size": arg("average_size"),
                "size_variation": arg("size_variation"),
                "delay": arg("delay"),
            }),
            &["average_size", "size_variation", "delay"],
            &[],
        ),
        ("chaostoxi.toxic.actions", "create_limiter_toxic") => toxic(
            "limit_data",
            json!({"bytes": arg("bytes_limit")}),
            &["bytes_limit"],
            &[],
        ),
        ("chaostoxi.proxy.actions", "disable_proxy") => alias(
            Func::Fault(FaultFunc::Proxy(ProxyVerb::Down)),
            &["proxy_name"],
            &[],
            json!({"proxy": arg("proxy_name"), "api": toxiproxy_api(configured)}),
        ),
        _ => super::chaosk8s::alias(module, func, arguments),
    }
}

/// The alias to `func` when the call binds to a signature of `required` and `optional`
/// keyword arguments (else the interpreter reports it, as CTK does).
pub(super) fn bound(
    arguments: &Value,
    func: Func,
    required: &[&str],
    optional: &[&str],
    mapped: Value,
) -> Option<PythonAlias> {
    let given = arguments.as_object();
    let binds = given.is_none_or(|m| {
        m.keys()
            .all(|k| required.contains(&k.as_str()) || optional.contains(&k.as_str()))
    }) && required
        .iter()
        .all(|r| given.is_some_and(|m| m.contains_key(*r)));
    binds.then(|| PythonAlias {
        func,
        arguments: without_nulls(mapped),
    })
}

/// What the Python function would have returned, given the builtin's output: the toxiproxy
/// actions answer `True` where the builtin reports the fault it applied.
pub fn python_result(python: &str, native: Value) -> Value {
    match python.rsplit_once('.') {
        Some(("chaostoxi.toxic.actions" | "chaostoxi.proxy.actions", _)) => Value::Bool(true),
        Some((module, func)) if module.starts_with("chaosk8s.") => {
            super::chaosk8s::result(module, func, native)
        }
        _ => native,
    }
}

/// chaosprometheus reads `prometheus_base_url` from the configuration, else localhost:9090.
fn prometheus_base_url(configured: &dyn Fn(&str) -> bool) -> Value {
    if configured("prometheus_base_url") {
        json!("${prometheus_base_url}")
    } else {
        Value::Null
    }
}

/// chaostoxi reads `toxiproxy_url`, else builds `http://{toxiproxy_host}:{toxiproxy_port or 8474}`.
fn toxiproxy_api(configured: &dyn Fn(&str) -> bool) -> Value {
    if configured("toxiproxy_url") {
        json!("${toxiproxy_url}")
    } else if configured("toxiproxy_host") {
        let port = if configured("toxiproxy_port") {
            "${toxiproxy_port}"
        } else {
            "8474"
        };
        json!(format!("http://${{toxiproxy_host}}:{port}"))
    } else {
        Value::Null
    }
}

/// Optional arguments left out are `null` in the mapping; the builtin's defaults apply instead.
fn without_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, v| !v.is_null());
    }
    v
}

/// Python's `repr` of a str (what its OSError messages show).
fn repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{}\"", s.replace('\\', "\\\\"))
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// The message Python's OSError subclass for `e` prints: `FileNotFoundError: [Errno 2] No such
/// file or directory: 'a'`.
fn os_error(e: &std::io::Error, paths: &[&str]) -> BuiltinError {
    let errno = e.raw_os_error().unwrap_or(0);
    let class = match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::ENOENT => "FileNotFoundError",
        nix::errno::Errno::EACCES | nix::errno::Errno::EPERM => "PermissionError",
        nix::errno::Errno::EEXIST => "FileExistsError",
        nix::errno::Errno::EISDIR => "IsADirectoryError",
        nix::errno::Errno::ENOTDIR => "NotADirectoryError",
        _ => "OSError",
    };
    let text = nix::errno::Errno::from_raw(errno).desc();
    let shown: Vec<String> = paths.iter().map(|p| repr(p)).collect();
    BuiltinError::Failed(format!(
        "{class}: [Errno {errno}] {text}: {}",
        shown.join(" -> ")
    ))
}

/// `os.rename(src, dst)`.
pub(super) fn os_rename(arguments: &Value) -> Result<Value, BuiltinError> {
    let src = arguments["src"].as_str().unwrap_or_default();
    let dst = arguments["dst"].as_str().unwrap_or_default();
    std::fs::rename(src, dst).map_err(|e| os_error(&e, &[src, dst]))?;
    Ok(Value::Null)
}

/// `os.remove(path)`.
pub(super) fn os_remove(arguments: &Value) -> Result<Value, BuiltinError> {
    let path = arguments["path"].as_str().unwrap_or_default();
    std::fs::remove_file(path).map_err(|e| os_error(&e, &[path]))?;
    Ok(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nothing_configured(_: &str) -> bool {
        false
    }

    #[test]
    fn python_aliases() {
        let alias = |m: &str, f: &str, args: Value| python_alias(m, f, &args, &nothing_configured);
        let a = alias("os.path", "exists", json!({"path": "/tmp"})).unwrap();
        assert_eq!(a.func, Func::Probe(Probe::FileExists));
        assert_eq!(a.arguments, json!({"path": "/tmp"}));
        let r = alias("os", "rename", json!({"src": "a", "dst": "b"})).unwrap();
        assert_eq!(r.func, Func::Action(Action::FileRename));
        assert_eq!(r.arguments, json!({"src": "a", "dst": "b"}));
        assert!(alias("os", "system", json!({})).is_none());
        assert!(alias("chaosaws.ec2.actions", "stop_instance", json!({})).is_none());
        assert!(
            alias("os", "rename", json!({"src": "a"})).is_none(),
            "a call that would not bind is the interpreter's to report"
        );
        assert!(alias("os", "remove", json!({"path": "a", "dir_fd": 3})).is_none());
    }

    #[test]
    fn prometheus_probes_keep_the_extensions_defaults_and_configuration() {
        let q = python_alias(
            "chaosprometheus.probes",
            "query",
            &json!({"query": "up", "when": "2 minutes ago"}),
            &nothing_configured,
        )
        .unwrap();
        assert_eq!(q.func, Func::Probe(Probe::PrometheusQuery));
        assert_eq!(
            q.arguments,
            json!({"query": "up", "time": "2 minutes ago", "output": "response"}),
            "the builtin's default server is the extension's localhost:9090"
        );
        let configured = |k: &str| k == "prometheus_base_url";
        let r = python_alias(
            "chaosprometheus.probes",
            "query_interval",
            &json!({"query": "up", "start": "5 minutes ago", "end": "now", "step": 5}),
            &configured,
        )
        .unwrap();
        assert_eq!(r.func, Func::Probe(Probe::PrometheusRange));
        assert_eq!(
            r.arguments,
            json!({"query": "up", "start": "5 minutes ago", "end": "now", "step_s": 5,
                   "base_url": "${prometheus_base_url}", "output": "response"})
        );
        assert!(
            python_alias(
                "chaosprometheus.probes",
                "query_interval",
                &json!({"query": "up", "start": "now"}),
                &configured
            )
            .is_none(),
            "end is required by its signature"
        );
        assert_eq!(
            python_result("chaosprometheus.probes.query", json!({"status": "success"})),
            json!({"status": "success"})
        );
    }

    #[test]
    fn toxiproxy_actions_become_ledger_faults_named_as_the_experiment_names_them() {
        let host_only = |k: &str| k == "toxiproxy_host";
        let t = python_alias(
            "chaostoxi.toxic.actions",
            "create_latency_toxic",
            &json!({"for_proxy": "db", "toxic_name": "slow", "latency": 300}),
            &host_only,
        )
        .unwrap();
        assert_eq!(t.func, Func::parse("proxy.toxic").unwrap());
        assert_eq!(
            t.arguments,
            json!({"proxy": "db", "name": "slow", "type": "latency",
                   "attributes": {"latency": 300, "jitter": 0},
                   "api": "http://${toxiproxy_host}:8474"})
        );
        let any = python_alias(
            "chaostoxi.toxic.actions",
            "create_toxic",
            &json!({"for_proxy": "db", "toxic_name": "cut", "toxic_type": "limit_data",
                    "stream": "upstream", "attributes": {"bytes": 10}}),
            &|k: &str| k == "toxiproxy_url",
        )
        .unwrap();
        assert_eq!(
            any.arguments,
            json!({"proxy": "db", "name": "cut", "type": "limit_data", "stream": "upstream",
                   "attributes": {"bytes": 10}, "api": "${toxiproxy_url}"})
        );
        let down = python_alias(
            "chaostoxi.proxy.actions",
            "disable_proxy",
            &json!({"proxy_name": "db"}),
            &nothing_configured,
        )
        .unwrap();
        assert_eq!(down.func, Func::parse("proxy.down").unwrap());
        assert_eq!(down.arguments, json!({"proxy": "db"}));
        assert_eq!(
            python_result(
                "chaostoxi.toxic.actions.create_latency_toxic",
                json!({"lease": 1})
            ),
            json!(true),
            "the extension answers True once the toxic exists"
        );
        assert!(
            python_alias(
                "chaostoxi.toxic.actions",
                "delete_toxic",
                &json!({"for_proxy": "db", "toxic_name": "slow"}),
                &nothing_configured
            )
            .is_none(),
            "removals stay Python: the rollback runs as written, the lease is reverted anyway"
        );
    }

    #[test]
    fn rename_and_remove_behave_like_python() {
        let dir = std::env::temp_dir().join(format!("mw-os-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a").to_string_lossy().into_owned();
        let b = dir.join("b").to_string_lossy().into_owned();
        std::fs::write(&a, "x").unwrap();
        assert_eq!(
            os_rename(&json!({"src": a, "dst": b})).unwrap(),
            Value::Null
        );
        assert!(std::path::Path::new(&b).exists());
        let missing = os_rename(&json!({"src": a, "dst": b}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            missing,
            format!("FileNotFoundError: [Errno 2] No such file or directory: '{a}' -> '{b}'")
        );
        assert_eq!(os_remove(&json!({"path": b})).unwrap(), Value::Null);
        let gone = os_remove(&json!({"path": b})).unwrap_err().to_string();
        assert_eq!(
            gone,
            format!("FileNotFoundError: [Errno 2] No such file or directory: '{b}'")
        );
        let d = dir.to_string_lossy().into_owned();
        assert!(
            os_remove(&json!({"path": d}))
                .unwrap_err()
                .to_string()
                .starts_with("IsADirectoryError: [Errno 21]")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
