//! placeholder for the helper
