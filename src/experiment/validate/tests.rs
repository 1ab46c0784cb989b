//! Validation rules, each with a failing and a passing case; positions checked where they matter.

use super::*;
use crate::experiment::diagnostic::Severity;
use crate::experiment::model::{Provider, Tolerance};
use crate::experiment::source::{Format, parse};

fn check(text: &str) -> Validated {
    let format = if text.trim_start().starts_with('{') {
        Format::Json
    } else {
        Format::Yaml
    };
    let parsed = parse(text, format, "exp.yaml").unwrap();
    let mut options = ValidateOptions::from_process();
    options.env.insert("MW_TEST_SET".into(), "1".into());
    options.env.remove("MW_TEST_UNSET");
    let mut v = validate(&parsed.root, "exp.yaml", &options);
    v.diagnostics.extend(parsed.warnings);
    v
}

fn messages(v: &Validated) -> Vec<String> {
    v.diagnostics.iter().map(|d| d.to_string()).collect()
}

fn errors(v: &Validated) -> Vec<String> {
    v.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect()
}

const MINIMAL: &str = "title: t\ndescription: d\nmethod: []\n";

#[test]
fn a_minimal_experiment_is_valid() {
    let v = check(MINIMAL);
    assert!(v.diagnostics.is_empty(), "{:?}", messages(&v));
    assert!(v.experiment.is_some());
}

#[test]
fn a_misspelt_key_warns_with_the_intended_one() {
    let v = check("title: t\ndescription: d\nsteady-state-hypotesis:\n  title: h\nmethod: []\n");
    let d = &v.diagnostics[0];
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(
        d.to_string(),
        "exp.yaml:3:1: warning: unknown top-level key \"steady-state-hypotesis\" (did you mean \"steady-state-hypothesis\"?)"
    );
    assert!(v.experiment.is_some(), "a warning does not stop the run");
}

#[test]
fn every_error_is_reported_in_one_pass() {
    let v = check(
        "description: d\nmethod:\n  - type: action\n    name: a\n    provider:\n      type: pyhton\n",
    );
    let errs = errors(&v);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("missing required key \"title\""));
    assert!(
        errs[1].starts_with(
            "exp.yaml:6:13: error: method[0].provider.type: unknown provider type \"pyhton\""
        ),
        "{}",
        errs[1]
    );
    assert!(errs[1].contains("did you mean \"python\""));
    assert!(v.experiment.is_none());
}

#[test]
fn activities_need_type_name_provider() {
    let v =
        check("title: t\ndescription: d\nmethod:\n  - provider: {type: process, path: 'true'}\n");
    let errs = errors(&v);
    assert!(errs.iter().any(|e| e.contains("\"type\"")), "{errs:?}");
    assert!(errs.iter().any(|e| e.contains("\"name\"")), "{errs:?}");
}

#[test]
fn hypothesis_probes_need_tolerances_and_must_be_probes() {
    let v = check(
        "title: t\ndescription: d\nsteady-state-hypothesis:\n  title: h\n  probes:\n    - type: action\n      name: p\n      provider: {type: process, path: 'true'}\nmethod: []\n",
    );
    let errs = errors(&v);
    assert!(
        errs.iter().any(|e| e.contains("needs a tolerance")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("probes only")), "{errs:?}");
}

#[test]
fn refs_resolve_last_definition_with_hypothesis_first() {
    let text = "title: t\ndescription: d\nsteady-state-hypothesis:\n  title: h\n  probes:\n    - type: probe\n      name: p\n      tolerance: 0\n      provider: {type: process, path: 'true'}\nmethod:\n  - type: probe\n    name: p\n    provider: {type: process, path: 'false'}\n  - ref: p\nrollbacks:\n  - ref: p\n";
    let v = check(text);
    let exp = v.experiment.as_ref().expect("valid");
    let resolved = &exp.method[1];
    assert!(
        matches!(&resolved.provider, Provider::Process(p) if p.path == "true"),
        "hypothesis wins"
    );
    assert_eq!(resolved.document["tolerance"], 0);
    assert_eq!(exp.rollbacks.len(), 1);
    let bad =
        check("title: t\ndescription: d\nmethod:\n  - ref: nope\nrollbacks:\n  - ref: missing\n");
    assert_eq!(errors(&bad).len(), 2, "{:?}", errors(&bad));
}

#[test]
fn process_paths_are_resolved_and_arguments_shaped() {
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: a\n    provider: {type: process, path: no-such-program-xyz}\n",
    );
    assert!(errors(&v)[0].contains("not found"), "{:?}", errors(&v));
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: a\n    provider:\n      type: process\n      path: echo\n      arguments: {\"-n\": null, \"-e\": x}\n",
    );
    let exp = v.experiment.as_ref().expect("valid");
    let Provider::Process(p) = &exp.method[0].provider else {
        panic!()
    };
    assert_eq!(
        p.arguments,
        crate::experiment::model::ProcessArguments::List(vec![
            "-n".into(),
            "-e".into(),
            "x".into()
        ])
    );
    assert!(messages(&v).iter().any(|m| m.contains("deprecated")));
}

#[test]
fn http_traps_warn() {
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: p\n    tolerance: [200, 299]\n    provider:\n      type: http\n      url: http://x/\n      expected_status: 200\n      headers: {content-type: application/json}\n",
    );
    let m = messages(&v);
    assert!(
        m.iter().any(|x| x.contains("not a range")
            && x.contains("did you mean \"{type: range, range: [200, 299], target: status}\"")),
        "{m:?}"
    );
    assert!(m.iter().any(|x| x.contains("expected_status")), "{m:?}");
    assert!(m.iter().any(|x| x.contains("form data")), "{m:?}");
    assert!(v.experiment.is_some());
}

fn check_with_python(text: &str, python: crate::experiment::python::Interpreter) -> Validated {
    let parsed = parse(text, Format::Yaml, "exp.yaml").unwrap();
    let mut options = ValidateOptions::from_process();
    options.python = Some(python);
    validate(&parsed.root, "exp.yaml", &options)
}

fn system_python() -> crate::experiment::python::Interpreter {
    let cwd = std::env::current_dir().unwrap();
    crate::experiment::python::Interpreter::choose(None, &|k| std::env::var(k).ok(), &cwd)
}

#[test]
fn python_providers_become_python_calls_unless_aliased() {
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: k\n    provider: {type: python, module: chaosk8s.pod.actions, func: exec_in_pods, secrets: [k8s]}\nrollbacks: []\n",
    );
    assert!(errors(&v).is_empty(), "{:?}", errors(&v));
    assert!(
        !messages(&v).iter().any(|m| m.contains("consider builtin")),
        "{:?}",
        messages(&v)
    );
    let exp = v.experiment.expect("valid");
    match &exp.method[0].provider {
        Provider::Python(p) => {
            assert_eq!(p.module, "chaosk8s.pod.actions");
            assert_eq!(p.secrets, Some(vec!["k8s".to_string()]));
        }
        other => panic!("{other:?}"),
    }
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: e\n    provider: {type: python, module: os.path, func: exists, arguments: {path: /tmp}}\n",
    );
    let exp = v.experiment.expect("aliased");
    assert!(
        matches!(&exp.method[0].provider, Provider::Builtin(b) if b.func == crate::builtin::Func::Probe(crate::builtin::Probe::FileExists) && b.python.as_deref() == Some("os.path.exists"))
    );
}

#[test]
fn python_functions_are_imported_and_bound_in_the_interpreter() {
    let python = system_python();
    if python.path().is_err() {
        eprintln!("SKIPPED: no python3 on PATH");
        return;
    }
    let v = check_with_python(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: k\n    provider: {type: python, module: chaosk8s.pod.actions, func: exec_in_pods}\n  - type: probe\n    name: j\n    provider:\n      type: python\n      module: shutil\n      func: copyfile\n      arguments: {src: a, dts: b}\n  - type: probe\n    name: m\n    provider: {type: python, module: json, func: dumps}\n  - type: probe\n    name: f\n    provider: {type: python, module: json, func: dump}\n  - type: probe\n    name: n\n    provider: {type: python, module: json, func: lods, arguments: {s: '1'}}\n",
        python,
    );
    let e = errors(&v);
    assert!(
        e.iter().any(
            |m| m.starts_with("exp.yaml:6:38: error: method[0].provider.module:")
                && m.contains("chaosk8s.pod.actions is not installed")
                && m.contains("pip install chaostoolkit-kubernetes")
        ),
        "{e:?}"
    );
    assert!(
        e.iter().any(
            |m| m.starts_with("exp.yaml:13:27: error: method[1].provider.arguments.dts:")
                && m.contains("did you mean \"dst\"")
        ),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("method[2].provider") && m.contains("needs the argument \"obj\"")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("method[3].provider") && m.contains("needs the argument \"fp\"")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.contains("method[4].provider.func")
            && m.contains("no function \"lods\"")
            && m.contains("did you mean \"loads\"")),
        "{e:?}"
    );
    assert_eq!(e.len(), 6, "{e:?}");
}

#[test]
fn a_missing_interpreter_is_said_once_with_the_fix() {
    let cwd = std::env::current_dir().unwrap();
    let env = |k: &str| (k == "MONKEYWRENCH_PYTHON").then(|| "/nonexistent".to_string());
    let missing = crate::experiment::python::Interpreter::choose(None, &env, &cwd);
    let v = check_with_python(
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: a\n    provider: {type: python, module: m, func: f}\n  - type: probe\n    name: b\n    provider: {type: python, module: m, func: g}\n",
        missing.clone(),
    );
    let e = errors(&v);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("MONKEYWRENCH_PYTHON=/nonexistent")
            && e[0].contains("--python PATH")
            && e[0].contains("virtualenv"),
        "{e:?}"
    );
    let dry = check_with_python(
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: a\n    dry: probes\n    provider: {type: python, module: m, func: f}\n",
        missing,
    );
    assert!(errors(&dry).is_empty(), "{:?}", messages(&dry));
    assert_eq!(dry.diagnostics.len(), 1);
}

#[test]
fn chaos_toolkit_rules_only_hypothesis_refs_nameless_dynamic_configuration() {
    let v = check(
        "title: t\ndescription: d\nconfiguration:\n  token:\n    type: probe\n    provider: {type: process, path: echo, arguments: [x]}\nsteady-state-hypothesis:\n  title: h\n  probes:\n    - ref: p\n      tolerance: 0\nmethod:\n  - type: probe\n    name: p\n    provider: {type: process, path: 'true'}\n",
    );
    assert!(errors(&v).is_empty(), "{:?}", messages(&v));
    let exp = v.experiment.expect("valid");
    let h = exp.hypothesis.unwrap();
    assert_eq!(h.probes.len(), 1);
    assert_eq!(h.probes[0].name, "p");
    assert!(h.probes[0].tolerance.is_some());
    let no_tolerance = check(
        "title: t\ndescription: d\nsteady-state-hypothesis:\n  title: h\n  probes:\n    - ref: p\nmethod:\n  - type: probe\n    name: p\n    provider: {type: process, path: 'true'}\n",
    );
    assert!(
        errors(&no_tolerance)[0].contains("needs a tolerance"),
        "{:?}",
        errors(&no_tolerance)
    );
    let broken_target = check(
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: p\n    provider: {type: process, path: /no/such/exe}\n  - ref: p\n",
    );
    let e = errors(&broken_target);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(!e[0].contains("names no hypothesis probe"), "{e:?}");
    let unset = check(
        "title: t\ndescription: d\nconfiguration:\n  url: {type: env, key: MW_TEST_UNSET}\nmethod: []\n",
    );
    assert!(
        errors(&unset)[0].contains("--var url=VALUE or --var-file"),
        "{:?}",
        errors(&unset)
    );
}

#[test]
fn python_actions_without_rollbacks_are_warned_about_and_controls_parse() {
    let v = check(
        "title: t\ndescription: d\ncontrols:\n  - name: rec\n    provider: {type: python, module: ctl}\n    scope: before\nmethod:\n  - type: action\n    name: a\n    controls:\n      - ref: rec\n    provider: {type: python, module: m, func: f}\n",
    );
    assert!(errors(&v).is_empty(), "{:?}", messages(&v));
    assert!(
        messages(&v).iter().any(|m| m.starts_with(
            "exp.yaml:8:9: warning: method[0]: python action m.f is not in monkeywrench's ledger"
        )),
        "{:?}",
        messages(&v)
    );
    let exp = v.experiment.unwrap();
    assert_eq!(exp.controls[0].module.as_deref(), Some("ctl"));
    assert_eq!(
        exp.controls[0].scope,
        Some(crate::experiment::model::ControlScope::Before)
    );
    assert!(exp.method[0].controls[0].is_ref);
    let bad = check(
        "title: t\ndescription: d\ncontrols:\n  - name: rec\n    scope: befor\n    provider: {type: python}\nmethod: []\n",
    );
    let e = errors(&bad);
    assert!(
        e.iter()
            .any(|m| m.contains("controls[0].scope") && m.contains("did you mean \"before\"")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("controls[0].provider") && m.contains("module")),
        "{e:?}"
    );
}

#[test]
fn tolerance_shapes() {
    let t = |tol: &str| {
        check(&format!(
            "title: t\ndescription: d\nsteady-state-hypothesis:\n  title: h\n  probes:\n    - type: probe\n      name: p\n      tolerance: {tol}\n      provider: {{type: process, path: 'true'}}\nmethod: []\n"
        ))
    };
    assert!(errors(&t("1.5"))[0].contains("cannot be a number"));
    assert!(errors(&t("null"))[0].contains("cannot be null"));
    assert!(
        errors(&t("{type: regex, pattern: 'a(?=b)', target: stdout}"))[0].contains("look-ahead")
    );
    assert!(
        errors(&t("{type: jsonpath, path: '$[', target: stdout}"))[0].contains("invalid jsonpath")
    );
    assert!(errors(&t("{type: range, range: [5, 1]}"))[0].contains("greater than"));
    assert!(errors(&t("{type: rnage, range: [1, 5]}"))[0].contains("did you mean \"range\""));
    assert!(
        errors(&t(
            "{type: probe, name: x, provider: {type: process, path: 'true'}}"
        ))[0]
            .contains("cannot use a process provider")
    );
    let untargeted = t("{type: regex, pattern: ok}");
    assert!(
        messages(&untargeted)
            .iter()
            .any(|m| m.contains("without a target"))
    );
    let ok = t("{type: range, range: [0, 1], target: status}");
    assert!(matches!(
        ok.experiment.unwrap().hypothesis.unwrap().probes[0].tolerance,
        Some(Tolerance::Range { .. })
    ));
}

#[test]
fn configuration_env_and_secrets() {
    let v = check(
        "title: t\ndescription: d\nconfiguration:\n  a: {type: env, key: MW_TEST_UNSET}\n  b: {type: env, key: MW_TEST_UNSET, default: 1}\n  c: {type: env, key: MW_TEST_SET, env_var_type: integr}\nsecrets:\n  g:\n    s: {type: env, key: MW_TEST_UNSET}\nmethod: []\n",
    );
    let errs = errors(&v);
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert!(
        errs.iter()
            .any(|e| e.contains("configuration.a") && e.contains("not set"))
    );
    assert!(errs.iter().any(|e| e.contains("did you mean \"integer\"")));
    assert!(errs.iter().any(|e| e.contains("secrets.g.s")));
}

#[test]
fn unknown_placeholders_warn_with_a_suggestion() {
    let v = check("title: t ${nmae}\ndescription: d\nconfiguration: {name: x}\nmethod: []\n");
    let m = messages(&v);
    assert!(
        m.iter()
            .any(|x| x.contains("${nmae} is not declared") && x.contains("did you mean \"name\"")),
        "{m:?}"
    );
}

#[test]
fn runtime_strategies() {
    let v = check(
        "title: t\ndescription: d\nruntime:\n  hypothesis: {strategy: continously}\n  rollbacks: {strategy: alwyas}\n  python: {}\nmethod: []\n",
    );
    let m = messages(&v);
    assert!(
        m.iter()
            .any(|x| x.contains("continously") && x.contains("warning")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| x.contains("error") && x.contains("did you mean \"always\"")),
        "{m:?}"
    );
    assert!(m.iter().any(|x| x.contains("runtime.python")), "{m:?}");
}

#[test]
fn runtime_hypothesis_frequency_and_fail_fast() {
    let v = check(
        "title: t\ndescription: d\nruntime:\n  hypothesis: {strategy: continuously, frequency: 0, fail_fast: yes please}\nmethod: []\n",
    );
    let errs = errors(&v);
    assert!(
        errs.iter()
            .any(|e| e.contains("runtime.hypothesis.frequency")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("runtime.hypothesis.fail_fast") && e.contains("true or false")),
        "{errs:?}"
    );
    let ok = check(
        "title: t\ndescription: d\nruntime:\n  hypothesis: {strategy: continuously, frequency: 0.5, fail_fast: true}\nmethod: []\n",
    );
    assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
}

#[test]
fn pauses_timeouts_dry_and_duration() {
    let v = check(
        "title: t\ndescription: d\nconfiguration: {wait: 1}\nmethod:\n  - type: action\n    name: a\n    pauses: {before: '${wait}', after: -1}\n    dry: probe\n    duration: 3\n    provider: {type: process, path: 'true'}\n",
    );
    let errs = errors(&v);
    assert!(errs.iter().any(|e| e.contains("pauses.after")), "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains("did you mean \"probes\"")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("duration applies only")),
        "{errs:?}"
    );
}

#[test]
fn builtin_arguments_are_schema_checked() {
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: probe\n    name: p\n    provider:\n      type: builtin\n      func: tcp.conect\n  - type: probe\n    name: q\n    provider:\n      type: builtin\n      func: tcp.connect\n      arguments: {hots: x, port: 99999}\n",
    );
    let errs = errors(&v);
    assert!(
        errs.iter()
            .any(|e| e.contains("did you mean \"tcp.connect\"")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("arguments.hots") && e.contains("did you mean \"host\"")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("out of range")), "{errs:?}");
}

#[test]
fn safeguards_and_blast_radius() {
    let v = check(
        "title: t\ndescription: d\nsafeguards:\n  - type: probe\n    name: s\n    frequency: 0.5\n    failures: 2\n    tolerance: true\n    provider: {type: builtin, func: file.exists, arguments: {path: /}}\n  - type: probe\n    name: no-tol\n    provider: {type: builtin, func: file.exists, arguments: {path: /}}\nblast-radius: {mode: fixed-percent, value: 150}\nmethod: []\n",
    );
    let errs = errors(&v);
    assert!(
        errs.iter().any(|e| e.contains("needs a tolerance")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("between 0 and 100")),
        "{errs:?}"
    );
    let ok = check(
        "title: t\ndescription: d\nsafeguards:\n  - type: probe\n    name: s\n    frequency: 0.5\n    failures: 2\n    tolerance: true\n    provider: {type: builtin, func: file.exists, arguments: {path: /}}\nblast-radius: {mode: fixed, value: 2, seed: 7}\nmethod: []\n",
    );
    let exp = ok.experiment.expect("valid");
    assert_eq!(exp.safeguards[0].failures, 2);
    assert_eq!(exp.blast_radius.unwrap().seed, Some(7));
}

#[test]
fn json_sources_validate_the_same() {
    let v = check(r#"{"title": "t", "description": "d", "method": [], "tags": ["", 1]}"#);
    assert_eq!(errors(&v).len(), 2, "{:?}", errors(&v));
}

#[test]
fn fault_targets_signals_and_blast_radius_are_checked_early() {
    let v = check(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: k\n    provider:\n      type: builtin\n      func: process.kill\n      arguments: {target: {nmae: x}, signal: SIGFOO, blast-radius: {mode: sometimes}}\n",
    );
    let errs = errors(&v);
    assert!(
        errs.iter()
            .any(|e| e.contains("arguments.target") && e.contains("unknown key")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("arguments.signal") && e.contains("SIGFOO")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("arguments.blast-radius") && e.contains("sometimes")),
        "{errs:?}"
    );
    let ok = check(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: s\n    duration: 5\n    provider:\n      type: builtin\n      func: process.stop\n      arguments: {target: {pattern: worker}}\n",
    );
    assert!(errors(&ok).is_empty(), "{:?}", errors(&ok));
    let kill_with_duration = check(
        "title: t\ndescription: d\nmethod:\n  - type: action\n    name: k\n    duration: 5\n    provider:\n      type: builtin\n      func: process.kill\n      arguments: {target: {pid: 5}}\n",
    );
    assert!(
        errors(&kill_with_duration)
            .iter()
            .any(|e| e.contains("duration applies only"))
    );
}

#[test]
fn a_missing_control_module_is_a_warning_naming_its_package() {
    let python = system_python();
    if python.path().is_err() {
        eprintln!("SKIPPED: no python3 on PATH");
        return;
    }
    let v = check_with_python(
        "title: t\ndescription: d\ncontrols:\n  - name: reliably\n    provider: {type: python, module: chaosreliably.controls.experiment}\nmethod: []\n",
        python,
    );
    assert!(errors(&v).is_empty(), "{:?}", messages(&v));
    let m = messages(&v);
    assert!(
        m.iter().any(
            |x| x.starts_with("exp.yaml:5:38: warning: controls[0].provider.module:")
                && x.contains("pip install chaostoolkit-reliably")
                && x.contains("without this control")
        ),
        "{m:?}"
    );
}
