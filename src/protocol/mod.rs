//! The Realtime API's wire events: what we send ([`client`]) and what we accept ([`server`]).
