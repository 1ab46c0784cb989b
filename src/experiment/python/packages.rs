//! The PyPI package that provides a well-known Chaos Toolkit extension module.

/// Top-level module → PyPI distribution.
const PACKAGES: &[(&str, &str)] = &[
    ("chaosk8s", "chaostoolkit-kubernetes"),
    ("chaosaws", "chaostoolkit-aws"),
    ("chaosazure", "chaostoolkit-azure"),
    ("chaosgcp", "chaostoolkit-google-cloud-platform"),
    ("chaosprometheus", "chaostoolkit-prometheus"),
    ("chaostoxi", "chaostoolkit-toxiproxy"),
    ("chaosgrafana", "chaostoolkit-grafana"),
    ("chaoslib", "chaostoolkit-lib"),
    ("chaosspring", "chaostoolkit-spring"),
    ("chaosistio", "chaostoolkit-istio"),
    ("chaoscloud", "chaostoolkit-reliably"),
    ("chaosreliably", "chaostoolkit-reliably"),
    ("chaosgremlin", "chaostoolkit-gremlin"),
    ("chaoswm", "chaostoolkit-wiremock"),
    ("chaosdatadog", "chaostoolkit-datadog"),
    ("chaoshumio", "chaostoolkit-humio"),
    ("chaosaddons", "chaostoolkit-addons"),
    ("chaosslack", "chaostoolkit-slack"),
    ("chaosservicefabric", "chaostoolkit-service-fabric"),
    ("chaoscf", "chaostoolkit-cloud-foundry"),
    ("chaosoci", "chaostoolkit-oci"),
    ("chaostracing", "chaostoolkit-opentracing"),
];

/// The package that provides `module` (by its top-level name), if it is a known extension.
pub fn package_for(module: &str) -> Option<&'static str> {
    let top = module.split('.').next().unwrap_or(module);
    PACKAGES.iter().find(|(m, _)| *m == top).map(|(_, p)| *p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions_name_their_package() {
        assert_eq!(
            package_for("chaosk8s.pod.actions"),
            Some("chaostoolkit-kubernetes")
        );
        assert_eq!(
            package_for("chaosaws.ec2.actions"),
            Some("chaostoolkit-aws")
        );
        assert_eq!(package_for("chaosreliably"), Some("chaostoolkit-reliably"));
        assert_eq!(package_for("mymodule.probes"), None);
    }
}
