//! The Toxiproxy-compatible fault proxy and its HTTP API.
