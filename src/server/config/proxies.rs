//! `proxies`: the proxy APIs whose live traffic the dashboard shows — a URL, or a mapping with
//! `url`, `name`, and the API's token as `token` or, better kept out of the file, `token_env`
//! (the name of an environment variable holding it).

use super::check::Check;
use super::model::{PROXY_KEYS, ProxySource};
use crate::experiment::source::{Node, NodeValue, join};

impl Check<'_> {
    pub(super) fn proxies(&mut self, v: &Node) -> Vec<ProxySource> {
        let mut out: Vec<ProxySource> = Vec::new();
        for (i, item) in self.r.list(v, "proxies").iter().enumerate() {
            let p = format!("proxies[{i}]");
            let source = match &item.value {
                NodeValue::Str(url) => self.proxy_url(url, item, &p).map(|url| ProxySource {
                    name: default_name(&url),
                    url,
                    token: None,
                }),
                NodeValue::Map(_) => self.proxy_entry(item, &p),
                _ => {
                    self.r.error(
                        item.span,
                        &p,
                        format!(
                            "expected a proxy API URL or a mapping with url (and name, token or token_env), got {}",
                            item.type_name()
                        ),
                    );
                    None
                }
            };
            let Some(source) = source else { continue };
            if out.iter().any(|s| s.name == source.name) {
                let at = item.get("name").unwrap_or(item);
                self.r.error(
                    at.span,
                    &p,
                    format!(
                        "duplicate proxy name {:?}; give each a distinct name",
                        source.name
                    ),
                );
                continue;
            }
            out.push(source);
        }
        out
    }

    fn proxy_entry(&mut self, item: &Node, p: &str) -> Option<ProxySource> {
        self.r.mapping(item, p, &PROXY_KEYS);
        let url = match item.get("url") {
            Some(u) => {
                let text = self.r.string(u, &join(p, "url"))?;
                self.proxy_url(&text, u, &join(p, "url"))?
            }
            None => {
                self.r.error(
                    item.span,
                    p,
                    "missing required key \"url\" (the proxy API, e.g. http://127.0.0.1:8474)",
                );
                return None;
            }
        };
        let name = match item.get("name") {
            Some(n) => {
                let name = self.r.string(n, &join(p, "name"))?;
                let ok = !name.trim().is_empty() && name.len() <= 100;
                if !ok {
                    self.r.error(
                        n.span,
                        &join(p, "name"),
                        "expected a name of 1 to 100 characters",
                    );
                    return None;
                }
                name
            }
            None => default_name(&url),
        };
        let token = match (item.get("token"), item.get("token_env")) {
            (Some(t), Some(_)) => {
                self.r.error(
                    t.span,
                    &join(p, "token"),
                    "give token or token_env, not both",
                );
                return None;
            }
            (Some(t), None) => Some(self.r.string(t, &join(p, "token"))?),
            (None, Some(e)) => {
                let var = self.r.string(e, &join(p, "token_env"))?;
                match std::env::var(&var) {
                    Ok(value) if !value.is_empty() => Some(value),
                    _ => {
                        self.r.error(
                            e.span,
                            &join(p, "token_env"),
                            format!("the environment variable {var} is not set (it should hold the proxy API's token)"),
                        );
                        return None;
                    }
                }
            }
            (None, None) => None,
        };
        Some(ProxySource { name, url, token })
    }

    /// An http:// or https:// URL with a host, without a trailing slash.
    fn proxy_url(&mut self, text: &str, at: &Node, p: &str) -> Option<String> {
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {
                Some(text.trim_end_matches('/').to_string())
            }
            _ => {
                self.r.error(
                    at.span,
                    p,
                    format!("{text:?} is not an http:// or https:// URL of a proxy API (e.g. http://127.0.0.1:8474)"),
                );
                None
            }
        }
    }
}

/// `host:port` of a URL.
fn default_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}
