//! Session configuration.
