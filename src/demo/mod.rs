//! The demo service and bundled experiments behind `monkeywrench demo`.
