//! Workspace-level checks live in `tests/`; this library is empty.
