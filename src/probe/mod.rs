//! Providers that measure or act (process, http) and the tolerances that judge them.
