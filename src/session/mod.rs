//! A realtime session: worker thread, socket, reconnect, tools, events, handles.
