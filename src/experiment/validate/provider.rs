//! Providers: `process`, `http`, `python` (native aliases, else the Python worker), `builtin`.

use serde_json::Value;

use super::checker::PythonUse;
use super::checker::{Checker, join, number};
use crate::builtin::{Func, python_alias};
use crate::experiment::diagnostic::{Diagnostic, nearest};
use crate::experiment::executable::resolve_executable;
use crate::experiment::model::{
    ActivityKind, BuiltinProvider, DryMode, HttpProvider, ProcessArguments, ProcessProvider,
    Provider, PythonProvider,
};
use crate::experiment::source::{Node, NodeValue};

const TYPES: [&str; 4] = ["process", "http", "python", "builtin"];

/// Parses a provider; `dry` tells whether it will never execute.
pub(super) fn provider(
    c: &mut Checker,
    n: &Node,
    path: &str,
    dry: Option<DryMode>,
    kind: Option<ActivityKind>,
) -> Option<Provider> {
    let n = c.mapping(n, path)?;
    let ty = match n.get("type") {
        None => {
            c.error(
                n,
                path,
                "missing required key \"type\"; expected process, http, python or builtin",
            );
            return None;
        }
        Some(t) => t,
    };
    match ty.as_str() {
        Some("process") => process(c, n, path),
        Some("http") => http(c, n, path),
        Some("python") => python(c, n, path, dry.zip(kind).is_some_and(|(d, k)| d.skips(k))),
        Some("builtin") => builtin(c, n, path),
        other => {
            let shown = other
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| ty.type_name().to_string());
            let mut d = Diagnostic::error(
                c.file,
                ty.span,
                join(path, "type"),
                format!("unknown provider type {shown}; expected process, http, python or builtin"),
            );
            if let Some(s) = other.and_then(|s| nearest(s, TYPES)) {
                d = d.with_suggestion(s);
            }
            c.push(d);
            None
        }
    }
}

fn process(c: &mut Checker, n: &Node, path: &str) -> Option<Provider> {
    c.unknown_keys(
        n,
        path,
        "process provider",
        &["type", "path", "arguments", "timeout", "secrets"],
    );
    let exe = c.required_str(n, "path", path);
    let resolved = exe
        .as_ref()
        .and_then(|p| match resolve_executable(p, &c.options.cwd) {
            Ok(r) => Some(r),
            Err(e) => {
                let at = n.get("path").unwrap_or(n).clone();
                c.error(&at, &join(path, "path"), e);
                None
            }
        });
    let arguments = match n.get("arguments").filter(|a| !a.is_null()) {
        None => ProcessArguments::None,
        Some(a) => {
            let ap = join(path, "arguments");
            if c.has_config {
                c.check_placeholders(a, &ap);
            }
            match &a.value {
                NodeValue::Seq(items) => {
                    ProcessArguments::List(items.iter().map(Node::to_json).collect())
                }
                NodeValue::Str(s) => ProcessArguments::Shell(s.clone()),
                NodeValue::Map(entries) => {
                    c.warn(a, &ap, "a mapping of arguments is deprecated; use a list (flattened to key, value, …)");
                    let mut flat = Vec::new();
                    for (k, v) in entries {
                        flat.push(Value::String(k.name.clone()));
                        if !v.is_null() {
                            flat.push(v.to_json());
                        }
                    }
                    ProcessArguments::List(flat)
                }
                _ => {
                    c.error(
                        a,
                        &ap,
                        format!(
                            "expected a list, a string or a mapping, got {}",
                            a.type_name()
                        ),
                    );
                    ProcessArguments::None
                }
            }
        }
    };
    let timeout = c.optional_seconds(n, "timeout", path);
    exe.map(|path| {
        Provider::Process(ProcessProvider {
            path,
            resolved,
            arguments,
            timeout,
        })
    })
}

fn http(c: &mut Checker, n: &Node, path: &str) -> Option<Provider> {
    c.unknown_keys(
        n,
        path,
        "http provider",
        &[
            "type",
            "url",
            "method",
            "headers",
            "arguments",
            "timeout",
            "verify_tls",
            "max_retries",
            "expected_status",
            "secrets",
        ],
    );
    let url = c.required_str(n, "url", path);
    if let Some(u) = n.get("url") {
        c.check_placeholders(u, &join(path, "url"));
    }
    let method = c
        .optional_str(n, "method", path)
        .unwrap_or_else(|| "GET".into())
        .to_uppercase();
    let mut headers = Vec::new();
    if let Some(h) = n.get("headers").filter(|h| !h.is_null()) {
        let hp = join(path, "headers");
        if let Some(h) = c.mapping(h, &hp) {
            c.check_placeholders(h, &hp);
            for (k, v) in h.entries().unwrap_or_default() {
                if k.name.eq_ignore_ascii_case("content-type") {
                    let value = v.as_str().unwrap_or("");
                    if k.name != "Content-Type"
                        || (value != "application/json" && value.starts_with("application/json"))
                    {
                        c.warn(v, &join(&hp, &k.name), "only the exact header \"Content-Type: application/json\" sends JSON; this request sends form data");
                    }
                }
                headers.push((k.name.clone(), v.to_json()));
            }
        }
    }
    let arguments = n.get("arguments").filter(|a| !a.is_null()).map(|a| {
        if c.has_config {
            c.check_placeholders(a, &join(path, "arguments"));
        }
        a.to_json()
    });
    let timeout = n.get("timeout").filter(|t| !t.is_null()).and_then(|t| {
        let tp = join(path, "timeout");
        let ok = match &t.value {
            NodeValue::Int(_) | NodeValue::Float(_) => number(t).is_some_and(|f| f > 0.0),
            NodeValue::Seq(items) => {
                items.len() == 2 && items.iter().all(|i| number(i).is_some_and(|f| f > 0.0))
            }
            NodeValue::Str(_) => super::checker::is_placeholder(t),
            _ => false,
        };
        if ok {
            c.check_placeholders(t, &tp);
            Some(t.to_json())
        } else {
            c.error(
                t,
                &tp,
                "expected a positive number, [connect, read] or \"${var}\"",
            );
            None
        }
    });
    let verify_tls = c.optional_bool(n, "verify_tls", path).unwrap_or(true);
    let max_retries = match n.get("max_retries").filter(|m| !m.is_null()) {
        None => 0,
        Some(m) => match m.value {
            NodeValue::Int(i) if i >= 0 => i as u32,
            _ => {
                c.error(
                    m,
                    &join(path, "max_retries"),
                    "expected a non-negative integer",
                );
                0
            }
        },
    };
    if let Some(e) = n.get("expected_status") {
        c.warn(
            e,
            &join(path, "expected_status"),
            "ignored (Chaos Toolkit never implemented it); judge the status with a tolerance",
        );
    }
    url.map(|url| {
        Provider::Http(HttpProvider {
            url,
            method,
            headers,
            arguments,
            timeout,
            verify_tls,
            max_retries,
        })
    })
}

fn python(c: &mut Checker, n: &Node, path: &str, never_runs: bool) -> Option<Provider> {
    c.unknown_keys(
        n,
        path,
        "python provider",
        &["type", "module", "func", "arguments", "secrets"],
    );
    let module = c.required_str(n, "module", path)?;
    let func = c.required_str(n, "func", path)?;
    let args_node = n.get("arguments").filter(|a| !a.is_null());
    let arguments = match args_node {
        None => Value::Object(Default::default()),
        Some(a) if a.entries().is_some() => {
            if c.has_config {
                c.check_placeholders(a, &join(path, "arguments"));
            }
            a.to_json()
        }
        Some(a) => {
            c.error(
                a,
                &join(path, "arguments"),
                format!(
                    "expected a mapping of keyword arguments, got {}",
                    a.type_name()
                ),
            );
            return None;
        }
    };
    let secrets = secret_groups(c, n, path);
    let configured = |key: &str| c.configured.contains(key);
    if let Some(alias) = python_alias(&module, &func, &arguments, &configured) {
        c.warn(
            n,
            path,
            format!(
                "python function {module}.{func} runs natively as the builtin {} (same output)",
                alias.func.name()
            ),
        );
        return Some(Provider::Builtin(BuiltinProvider {
            func: alias.func,
            arguments: alias.arguments,
            timeout: None,
            python: Some(format!("{module}.{func}")),
        }));
    }
    let names: Vec<(String, crate::experiment::diagnostic::Span)> = args_node
        .and_then(Node::entries)
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| (k.name.clone(), k.span))
        .collect();
    c.python_uses.push(PythonUse {
        module: module.clone(),
        func: func.clone(),
        path: path.to_string(),
        span: n.span,
        module_span: n.get("module").map_or(n.span, |m| m.span),
        func_span: n.get("func").map_or(n.span, |f| f.span),
        arguments: names,
        arguments_span: args_node.map(|a| a.span),
        runs: !never_runs,
        control: false,
    });
    Some(Provider::Python(PythonProvider {
        module,
        func,
        arguments,
        secrets,
    }))
}

/// `provider.secrets`: a list of secret group names (CTK merges them into `secrets`).
fn secret_groups(c: &mut Checker, n: &Node, path: &str) -> Option<Vec<String>> {
    let s = n.get("secrets").filter(|s| !s.is_null())?;
    let sp = join(path, "secrets");
    let Some(items) = s.as_seq() else {
        c.error(
            s,
            &sp,
            format!(
                "expected a list of secret group names, got {}",
                s.type_name()
            ),
        );
        return None;
    };
    Some(
        items
            .iter()
            .enumerate()
            .filter_map(|(i, g)| c.non_empty_str(g, &format!("{sp}[{i}]")))
            .collect(),
    )
}

fn builtin(c: &mut Checker, n: &Node, path: &str) -> Option<Provider> {
    c.unknown_keys(
        n,
        path,
        "builtin provider",
        &["type", "func", "arguments", "timeout"],
    );
    let name = c.required_str(n, "func", path)?;
    let Some(func) = Func::parse(&name) else {
        let at = n.get("func").unwrap_or(n).clone();
        let mut d = Diagnostic::error(
            c.file,
            at.span,
            join(path, "func"),
            format!(
                "unknown builtin {name:?}; known: {}",
                Func::all().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            ),
        );
        if let Some(s) = nearest(&name, Func::all().map(|f| f.name())) {
            d = d.with_suggestion(s);
        }
        c.push(d);
        return None;
    };
    let arguments = match n.get("arguments").filter(|a| !a.is_null()) {
        None => Value::Object(Default::default()),
        Some(a) => {
            let ap = join(path, "arguments");
            if a.entries().is_none() {
                c.error(a, &ap, format!("expected a mapping, got {}", a.type_name()));
                return None;
            }
            c.check_placeholders(a, &ap);
            a.to_json()
        }
    };
    let args_node = n.get("arguments");
    for problem in func.check_arguments(&arguments) {
        let at = args_node
            .and_then(|a| a.get(problem.path.split('.').next().unwrap_or("")))
            .or(args_node)
            .unwrap_or(n)
            .clone();
        let mut d = Diagnostic::error(
            c.file,
            at.span,
            join(&join(path, "arguments"), &problem.path),
            problem.message,
        );
        if let Some(s) = problem.suggestion {
            d = d.with_suggestion(s);
        }
        c.push(d);
    }
    let timeout = c.optional_seconds(n, "timeout", path);
    Some(Provider::Builtin(BuiltinProvider {
        func,
        arguments,
        timeout,
        python: None,
    }))
}
